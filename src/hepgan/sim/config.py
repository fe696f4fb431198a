"""Every parameter of the reference shower simulator, with its default, in one place.

The GFLASH coefficients are those published by Grindhammer & Peters (hep-ex/0001020) for
fluctuated profiles in sampling calorimeters; hepgan applies them as published, not as Geant4's
GFlash implementation does (which integrates the energy profile with the homogeneous-medium
parameters in the sampling case and leaves ln Z out of the spot count).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import ConfigDict, Field, ValidationError, field_validator, model_serializer, model_validator
from pydantic_core import PydanticCustomError

from hepgan.data.files import read_yaml_mapping
from hepgan.errors import ConfigError, HepganError
from hepgan.sim.spectra import SPECTRA, Spectrum, get_spectrum
from hepgan.strict import StrictModel, validation_problems

SEED_ENERGIES_GEV = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 65.0, 131.0, 262.0)
SUPPORTED_PARTICLES = ("photon", "electron", "positron", "pion+", "pion-")
HADRONS = ("pion+", "pion-")
ENERGY_LIMITS_GEV = (0.05, 10_000.0)
# the ways to say which energies to simulate; one given in an override replaces the others
ENERGY_FIELDS = ("spectrum", "energies_gev", "energy_range_gev")


class _Strict(StrictModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LongitudinalParameters(_Strict):
    """Gamma-distribution profile: dE/dt ~ t^(alpha-1) exp(-beta t), T = (alpha-1)/beta.

    Homogeneous medium, y = E / E_c:
      <ln T>      = ln(ln y + t_hom)
      <ln alpha>  = ln(a_hom[0] + (a_hom[1] + a_hom[2] / Z) ln y)
      sigma(ln T) = 1 / (sigma_ln_t[0] + sigma_ln_t[1] ln y), same form for alpha, capped at 0.5
      rho         = rho[0] + rho[1] ln y
    Sampling medium: T and alpha shifted by t_sam[0] / F_S + t_sam[1] (1 - e_hat) and a_sam / F_S,
    with their own sigma and rho coefficients.
    """

    t_hom: float = -0.812
    a_hom: tuple[float, float, float] = (0.81, 0.458, 2.26)
    sigma_ln_t_hom: tuple[float, float] = (-1.4, 1.26)
    sigma_ln_a_hom: tuple[float, float] = (-0.58, 0.86)
    rho_hom: tuple[float, float] = (0.705, -0.023)
    t_sam: tuple[float, float] = (-0.55, -0.69)
    a_sam: float = -0.476
    sigma_ln_t_sam: tuple[float, float] = (-2.5, 1.25)
    sigma_ln_a_sam: tuple[float, float] = (-0.82, 0.79)
    rho_sam: tuple[float, float] = (0.784, -0.023)
    max_sigma: float = 0.5


class RadialParameters(_Strict):
    """Core + tail radial profile in Moliere radii, evolving with tau = t / T:

      f(r) = p 2 r Rc^2 / (r^2 + Rc^2)^2 + (1 - p) 2 r Rt^2 / (r^2 + Rt^2)^2
      Rc = z1 + z2 tau,            z1 = rc[0] + rc[1] ln E,  z2 = rc[2] + rc[3] Z
      Rt = k1 (exp(k3 (tau - k2)) + exp(k4 (tau - k2))),  k1 = rt[0] + rt[1] Z, k2 = rt[2],
           k3 = rt[3], k4 = rt[4] + rt[5] ln E
      p  = p1 exp((p2 - tau) / p3 - exp((p2 - tau) / p3)), p1 = wc[0] + wc[1] Z,
           p2 = wc[2] + wc[3] Z, p3 = wc[4] + wc[5] ln E
    (E in GeV). Sampling corrections: Rc += rc_sam[0] (1 - e_hat) + rc_sam[1] / F_S exp(-tau),
    Rt += rt_sam[0] (1 - e_hat) + rt_sam[1] / F_S exp(-tau),
    p += (1 - e_hat) (wc_sam[0] + wc_sam[1] / F_S exp(-(tau - 1)^2)).
    """

    rc: tuple[float, float, float, float] = (0.0251, 0.00319, 0.1162, -0.000381)
    rt: tuple[float, float, float, float, float, float] = (0.659, -0.00309, 0.645, -2.59, 0.3585, 0.0421)
    wc: tuple[float, float, float, float, float, float] = (2.632, -0.00094, 0.401, 0.00187, 1.313, -0.0686)
    rc_sam: tuple[float, float] = (-0.0203, 0.0397)
    rt_sam: tuple[float, float] = (-0.14, -0.495)
    wc_sam: tuple[float, float] = (0.348, -0.642)

    def scaled(self, factor: float) -> "RadialParameters":
        """The same profile with core and tail radii (and their sampling corrections) times ``factor``:
        a controlled distortion for checking that validation metrics notice wider or narrower showers."""
        return self.model_copy(update={
            "rc": tuple(v * factor for v in self.rc),
            "rt": (self.rt[0] * factor, self.rt[1] * factor, *self.rt[2:]),
            "rc_sam": tuple(v * factor for v in self.rc_sam),
            "rt_sam": tuple(v * factor for v in self.rt_sam),
        })


class SpotParameters(_Strict):
    """Energy is deposited as N equal spots, N = n[0] ln(Z) E^n[1] (E in GeV).

    Spots make the lateral and longitudinal shapes fluctuate cell by cell; their number is fixed
    per shower, so they redistribute energy without changing the total.
    """

    enabled: bool = True
    n_sampling: tuple[float, float] = (10.3, 0.959)
    n_homogeneous: tuple[float, float] = (93.0, 0.876)


class HadronicParameters(_Strict):
    """Charged-pion showers: GFLASH's hadronic ansatz (Grindhammer, Rudowicz & Peters, NIM A290
    (1990) 469): a shower that starts after an exponential path in lambda_I, a fluctuating
    electromagnetic fraction, a longitudinal profile mixing a gamma distribution in X0 with one in
    lambda_I, a wider lateral profile for the hadronic part, and a visible energy set by each
    calorimeter's e/h and stochastic term. Energies E in GeV.

    - Mean electromagnetic fraction <f_em> = 1 - (E / e0)^(m - 1), e0 = 1 GeV, m = 0.83 for pions
      (D. E. Groom, NIM A572 (2007) 633). Per shower f_em is Beta-distributed around it with
      standard deviation ``em_fraction_sigma``; its fluctuation makes the constant term of a
      non-compensating calorimeter (Groom), so 0.10 is set from the ATLAS combined test's
      constant term (below).
    - Longitudinal profile from the shower start (Bock, Hansl-Kozanecka & Shah, NIM 186 (1981) 533):
      dE/dx ~ w (x/X0)^(a-1) exp(-b x/X0) + (1 - w) (x/lambda)^(a-1) exp(-d x/lambda), with
      a = 0.786 + 0.427 ln E, b = 0.29, d = 0.978, w = 1.032 - 0.159 ln E, the parameter set
      Kulchitsky & Vinogradov use for the ATLAS tile calorimeter (hep-ex/9903019, NIM A455 (2000)
      499). The weights are turned into energy shares in the hadronic compartment's medium (where
      they were measured); a shower's X0 share scales with its f_em / <f_em>, so electromagnetic-rich
      showers are shorter, as GFLASH ties its pi0 profile to the pi0 fraction. The fit covers
      10-300 GeV; above 300 GeV the parameters keep their 300 GeV values (w would turn negative at
      660 GeV), so TeV showers are no deeper than 300 GeV ones.
    - e/h: 1.74 +- 0.04 for the lead/liquid-argon EM compartment (Kulchitsky, Kuzmin & Vinogradov,
      hep-ex/9911033, 1996 ATLAS combined test) and 1.362 +- 0.006 for the iron/scintillator tile
      calorimeter (Budagov, Kulchitsky, Kuzmin & Vinogradov, JINR-E1-2002-13, 1999 Module-0 test beam).
      The non-electromagnetic part of a deposit is seen with weight h/e at the electron scale.
    - Stochastic terms of the visible energy of a hadron shower per compartment kind, applied as
      one Gamma factor per shower and compartment with variance a^2 E (at most 100 % spread, below
      the energy where a / sqrt(E) would exceed it): the EM barrel's electron term
      (``SimConfig.sampling_term``, 0.10) for the electromagnetic part in the EM compartment, and
      ``stochastic_terms`` for the rest (sampling and nuclear-binding fluctuations of the hadronic
      part; in the tile calorimeter its electromagnetic part too). The defaults (0.62 in the EM
      compartment, 0.72 in the tile calorimeter) and em_fraction_sigma are calibrated: with them the
      simulator reproduces within a few percent, at 10-300 GeV, the resolution measured with the
      ATLAS combined test's e/h reconstruction (``hepgan.sim.testbeam``),
      [(58 +- 3) %/sqrt(E) + (2.5 +- 0.3) %] (+) 1.7 GeV/E (ATLAS Collaboration, hep-ex/0104002;
      Kulchitsky et al., hep-ex/0004009), the noise term left out (the simulator's noise is off by
      default).
    - Lateral profile of the hadronic part: 2 r R^2 / (r^2 + R^2)^2 with R in lambda_I of the
      compartment; 95 % of a hadron shower lies within about one lambda_I of its axis (Fabjan &
      Gianotti, Rev. Mod. Phys. 75 (2003) 1243), which this profile gives for R = 1 / sqrt(19) =
      0.23 lambda_I. The electromagnetic part takes the GFLASH electromagnetic radial profile.
    - Before the shower starts the pion is a minimum-ionising track (PDG dE/dx_min of each medium),
      seen at 1 / e_hat of the electron scale; it punches through when it starts past the last layer.
      Its deposit in each layer fluctuates as a Landau distribution (Moyal's approximation, kept at
      the mean) of width xi = (K/2) <Z/A> x / beta^2 (PDG, Passage of particles through matter) in
      the active medium: relative to the mean loss dE/dx_min x that is (K/2) <Z/A> / (dE/dx_min),
      whatever the thickness, so ``track_landau_xi`` is 0.1535 x 0.4506 / 1.519 = 0.0456 for liquid
      argon and 0.1535 x 0.5377 / 2.052 = 0.0402 for polystyrene scintillator.
    """

    em_fraction_e0_gev: float = Field(1.0, gt=0.0)
    em_fraction_m: float = Field(0.83, gt=0.0, lt=1.0)
    em_fraction_sigma: float = Field(0.10, ge=0.0, lt=0.5)
    profile_a: tuple[float, float] = (0.786, 0.427)
    profile_b: float = Field(0.29, gt=0.0)
    profile_d: float = Field(0.978, gt=0.0)
    profile_w: tuple[float, float] = (1.032, -0.159)
    profile_max_gev: float = Field(300.0, gt=1.0, description="the profile parameters hold their value above this "
                                                              "energy, the top of the range they were fitted in")
    e_over_h: dict[str, float] = Field(default_factory=lambda: {"em": 1.74, "hadronic": 1.362})
    stochastic_terms: dict[str, float] = Field(default_factory=lambda: {"em": 0.62, "hadronic": 0.72})
    lateral_radius_lambda: float = Field(0.23, gt=0.0)
    track_landau_xi: dict[str, float] = Field(default_factory=lambda: {"em": 0.0456, "hadronic": 0.0402})
    slice_lambda: float = Field(0.25, gt=0.0, description="depth step (lambda_I) for integrating the profiles")

    @field_validator("e_over_h", "stochastic_terms", "track_landau_xi")
    @classmethod
    def _both_kinds(cls, value):
        from hepgan.geometry.hadronic import COMPARTMENT_KINDS

        if sorted(value) != sorted(COMPARTMENT_KINDS) or any(v <= 0 for v in value.values()):
            raise ValueError(f"give a positive value for each compartment kind {', '.join(COMPARTMENT_KINDS)}, got {value}")
        return value

    def mean_em_fraction(self, energy_gev):
        """Groom's mean electromagnetic fraction of a pion shower of ``energy_gev``."""
        e = np.maximum(np.asarray(energy_gev, float), self.em_fraction_e0_gev)
        return 1.0 - (e / self.em_fraction_e0_gev) ** (self.em_fraction_m - 1.0)

    def e_over_pi(self, kind: str, energy_gev):
        """The e/pi ratio of a compartment kind for showers of ``energy_gev`` it contains:
        (e/h) / (1 + (e/h - 1) <f_em>)."""
        eh = self.e_over_h[kind]
        return eh / (1.0 + (eh - 1.0) * self.mean_em_fraction(energy_gev))


class SimConfig(_Strict):
    """What to simulate, and how the detector responds. Energies in GeV here, MeV in files."""

    geometry: str = "atlas266"
    particle: Literal["photon", "electron", "positron", "pion+", "pion-"] = "photon"
    energies_gev: list[float] | None = Field(default_factory=lambda: list(SEED_ENERGIES_GEV))
    events_per_energy: int = Field(10_000, ge=1)
    energy_range_gev: tuple[float, float] | None = None
    n_events: int | None = Field(None, ge=1)
    spectrum: str | None = Field(None, description="a built-in spectrum (hepgan.sim.spectra.SPECTRA) instead of the "
                                                   "energy fields; n_events scales its total")
    seed: int = Field(1, ge=0)
    sampling_term: float = Field(0.10, ge=0.0, lt=1.0, description="stochastic term a in sigma/E = a/sqrt(E/GeV)")
    constant_term: float = Field(0.007, ge=0.0, lt=0.5, description="constant term b, added in quadrature")
    noise_mev: float | list[float] = Field(0.0, description="electronic noise per cell (MeV), one value or one per layer")
    clip_negative: bool = True
    conversion_length_x0: float = Field(9.0 / 7.0, gt=0.0, description="photon mean free path before converting")
    slice_x0: float = Field(2.0, gt=0.0, description="depth step for the radial profile's evolution")
    chunk_size: int = Field(10_000, ge=1, description="showers held in memory at once")
    longitudinal: LongitudinalParameters = LongitudinalParameters()
    radial: RadialParameters = RadialParameters()
    spots: SpotParameters = SpotParameters()
    hadronic: HadronicParameters = HadronicParameters()

    @model_validator(mode="before")
    @classmethod
    def _spectrum_replaces_energies(cls, data):
        """A spectrum stands for the energy fields, so they must not be given with it (a dump of
        a spectrum config, whose events_per_energy keeps its default, reads back)."""
        if not isinstance(data, dict) or data.get("spectrum") is None:
            return data
        clashing = [k for k in ("energies_gev", "energy_range_gev") if data.get(k) is not None]
        if data.get("events_per_energy") not in (None, cls.model_fields["events_per_energy"].default):
            clashing.append("events_per_energy")
        if clashing:
            raise ValueError(f"spectrum {data['spectrum']!r} replaces {' and '.join(clashing)}: give one or the "
                             f"other (n_events sets the spectrum's number of showers)")
        return {**data, "energies_gev": None}

    @field_validator("particle", mode="before")
    @classmethod
    def _known_particle(cls, value):
        """Name the electromagnetic and the hadronic choices apart in the error."""
        if value not in SUPPORTED_PARTICLES:
            raise PydanticCustomError("literal_error", "Input should be 'photon', 'electron' or 'positron' "
                                      "(electromagnetic), or 'pion+' or 'pion-' (hadrons)")
        return value

    @field_validator("spectrum")
    @classmethod
    def _known_spectrum(cls, value):
        if value is not None and value not in SPECTRA:
            raise ValueError(f"unknown spectrum {value!r}; valid names: {', '.join(SPECTRA)}")
        return value

    @field_validator("energies_gev")
    @classmethod
    def _energies_positive(cls, value):
        if value is not None:
            if not value:
                raise ValueError("energies_gev is empty")
            bad = [e for e in value if not (ENERGY_LIMITS_GEV[0] <= e <= ENERGY_LIMITS_GEV[1])]
            if bad:
                raise ValueError(f"energies must lie in 0.05-10000 GeV, got {bad}")
        return value

    @field_validator("noise_mev")
    @classmethod
    def _noise_non_negative(cls, value):
        values = value if isinstance(value, list) else [value]
        if any(v < 0 for v in values):
            raise ValueError(f"noise_mev must be >= 0, got {value}")
        return value

    @model_validator(mode="after")
    def _one_energy_spec(self):
        if self.spectrum is not None:
            lo, hi = self.energy_spectrum().bounds_gev
            if not (ENERGY_LIMITS_GEV[0] <= lo and hi <= ENERGY_LIMITS_GEV[1]):  # pragma: no cover - built-ins fit
                raise ValueError(f"spectrum {self.spectrum!r} spans {lo:g}-{hi:g} GeV, outside 0.05-10000 GeV")
        elif self.energy_range_gev is not None:
            lo, hi = self.energy_range_gev
            if not (0.05 <= lo < hi <= 10_000):
                raise ValueError(f"energy_range_gev must satisfy 0.05 <= low < high <= 10000, got {self.energy_range_gev}")
            if self.n_events is None:
                raise ValueError("energy_range_gev needs n_events")
        elif self.energies_gev is None:
            raise ValueError("give energies_gev (with events_per_energy), energy_range_gev (with n_events) or spectrum")
        from hepgan.geometry import get_geometry

        geometry = get_geometry(self.geometry)
        if self.particle in HADRONS and geometry.hadronic is None:
            raise ValueError(f"particle {self.particle!r} needs a geometry with interaction lengths; {self.geometry!r} "
                             f"describes an electromagnetic calorimeter only (hadrons: atlas266, calochallenge-1-*)")
        if isinstance(self.noise_mev, list) and len(self.noise_mev) != len(geometry.layers):
            raise ValueError(
                f"noise_mev has {len(self.noise_mev)} values but geometry {self.geometry!r} has {len(geometry.layers)} layers"
            )
        return self

    @model_serializer(mode="wrap")
    def _without_unused_spectrum(self, handler):
        """No ``spectrum: null`` in dumps, nor the default hadronic parameters of an electromagnetic
        shower, so that settings from before these fields hash (and cache) as they did."""
        data = handler(self)
        if self.spectrum is None and isinstance(data, dict):
            data.pop("spectrum", None)
        if self.particle not in HADRONS and self.hadronic == HadronicParameters() and isinstance(data, dict):
            data.pop("hadronic", None)
        return data

    def energy_spectrum(self) -> Spectrum:
        """The energies to simulate, whichever way they were given."""
        if self.spectrum is not None:
            return get_spectrum(self.spectrum, self.n_events)
        if self.energy_range_gev is not None:
            return Spectrum(range_gev=tuple(self.energy_range_gev), n_events=int(self.n_events))
        return Spectrum(points_gev=tuple(self.energies_gev), counts=(self.events_per_energy,) * len(self.energies_gev))

    @property
    def total_events(self) -> int:
        return self.energy_spectrum().total


def replace_energy_fields(values: dict, overrides: dict) -> dict:
    """``values`` updated by ``overrides``, where an energy field given in ``overrides`` (spectrum,
    energies_gev or energy_range_gev) drops the others from ``values``: options override a file.
    A spectrum also drops ``events_per_energy``, which means nothing beside it."""
    replaced = set(ENERGY_FIELDS) if any(overrides.get(k) is not None for k in ENERGY_FIELDS) else set()
    if overrides.get("spectrum") is not None:
        replaced.add("events_per_energy")
    merged = {k: v for k, v in values.items() if k not in replaced}
    merged.update(overrides)
    return merged


def load_sim_config(path: str | Path | None = None, **overrides) -> SimConfig:
    """A SimConfig from an optional YAML file, with keyword overrides on top; errors name the field."""
    values: dict = read_yaml_mapping(path, "simulator config") if path is not None else {}
    values = replace_energy_fields(values, {k: v for k, v in overrides.items() if v is not None})
    try:
        return SimConfig(**values)
    except ValidationError as exc:
        raise ConfigError(f"{path or 'simulator config'}: {validation_problems(exc)}") from None
    except HepganError as exc:  # e.g. an unknown geometry, found while checking the config
        raise ConfigError(f"{path or 'simulator config'}: {exc}") from None
