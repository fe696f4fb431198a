"""Shared by the transform tests: synthetic showers, round-trip and error assertions."""

from __future__ import annotations

import numpy as np
import pytest

from hepgan.errors import DataError
from hepgan.geometry import get_geometry

GEOMETRIES = ["atlas266", "calogan"]


def make_showers(geometry: str, n: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Sparse exponential cell energies (MeV), some whole layers empty, one all-empty shower.

    Each shower deposits 50-99% of its incident energy, as in a sampling calorimeter, so
    layer energy fractions lie in [0, 1].
    """
    geo = get_geometry(geometry)
    rng = np.random.default_rng(seed)
    energies = 10 ** rng.uniform(3, 6, size=(n, 1))
    cells = rng.exponential(1.0, size=(n, geo.n_cells)) * (rng.random((n, geo.n_cells)) < 0.4)
    for sl in geo.layer_slices:
        cells[rng.random(n) < 0.2, sl] = 0.0
    cells[0] = 0.0
    totals = cells.sum(axis=1, keepdims=True)
    scale = np.divide(rng.uniform(0.5, 0.99, size=(n, 1)) * energies, totals, out=np.zeros_like(totals), where=totals > 0)
    return cells * scale, energies


def assert_round_trip(back: np.ndarray, x: np.ndarray, rtol: float = 1e-10, atol_scale: float = 1e-12) -> None:
    """Equal to ``rtol`` relative; ``atol`` is a tiny fraction of the data's largest value.

    The absolute term only matters for entries many decades below the largest (subtracting a
    fitted mean or logit's alpha costs precision there), never for the bulk of the data.
    """
    assert back.dtype == np.float64
    assert back.shape == x.shape
    np.testing.assert_allclose(back, x, rtol=rtol, atol=atol_scale * float(np.abs(x).max(initial=0.0)))


def _assert_plain_json(value):
    """Only built-in JSON types: numpy scalars would make the state depend on numpy to load."""
    if isinstance(value, dict):
        assert all(type(k) is str for k in value)
        for v in value.values():
            _assert_plain_json(v)
    elif isinstance(value, list):
        for v in value:
            _assert_plain_json(v)
    else:
        assert type(value) in (str, float, int, bool, type(None)), type(value)


def _expect_data_error(call, match, name):
    with pytest.raises(DataError, match=match) as info:
        call()
    assert info.value.source == f"<transform {name}>"
    assert "\n" not in str(info.value)
