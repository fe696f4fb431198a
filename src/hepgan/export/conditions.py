"""Physical conditions for exported generators: energies as given, impact points drawn the way
the reference simulator draws them, and the window ``alignment`` derived from the impact point.

``hepgan generate`` only takes energies and (optionally) a fixed impact eta, but atlas266 models
are conditioned on [energy, impact_eta, alignment], and the alignment depends on impact_phi too.
So the impact coordinates not given are drawn uniformly over the geometry's impact range, like
:meth:`Geometry.sample_impact` does for simulated data, and the alignment code is computed from
them with :meth:`Geometry.alignment`, exactly as the training data got it. Each coordinate has
its own random stream, so the values do not depend on how the events are chunked.

NumPy only (no torch).
"""

from __future__ import annotations

import numpy as np

from hepgan.errors import ConfigError
from hepgan.export.info import ExportInfo
from hepgan.geometry.base import DERIVED_CONDITIONS


class ConditionSampler:
    """Conditions of showers of one energy point (``stream``): fixed eta, sampled impact, alignment."""

    def __init__(self, info: ExportInfo, *, eta: float | None = None, seed: int = 0, stream: int = 0):
        from hepgan.geometry import get_geometry

        self.geometry = get_geometry(info.geometry) if info.geometry else None
        impact = self.geometry.impact if self.geometry is not None else None
        names = list(impact.names) if impact is not None else []
        if eta is not None and "impact_eta" not in names:
            raise ConfigError(f"geometry {info.geometry!r} has no impact_eta; drop --eta")
        if eta is not None and not np.isfinite(eta):
            raise ConfigError(f"eta must be a finite number, got {eta}")
        self.eta = eta
        self.ranges = {name: (lo, hi) for name, lo, hi in zip(names, impact.low, impact.high)} if impact else {}
        self.rngs = {name: np.random.default_rng([seed, stream, 1, j]) for j, name in enumerate(names)}

    @property
    def impact_names(self) -> list[str]:
        return list(self.ranges)

    def sample(self, energies_mev: np.ndarray, given: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
        """{energy (N,), impact coordinates (N,), alignment (N, k) where the geometry has one}.

        Impact coordinates in ``given`` (e.g. a reference file's) are taken as they are, the
        others drawn; a given coordinate draws nothing, so the rest do not depend on it."""
        energies = np.asarray(energies_mev, float).reshape(-1)
        n = energies.shape[0]
        conditions = {"energy": energies}
        for name, (lo, hi) in self.ranges.items():
            if given is not None and name in given:
                conditions[name] = np.asarray(given[name], float).reshape(n)
            elif name == "impact_eta" and self.eta is not None:
                conditions[name] = np.full(n, float(self.eta))
            else:
                conditions[name] = self.rngs[name].uniform(lo, hi, size=n)
        if self.geometry is not None and self.geometry.anchor_layer is not None:
            for name in DERIVED_CONDITIONS:
                conditions[name] = self.geometry.derived_condition(name, conditions, n)
        return conditions
