"""The layered family (``layered_wgan``, the CaloChallenge recipes) in an lwtnn file.

Its energy network (the shower noise and the conditions -> the deposited energy and its split
over the layers) is the lwtnn network; the rest is one head stage ``{"type": "layered_shower",
...}`` that :class:`LayeredShower` (NumPy) and the C++ reference implementation run. With ``v``
the energy network's output (N, L + 1), ``z`` the caller's latent vector (``shower_latent``
values, then ``shape_latent`` per layer), ``c`` the encoded conditions:

1. the incident energy ``E = exp(c . energy_map[:-1] + energy_map[-1])`` (MeV), and
   ``u = (ln E - log_energy_scale[0]) / log_energy_scale[1]``;
2. each energy feature's mean and ln-variance interpolated linearly in ``u`` between the
   ``energy_knots`` (flat outside them), the width ``max(exp(ln-variance / 2), min_energy_std)``;
3. the deposited fraction ``exp(mean[L] + width[L] (z' + v[0]))``, split over the layers by
   ``softmax(layer_log_share + v[1:])``; ``z' = z[0]`` unless the optional ``empty_fraction``
   (one row of knot values, interpolated like the means) gives a chance p > 0 of a shower
   without energy: then, in double precision, q = 1 - Phi(z[0]), the shower is empty (all cells
   0) where q > 1 - p, and otherwise ``z' = -Phi^-1(q / (1 - p))``;
4. the context, (L + 1) standardised energy features: ``ln(1 + E_l E / threshold_l)`` and
   ``ln(deposited fraction)``, minus the mean, over the width;
5. per layer l, the ``shape_network`` (lwtnn-format dense layers) on [z_shower, z_l, c,
   embedding_l, context, context_l] gives ``width`` logits; plus ``cell_log_share[l]``, the
   slots beyond the layer's size masked, a softmax gives the cell shares; cells = layer energy x
   share. With ``cell_noise`` true, the network gives ``2 width`` values (logits a, then b) and
   the latent vector ends with ``width`` more values per layer, e: the logits are
   ``a + softplus(b) e``, softplus(b) = max(b, 0) + log1p(exp(-|b|));
6. cells below their layer's ``threshold`` (in MeV: cell x E) are emptied and their energy given
   to the cells kept; a layer whose cells all fall below keeps its largest, unless the whole
   layer is below the threshold.

The cells (fractions of E, layer after layer) then go through the preprocessing inverse.
Everything runs in float32, as torch does.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr, ndtri

from hepgan.errors import DataError


def layered_stage(generator, array, dense_layers) -> dict:
    """The ``layered_shower`` stage of a :class:`~hepgan.models.layered.networks.LayeredGenerator`;
    ``array`` writes tensors, ``dense_layers`` turns a torch MLP into lwtnn layers."""
    from hepgan.models.layered.scales import MIN_ENERGY_STD

    s, cells = generator.scales, generator.cells
    sizes = [int(n) for n in cells.mask.sum(dim=1).tolist()]
    return {"type": "layered_shower", "layer_sizes": sizes, "width": cells.width,
            "shower_latent": generator.shower_latent, "shape_latent": generator.shape_latent,
            "energy_map": array(s.log_energy_map), "log_energy_scale": array(s.log_energy_scale),
            "energy_knots": array(s.energy_knots), "energy_mean": array(s.energy_mean),
            "energy_log_var": array(s.energy_log_var), "min_energy_std": MIN_ENERGY_STD,
            "threshold": array(s.threshold), "layer_log_share": array(s.layer_log_share),
            "cell_log_share": array(s.cell_log_share), "embedding": array(generator.embedding),
            "empty_fraction": array(s.empty_fraction), "cell_noise": generator.cell_noise,
            "shape_network": dense_layers(generator.shape_net)}


class LayeredShower:
    """The ``layered_shower`` stage: ``run(v, z, c)`` -> (N, cells) fractions of the incident energy."""

    def __init__(self, d: dict, source: str, sequential):
        self.source = source
        try:
            f32 = {k: np.asarray(d[k], np.float32) for k in (
                "energy_map", "log_energy_scale", "energy_knots", "energy_mean", "energy_log_var", "threshold",
                "layer_log_share", "cell_log_share", "embedding")}
            self.sizes = [int(n) for n in d["layer_sizes"]]
            self.width, self.shower_latent, self.shape_latent = int(d["width"]), int(d["shower_latent"]), \
                int(d["shape_latent"])
            self.min_std = np.float32(d["min_energy_std"])
            self.cell_noise = d.get("cell_noise", False)  # files written before it was learned have none
            self.shape_network = sequential(d["shape_network"])
        except KeyError as exc:
            raise DataError(source, f"head stage layered_shower: missing key {exc}") from None
        except (TypeError, ValueError):
            raise DataError(source, "head stage layered_shower: its constants must be numbers") from None
        if not isinstance(self.cell_noise, bool):
            raise DataError(source, f"head stage layered_shower: cell_noise must be true or false, got {self.cell_noise!r}")
        self.__dict__.update(f32)
        n_layers = len(self.sizes)
        try:  # files written before showers without energy were modelled have none
            self.empty_fraction = np.asarray(d.get("empty_fraction", np.zeros((1, len(self.energy_knots)))), np.float32)
        except (TypeError, ValueError):
            raise DataError(source, "head stage layered_shower: its constants must be numbers") from None
        if self.empty_fraction.shape != (1, len(self.energy_knots)):
            raise DataError(source, f"head stage layered_shower: empty_fraction has shape {self.empty_fraction.shape}, "
                                    f"expected {(1, len(self.energy_knots))}")
        expected = {"threshold": (n_layers,), "layer_log_share": (n_layers,),
                    "cell_log_share": (n_layers, self.width), "energy_mean": (n_layers + 1, len(self.energy_knots)),
                    "energy_log_var": (n_layers + 1, len(self.energy_knots))}
        for key, shape in expected.items():
            if f32[key].shape != shape:
                raise DataError(source, f"head stage layered_shower: {key} has shape {f32[key].shape}, expected {shape}")
        self.mask = np.arange(self.width)[None, :] < np.asarray(self.sizes)[:, None]

    def _interpolate(self, u: np.ndarray, values: np.ndarray) -> np.ndarray:
        k = self.energy_knots
        step = np.maximum(k[1:] - k[:-1], np.float32(1e-12))
        weight = np.clip((u[:, None] - k[None, :-1]) / step, np.float32(0), np.float32(1))
        return values[:, 0] + weight @ (values[:, 1:] - values[:, :-1]).T

    def run(self, v: np.ndarray, z: np.ndarray, c: np.ndarray) -> np.ndarray:
        n, n_layers = len(v), len(self.sizes)
        energy = np.exp(c @ self.energy_map[:-1] + self.energy_map[-1])
        u = (np.log(energy) - self.log_energy_scale[0]) / self.log_energy_scale[1]
        mean = self._interpolate(u, self.energy_mean)
        std = np.maximum(np.exp(np.float32(0.5) * self._interpolate(u, self.energy_log_var)), self.min_std)
        z_shower = z[:, : self.shower_latent]
        end = self.shower_latent + n_layers * self.shape_latent
        z_layers = z[:, self.shower_latent : end].reshape(n, n_layers, self.shape_latent)
        noise, holds = z_shower[:, :1], None
        if self.empty_fraction.max() > 0:
            p = self._interpolate(u, self.empty_fraction).astype(np.float64)
            upper = ndtr(-noise.astype(np.float64))
            holds = (upper <= 1.0 - p).astype(np.float32)
            noise = (-ndtri(np.clip(upper / (1.0 - p), 1e-300, 1.0 - 1e-16))).astype(np.float32)
        total = np.exp(mean[:, -1:] + std[:, -1:] * (noise + v[:, :1]))
        if holds is not None:
            total = total * holds
        logits = self.layer_log_share + v[:, 1:]
        share = np.exp(logits - logits.max(axis=1, keepdims=True))
        layer_energy = total * share / share.sum(axis=1, keepdims=True)
        counted = np.log1p(layer_energy * energy[:, None] / self.threshold)
        deposited = np.log(np.maximum(layer_energy.sum(axis=1, keepdims=True), np.float32(1e-12)))
        context = (np.concatenate([counted, deposited], axis=1) - mean) / std
        per_layer = np.concatenate([
            np.broadcast_to(z_shower[:, None], (n, n_layers, self.shower_latent)), z_layers,
            np.broadcast_to(c[:, None], (n, n_layers, c.shape[1])),
            np.broadcast_to(self.embedding[None], (n, n_layers, self.embedding.shape[1])),
            np.broadcast_to(context[:, None], (n, n_layers, n_layers + 1)), context[:, :n_layers, None],
        ], axis=2).astype(np.float32)
        out = self.shape_network(per_layer.reshape(n * n_layers, -1)).reshape(n, n_layers, -1)
        if self.cell_noise:
            spread = out[:, :, self.width :]
            spread = np.maximum(spread, np.float32(0)) + np.log1p(np.exp(-np.abs(spread)))
            out = out[:, :, : self.width] + spread * z[:, end:].reshape(n, n_layers, self.width)
        logits = np.where(self.mask, self.cell_log_share + out, np.float32(-1.0e4))
        shares = np.exp(logits - logits.max(axis=2, keepdims=True))
        rows = layer_energy[:, :, None] * (shares / shares.sum(axis=2, keepdims=True))
        cells = rows * energy[:, None, None]
        layer = cells.sum(axis=2, keepdims=True)
        keep = (cells >= self.threshold[:, None]) | ((cells == cells.max(axis=2, keepdims=True))
                                                      & (layer >= self.threshold[:, None]))
        kept = rows * keep
        rows = kept * (rows.sum(axis=2, keepdims=True) / np.maximum(kept.sum(axis=2, keepdims=True), np.float32(1e-30)))
        return np.concatenate([rows[:, l, :size] for l, size in enumerate(self.sizes)], axis=1).astype(np.float32)


__all__ = ["LayeredShower", "layered_stage"]
