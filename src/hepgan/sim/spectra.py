"""Incident-energy spectra: the CaloChallenge 2022 ones by name, and the simulator's own settings.

One definition serves the simulator (``SimConfig.spectrum``) and ``hepgan generate --spectrum``,
so simulated reference showers and generated ones are drawn from the same energies.

Sources for the built-in spectra:

- ``calochallenge-1``: dataset 1 (photons; the pion file uses the same energy points), 15 energies
  2^8 ... 2^22 MeV in powers of two, 10,000 showers each up to 2^18 MeV and fewer above: the
  ``num_events`` table of the challenge's dataset-creation notebook (github.com/CaloChallenge/
  homepage, Dataset_creation.ipynb), 121,000 showers in all; the homepage
  (calochallenge.github.io/homepage) describes the same 15 energies, "10k events ... with the
  exception of those at higher energies".
- ``calochallenge-2`` and ``calochallenge-3``: datasets 2 and 3, energies log-uniform in
  1 GeV - 1 TeV (homepage). Dataset 2 comes as two files of 100,000 showers; dataset 3 as four
  files of 50,000, two of them (100,000) for training. The default total is 100,000 for both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hepgan.errors import ConfigError, unknown_name_error


@dataclass(frozen=True)
class Spectrum:
    """Discrete energy points with a number of showers each, or ``n_events`` log-uniform in a range."""

    points_gev: tuple[float, ...] = ()
    counts: tuple[int, ...] = ()
    range_gev: tuple[float, float] | None = None
    n_events: int = 0
    name: str = ""
    source: str = ""

    @property
    def discrete(self) -> bool:
        return self.range_gev is None

    @property
    def total(self) -> int:
        return sum(self.counts) if self.discrete else int(self.n_events)

    @property
    def bounds_gev(self) -> tuple[float, float]:
        """Lowest and highest incident energy the spectrum can give."""
        return (min(self.points_gev), max(self.points_gev)) if self.discrete else tuple(self.range_gev)

    def scaled(self, n_events: int) -> "Spectrum":
        """The same shape with about ``n_events`` showers: discrete counts scale in proportion,
        rounded half up and at least 1 per point, so every energy stays present."""
        n_events = int(n_events)
        if n_events < 1:
            raise ConfigError(f"the number of showers must be at least 1, got {n_events}")
        if not self.discrete:
            return Spectrum(range_gev=self.range_gev, n_events=n_events, name=self.name, source=self.source)
        total = self.total
        counts = tuple(max(1, math.floor(c * n_events / total + 0.5)) for c in self.counts)
        return Spectrum(points_gev=self.points_gev, counts=counts, name=self.name, source=self.source)

    def draw_mev(self, rng: np.random.Generator) -> np.ndarray:
        """Every shower's incident energy in MeV: discrete points shuffled, or log-uniform draws."""
        if self.discrete:
            energies = np.repeat(np.asarray(self.points_gev, float) * 1000.0, np.asarray(self.counts, int))
            return energies[rng.permutation(energies.shape[0])]
        lo, hi = np.log(self.range_gev)
        return np.exp(rng.uniform(lo, hi, size=self.total)) * 1000.0


_HOMEPAGE = "calochallenge.github.io/homepage"

SPECTRA: dict[str, Spectrum] = {
    "calochallenge-1": Spectrum(
        points_gev=tuple(2.0**k / 1000.0 for k in range(8, 23)),
        counts=(10_000,) * 11 + (5_000, 3_000, 2_000, 1_000),
        name="calochallenge-1",
        source="CaloChallenge/homepage Dataset_creation.ipynb (num_events of dataset 1); " + _HOMEPAGE,
    ),
    "calochallenge-2": Spectrum(range_gev=(1.0, 1000.0), n_events=100_000, name="calochallenge-2",
                                source=_HOMEPAGE + " (dataset 2: 100k showers per file)"),
    "calochallenge-3": Spectrum(range_gev=(1.0, 1000.0), n_events=100_000, name="calochallenge-3",
                                source=_HOMEPAGE + " (dataset 3: 4 files of 50k, two for training)"),
}


def get_spectrum(name: str, n_events: int | None = None) -> Spectrum:
    """The built-in spectrum ``name``, scaled to ``n_events`` showers when given."""
    if name not in SPECTRA:
        raise ConfigError(unknown_name_error("spectrum", name, list(SPECTRA)))
    spectrum = SPECTRA[name]
    return spectrum if n_events is None else spectrum.scaled(n_events)
