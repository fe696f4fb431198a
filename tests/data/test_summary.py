import numpy as np
import pytest

from hepgan.data.showers import ShowerData
from hepgan.data.summary import ShowerSummary, summarize
from hepgan.geometry import get_geometry


def _showers(energies_gev, seed=0):
    g = get_geometry("atlas266")
    rng = np.random.default_rng(seed)
    e = np.asarray(energies_gev, float) * 1000.0
    cells = rng.exponential(1.0, (len(e), g.n_cells))
    cells *= (e * rng.normal(0.95, 0.05, len(e)) / cells.sum(1))[:, None]
    return ShowerData(cells, e[:, None], geometry="atlas266")


def test_per_energy_rows_match_a_direct_computation():
    data = _showers([1.0] * 300 + [65.0] * 200)
    rows = summarize(data).rows()
    assert [r["energy_gev"] for r in rows] == [1.0, 65.0] and [r["n"] for r in rows] == [300, 200]
    for row in rows:
        sel = data.incident_energies[:, 0] == row["energy_gev"] * 1000
        response = data.showers[sel].sum(1) / data.incident_energies[sel, 0]
        assert row["response"] == pytest.approx(response.mean())
        assert row["relative_width"] == pytest.approx(response.std(ddof=1) / response.mean())
        layers = get_geometry("atlas266").layer_energies(data.showers[sel])
        np.testing.assert_allclose(row["layer_fractions"], (layers / layers.sum(1, keepdims=True)).mean(0))


def test_chunked_updates_equal_one_update():
    data = _showers(np.repeat([2.0, 8.0, 32.0], 100), seed=1)
    whole = summarize(data).rows()
    chunked = ShowerSummary("atlas266")
    for start in range(0, len(data), 70):
        chunked.update(data.subset(slice(start, start + 70)))
    for a, b in zip(whole, chunked.rows()):
        assert a["n"] == b["n"]
        assert a["response"] == pytest.approx(b["response"])
        assert a["relative_width"] == pytest.approx(b["relative_width"])


def test_a_continuous_spectrum_is_binned_in_log_energy():
    energies = np.exp(np.random.default_rng(2).uniform(0, np.log(1000), 2000))
    rows = summarize(_showers(energies)).rows()
    assert len(rows) == 10 and sum(r["n"] for r in rows) == 2000
    assert all(b["energy_gev"] > a["energy_gev"] for a, b in zip(rows, rows[1:]))
    assert "f_strips" in summarize(_showers(energies[:10])).format()
