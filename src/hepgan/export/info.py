"""What an exported generator carries besides its weights, in a form both file formats store.

An exported file must be usable without the run directory it came from: which conditions it
takes (and in which units), what it produces, the geometry, and the conditions it was trained
on, so that ``hepgan generate`` can warn about (or refuse) extrapolation. ONNX files keep this
as JSON in the ``hepgan`` metadata property, lwtnn files in their ``hepgan`` section.

NumPy only (no torch): the lwtnn runtime reads it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hepgan.data.conditions import PASSED_THROUGH, LOG_SCALED, ConditionEncoder
from hepgan.errors import ConfigError, DataError, HepganError, HepganWarning

FORMAT = "hepgan-export-1"
UNITS = {"energy": "MeV", "impact_eta": "", "impact_phi": "rad", "alignment": "one-hot", "impact_offset": "anchor-cell pitch"}


@dataclass
class ExportInfo:
    """Metadata of an exported generator (see the module docstring)."""

    kind: str  # "showers" | "images"
    geometry: str | None
    latent_dim: int
    sample_shape: tuple[int, ...]
    encoder: dict[str, Any]  # ConditionEncoder.to_dict()
    trained_range: dict[str, list[float]] = field(default_factory=dict)  # name -> [low, high], physical units
    step: int = 0
    source: str = ""
    extra: dict[str, Any] = field(default_factory=dict)  # format-specific (opset, verification, ...)

    @property
    def condition_encoder(self) -> ConditionEncoder:
        return ConditionEncoder.from_dict(self.encoder)

    @property
    def condition_names(self) -> list[str]:
        return list(self.encoder["names"])

    @property
    def n_classes(self) -> int:
        return int(self.encoder.get("n_classes", 0))

    @property
    def condition_widths(self) -> list[int]:
        return list(self.encoder.get("widths") or [1] * len(self.condition_names))

    @property
    def n_outputs(self) -> int:
        return int(math.prod(self.sample_shape))

    def describe_inputs(self) -> list[dict[str, Any]]:
        """Name, width and unit of every condition input, in the order the network sees them."""
        out = []
        for name, width in zip(self.condition_names, self.condition_widths):
            encoding = "categorical" if name in PASSED_THROUGH else "log" if name in LOG_SCALED else "linear"
            out.append({"name": name, "width": width, "unit": UNITS.get(name, ""), "encoding": encoding})
        return out

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["sample_shape"] = list(self.sample_shape)
        return {"format": FORMAT, **d, "inputs": self.describe_inputs()}

    @classmethod
    def from_dict(cls, d: Any, source: object) -> ExportInfo:
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise DataError(source, f"not a hepgan export (expected metadata format {FORMAT!r})")
        try:
            info = cls(
                kind=str(d["kind"]), geometry=d["geometry"], latent_dim=int(d["latent_dim"]),
                sample_shape=tuple(int(s) for s in d["sample_shape"]), encoder=dict(d["encoder"]),
                trained_range={k: [float(v[0]), float(v[1])] for k, v in d.get("trained_range", {}).items()},
                step=int(d.get("step", 0)), source=str(d.get("source", "")), extra=dict(d.get("extra", {})),
            )
            info.condition_encoder  # noqa: B018 - validates the encoder description
        except (KeyError, TypeError, ValueError, IndexError, AttributeError, HepganError) as exc:
            raise DataError(source, f"hepgan metadata is incomplete or malformed ({type(exc).__name__}: {exc})") from None
        if info.kind not in ("showers", "images"):
            raise DataError(source, f"hepgan metadata: unknown kind {info.kind!r}")
        return info


def info_from_generator(gen, source: str = "") -> ExportInfo:
    """The metadata of a :class:`~hepgan.train.generator.TrainedGenerator` (trained range included)."""
    return ExportInfo(
        kind=gen.kind, geometry=gen.geometry, latent_dim=int(gen.latent_dim),
        sample_shape=tuple(int(s) for s in gen.sample_shape), encoder=gen.encoder.to_dict(),
        trained_range=trained_range(gen.config, gen.geometry) if gen.kind == "showers" else {},
        step=int(gen.step), source=source,
    )


# --------------------------------------------------------------------------- trained range


def trained_range(config, geometry: str | None) -> dict[str, list[float]]:
    """[low, high] of the energy (MeV) and impact conditions the run trained on; {} when unknown.

    From the simulator settings when the run simulated its data (energies after exclusions,
    impact positions over the geometry's range), otherwise read from the data file. A file that
    is gone leaves the range unknown rather than failing the export.
    """
    data = config.data
    exclude = [e * 1000.0 for e in getattr(data, "exclude_energies_gev", [])]
    sim = getattr(data, "simulate", None)
    if sim is not None:
        spectrum = sim.energy_spectrum()
        if not spectrum.discrete:
            energies = np.asarray(spectrum.bounds_gev, float) * 1000.0
        else:
            energies = np.asarray(spectrum.points_gev, float) * 1000.0
            energies = energies[[not any(math.isclose(e, x, rel_tol=1e-6) for x in exclude) for e in energies]]
        out = {"energy": [float(energies.min()), float(energies.max())]} if energies.size else {}
        from hepgan.geometry import get_geometry

        impact = get_geometry(sim.geometry).impact
        for name, lo, hi in zip(impact.names, impact.low, impact.high) if impact else ():
            out[name] = [float(lo), float(hi)]
        return out
    try:
        return _range_from_file(data.path, geometry, exclude)
    except (HepganError, OSError, KeyError, ValueError):
        return {}


def _range_from_file(path: str, geometry: str | None, exclude: list[float]) -> dict[str, list[float]]:
    from hepgan.data.io import detect_format, is_calogan_file, load_showers

    if detect_format(Path(path)) == "hdf5" and not is_calogan_file(Path(path)):
        from hepgan.data.hdf5 import open_hdf5

        with open_hdf5(path) as handle:  # only the small datasets: never the showers
            energies = np.asarray(handle["incident_energies"][:], float).reshape(-1)
            conditions = {name: np.asarray(handle[name][:], float).reshape(len(energies), -1)[:, 0]
                          for name in ("impact_eta", "impact_phi") if name in handle}
    else:
        data = load_showers(path, geometry=geometry)
        energies = data.incident_energies[:, 0].astype(float)
        conditions = {k: v[:, 0].astype(float) for k, v in data.conditions.items()}
    keep = np.ones(len(energies), bool)
    for e in exclude:
        keep &= ~np.isclose(energies, e, rtol=1e-6)
    if not keep.any():
        return {}
    out = {"energy": [float(energies[keep].min()), float(energies[keep].max())]}
    for name, values in conditions.items():
        out[name] = [float(values[keep].min()), float(values[keep].max())]
    return out


def check_range(info: ExportInfo, conditions: dict[str, np.ndarray], *, strict: bool = False,
                warn: Callable[[str], None] | None = None) -> list[str]:
    """Messages for conditions outside the trained range: a ConfigError with ``strict``, else passed to ``warn``."""
    problems = []
    for name, (lo, hi) in info.trained_range.items():
        if name not in conditions:
            continue
        values = np.asarray(conditions[name], float).reshape(-1)
        tol = 1e-6 * max(abs(lo), abs(hi))
        outside = values[(values < lo - tol) | (values > hi + tol)]
        if outside.size == 0:
            continue
        if name == "energy":
            shown = ", ".join(f"{v / 1000:g}" for v in np.unique(outside)[:5])
            problems.append(f"energy {shown} GeV is outside the trained range {lo / 1000:g}-{hi / 1000:g} GeV")
        else:
            shown = ", ".join(f"{v:g}" for v in np.unique(outside)[:5])
            problems.append(f"{name} {shown} is outside the trained range {lo:g}-{hi:g}")
    if problems and strict:
        raise ConfigError("; ".join(problems) + " (refused: --strict)")
    for problem in problems:
        (warn or _warn)(problem + "; the generator extrapolates there")
    return problems


def _warn(message: str) -> None:
    import warnings

    warnings.warn(message, HepganWarning, stacklevel=3)


def model_kind(path: str | Path) -> str:
    """'run' (a run directory), 'onnx' or 'lwtnn' (an exported file), or a ConfigError."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: no such run directory or model file")
    if path.is_dir():
        return "run"
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        return "onnx"
    if suffix == ".json":
        return "lwtnn"
    raise ConfigError(f"{path}: expected a run directory, an .onnx file or an lwtnn .json file")
