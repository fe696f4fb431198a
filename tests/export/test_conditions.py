"""Physical conditions for exported generators: energies as given, impact points drawn over the
geometry's impact range (one stream per coordinate), fixed or given ones taken as they are, and the
window alignment derived from them."""

import numpy as np
import pytest

from hepgan.data.conditions import ConditionEncoder
from hepgan.errors import ConfigError
from hepgan.export.conditions import ConditionSampler
from hepgan.export.info import ExportInfo
from hepgan.geometry import get_geometry


def _info(geometry):
    encoder = ConditionEncoder(names=["energy"]).fit({"energy": np.array([1e3, 1e5])})
    n_cells = get_geometry(geometry).n_cells
    return ExportInfo(kind="showers", geometry=geometry, latent_dim=4, sample_shape=(n_cells,),
                      encoder=encoder.to_dict())


def test_impact_points_are_drawn_over_the_geometrys_range_and_the_alignment_follows_them():
    energies = np.geomspace(1e3, 1e5, 500)
    c = ConditionSampler(_info("atlas266"), seed=1).sample(energies)
    assert set(c) == {"energy", "impact_eta", "impact_phi", "alignment", "impact_offset"}
    np.testing.assert_array_equal(c["energy"], energies)
    impact = get_geometry("atlas266").impact
    for name, lo, hi in zip(impact.names, impact.low, impact.high):
        assert lo <= c[name].min() and c[name].max() < hi
        assert c[name].max() - c[name].min() > 0.9 * (hi - lo)  # spread over the range, not one value
    g = get_geometry("atlas266")
    for name in ("alignment", "impact_offset"):
        np.testing.assert_array_equal(c[name], g.derived_condition(name, c, 500))
    assert np.array_equal(c["alignment"].sum(1), np.full(500, 2.0))  # a 2 + 4 two-hot code


def test_the_draws_do_not_depend_on_chunking_nor_on_a_given_coordinate():
    energies = np.full(40, 8000.0)
    whole = ConditionSampler(_info("atlas266"), seed=3).sample(energies)
    chunked = ConditionSampler(_info("atlas266"), seed=3)
    parts = [chunked.sample(energies[:15]), chunked.sample(energies[15:])]
    for name in ("impact_eta", "impact_phi"):
        np.testing.assert_array_equal(np.concatenate([p[name] for p in parts]), whole[name])
    fixed = ConditionSampler(_info("atlas266"), eta=0.22, seed=3).sample(energies)
    np.testing.assert_array_equal(fixed["impact_eta"], 0.22)
    np.testing.assert_array_equal(fixed["impact_phi"], whole["impact_phi"])  # eta's stream is not phi's
    given = ConditionSampler(_info("atlas266"), seed=3).sample(energies, {"impact_phi": np.full(40, 0.05)})
    np.testing.assert_array_equal(given["impact_phi"], 0.05)
    np.testing.assert_array_equal(given["impact_eta"], whole["impact_eta"])
    other_stream = ConditionSampler(_info("atlas266"), seed=3, stream=1).sample(energies)
    assert not np.array_equal(other_stream["impact_eta"], whole["impact_eta"])


def test_geometries_without_an_impact_range_or_anchor_take_what_they_have():
    c = ConditionSampler(_info("calochallenge-1-photons"), seed=0).sample([4000.0, 64000.0])
    assert set(c) == {"energy", "impact_eta"}  # an impact eta, no anchor cell: no alignment
    assert ConditionSampler(_info("calochallenge-2")).sample([1e3]).keys() == {"energy"}
    with pytest.raises(ConfigError, match="geometry 'calochallenge-2' has no impact_eta; drop --eta"):
        ConditionSampler(_info("calochallenge-2"), eta=0.2)
    with pytest.raises(ConfigError, match="eta must be a finite number, got nan"):
        ConditionSampler(_info("atlas266"), eta=float("nan"))
