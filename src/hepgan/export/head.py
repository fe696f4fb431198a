"""The head of an lwtnn file: what comes after the network, as JSON stages, and the calorimeter
family's stages.

lwtnn runs a generator's dense network; everything after it that lwtnn cannot express is written
as a list of stages in ``hepgan_postprocess.head`` and run in order by :class:`Head` (NumPy) and
by the C++ reference implementation (``examples/cpp``). Each stage is a dict with a ``type`` and
its constants; matrices are nested lists. The convolutional ``image_network`` stage is described
in :mod:`hepgan.export.image_layers`, the layered family's ``layered_shower`` in
:mod:`hepgan.export.layered_head`; the calorimeter family (``calo_wgan``, whose body is the lwtnn
network) has the stages below. Notation: ``v`` the network's output, ``z`` the caller's
whole latent vector, ``c`` the encoded conditions (the network's condition inputs after lwtnn's
offset and scale; ``c[0]`` is the standardised ln E), ``L`` the layers, ``C`` the conditions.

* ``gaussian_path``: ``v[:, :k] += z[:, n - k : n] @ matrix.T``, ``n`` the network's latent size.
* ``cell_noise``: ``v[:, first:] += z[:, n + noise[0] : n + noise[0] + noise[1]] * scale``.
* ``shower_features``: the standardised features [ln r, ln(f_l + eps), ln(g_c + eps)] back to
  energy-normalised cells. A ``basis`` of the conditions (below) gives each feature's mean
  (``basis @ mean``) and width (``max(exp(basis @ log_var / 2), min_std)``); ``raw = clip(mean +
  width * v, raw_min, raw_max)`` (``raw_min`` null: no lower bound); the response is
  ``exp(raw[0])``, the layer fractions and each layer's cell shares are softmaxes (``shares``,
  below) of ``raw[1 : 1 + L]`` and of each layer's cell features, the thresholds ``eps_layer *
  empty_below`` and, per layer, ``clip(exp(basis @ log_eps), *eps_range) * empty_below`` (0 for
  the ``unthresholded`` layers); a cell is response x fraction x share.
* ``cell_fluctuations``: each cell fluctuates by the layer's energy quantum
  (``exp(basis @ log_smallest) * scale``), by ``z[:, n + noise[0] :]`` (a value per cell of the
  ``fluctuating_layers``, then one per cell of the ``deposit_layers``), then
  layers are rescaled, floored and, in ``deposit_layers``, made of whole deposits; see
  :class:`hepgan.models.calo.fluctuations.CellFluctuations`, whose forward pass this is.
* ``layer_calibration`` and ``response_calibration``: each layer's fraction of the shower
  (then renormalised), or each shower's sum, through a monotone piecewise-linear map
  (``knots_in`` -> ``knots_out``, ``tail_slope`` beyond the outer knots; one per layer for the
  layers) mixed linearly in ``c[0]`` between the ``centres``, at least ``min_factor`` of the
  value; see :class:`hepgan.models.calo.quantile_map.QuantileMaps` and the two calibrations.

``basis``: ``[1, c_j, c_j^p x continuous_j (p = 2..degree), hat_k(c_j) for each splined j]``,
with ``K = knots`` hat functions per splined condition, ``hat_k(c) = max(0, 1 - |c' - lo -
k step| / step)`` for ``c'`` = c clipped to [lo, lo + (K - 1) step]. ``shares(logits, t)``:
a softmax, shares not above ``t`` set to 0 unless the largest, renormalised.

Everything runs in float32, as the torch model does.
"""

from __future__ import annotations

import math

import numpy as np

from hepgan.errors import ConfigError, DataError

FORMAT_VERSION = 2  # of hepgan_postprocess; 1 had no head
STAGE_TYPES = ("gaussian_path", "cell_noise", "shower_features", "cell_fluctuations", "layer_calibration",
               "response_calibration", "image_network", "layered_shower")


# ---------------------------------------------------------------- writing (needs torch)


def head_stages(network) -> tuple[list[dict], object]:
    """(stages, body network) of a calorimeter generator; ConfigError for parts with no stage."""
    from hepgan.models.calo.generator import StructuredGenerator

    if not isinstance(network, StructuredGenerator):
        return [], network
    from hepgan.models.calo import layer_calibration, response_calibration

    stages = []
    if network.gaussian is not None:
        stages.append({"type": "gaussian_path", "matrix": json_array(network.gaussian)})
    if network.noise_scale is not None:
        stages.append({"type": "cell_noise", "first": network.features.n_summary,
                       "noise": [0, len(network.noise_scale)], "scale": json_array(network.noise_scale)})
    stages.append(_features(network.features))
    if network.fluctuations is not None:
        stages.append(_fluctuations(network.fluctuations, network.noise_dim - network.fluctuations.dim))
    for kind, cal, module in (("layer_calibration", network.layer_calibration, layer_calibration),
                              ("response_calibration", network.calibration, response_calibration)):
        if cal is not None:
            stages.append({"type": kind, "centres": json_array(cal.centres), "knots_in": json_array(cal.knots_in),
                           "knots_out": json_array(cal.knots_out), "tail_slope": json_array(cal.tail_slope),
                           "min_factor": module.MIN_FACTOR})
    return stages, network.body


def _basis(standardiser) -> dict:
    return {"degree": standardiser.degree, "continuous": json_array(standardiser.continuous),
            "knots": standardiser.knots, "splined": json_array(standardiser.splined),
            "knot_lo": json_array(standardiser.knot_lo), "knot_step": json_array(standardiser.knot_step)}


def _used_rows(standardiser, coef) -> list[list[float]]:
    """The coefficient rows the basis fills (the checkpoint keeps a row per hat of every condition)."""
    import torch

    cond_dim = len(standardiser.continuous) if standardiser.mean_coef.shape[0] > 1 else 0
    return json_array(coef[standardiser.rows(torch.zeros(1, cond_dim) if cond_dim else None)])


def _features(f) -> dict:
    from hepgan.models.calo.features import EPS_CELL_RANGE

    s = f.standardiser
    return {"type": "shower_features", "layers": [list(sl) for sl in f.slices],
            "unthresholded": sorted(f.unthresholded), "eps_layer": f.eps_layer, "empty_below": f.empty_below,
            "eps_range": list(EPS_CELL_RANGE), "basis": _basis(s),
            "mean": _used_rows(s, s.mean_coef), "log_var": _used_rows(s, s.log_var_coef),
            "log_eps": _used_rows(s, f.log_eps_coef), "min_std": json_array(s.min_std),
            "raw_min": [v if math.isfinite(v) else None for v in json_array(f._raw_min)], "raw_max": json_array(f._raw_max)}


def _fluctuations(fl, first_noise: int) -> dict:
    layer_of = fl.layer_matrix.argmax(dim=1)

    def layers_of(placement) -> list[int]:
        return sorted({int(layer_of[c]) for c in placement.argmax(dim=1).tolist()})

    return {"type": "cell_fluctuations", "noise": [first_noise, fl.dim], "layers": [list(sl) for sl in fl.layer_slices],
            "basis": _basis(fl.basis_of), "log_smallest": _used_rows(fl.basis_of, fl.basis_of.mean_coef),
            "scale": json_array(fl.log_scale.exp()), "shape": fl.shape,
            "width_exponent": None if fl.width_exponent is None else json_array(fl.width_exponent),
            "floor": fl.floor, "fluctuating_layers": layers_of(fl.placement),
            "deposit_layers": layers_of(fl.deposit_placement), "deposit_size": fl.deposit_size,
            "deposit_shape": fl.deposit_shape, "deposit_spread": json_array(fl.deposit_spread.abs())}


def json_array(tensor):
    """Nested lists of float32 values, each written with the fewest digits that read back the same."""
    values = tensor.detach().cpu().numpy().astype(np.float32)
    flat = [float(str(v)) for v in values.reshape(-1)]
    return np.array(flat, dtype=object).reshape(values.shape).tolist() if values.ndim else flat[0]


# ---------------------------------------------------------------- running (NumPy only)


def _f32(values, source: str, what: str, ndim: int) -> np.ndarray:
    try:
        a = np.asarray(values, np.float32)
    except (TypeError, ValueError):
        raise DataError(source, f"head stage {what} must be numbers") from None
    if a.ndim != ndim:
        raise DataError(source, f"head stage {what} must have {ndim} dimension(s), got shape {a.shape}")
    return a


class _Basis:
    def __init__(self, d: dict, source: str):
        self.degree, self.knots = int(d["degree"]), int(d["knots"])
        self.continuous = _f32(d["continuous"], source, "basis.continuous", 1)
        self.splined = _f32(d["splined"], source, "basis.splined", 1) > 0
        self.lo = _f32(d["knot_lo"], source, "basis.knot_lo", 1)[self.splined]
        self.step = _f32(d["knot_step"], source, "basis.knot_step", 1)[self.splined]

    def __call__(self, c: np.ndarray, n_rows: int) -> np.ndarray:
        ones = np.ones((len(c), 1), np.float32)
        if n_rows == 1:
            return ones
        parts = [ones, c] + [c**k * self.continuous for k in range(2, self.degree + 1)]
        if self.knots and self.splined.any():
            s = c[:, self.splined]
            clipped = np.minimum(np.maximum(s, self.lo), self.lo + self.step * np.float32(self.knots - 1))
            centres = self.lo[:, None] + self.step[:, None] * np.arange(self.knots, dtype=np.float32)
            hats = np.maximum(1.0 - np.abs((clipped[:, :, None] - centres) / self.step[:, None]), 0.0)
            parts.append(hats.reshape(len(c), -1).astype(np.float32))
        return np.concatenate(parts, axis=1)


def _shares(logits: np.ndarray, threshold) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    shares = e / e.sum(axis=1, keepdims=True)
    largest = shares >= shares.max(axis=1, keepdims=True)
    kept = np.where((shares > threshold) | largest, shares, np.float32(0))
    return kept / kept.sum(axis=1, keepdims=True)


def _erf(x: np.ndarray) -> np.ndarray:
    from scipy.special import erf

    return erf(x).astype(np.float32)


class Head:
    """The stages of ``hepgan_postprocess.head``: ``run(v, z, c)`` -> the model-space output
    (energy-normalised cells, or image pixels in -1..1)."""

    def __init__(self, stages: list, network_latent: int, source: str = "<memory>", dtype=np.float32):
        self.source = source
        self.dtype = dtype  # of a stage's own dense layers (the layered shape network)
        self.network_latent = network_latent
        self.layer_sizes: list[int] | None = None  # set by shower_features
        self.stages = []
        for i, stage in enumerate(stages):
            kind = stage.get("type") if isinstance(stage, dict) else None
            if kind not in STAGE_TYPES:
                raise DataError(source, f"head stage {i}: unknown type {kind!r} ({', '.join(STAGE_TYPES)})")
            method = getattr(self, f"_{kind}")
            try:
                self.stages.append(method(stage))
            except KeyError as exc:
                raise DataError(source, f"head stage {i} ({kind}): missing key {exc}") from None

    def run(self, v: np.ndarray, z: np.ndarray, c: np.ndarray) -> np.ndarray:
        x = v.astype(np.float32)
        z = z.astype(np.float32)
        c = c.astype(np.float32)
        for stage in self.stages:
            x = stage(x, z, c)
        return x

    # -- one builder per stage type: checks the constants, returns the stage's function

    def _gaussian_path(self, d: dict):
        m = _f32(d["matrix"], self.source, "gaussian_path.matrix", 2)
        k, n = m.shape[0], self.network_latent

        def run(v, z, c):
            v = v.copy()
            v[:, :k] += z[:, n - k : n] @ m.T
            return v

        return run

    def _shower_features(self, d: dict):
        basis = _Basis(d["basis"], self.source)
        mean, log_var = (_f32(d[k], self.source, f"shower_features.{k}", 2) for k in ("mean", "log_var"))
        log_eps = _f32(d["log_eps"], self.source, "shower_features.log_eps", 2)
        min_std, raw_max = (_f32(d[k], self.source, f"shower_features.{k}", 1) for k in ("min_std", "raw_max"))
        raw_min = np.array([-np.inf if v is None else v for v in d["raw_min"]], np.float32)
        slices = [tuple(map(int, s)) for s in d["layers"]]
        self.layer_sizes = [b - a for a, b in slices]
        unthresholded = set(map(int, d["unthresholded"]))
        layer_floor = np.float32(float(d["eps_layer"]) * float(d["empty_below"]))
        empty_below = np.float32(d["empty_below"])
        eps_lo, eps_hi = (np.float32(v) for v in d["eps_range"])
        n_layers = len(slices)

        def run(v, z, c):
            b = basis(c, len(mean))
            raw = np.clip(b @ mean + np.maximum(np.exp(np.float32(0.5) * (b @ log_var)), min_std) * v, raw_min, raw_max)
            response = np.exp(raw[:, :1])
            fractions = _shares(raw[:, 1 : 1 + n_layers], layer_floor)
            empty = np.clip(np.exp(b @ log_eps), eps_lo, eps_hi) * empty_below
            parts = [_shares(raw[:, 1 + n_layers + a : 1 + n_layers + b_], np.float32(0) if l in unthresholded
                             else empty[:, l : l + 1]) * fractions[:, l : l + 1]
                     for l, (a, b_) in enumerate(slices)]
            return response * np.concatenate(parts, axis=1)

        return run

    def _cell_fluctuations(self, d: dict):
        basis = _Basis(d["basis"], self.source)
        log_smallest = _f32(d["log_smallest"], self.source, "cell_fluctuations.log_smallest", 2)
        scale = _f32(d["scale"], self.source, "cell_fluctuations.scale", 1)
        spread = _f32(d["deposit_spread"], self.source, "cell_fluctuations.deposit_spread", 1)
        exponent = None if d["width_exponent"] is None else _f32(d["width_exponent"], self.source, "width_exponent", 1)
        slices = [tuple(map(int, s)) for s in d["layers"]]
        start = self.network_latent + int(d["noise"][0])
        n_cells = slices[-1][1]
        layer_of = np.concatenate([np.full(b - a, l) for l, (a, b) in enumerate(slices)])
        fluct_cells = np.concatenate([np.arange(*slices[l]) for l in d["fluctuating_layers"]] or [np.zeros(0, int)])
        deposit_cells = np.concatenate([np.arange(*slices[l]) for l in d["deposit_layers"]] or [np.zeros(0, int)])
        fluctuating = np.zeros(n_cells, bool)
        fluctuating[fluct_cells] = True
        in_deposits = np.zeros(n_cells, bool)
        in_deposits[deposit_cells] = True
        gamma, floor, above = d["shape"] == "gamma", np.float32(d["floor"]), d["deposit_shape"] == "above"
        size = np.float32(d["deposit_size"])
        s_cells = np.maximum(spread[layer_of], np.float32(1e-4))[None, :]
        zero = np.float32(0)

        def layer_sums(y):
            return np.stack([y[:, a:b].sum(axis=1) for a, b in slices], axis=1)

        def rescaled(y, energies):
            after = layer_sums(y)
            ratio = np.where(after > 0, energies / np.maximum(after, np.float32(1e-30)), zero)
            return y * ratio[:, layer_of]

        def run(x, z, c):
            noise = z[:, start:]
            smallest = np.exp(basis(c, len(log_smallest)) @ log_smallest)
            hit = x > 0
            safe = np.where(hit, x, np.float32(1))
            quantum = (smallest * scale)[:, layer_of]
            std = np.sqrt(safe * quantum)
            if exponent is not None:
                std = std * np.exp(exponent[layer_of] * np.log(safe / quantum))
            zc = np.zeros_like(x)
            zc[:, fluct_cells] = noise[:, : len(fluct_cells)]
            if gamma:
                relative = std / safe
                cube = np.maximum(1 - relative * relative / np.float32(9) + relative * zc / np.float32(3), zero)
                y = np.where(hit, np.where(fluctuating, safe * cube * cube * cube, x), zero)
            else:
                y = np.where(hit, np.maximum(x + std * zc, zero), zero)
            before = layer_sums(x)
            any_hit = (layer_sums((y > 0).astype(np.float32)) > 0)[:, layer_of]
            y = np.where(any_hit, rescaled(y, before), x)
            if floor > 0:
                cut = (floor * smallest)[:, layer_of]
                largest = np.concatenate([np.repeat(y[:, a:b].max(axis=1, keepdims=True), b - a, axis=1)
                                          for a, b in slices], axis=1)
                layer_energy = layer_sums(y)[:, layer_of]
                keep = (y >= cut) | ((y >= largest) & (layer_energy >= cut)) | ~fluctuating
                y = rescaled(np.where(keep & (y > 0), y, zero), before)
            if len(deposit_cells):
                deposit = (size * smallest)[:, layer_of]
                dz = np.zeros_like(x)
                dz[:, deposit_cells] = noise[:, len(fluct_cells) : len(fluct_cells) + len(deposit_cells)]
                uniform = np.float32(0.5) * (1 + _erf(dz * np.float32(0.5**0.5)))
                spread_c = spread[layer_of][None, :]
                s = s_cells
                mean_factor = np.where(spread_c > 0, (np.exp(s) - 1) / s, np.float32(1)) if above else np.float32(1)
                mean = deposit * mean_factor
                y = np.where(in_deposits & (y < np.float32(0.01) * mean), zero, y)
                small = in_deposits & (y > 0) & (y < mean)
                safe_y = np.maximum(y, np.float32(1e-30))
                factor = np.where(small & (uniform * mean < y), mean / safe_y, zero)
                position = np.minimum(uniform * mean / safe_y, np.float32(1))
                if above:
                    energy = np.exp(s * position) * s / (np.exp(s) - 1)
                else:
                    energy = np.exp(s * (2 * position - 1)) * 2 * s / (np.exp(s) - np.exp(-s))
                energy = np.where(spread_c > 0, energy, np.float32(1))
                y = np.where(small, y * factor * energy, y)
            return y.astype(np.float32)

        return run

    def _layered_shower(self, d: dict):
        from hepgan.export.dense_stack import DenseStack
        from hepgan.export.layered_head import LayeredShower

        shower = LayeredShower(d, self.source, lambda layers: DenseStack(layers, self.source, self.dtype))
        return lambda v, z, c: shower.run(v, z, c)

    def _image_network(self, d: dict):
        from hepgan.export.image_layers import ImageNetwork

        network = ImageNetwork(d["layers"], self.source)
        return lambda v, z, c: network.run(v)

    def _cell_noise(self, d: dict):
        scale = _f32(d["scale"], self.source, "cell_noise.scale", 1)
        first, start = int(d["first"]), self.network_latent + int(d["noise"][0])

        def run(v, z, c):
            v = v.copy()
            v[:, first:] += z[:, start : start + len(scale)] * scale
            return v

        return run

    def _layer_calibration(self, d: dict):
        mapped, min_factor = self._quantile_maps(d, "layer_calibration", 3), np.float32(d["min_factor"])
        n_layers = len(d["knots_in"])
        if self.layer_sizes is None or len(self.layer_sizes) != n_layers:
            raise DataError(self.source, "head stage layer_calibration: needs a shower_features stage before it "
                                         f"with {n_layers} layers")

        def run(x, z, c):
            bounds = np.cumsum([0, *self.layer_sizes])
            energies = np.stack([x[:, a:b].sum(axis=1) for a, b in zip(bounds[:-1], bounds[1:])], axis=1)
            fraction = energies / np.maximum(energies.sum(axis=1, keepdims=True), np.float32(1e-12))
            occupied = fraction > 0
            wanted = np.where(occupied, np.maximum(mapped(fraction, c[:, 0]), min_factor * fraction), np.float32(0))
            wanted = wanted / np.maximum(wanted.sum(axis=1, keepdims=True), np.float32(1e-12))
            factor = np.where(occupied, wanted / np.maximum(fraction, np.float32(1e-12)), np.float32(1))
            return x * np.repeat(factor, self.layer_sizes, axis=1)

        return run

    def _response_calibration(self, d: dict):
        mapped, min_factor = self._quantile_maps(d, "response_calibration", 2), np.float32(d["min_factor"])

        def run(x, z, c):
            r = x.sum(axis=1)
            calibrated = np.maximum(mapped(r, c[:, 0]), min_factor * r)
            return x * (calibrated / np.maximum(r, np.float32(1e-12)))[:, None]

        return run

    def _quantile_maps(self, d: dict, what: str, ndim: int):
        """mapped(values (N, *channels), c0 (N,)): monotone piecewise-linear maps, one per
        calibration point (and channel), mixed linearly in c0 between the points."""
        # in float64, as torch evaluates them (closely spaced knots cancel in float32)
        x_knots = _f32(d["knots_in"], self.source, f"{what}.knots_in", ndim).astype(np.float64)
        y_knots = _f32(d["knots_out"], self.source, f"{what}.knots_out", ndim).astype(np.float64)
        tail = _f32(d["tail_slope"], self.source, f"{what}.tail_slope", ndim - 1).astype(np.float64)
        centres = _f32(d["centres"], self.source, f"{what}.centres", 1).astype(np.float64)
        slopes = (y_knots[..., 1:] - y_knots[..., :-1]) / (x_knots[..., 1:] - x_knots[..., :-1])
        bends = np.concatenate([slopes, tail[..., None]], -1) - np.concatenate([tail[..., None], slopes], -1)
        left, right = centres[:-1], centres[1:]

        def mapped(values, c0):
            values, c0 = values.astype(np.float64), c0.astype(np.float64)
            past = np.maximum(values[..., None, None] - x_knots, 0.0)
            at_points = y_knots[..., 0] + tail * (values[..., None] - x_knots[..., 0]) + (bends * past).sum(axis=-1)
            along = np.clip((c0[:, None] - left) / (right - left), 0.0, 1.0)
            along = along.reshape(len(c0), *([1] * (values.ndim - 1)), -1)
            return (at_points[..., 0] + (along * (at_points[..., 1:] - at_points[..., :-1])).sum(axis=-1)).astype(np.float32)

        return mapped


__all__ = ["FORMAT_VERSION", "STAGE_TYPES", "Head", "head_stages", "json_array"]
