"""load_showers / save_showers: the right reader for the content, the right writer for the name."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from hepgan.data.io import load_showers, save_showers
from hepgan.data.showers import ShowerData
from tests.data._helpers import raises_data_error


def make_showers(n=10, seed=0):
    rng = np.random.default_rng(seed)
    return ShowerData(
        showers=rng.exponential(5.0, (n, 266)).astype(np.float32),
        incident_energies=rng.uniform(1e3, 1e6, (n, 1)),
        conditions={"impact_eta": rng.uniform(0.2, 0.25, (n, 1))},
        geometry="atlas266",
        attrs={"origin": "test"},
    )


@pytest.mark.parametrize("name", ["s.h5", "s.hdf5", "s.npz", "s.root", "S.H5"])
def test_save_load_round_trip(tmp_path, name):
    data = make_showers()
    path = tmp_path / name
    save_showers(path, data)
    back = load_showers(path)
    for a, b in [(data.showers, back.showers), (data.incident_energies, back.incident_energies),
                 (data.conditions["impact_eta"], back.conditions["impact_eta"])]:
        assert a.dtype == b.dtype and np.array_equal(a, b)
    assert list(back.conditions) == ["impact_eta"]
    assert back.geometry == "atlas266" and back.attrs == {"origin": "test"}


@pytest.mark.parametrize("name", ["s.h5", "s.npz", "s.root"])
def test_format_is_read_from_content_not_name(tmp_path, name):
    data = make_showers()
    save_showers(tmp_path / name, data)
    renamed = tmp_path / "showers.dat"
    (tmp_path / name).rename(renamed)
    assert np.array_equal(load_showers(renamed).showers, data.showers)


def test_kwargs_reach_the_reader(tmp_path):
    path = tmp_path / "s.h5"
    save_showers(path, make_showers(n=10))
    assert len(load_showers(path, start=2, stop=5)) == 3
    save_showers(tmp_path / "s.root", make_showers(n=4), layout="array")
    assert len(load_showers(tmp_path / "s.root", array_branch="showers")) == 4


def test_geometry_is_checked_by_the_reader(tmp_path):
    for name in ("s.h5", "s.npz", "s.root"):
        save_showers(tmp_path / name, make_showers(n=2))
        with raises_data_error(tmp_path / name, "'calogan' was requested"):
            load_showers(tmp_path / name, geometry="calogan")


def test_calogan_file_is_recognised(shared_data, tmp_path):
    source = shared_data / "calogan" / "geant4_calogan_51events.h5"
    if not source.exists():
        pytest.skip(f"{source} not present")
    copy = tmp_path / "events.hdf5"
    shutil.copyfile(source, copy)
    data = load_showers(copy)
    assert data.geometry == "calogan" and data.showers.shape == (51, 504)
    assert "overflow" in data.conditions
    assert len(load_showers(copy, geometry="calogan")) == 51
    with raises_data_error(copy, "CaloGAN file", "'atlas266' was requested"):
        load_showers(copy, geometry="atlas266")


def test_unknown_format(tmp_path):
    path = tmp_path / "showers.csv"
    path.write_text("a,b\n1,2\n")
    with raises_data_error(path, "unrecognised shower file format", ".h5", ".root", ".npz"):
        load_showers(path)


def test_known_extension_with_bad_content_gets_the_readers_error(tmp_path):
    for name, problem in [("x.h5", "not a readable HDF5 file"), ("x.root", "not a readable ROOT file"),
                          ("x.npz", "not a readable .npz archive")]:
        path = tmp_path / name
        path.write_text("garbage\n")
        with raises_data_error(path, problem):
            load_showers(path)


def test_missing_file(tmp_path):
    with raises_data_error(tmp_path / "absent.h5", "no such file"):
        load_showers(tmp_path / "absent.h5")


def test_save_unknown_extension(tmp_path):
    path = tmp_path / "showers.csv"
    with raises_data_error(path, "cannot tell the format", "'.csv'", ".h5", ".npz", ".root"):
        save_showers(path, make_showers(n=2))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("suffix", [".npz", ".root"])
def test_showers_on_no_known_geometry_are_refused(tmp_path, suffix):
    path = tmp_path / f"odd{suffix}"
    save_showers(path, ShowerData(np.ones((3, 300), np.float32), np.full(3, 1000.0)))
    with raises_data_error(path, "300 cells per shower match no known geometry", "calochallenge-2 6,480"):
        load_showers(path)


@pytest.mark.parametrize("suffix", [".npz", ".root", ".h5"])
def test_a_non_positive_incident_energy_is_refused_with_its_row_and_value(tmp_path, suffix):
    path = tmp_path / f"neg{suffix}"
    save_showers(path, ShowerData(np.ones((3, 266), np.float32), np.array([5.0, 0.0, 7.0]), geometry="atlas266"))
    with raises_data_error(path, "row 1: incident energy must be positive, got 0 MeV"):
        load_showers(path)
