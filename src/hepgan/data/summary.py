"""A per-energy summary of a shower set, built chunk by chunk so huge files need little memory.

For each incident-energy point (or log-spaced energy bin for continuous spectra): the number of
showers, the mean response E_tot / E_inc, its relative width, and the mean fraction of the
energy in each layer.
"""

from __future__ import annotations

import numpy as np

from hepgan.data.showers import ShowerData
from hepgan.geometry import get_geometry

MAX_DISCRETE_POINTS = 64
MAX_LAYER_COLUMNS = 8


class ShowerSummary:
    """Accumulates per-energy statistics over chunks: ``update(chunk)`` then ``rows()``."""

    def __init__(self, geometry: str | None):
        self.geometry = get_geometry(geometry) if geometry else None
        self._stats: dict[float, np.ndarray] = {}
        self.n_layers = len(self.geometry.layers) if self.geometry else 0
        self.seconds: float | None = None  # wall time of the run that produced the data, if known

    def update(self, data: ShowerData) -> None:
        e_inc = data.incident_energies[:, 0].astype(np.float64)
        e_tot = data.showers.sum(axis=1, dtype=np.float64)
        response = e_tot / e_inc
        layers = (
            self.geometry.layer_energies(data.showers.astype(np.float64))
            if self.geometry
            else np.zeros((len(data), 0))
        )
        fractions = np.divide(layers, e_tot[:, None], out=np.zeros_like(layers), where=e_tot[:, None] > 0)
        keys = np.round(e_inc / 1000.0, 6)
        for key in np.unique(keys):
            sel = keys == key
            row = np.concatenate([[sel.sum(), response[sel].sum(), (response[sel] ** 2).sum()], fractions[sel].sum(0)])
            self._stats[float(key)] = self._stats.get(float(key), 0) + row

    def rows(self) -> list[dict]:
        """One dict per energy point (GeV), or per log bin when there are many distinct energies."""
        stats = self._stats
        counts = [row[0] for row in stats.values()]
        sparse = len(stats) > 12 and np.median(counts) < 5  # a continuous spectrum, few showers per value
        if len(stats) > MAX_DISCRETE_POINTS or sparse:
            stats = self._binned()
        out = []
        for key in sorted(stats):
            n, s1, s2 = stats[key][:3]
            mean = s1 / n
            var = max(s2 / n - mean**2, 0.0) * n / max(n - 1, 1)
            out.append(
                {
                    "energy_gev": key,
                    "n": int(n),
                    "response": mean,
                    "relative_width": float(np.sqrt(var) / mean) if mean > 0 else float("nan"),
                    "layer_fractions": (stats[key][3:] / n).tolist(),
                }
            )
        return out

    def _binned(self) -> dict[float, np.ndarray]:
        keys = np.array(sorted(self._stats))
        edges = np.geomspace(keys[0], keys[-1] * (1 + 1e-9), 11)
        binned: dict[float, np.ndarray] = {}
        for key in keys:
            i = min(np.searchsorted(edges, key, side="right") - 1, 9)
            centre = float(np.sqrt(edges[i] * edges[i + 1]))
            binned[centre] = binned.get(centre, 0) + self._stats[key]
        return binned

    def format(self) -> str:
        """A plain-text table for the terminal."""
        names = [layer.name for layer in self.geometry.layers] if self.geometry else []
        if len(names) > MAX_LAYER_COLUMNS:
            names = []
        head = f"{'E [GeV]':>9} {'N':>8} {'<Etot/E>':>9} {'sigma/mu':>9}" + "".join(f" {('f_' + n)[:10]:>10}" for n in names)
        lines = [head]
        for row in self.rows():
            lines.append(
                f"{row['energy_gev']:>9.3g} {row['n']:>8d} {row['response']:>9.4f} {row['relative_width']:>9.4f}"
                + "".join(f" {f:>10.4f}" for f in row["layer_fractions"][: len(names)])
            )
        return "\n".join(lines)


def summarize(data: ShowerData) -> ShowerSummary:
    """Summary of an in-memory shower set."""
    summary = ShowerSummary(data.geometry)
    summary.update(data)
    return summary
