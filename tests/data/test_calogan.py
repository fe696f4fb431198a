"""CaloGAN HDF5: the real 51-shower Geant4 file, round trips and malformed files."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from hepgan.data.calogan import read_calogan, write_calogan
from hepgan.data.showers import ShowerData
from hepgan.geometry import get_geometry
from tests.data._helpers import raises_data_error

LAYER_SHAPES = {"layer_0": (3, 96), "layer_1": (12, 12), "layer_2": (12, 6)}



def write_layers(path, n=4, dtype=np.float64, seed=0, **override):
    """A CaloGAN-layout file written with plain h5py; ``override`` replaces or drops (None) datasets."""
    rng = np.random.default_rng(seed)
    datasets = {"energy": rng.uniform(1.0, 100.0, (n, 1)).astype(dtype)}
    for name, shape in LAYER_SHAPES.items():
        datasets[name] = rng.exponential(10.0, (n, *shape)).astype(dtype)
    datasets["overflow"] = rng.exponential(1.0, (n, 3)).astype(dtype)
    datasets.update(override)
    with h5py.File(path, "w") as f:
        for name, value in datasets.items():
            if value is not None:
                f.create_dataset(name, data=value)
    return path, datasets


@pytest.fixture(scope="module")
def real_file(shared_data):
    path = shared_data / "calogan" / "geant4_calogan_51events.h5"
    if not path.exists():
        pytest.skip(f"{path} not present")
    return path


def test_real_file_shapes_and_units(real_file):
    data = read_calogan(real_file)
    assert len(data) == 51 and data.n_cells == 504
    assert data.geometry == "calogan"
    assert data.showers.dtype == np.float64
    assert data.incident_energies.shape == (51, 1)
    # 1.5-99 GeV in the file, MeV here
    assert 1500.0 <= data.incident_energies.min() < 2000.0
    assert 95_000.0 < data.incident_energies.max() <= 100_000.0
    assert list(data.conditions) == ["overflow"] and data.conditions["overflow"].shape == (51, 3)
    assert data.source == str(real_file)


def test_real_file_matches_raw_arrays(real_file):
    data = read_calogan(real_file)
    geometry = get_geometry("calogan")
    with h5py.File(real_file, "r") as f:
        raw = {name: f[name][()] for name in ("energy", "layer_0", "layer_1", "layer_2", "overflow")}
    assert np.array_equal(data.incident_energies, raw["energy"] * 1000.0)
    assert np.array_equal(data.showers, geometry.join([raw["layer_0"], raw["layer_1"], raw["layer_2"]]))
    for sl, name in zip(geometry.layer_slices, ("layer_0", "layer_1", "layer_2")):
        # row-major flattening, layer by layer: every cell, hence every per-layer sum, is the file's
        assert np.array_equal(data.showers[:, sl], raw[name].reshape(51, -1))
        layer_sums = np.ascontiguousarray(data.showers[:, sl]).sum(axis=1)
        assert np.array_equal(layer_sums, raw[name].reshape(51, -1).sum(axis=1))
        assert np.allclose(layer_sums, raw[name].sum(axis=(1, 2)), rtol=1e-12, atol=0)
    assert np.array_equal(data.conditions["overflow"], raw["overflow"])
    assert data.showers.sum() > 0


def test_real_file_round_trip(real_file, tmp_path):
    data = read_calogan(real_file)
    write_calogan(tmp_path / "copy.h5", data)
    back = read_calogan(tmp_path / "copy.h5")
    assert np.array_equal(back.showers, data.showers) and back.showers.dtype == data.showers.dtype
    assert np.array_equal(back.conditions["overflow"], data.conditions["overflow"])
    # MeV -> GeV -> MeV may move the last bit of an arbitrary double
    assert np.allclose(back.incident_energies, data.incident_energies, rtol=1e-15, atol=0)
    with h5py.File(real_file, "r") as a, h5py.File(tmp_path / "copy.h5", "r") as b:
        for name in ("layer_0", "layer_1", "layer_2"):
            assert np.array_equal(a[name][()], b[name][()])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_round_trip_is_bit_exact(tmp_path, dtype):
    rng = np.random.default_rng(3)
    n = 9
    data = ShowerData(
        showers=rng.exponential(5.0, (n, 504)).astype(dtype),
        incident_energies=(rng.integers(1, 100, (n, 1)) * 1000).astype(dtype),  # whole GeV: exact in both units
        conditions={"overflow": rng.random((n, 3)).astype(dtype)},
        geometry="calogan",
    )
    write_calogan(tmp_path / "cg.h5", data)
    back = read_calogan(tmp_path / "cg.h5")
    for a, b in [(data.showers, back.showers), (data.incident_energies, back.incident_energies),
                 (data.conditions["overflow"], back.conditions["overflow"])]:
        assert a.dtype == b.dtype and np.array_equal(a, b)
    with h5py.File(tmp_path / "cg.h5", "r") as f:
        assert sorted(f) == ["energy", "layer_0", "layer_1", "layer_2", "overflow"]
        assert f["layer_1"].shape == (n, 12, 12)
        assert np.array_equal(f["energy"][()], data.incident_energies / 1000)


def test_overflow_is_optional(tmp_path):
    path, raw = write_layers(tmp_path / "cg.h5", overflow=None)
    data = read_calogan(path)
    assert data.conditions == {}
    assert np.array_equal(data.showers[:, :288], raw["layer_0"].reshape(4, -1))


def test_float32_file(tmp_path):
    path, raw = write_layers(tmp_path / "cg.h5", dtype=np.float32)
    data = read_calogan(path)
    assert data.showers.dtype == np.float32
    assert np.array_equal(data.showers[:, 432:], raw["layer_2"].reshape(4, -1))


def test_missing_layer(tmp_path):
    path, _ = write_layers(tmp_path / "cg.h5", layer_1=None)
    with raises_data_error(path, "missing dataset 'layer_1'", "energy, layer_0, layer_2, overflow"):
        read_calogan(path)


def test_missing_energy(tmp_path):
    path, _ = write_layers(tmp_path / "cg.h5", energy=None)
    with raises_data_error(path, "missing dataset 'energy'"):
        read_calogan(path)


def test_wrong_layer_shape(tmp_path):
    path, _ = write_layers(tmp_path / "cg.h5", layer_1=np.ones((4, 12, 11)))
    with raises_data_error(path, "'layer_1' has shape (4, 12, 11)", "(N, 12, 12)"):
        read_calogan(path)


def test_flattened_layer_is_rejected(tmp_path):
    path, _ = write_layers(tmp_path / "cg.h5", layer_0=np.ones((4, 288)))
    with raises_data_error(path, "'layer_0' has shape (4, 288)", "(N, 3, 96)"):
        read_calogan(path)


def test_row_count_mismatch(tmp_path):
    path, _ = write_layers(tmp_path / "cg.h5", layer_2=np.ones((5, 12, 6)))
    with raises_data_error(path, "'layer_2' has 5 rows but 'energy' has 4"):
        read_calogan(path)


def test_bad_energy_shape(tmp_path):
    path, _ = write_layers(tmp_path / "cg.h5", energy=np.ones((4, 2)))
    with raises_data_error(path, "'energy' must have shape (N, 1)"):
        read_calogan(path)


def test_nan_in_layer(tmp_path):
    layer = np.ones((4, 12, 6))
    layer[2, 3, 4] = np.nan
    path, _ = write_layers(tmp_path / "cg.h5", layer_2=layer)
    with raises_data_error(path, "dataset 'layer_2'", "nan at row 2"):
        read_calogan(path)
    assert np.isnan(read_calogan(path, check_finite=False).showers).sum() == 1


def test_inf_energy(tmp_path):
    energy = np.ones((4, 1))
    energy[1] = np.inf
    path, _ = write_layers(tmp_path / "cg.h5", energy=energy)
    with raises_data_error(path, "dataset 'energy'", "inf at row 1"):
        read_calogan(path)


def test_truncated_file(tmp_path):
    path, _ = write_layers(tmp_path / "cg.h5", n=200)
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    with raises_data_error(path, "not a readable HDF5 file"):
        read_calogan(path)


def test_text_file(tmp_path):
    path = tmp_path / "cg.h5"
    path.write_text("not hdf5")
    with raises_data_error(path, "not a readable HDF5 file"):
        read_calogan(path)


def test_write_rejects_other_geometries(tmp_path):
    data = ShowerData(np.zeros((2, 266)), np.ones(2), geometry="atlas266")
    path = tmp_path / "cg.h5"
    with raises_data_error(path, "not geometry 'atlas266'"):
        write_calogan(path, data)
    with raises_data_error(path, "504 cells", "got 266"):
        write_calogan(path, ShowerData(np.zeros((2, 266)), np.ones(2)))
    assert list(tmp_path.iterdir()) == []
