"""The geometry registry: every shipped geometry by name, and the CaloChallenge binnings it reads."""

import pytest

from hepgan.errors import GeometryError
from hepgan.geometry import get_geometry, list_geometries, read_binning
from hepgan.geometry.atlas import barrel_depths_x0

EXPECTED_CELLS = {
    "atlas266": 266,
    "calogan": 504,
    "calochallenge-1-photons": 368,
    "calochallenge-1-pions": 533,
    "calochallenge-2": 6480,
    "calochallenge-3": 40500,
}


@pytest.mark.parametrize("name", sorted(EXPECTED_CELLS))
def test_registered_geometries_have_the_published_cell_counts(name):
    g = get_geometry(name)
    assert g.n_cells == EXPECTED_CELLS[name]
    assert g.cell_layer.shape == (g.n_cells,)
    assert g.cell_centres.shape == (g.n_cells, 2)
    assert g.cell_sizes.shape == (g.n_cells, 2) and (g.cell_sizes > 0).all()
    assert len(g.neighbours) == g.n_cells


def test_registry_lists_all_and_rejects_unknown_names_with_the_valid_ones():
    assert set(EXPECTED_CELLS) <= set(list_geometries())
    with pytest.raises(GeometryError, match="unknown geometry 'atlas267'.*atlas266"):
        get_geometry("atlas267")


def test_shipped_binnings_equal_the_challenge_files(shared_data):
    from hepgan.geometry.calochallenge import BINNING_FILES

    for name, filename in BINNING_FILES.items():
        real = read_binning(shared_data / "calochallenge" / filename)
        g = get_geometry(name)
        assert [(layer.id, layer.r_edges_mm, layer.n_alpha) for layer in g.layers] == real


def test_binning_errors_are_clear():
    with pytest.raises(GeometryError, match="not a valid binning XML"):
        read_binning("<Bins><Layer")
    with pytest.raises(GeometryError, match="r_edges must increase"):
        read_binning('<Bins><Bin><Layer id="0" r_edges="0,5,3" n_bin_alpha="1"/></Bin></Bins>')


def test_calochallenge_1_depths_reuse_the_atlas_barrel():
    g = get_geometry("calochallenge-1-photons")
    depths = barrel_depths_x0()
    assert [layer.depth_x0 for layer in g.layers] == [depths[i] for i in (0, 1, 2, 3, 12)]
