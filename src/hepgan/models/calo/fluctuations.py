"""Cell-to-cell fluctuations by energy quanta, and whole-deposit sampling, after the generator's
head (:class:`CellFluctuations`)."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from hepgan.errors import ConfigError
from hepgan.geometry import get_geometry
from hepgan.models.calo.features import EPS_CELL_RANGE, _smallest_deposits
from hepgan.models.calo.standardiser import ConditionalStandardiser, _ridge

MIN_DEPOSIT_SHARE = 0.01  # a deposit layer's cell below this x one deposit is emptied outright: it would be
# whole in < 1 % of the draws, and then with a gradient factor (deposit / cell) > 100


class CellFluctuations(nn.Module):
    """Independent cell-to-cell fluctuations whose variance grows with the cell's energy, as a
    calorimeter's do: a shower deposits its energy in quanta (particles crossing the active
    layers), so a cell of energy E fluctuates by about sqrt(E x quantum). The quantum of each
    layer is estimated from the data's smallest deposits (a polynomial in the conditions, its ln
    fitted by ridge least squares), times a learned scale per layer.

    A dense body fed by a few dozen latent values makes smooth profiles or correlated patterns;
    the secondary peaks of a strip profile, which E_ratio measures, are independent counting
    fluctuations on top of a smooth shape. Here the body makes the shape and this layer the
    fluctuations: Gaussian, cut at 0, so that a cell expected to hold a fraction of a quantum is
    often empty, as a count would be (a log-normal that keeps every hit cell hit did much worse,
    docs/flagship.md). Empty cells stay empty, and each layer is rescaled to its energy before the
    fluctuations, so the response and the layer split stay the body's. ``layers`` limits them to
    the named layers (all when None). With ``power`` the width is sqrt(E x quantum) x (E /
    quantum)^b, b learned per layer from 0, so the critics choose how the width grows with the
    cell's energy (the quickstart's presampler learned b = -0.5, its strips and middle about 0).
    With ``shape='gamma'`` a cell fluctuates as a Gamma variable of the same mean and width instead
    of a Gaussian cut at 0: skewed up, as the count of a few deposits in a shower's tail is.

    With a ``floor`` > 0, the fluctuating cells holding less than floor x the layer's typical
    smallest deposit are then emptied (a layer's largest cell stays, unless the whole layer holds
    less than that). A real cell is hit by at least one deposit, so it never holds a sliver of
    one: in the reference simulator's showers < 2 % of hit cells hold less than 0.2 x the typical
    smallest deposit. Cut at 0, the Gaussian leaves such slivers behind (5-9 % of the generated hit
    cells in strips and middle). The other layers keep their cells: flooring the back layer too
    narrowed its widths (docs/flagship.md).

    ``deposit_layers`` are made of whole deposits instead (the back layer, with 0-2 hits up to
    16 GeV; the recipes also the strips' and middle's small cells): a cell expected to hold less
    than one mean deposit holds one with probability (its energy / mean deposit), and nothing
    otherwise, so each cell's mean energy, and the layer's mean profile, stay the body's. Given a
    smooth profile (``calo.deposit_smooth``: the head keeps every cell of
    these layers), the hit count and the hit positions then follow from the profile, as a count
    of deposits would; the head's threshold concentrated a 16 GeV back layer in one cell in 2 of
    3 showers (real: 1 in 4). A whole deposit's energy is log-uniform within exp(+-spread) of its
    mean, the spread learned per layer (one value per deposit would be a comb in the layer energy),
    or (``deposit_shape='above'``) log-uniform from one deposit up to exp(spread) deposits: as the
    spread grows it then adds big deposits, never slivers (around its mean, a learned spread of 2.2
    in the full recipe made deposits of 0.05-4.4 x the smallest one).
    """

    def __init__(self, geometry: str, cond_dim: int, degree: int, scale: float, layers: list[str] | None = None,
                 floor: float = 0.0, deposit_layers: list[str] = (), deposit_size: float = 1.0,
                 deposit_spread: float = 0.0, deposit_shape: str = "around", power: bool = False,
                 shape: str = "gaussian"):
        super().__init__()
        self.power = bool(power)
        if shape not in ("gaussian", "gamma"):
            raise ConfigError(f"calo.fluctuation_shape must be 'gaussian' or 'gamma', not {shape!r}")
        self.shape = shape
        g = get_geometry(geometry)
        self.floor = float(floor)
        self.deposit_size = float(deposit_size)
        if deposit_shape not in ("around", "above"):
            raise ConfigError(f"calo.deposit_shape must be 'around' or 'above', not {deposit_shape!r}")
        self.deposit_shape = deposit_shape
        self.layer_slices = [(s.start, s.stop) for s in g.layer_slices]
        names = [layer.name for layer in g.layers]
        for option, chosen_names in (("fluctuation_layers", layers or ()), ("deposit_layers", deposit_layers)):
            unknown = sorted(set(chosen_names) - set(names))
            if unknown:
                raise ConfigError(f"calo.{option}: geometry {geometry!r} has no layer "
                                  f"{', '.join(map(repr, unknown))}; its layers are {', '.join(names)}")
        layer_of = torch.from_numpy(np.asarray(g.cell_layer, np.int64))
        self.register_buffer("layer_matrix", nn.functional.one_hot(layer_of, len(g.layers)).float())
        # (chosen cells, cells): places each latent value on its cell
        self.register_buffer("placement", self._placement(g, [i for i, name in enumerate(names)
                                                              if layers is None or name in layers]))
        self.register_buffer("fluctuating", self.placement.sum(dim=0) > 0, persistent=False)
        self.register_buffer("deposit_placement", self._placement(g, [i for i, name in enumerate(names)
                                                                      if name in deposit_layers]), persistent=False)
        self.register_buffer("in_deposits", self.deposit_placement.sum(dim=0) > 0, persistent=False)
        self.basis_of = ConditionalStandardiser(cond_dim, len(g.layers), degree)  # its basis; the mean fit is ln(quantum)
        self.log_scale = nn.Parameter(torch.full((len(g.layers),), math.log(scale)))
        # a whole deposit's energy: log-uniform within exp(+-spread) around its mean, or from one deposit
        # up to exp(spread) deposits (learned per layer)
        self.deposit_spread = nn.Parameter(torch.full((len(g.layers),), float(deposit_spread)))
        # the width's exponent in (cell / quantum), learned per layer (only with ``power``: configs without
        # it keep their parameters, and their checkpoints' optimiser states, as before)
        self.width_exponent = nn.Parameter(torch.zeros(len(g.layers))) if self.power else None

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # checkpoints from before whole-deposit sampling have no spread (and no deposit layers)
        state_dict.setdefault(prefix + "deposit_spread", self.deposit_spread.detach().clone())
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    @staticmethod
    def _placement(g, chosen: list[int]) -> torch.Tensor:
        """(cells of the chosen layers, cells) one-hot rows."""
        if not chosen:
            return torch.zeros(0, g.n_cells)
        cells = torch.cat([torch.arange(g.layer_slices[i].start, g.layer_slices[i].stop) for i in chosen])
        return nn.functional.one_hot(cells, g.n_cells).float()

    @property
    def dim(self) -> int:
        """One latent value per fluctuating cell and per cell of the deposit layers."""
        return self.placement.shape[0] + self.deposit_placement.shape[0]

    def smallest_deposit(self, cond: torch.Tensor | None, n: int) -> torch.Tensor:
        """(n, layers) the fitted typical smallest deposit (in units of the incident energy)."""
        return self.basis_of.evaluate(self.basis_of.mean_coef, cond, n).exp()

    def quantum(self, cond: torch.Tensor | None, n: int) -> torch.Tensor:
        """(n, cells) energy quantum (in units of the incident energy) times the learned scale."""
        return self._quantum_of_cells(self.smallest_deposit(cond, n))

    def _quantum_of_cells(self, smallest: torch.Tensor) -> torch.Tensor:
        return (smallest * self.log_scale.exp()) @ self.layer_matrix.T

    def forward(self, x: torch.Tensor, noise: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
        """Fluctuated cells, from (N, cells) cells and (N, dim) standard-normal noise."""
        hit = x > 0
        smallest = self.smallest_deposit(cond, x.shape[0])
        safe = torch.where(hit, x, torch.ones_like(x))  # sqrt's gradient at an empty cell would be infinite
        quantum = self._quantum_of_cells(smallest)
        std = (safe * quantum).sqrt()
        if self.power:
            std = std * torch.exp((self.width_exponent @ self.layer_matrix.T) * torch.log(safe / quantum))
        z = noise[:, : self.placement.shape[0]] @ self.placement
        if self.shape == "gamma":
            # Wilson-Hilferty: a Gamma of shape k = (x / std)^2 is about x (1 - 1/(9k) + z / (3 sqrt(k)))^3
            relative = std / safe
            cube = (1.0 - relative * relative / 9.0 + relative * z / 3.0).clamp_min(0.0)
            # (not pow: ONNX-friendly); the other layers' cells (z = 0) stay as they are
            y = torch.where(hit, torch.where(self.fluctuating, safe * cube * cube * cube, x), torch.zeros_like(x))
        else:
            y = torch.where(hit, (x + std * z).clamp_min(0.0), torch.zeros_like(x))
        before = x @ self.layer_matrix
        # a layer whose every cell fell below 0 keeps its energy unfluctuated
        y = torch.where(self._any_hit(y), self._rescaled(y, before), x)
        if self.floor > 0:
            y = self._rescaled(self._floored(y, (self.floor * smallest) @ self.layer_matrix.T), before)
        if self.deposit_placement.shape[0]:
            deposit = (self.deposit_size * smallest) @ self.layer_matrix.T
            y = self._in_whole_deposits(y, deposit, noise[:, self.placement.shape[0]:] @ self.deposit_placement)
        return y

    def _in_whole_deposits(self, y: torch.Tensor, deposit: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """``y`` with each cell of the deposit layers that holds less than one deposit's mean made
        one deposit with probability y / mean and empty otherwise (a standard-normal ``noise`` value
        per cell decides): its expected energy, and so the mean profile, stays. The gradient passes
        through the factor that makes a cell whole or empty as through a constant: an emptied cell
        gets none (as the head's empty cells), a whole one the gradient of ln(cell) its sliver had,
        which is what the critics' ln features see; over the draws, the mean energy's gradient is 1.
        (Passing the identity's gradient instead sent the critics' 1/eps slope at an empty cell
        into the generator, and the quickstart diverged within 500 steps.)"""
        uniform = 0.5 * (1.0 + torch.erf(noise * (0.5**0.5)))
        spread = (self.deposit_spread.abs() @ self.layer_matrix.T)[None, :]
        mean = (deposit * self._deposit_mean(spread)).detach()  # only thresholds and detached factors use it
        y = torch.where(self.in_deposits & (y < MIN_DEPOSIT_SHARE * mean), torch.zeros_like(y), y)
        small = self.in_deposits & (y > 0) & (y < mean)
        safe = y.clamp_min(1e-30)
        whole = small & (uniform * mean < y)
        factor = torch.where(whole, mean / safe, torch.zeros_like(y)).detach()
        # given that it is whole, uniform x mean / y is uniform in [0, 1): where in its spread it lies
        energy = self._deposit_energy(spread, (uniform * mean / safe).clamp(max=1.0).detach())
        return torch.where(small, y * factor * energy, y)

    def _deposit_mean(self, spread: torch.Tensor) -> torch.Tensor:
        """A whole deposit's mean energy in deposits: (exp(s) - 1) / s when log-uniform from one
        deposit up to exp(s) deposits ('above'), 1 when its spread lies around the mean."""
        if self.deposit_shape == "around":
            return torch.ones_like(spread)
        s = spread.clamp_min(1e-4)
        return torch.where(spread > 0, (s.exp() - 1.0) / s, torch.ones_like(s))  # not expm1: ONNX has no such op

    def _deposit_energy(self, spread: torch.Tensor, position: torch.Tensor) -> torch.Tensor:
        """(N, cells) a whole deposit's energy in units of its mean, log-uniform at ``position`` in
        [0, 1]: within exp(+-s), exp(s (2 position - 1)) x s / sinh(s), since sinh(s) / s is the mean
        of exp(s u) for u uniform in [-1, 1]; from 1 to exp(s), exp(s position) x s / (exp(s) - 1)
        (1 where the spread is 0)."""
        s = spread.clamp_min(1e-4)
        if self.deposit_shape == "around":
            energy = torch.exp(s * (2.0 * position - 1.0)) * 2.0 * s / (s.exp() - (-s).exp())
        else:
            energy = torch.exp(s * position) * s / (s.exp() - 1.0)
        return torch.where(spread > 0, energy, torch.ones_like(energy))

    def _any_hit(self, y: torch.Tensor) -> torch.Tensor:
        """(N, cells): whether the cell's layer has a hit cell in ``y``."""
        return (y > 0).float() @ self.layer_matrix @ self.layer_matrix.T > 0

    def _rescaled(self, y: torch.Tensor, energies: torch.Tensor) -> torch.Tensor:
        """``y`` with each layer that has a hit cell scaled to hold ``energies`` (N, layers)."""
        after = y @ self.layer_matrix
        ratio = torch.where(after > 0, energies / after.clamp_min(1e-30), torch.zeros_like(after))
        return y * (ratio @ self.layer_matrix.T)

    def _floored(self, y: torch.Tensor, floor: torch.Tensor) -> torch.Tensor:
        """``y`` with the fluctuating cells below ``floor`` emptied. A layer's largest cell stays if
        the layer's energy reaches the floor; a layer holding less than that is emptied (its
        energy, less than ``floor`` x the smallest deposit, is lost: real showers do not have such
        layers either)."""
        largest = torch.cat([y[:, a:b].amax(dim=1, keepdim=True).expand(-1, b - a) for a, b in self.layer_slices], dim=1)
        layer_energy = (y @ self.layer_matrix) @ self.layer_matrix.T
        keep = (y >= floor) | ((y >= largest) & (layer_energy >= floor)) | ~self.fluctuating
        return torch.where(keep & (y > 0), y, torch.zeros_like(y))

    def fit(self, x: np.ndarray, cond: np.ndarray | None) -> None:
        """ln(quantum) of each layer: the ln of the smallest deposit of the showers with >= 2 hit
        cells there, fitted as a polynomial in the conditions (a layer that is never hit twice
        gets the smallest deposit seen anywhere)."""
        self.basis_of.set_condition_kinds(cond)
        basis = self.basis_of.numpy_basis(cond, len(x))
        coef = np.zeros((basis.shape[1], self.basis_of.mean_coef.shape[1]))
        layer_of = self.layer_matrix.argmax(dim=1).numpy()
        positive = x[x > 0]
        fallback = math.log(float(positive.min())) if positive.size else math.log(EPS_CELL_RANGE[0])
        for l in range(coef.shape[1]):
            usable, smallest = _smallest_deposits(np.asarray(x[:, layer_of == l], np.float64))
            if usable.sum() < basis.shape[1] + 10:
                coef[0, l] = fallback
                continue
            coef[:, l] = _ridge(basis[usable], np.log(smallest)[:, None])[:, 0]
        self.basis_of.store(self.basis_of.mean_coef, coef, cond)
