"""NumPy .npz showers: bit-exact round trips and one-line errors for bad archives."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hepgan.data.npz import read_npz, write_npz
from hepgan.data.showers import ShowerData
from hepgan.errors import GeometryError
from tests.data._helpers import raises_data_error


def make_showers(n=25, seed=0, geometry="atlas266"):
    rng = np.random.default_rng(seed)
    return ShowerData(
        showers=rng.exponential(5.0, (n, 266)).astype(np.float32),
        incident_energies=rng.uniform(1e3, 1e6, (n, 1)),
        conditions={"impact_phi": rng.uniform(-1, 1, (n, 1)).astype(np.float32), "run": rng.integers(0, 9, (n, 1))},
        geometry=geometry,
        attrs={"config": {"n": n}, "note": "toy"},
    )


def test_round_trip_is_bit_exact(tmp_path):
    data = make_showers()
    path = tmp_path / "s.npz"
    write_npz(path, data)
    back = read_npz(path)
    for a, b in [(data.showers, back.showers), (data.incident_energies, back.incident_energies)]:
        assert a.dtype == b.dtype and np.array_equal(a, b)
    assert list(back.conditions) == ["impact_phi", "run"]
    for name in data.conditions:
        assert back.conditions[name].dtype == data.conditions[name].dtype
        assert np.array_equal(back.conditions[name], data.conditions[name])
    assert back.geometry == "atlas266" and back.attrs == data.attrs and back.source == str(path)
    assert [p.name for p in tmp_path.iterdir()] == ["s.npz"]


def test_archive_keys_and_no_pickle(tmp_path):
    write_npz(tmp_path / "s.npz", make_showers(n=3))
    with np.load(tmp_path / "s.npz", allow_pickle=False) as archive:
        assert sorted(archive.files) == ["cond_impact_phi", "cond_run", "incident_energies", "meta", "showers"]
        meta = json.loads(str(archive["meta"]))
    assert meta == {
        "geometry": "atlas266",
        "attrs": {"config": {"n": 3}, "note": "toy"},
        "conditions": ["impact_phi", "run"],
    }


def test_foreign_archive_without_meta(tmp_path):
    path = tmp_path / "plain.npz"
    np.savez(path, showers=np.ones((4, 266)), incident_energies=np.arange(1.0, 5.0), cond_eta=np.zeros(4))
    back = read_npz(path, geometry="atlas266")
    assert back.geometry == "atlas266" and back.incident_energies.shape == (4, 1)
    assert list(back.conditions) == ["eta"] and back.conditions["eta"].shape == (4, 1)


def test_missing_key(tmp_path):
    path = tmp_path / "s.npz"
    np.savez(path, showers=np.ones((4, 266)), energies=np.ones(4))
    with raises_data_error(path, "missing key 'incident_energies'", "energies, showers"):
        read_npz(path)


def test_condition_listed_in_meta_but_missing(tmp_path):
    path = tmp_path / "s.npz"
    meta = json.dumps({"geometry": None, "attrs": {}, "conditions": ["eta"]})
    np.savez(path, showers=np.ones((4, 266)), incident_energies=np.ones(4), meta=np.array(meta))
    with raises_data_error(path, "missing key 'cond_eta'"):
        read_npz(path)


def test_wrong_shapes(tmp_path):
    path = tmp_path / "s.npz"
    np.savez(path, showers=np.ones(266), incident_energies=np.ones(1))
    with raises_data_error(path, "'showers' must be 2-D", "(266,)"):
        read_npz(path)
    np.savez(path, showers=np.ones((3, 266)), incident_energies=np.ones((3, 2)))
    with raises_data_error(path, "'incident_energies' must have shape (N, 1)", "(3, 2)"):
        read_npz(path)
    np.savez(path, showers=np.ones((3, 266)), incident_energies=np.ones((4, 1)))
    with raises_data_error(path, "'incident_energies' has 4 rows but 'showers' has 3"):
        read_npz(path)
    np.savez(path, showers=np.ones((3, 266)), incident_energies=np.ones(3), cond_eta=np.ones(2))
    with raises_data_error(path, "condition 'eta' must have shape (3, k)"):
        read_npz(path)


def test_geometry_mismatch(tmp_path):
    path = tmp_path / "s.npz"
    write_npz(path, make_showers(n=2))
    with raises_data_error(path, "file is for geometry 'atlas266'", "'calogan' was requested"):
        read_npz(path, geometry="calogan")
    write_npz(path, make_showers(n=2, geometry=None))
    with raises_data_error(path, "'calogan' has 504 cells", "266 columns"):
        read_npz(path, geometry="calogan")
    with pytest.raises(GeometryError, match="unknown geometry 'nope'"):
        read_npz(path, geometry="nope")


def test_nan_and_inf(tmp_path):
    path = tmp_path / "s.npz"
    data = make_showers(n=6)
    data.showers[4, 100] = np.nan
    write_npz(path, data)
    with raises_data_error(path, "key 'showers'", "nan at row 4, column 100"):
        read_npz(path)
    assert np.isnan(read_npz(path, check_finite=False).showers[4, 100])
    data = make_showers(n=6)
    data.conditions["impact_phi"][2, 0] = np.inf
    write_npz(path, data)
    with raises_data_error(path, "key 'cond_impact_phi'", "inf at row 2"):
        read_npz(path)


def test_truncated_archive(tmp_path):
    path = tmp_path / "s.npz"
    write_npz(path, make_showers(n=300))
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    with raises_data_error(path, "not a readable .npz archive (truncated or corrupt?)"):
        read_npz(path)


def test_corrupt_member(tmp_path):
    """The zip directory is intact but the compressed showers are garbage."""
    path = tmp_path / "s.npz"
    write_npz(path, make_showers(n=300))
    raw = bytearray(path.read_bytes())
    raw[2000:12000] = b"\x00" * 10000
    path.write_bytes(bytes(raw))
    with raises_data_error(path, "truncated or corrupt"):
        read_npz(path)


def test_text_file(tmp_path):
    path = tmp_path / "s.npz"
    path.write_text("showers: none\n")
    with raises_data_error(path, "not a readable .npz archive"):
        read_npz(path)


def test_npy_file(tmp_path):
    path = tmp_path / "s.npz"
    with open(path, "wb") as handle:
        np.save(handle, np.ones(3))
    with raises_data_error(path, "single .npy array"):
        read_npz(path)


def test_missing_file(tmp_path):
    with raises_data_error(tmp_path / "absent.npz", "no such file"):
        read_npz(tmp_path / "absent.npz")
