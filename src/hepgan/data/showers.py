"""In-memory containers for showers and images, with the checks every reader applies."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hepgan.data.files import check_finite_rows
from hepgan.errors import DataError

MAX_CHUNK_VALUES = 2**25  # ~128 MB of float32 cells held at once


def chunk_rows(requested: int, n_cells: int) -> int:
    """Showers per chunk: at most ``requested``, and at most ``MAX_CHUNK_VALUES`` cells, so that
    memory does not grow with the detector (10,000 dataset-3 showers would be 1.6 GB)."""
    return min(int(requested), max(1, MAX_CHUNK_VALUES // max(1, int(n_cells))))


@dataclass
class ShowerData:
    """A set of showers on one geometry, with the conditions each was simulated under.

    Energies are in MeV, as in the CaloChallenge HDF5 layout. ``conditions`` holds extra
    per-shower arrays of shape (N, k), e.g. ``impact_eta``; ``attrs`` holds JSON-serialisable
    metadata such as the simulator config.
    """

    showers: np.ndarray
    incident_energies: np.ndarray
    conditions: dict[str, np.ndarray] = field(default_factory=dict)
    geometry: str | None = None
    attrs: dict[str, Any] = field(default_factory=dict)
    source: str = "<memory>"

    def __post_init__(self) -> None:
        self.showers = np.asarray(self.showers)
        self.incident_energies = np.asarray(self.incident_energies)
        if self.incident_energies.ndim == 1:
            self.incident_energies = self.incident_energies[:, None]
        if self.showers.ndim != 2:
            raise DataError(self.source, f"showers must be 2-D (N, n_cells), got shape {self.showers.shape}")
        n = self.showers.shape[0]
        if self.incident_energies.shape != (n, 1):
            raise DataError(
                self.source,
                f"incident_energies must have shape ({n}, 1) to match showers {self.showers.shape}, "
                f"got {self.incident_energies.shape}",
            )
        conditions = {}
        for name, value in self.conditions.items():
            value = np.asarray(value)
            if value.ndim == 1:
                value = value[:, None]
            if value.ndim != 2 or value.shape[0] != n:
                raise DataError(self.source, f"condition {name!r} must have shape ({n}, k), got {value.shape}")
            conditions[name] = value
        self.conditions = conditions
        if self.geometry is not None:
            from hepgan.geometry import get_geometry

            n_cells = get_geometry(self.geometry).n_cells
            if self.showers.shape[1] != n_cells:
                raise DataError(
                    self.source,
                    f"geometry {self.geometry!r} has {n_cells} cells but showers have "
                    f"{self.showers.shape[1]} columns",
                )

    def __len__(self) -> int:
        return int(self.showers.shape[0])

    @property
    def n_cells(self) -> int:
        return int(self.showers.shape[1])

    def check_finite(self) -> "ShowerData":
        """Raise a DataError if any shower, energy or condition is NaN or infinite."""
        check_finite_rows(self.showers, "showers", self.source)
        check_finite_rows(self.incident_energies, "incident_energies", self.source)
        for name, value in self.conditions.items():
            check_finite_rows(value, name, self.source)
        return self

    def subset(self, index) -> "ShowerData":
        """Rows selected by a slice, an index array or a boolean mask."""
        return ShowerData(
            showers=self.showers[index],
            incident_energies=self.incident_energies[index],
            conditions={k: v[index] for k, v in self.conditions.items()},
            geometry=self.geometry,
            attrs=dict(self.attrs),
            source=self.source,
        )

    @staticmethod
    def concat(parts: list["ShowerData"]) -> "ShowerData":
        """Join shower sets of one geometry row-wise (attrs taken from the first)."""
        if not parts:
            raise ValueError("concat needs at least one ShowerData")
        first = parts[0]
        names = set(first.conditions)
        for p in parts[1:]:
            if p.geometry != first.geometry or set(p.conditions) != names:
                raise DataError(p.source, "cannot join shower sets with different geometries or conditions")
        return ShowerData(
            showers=np.concatenate([p.showers for p in parts]),
            incident_energies=np.concatenate([p.incident_energies for p in parts]),
            conditions={k: np.concatenate([p.conditions[k] for p in parts]) for k in first.conditions},
            geometry=first.geometry,
            attrs=dict(first.attrs),
            source=first.source,
        )


@dataclass
class ImageData:
    """Images (N, H, W) with optional integer labels (N,), as read from MNIST IDX files."""

    images: np.ndarray
    labels: np.ndarray | None = None
    source: str = "<memory>"

    def __post_init__(self) -> None:
        self.images = np.asarray(self.images)
        if self.images.ndim != 3:
            raise DataError(self.source, f"images must be 3-D (N, H, W), got shape {self.images.shape}")
        if self.labels is not None:
            self.labels = np.asarray(self.labels)
            if self.labels.shape != (self.images.shape[0],):
                raise DataError(
                    self.source,
                    f"labels must have shape ({self.images.shape[0]},) to match the images, got {self.labels.shape}",
                )

    def __len__(self) -> int:
        return int(self.images.shape[0])
