"""ROOT trees: per-cell branches and array branches, written with uproot and read back."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
import uproot

from hepgan.data.root import read_root_showers, read_root_table, write_root_showers
from hepgan.data.showers import ShowerData
from tests.data._helpers import raises_data_error

N, CELLS = 20, 12



def table(seed=0, dtype=np.float32):
    return np.random.default_rng(seed).exponential(10.0, (N, CELLS)).astype(dtype)


def write_tree(path, columns: dict, tree="t", **more_trees):
    """A TTree the way a TMVA user writes it with uproot (``more_trees`` adds further trees)."""
    with uproot.recreate(path) as f:
        for name, cols in {tree: columns, **more_trees}.items():
            types = {k: v.dtype if v.ndim == 1 else np.dtype((v.dtype, v.shape[1:])) for k, v in cols.items()}
            f.mktree(name, types).extend(cols)
    return path


def cell_branches(cells, prefix="cell_", order=None):
    order = range(cells.shape[1]) if order is None else order
    return {f"{prefix}{i}": cells[:, i] for i in order}


def make_showers(n=N, geometry="atlas266", seed=0):
    rng = np.random.default_rng(seed)
    n_cells = 266 if geometry == "atlas266" else CELLS
    return ShowerData(
        showers=rng.exponential(10.0, (n, n_cells)).astype(np.float32),
        incident_energies=rng.uniform(1e3, 1e5, (n, 1)),
        conditions={"impact_eta": rng.uniform(0.2, 0.25, (n, 1)), "pos": rng.normal(size=(n, 2)).astype(np.float32)},
        geometry=geometry,
        attrs={"generator": "toy", "seed": seed},
    )


def assert_same(a: ShowerData, b: ShowerData) -> None:
    for x, y in [(a.showers, b.showers), (a.incident_energies, b.incident_energies)]:
        assert x.dtype == y.dtype and np.array_equal(x, y)
    assert list(a.conditions) == list(b.conditions)
    for name in a.conditions:
        assert a.conditions[name].dtype == b.conditions[name].dtype
        assert np.array_equal(a.conditions[name], b.conditions[name])


# ------------------------------------------------------------------ tables


def test_prefix_branches_ordered_by_integer(tmp_path):
    cells = table()
    # written out of order so that name order (cell_10 < cell_2) and file order are both wrong
    order = [10, 2, 0, 11, 1, 3, 4, 9, 5, 6, 7, 8]
    path = write_tree(tmp_path / "t.root", {"weight": np.ones(N), **cell_branches(cells, order=order)})
    out = read_root_table(path, branches="cell_")
    assert out.dtype == np.float32 and np.array_equal(out, cells)


def test_explicit_branch_list(tmp_path):
    cells = table()
    path = write_tree(tmp_path / "t.root", cell_branches(cells, prefix="px"))
    out = read_root_table(path, "t", branches=["px3", "px0"])
    assert np.array_equal(out, cells[:, [3, 0]])


def test_integer_branches_become_float(tmp_path):
    pixels = np.random.default_rng(0).integers(0, 256, (N, 4)).astype(np.int32)
    path = write_tree(tmp_path / "t.root", cell_branches(pixels, prefix="pixel"))
    out = read_root_table(path, branches="pixel")
    assert out.dtype == np.float64 and np.array_equal(out, pixels)


def test_array_branch(tmp_path):
    cells = table(dtype=np.float64)
    path = write_tree(tmp_path / "t.root", {"cells": cells, "e": np.ones(N)})
    out = read_root_table(path, array_branch="cells")
    assert out.dtype == np.float64 and np.array_equal(out, cells)


def test_two_dimensional_array_branch_is_flattened(tmp_path):
    images = np.random.default_rng(0).random((N, 3, 4)).astype(np.float32)
    path = write_tree(tmp_path / "t.root", {"image": images})
    assert np.array_equal(read_root_table(path, array_branch="image"), images.reshape(N, 12))


def test_jagged_branch_with_equal_lengths_is_accepted(tmp_path):
    path = tmp_path / "t.root"
    with uproot.recreate(path) as f:
        f.mktree("t", {"v": "var * float64"}).extend({"v": ak.Array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])})
    assert np.array_equal(read_root_table(path, array_branch="v"), [[1, 2], [3, 4], [5, 6]])


def test_rntuple_is_read_too(tmp_path):
    cells = table()
    path = tmp_path / "t.root"
    with uproot.recreate(path) as f:
        f["t"] = cell_branches(cells)  # uproot's default writes an RNTuple
    assert np.array_equal(read_root_table(path, branches="cell_"), cells)


# ------------------------------------------------------------------ showers


@pytest.mark.parametrize("layout", ["branches", "array"])
def test_write_read_showers_round_trip(tmp_path, layout):
    data = make_showers()
    path = tmp_path / f"{layout}.root"
    write_root_showers(path, data, layout=layout)
    back = read_root_showers(path)
    assert_same(data, back)
    assert back.geometry == "atlas266" and back.attrs == data.attrs and back.source == str(path)
    with uproot.open(path) as f:
        tree = f["showers"]
        assert tree.classname == "TTree" and tree.num_entries == N
        if layout == "branches":
            assert "cell_265" in tree.keys() and "cell_266" not in tree.keys()
        else:
            assert tree["showers"].array(library="np").shape == (N, 266)


def test_custom_tree_and_prefix(tmp_path):
    data = make_showers(geometry=None)
    path = tmp_path / "s.root"
    write_root_showers(path, data, tree="calo", prefix="e_")
    back = read_root_showers(path, "calo", branches="e_", condition_branches=["pos"])
    assert list(back.conditions) == ["pos"]
    assert np.array_equal(back.showers, data.showers)


def test_tmva_style_tree_in_gev(tmp_path):
    cells = table(dtype=np.float64)
    energy = np.linspace(1.0, 100.0, N)
    eta = np.linspace(0.2, 0.25, N).astype(np.float32)
    path = write_tree(tmp_path / "t.root", {"E": energy, "eta": eta, **cell_branches(cells)})
    data = read_root_showers(path, branches="cell_", energy_branch="E", condition_branches=["eta"], energy_unit="GeV")
    assert np.array_equal(data.incident_energies[:, 0], energy * 1000.0)
    assert np.array_equal(data.showers, cells * 1000.0)
    assert np.array_equal(data.conditions["eta"][:, 0], eta) and data.geometry is None
    mev = read_root_showers(path, branches="cell_", energy_branch="E")
    assert np.array_equal(mev.showers, cells) and mev.conditions == {}


def test_geometry_checked_against_cells(tmp_path):
    path = tmp_path / "s.root"
    write_root_showers(path, make_showers(geometry=None))
    with raises_data_error(path, "'calogan' has 504 cells", "12 columns"):
        read_root_showers(path, geometry="calogan")
    write_root_showers(path, make_showers())
    with raises_data_error(path, "file is for geometry 'atlas266'", "'calogan' was requested"):
        read_root_showers(path, geometry="calogan")


def test_write_is_atomic(tmp_path):
    path = tmp_path / "s.root"
    write_root_showers(path, make_showers(geometry=None))
    before = path.read_bytes()
    bad = make_showers(geometry=None)
    bad.conditions["cell_3"] = np.zeros((N, 1))
    with raises_data_error(path, "condition 'cell_3' clashes"):
        write_root_showers(path, bad)
    with raises_data_error(path, "unknown layout 'columns'"):
        write_root_showers(path, bad, layout="columns")
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["s.root"]


# ------------------------------------------------------------------ bad input


def test_not_a_root_file(tmp_path):
    path = tmp_path / "t.root"
    path.write_text("cell_0 cell_1\n1 2\n")
    with raises_data_error(path, "not a readable ROOT file"):
        read_root_table(path, branches="cell_")


def test_truncated_file(tmp_path):
    path = tmp_path / "t.root"
    write_root_showers(path, make_showers(n=500), layout="array")
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    with raises_data_error(path, "truncated or corrupt"):
        read_root_showers(path)


def test_missing_file(tmp_path):
    with raises_data_error(tmp_path / "none.root", "no such file"):
        read_root_table(tmp_path / "none.root", branches="cell_")


def test_missing_tree_lists_trees(tmp_path):
    path = write_tree(tmp_path / "t.root", cell_branches(table()), tree="signal", background=cell_branches(table(1)))
    with raises_data_error(path, "no tree 'showers'", "signal, background"):
        read_root_table(path, "showers", branches="cell_")


def test_several_trees_need_a_name(tmp_path):
    path = write_tree(tmp_path / "t.root", cell_branches(table()), tree="signal", background=cell_branches(table(1)))
    with raises_data_error(path, "contains 2 trees (signal, background)", "tree="):
        read_root_table(path, branches="cell_")
    assert np.array_equal(read_root_table(path, "background", branches="cell_"), table(1))


def test_no_tree(tmp_path):
    path = tmp_path / "t.root"
    with uproot.recreate(path) as f:
        f["note"] = "just a string"
    with raises_data_error(path, "contains no TTree", "note"):
        read_root_table(path, branches="cell_")


def test_missing_branch_suggests_close_names(tmp_path):
    path = write_tree(tmp_path / "t.root", {"incident_energy": np.ones(N), **cell_branches(table())})
    with raises_data_error(path, "no branch 'incident_energies'", "close matches: incident_energy"):
        read_root_showers(path, energy_branch="incident_energies")
    with raises_data_error(path, "no branch 'cell_99'"):
        read_root_table(path, branches=["cell_0", "cell_99"])


def test_prefix_without_matches(tmp_path):
    path = write_tree(tmp_path / "t.root", cell_branches(table()))
    with raises_data_error(path, "no branch 'pixel0'", "cell_0"):
        read_root_table(path, branches="pixel")


def test_prefix_with_gap(tmp_path):
    path = write_tree(tmp_path / "t.root", cell_branches(table(), order=[0, 1, 3, 4]))
    with raises_data_error(path, "numbered 0..n-1", "missing cell_2"):
        read_root_table(path, branches="cell_")


def test_prefix_not_starting_at_zero(tmp_path):
    path = write_tree(tmp_path / "t.root", cell_branches(table(), order=[1, 2, 3]))
    with raises_data_error(path, "missing cell_0"):
        read_root_table(path, branches="cell_")


def test_varying_array_lengths_name_first_bad_entry(tmp_path):
    path = tmp_path / "t.root"
    with uproot.recreate(path) as f:
        f.mktree("t", {"v": "var * float64"}).extend({"v": ak.Array([[1.0, 2.0], [3.0, 4.0], [5.0], [6.0, 7.0]])})
    with raises_data_error(path, "'v'", "varying lengths", "entry 0 has 2 values but entry 2 has 1"):
        read_root_table(path, array_branch="v")


def test_scalar_branch_as_array_branch(tmp_path):
    path = write_tree(tmp_path / "t.root", cell_branches(table()))
    with raises_data_error(path, "'cell_0'", "one number per entry"):
        read_root_table(path, array_branch="cell_0")


def test_array_branch_as_cell_branch(tmp_path):
    path = write_tree(tmp_path / "t.root", {"cells": table()})
    with raises_data_error(path, "'cells'", "holds 12 values per entry"):
        read_root_table(path, branches=["cells"])


def test_both_layouts_given(tmp_path):
    path = write_tree(tmp_path / "t.root", {"cells": table()})
    with raises_data_error(path, "not both"):
        read_root_table(path, branches="cell_", array_branch="cells")


def test_layout_cannot_be_guessed(tmp_path):
    path = write_tree(tmp_path / "t.root", {"cells": table()})
    with raises_data_error(path, "say which branches hold the cells", "cells"):
        read_root_table(path)


def test_nan_in_cell_branch(tmp_path):
    cells = table()
    cells[7, 4] = np.nan
    path = write_tree(tmp_path / "t.root", cell_branches(cells))
    with raises_data_error(path, "non-finite", "branch 'cell_4', entry 7"):
        read_root_table(path, branches="cell_")


def test_inf_in_array_branch_and_energy(tmp_path):
    cells = table()
    cells[3, 0] = np.inf
    path = write_tree(tmp_path / "t.root", {"cells": cells, "incident_energy": np.ones(N)})
    with raises_data_error(path, "inf in branch 'cells', entry 3"):
        read_root_showers(path, array_branch="cells")
    energy = np.ones(N)
    energy[5] = np.nan
    path = write_tree(tmp_path / "e.root", {"cells": table(), "incident_energy": energy})
    with raises_data_error(path, "branch 'incident_energy'", "nan at row 5"):
        read_root_showers(path, array_branch="cells")


def test_unknown_energy_unit(tmp_path):
    path = write_tree(tmp_path / "t.root", {"cells": table(), "incident_energy": np.ones(N)})
    with raises_data_error(path, "unknown energy_unit 'TeV'"):
        read_root_showers(path, array_branch="cells", energy_unit="TeV")


def test_integer_energy_branch_is_read_as_float(tmp_path):
    energy = np.arange(1, N + 1, dtype=np.int32) * 1000
    path = write_tree(tmp_path / "t.root", {"cells": table(), "incident_energy": energy})
    data = read_root_showers(path, array_branch="cells")
    assert data.incident_energies.dtype == np.float64
    assert np.array_equal(data.incident_energies[:, 0], energy)
