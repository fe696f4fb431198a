"""CaloChallenge HDF5: bit-exact round trips, chunked reading, streaming writes, bad files."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from hepgan.data.hdf5 import ShowerFile, ShowerWriter, read_showers, write_showers
from hepgan.data.showers import ShowerData
from hepgan.errors import DataError, GeometryError
from tests.data._helpers import raises_data_error


def make_showers(n: int = 30, n_cells: int = 266, geometry: str | None = "atlas266", seed: int = 0) -> ShowerData:
    rng = np.random.default_rng(seed)
    return ShowerData(
        showers=rng.exponential(50.0, (n, n_cells)).astype(np.float32),
        incident_energies=rng.uniform(256, 4.2e6, (n, 1)),
        conditions={
            "impact_eta": rng.uniform(0.2, 0.25, (n, 1)),
            "pid": rng.integers(0, 3, (n, 2), dtype=np.int32),
        },
        geometry=geometry,
        attrs={"simulator": {"seed": seed, "name": "toy"}, "units": "MeV"},
    )


def assert_same(a: ShowerData, b: ShowerData) -> None:
    """Every array equal bit for bit and of the same dtype, conditions in the same order."""
    for x, y in [(a.showers, b.showers), (a.incident_energies, b.incident_energies)]:
        assert x.dtype == y.dtype
        assert np.array_equal(x, y)
    assert list(a.conditions) == list(b.conditions)
    for name in a.conditions:
        assert a.conditions[name].dtype == b.conditions[name].dtype, name
        assert np.array_equal(a.conditions[name], b.conditions[name]), name


def write_raw(path, **datasets):
    """An HDF5 file written with plain h5py, as other tools would."""
    with h5py.File(path, "w") as f:
        for name, value in datasets.items():
            f.create_dataset(name, data=value)
    return path



# ------------------------------------------------------------------ round trips


def test_write_read_round_trip_is_bit_exact(tmp_path):
    data = make_showers()
    path = tmp_path / "showers.h5"
    write_showers(path, data)
    back = read_showers(path)
    assert_same(data, back)
    assert back.geometry == "atlas266"
    assert back.attrs == data.attrs
    assert back.source == str(path)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_round_trip_keeps_shower_dtype(tmp_path, dtype):
    data = make_showers(n=5)
    data.showers = data.showers.astype(dtype)
    data.incident_energies = data.incident_energies.astype(np.float32)
    write_showers(tmp_path / "d.h5", data, compression=None)
    assert_same(data, read_showers(tmp_path / "d.h5"))


def test_file_layout_matches_calochallenge(tmp_path):
    data = make_showers(n=7)
    write_showers(tmp_path / "d.h5", data)
    with h5py.File(tmp_path / "d.h5", "r") as f:
        assert f["incident_energies"].shape == (7, 1)
        assert f["showers"].shape == (7, 266)
        assert f["showers"].compression == "gzip"
        assert f["showers"].chunks is not None
        assert f["impact_eta"].shape == (7, 1)
        assert f.attrs["geometry"] == "atlas266"
        assert json.loads(f.attrs["hepgan_conditions"]) == ["impact_eta", "pid"]
        assert json.loads(f.attrs["hepgan_attrs"]) == data.attrs


def test_read_row_range_and_negative_indices(tmp_path):
    data = make_showers(n=30)
    write_showers(tmp_path / "d.h5", data)
    with ShowerFile(tmp_path / "d.h5") as f:
        assert_same(data.subset(slice(5, 12)), f.read(5, 12))
        assert_same(data.subset(slice(-4, None)), f.read(-4))
        assert len(f.read(25, 10)) == 0
        assert len(f.read(28, 1000)) == 2


def test_iter_chunks_equals_full_read(tmp_path):
    data = make_showers(n=30)
    write_showers(tmp_path / "d.h5", data)
    with ShowerFile(tmp_path / "d.h5") as f:
        chunks = list(f.iter_chunks(7))
        full = f.read()
    assert [len(c) for c in chunks] == [7, 7, 7, 7, 2]
    assert_same(full, ShowerData.concat(chunks))
    assert_same(data, full)


def test_shower_file_properties(tmp_path):
    data = make_showers(n=11)
    write_showers(tmp_path / "d.h5", data)
    with ShowerFile(tmp_path / "d.h5") as f:
        assert len(f) == 11
        assert f.n_cells == 266
        assert f.geometry == "atlas266"
        assert f.attrs == data.attrs
        assert f.condition_names == ["impact_eta", "pid"]
    with pytest.raises(DataError, match="closed"):
        f.read()


def test_requested_geometry_applies_to_file_without_one(tmp_path):
    data = make_showers(n=3, geometry=None)
    write_showers(tmp_path / "d.h5", data)
    assert read_showers(tmp_path / "d.h5").geometry is None
    assert read_showers(tmp_path / "d.h5", geometry="atlas266").geometry == "atlas266"


def test_foreign_file_without_hepgan_attributes(tmp_path):
    """Files from other tools: every extra dataset with N rows is a condition, others are ignored."""
    rng = np.random.default_rng(1)
    path = write_raw(
        tmp_path / "foreign.hdf5",
        incident_energies=rng.uniform(1, 10, (6, 1)),
        showers=rng.random((6, 368)),
        impact_eta=rng.random((6, 1)),
        bin_edges=np.arange(10.0),  # not per shower
    )
    with ShowerFile(path) as f:
        assert f.geometry is None and f.attrs == {}
        assert f.condition_names == ["impact_eta"]
        back = f.read()
    assert back.showers.shape == (6, 368)
    assert back.conditions["impact_eta"].shape == (6, 1)


def test_one_dimensional_energies_are_accepted(tmp_path):
    path = write_raw(tmp_path / "d.h5", incident_energies=np.arange(1.0, 5.0), showers=np.ones((4, 266)))
    back = read_showers(path, geometry="atlas266")
    assert back.incident_energies.shape == (4, 1)
    assert np.array_equal(back.incident_energies[:, 0], np.arange(1.0, 5.0))


def test_check_finite_false_lets_nan_through(tmp_path):
    data = make_showers(n=4)
    data.showers[2, 3] = np.nan
    write_showers(tmp_path / "d.h5", data)
    back = read_showers(tmp_path / "d.h5", check_finite=False)
    assert np.isnan(back.showers[2, 3])


def test_attrs_with_numpy_values_are_stored_as_plain_json(tmp_path):
    data = make_showers(n=2)
    data.attrs = {"z_last": np.float32(1.5), "a_first": np.arange(3), "n": np.int64(7)}
    write_showers(tmp_path / "d.h5", data)
    attrs = read_showers(tmp_path / "d.h5").attrs
    assert attrs == {"z_last": 1.5, "a_first": [0, 1, 2], "n": 7}
    assert list(attrs) == ["z_last", "a_first", "n"]  # order kept


# ------------------------------------------------------------------ atomic writes


def test_write_overwrites_and_leaves_no_temp_files(tmp_path):
    path = tmp_path / "d.h5"
    write_showers(path, make_showers(n=3, seed=1))
    write_showers(path, make_showers(n=5, seed=2))
    assert len(read_showers(path)) == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.h5"]


def test_failed_write_keeps_old_file_and_removes_temp(tmp_path):
    path = tmp_path / "d.h5"
    write_showers(path, make_showers(n=3))
    bad = make_showers(n=4)
    bad.attrs = {"not json": object()}
    with raises_data_error(path, "attrs cannot be stored as JSON"):
        write_showers(path, bad)
    assert len(read_showers(path)) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.h5"]


def test_write_into_missing_directory(tmp_path):
    path = tmp_path / "nowhere" / "d.h5"
    with raises_data_error(path, "does not exist"):
        write_showers(path, make_showers(n=2))


# ------------------------------------------------------------------ streaming writer


def test_writer_streaming_equals_one_write(tmp_path):
    data = make_showers(n=50)
    parts = [data.subset(slice(0, 7)), data.subset(slice(7, 8)), data.subset(slice(8, 8)), data.subset(slice(8, 50))]
    with ShowerWriter(
        tmp_path / "stream.h5",
        n_cells=266,
        geometry="atlas266",
        condition_names=["impact_eta", "pid"],
        attrs=data.attrs,
        chunk_rows=16,
    ) as writer:
        for part in parts:
            writer.append(part)
        assert len(writer) == 50
    write_showers(tmp_path / "whole.h5", data)
    streamed, whole = read_showers(tmp_path / "stream.h5"), read_showers(tmp_path / "whole.h5")
    assert_same(whole, streamed)
    assert streamed.attrs == whole.attrs and streamed.geometry == "atlas266"
    with h5py.File(tmp_path / "stream.h5", "r") as f:
        assert f["showers"].maxshape == (None, 266)
        assert f["showers"].chunks == (16, 266)


def test_writer_casts_to_its_dtypes(tmp_path):
    data = make_showers(n=6, geometry=None)
    data.showers = data.showers.astype(np.float64) + 1e-9
    with ShowerWriter(tmp_path / "s.h5", n_cells=266, condition_names=["impact_eta", "pid"]) as writer:
        writer.append(data)
    back = read_showers(tmp_path / "s.h5")
    assert back.showers.dtype == np.float32 and back.incident_energies.dtype == np.float64
    assert np.array_equal(back.showers, data.showers.astype(np.float32))


def test_writer_exception_in_with_block_leaves_no_file(tmp_path):
    path = tmp_path / "s.h5"
    with pytest.raises(RuntimeError, match="boom"):
        with ShowerWriter(path, n_cells=266, condition_names=["impact_eta", "pid"]) as writer:
            writer.append(make_showers(n=5))
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_writer_exception_leaves_existing_target_untouched(tmp_path):
    path = tmp_path / "s.h5"
    write_showers(path, make_showers(n=3))
    before = path.read_bytes()
    with pytest.raises(RuntimeError):
        with ShowerWriter(path, n_cells=266):
            raise RuntimeError("interrupted")
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["s.h5"]


def test_writer_file_appears_only_on_close(tmp_path):
    path = tmp_path / "s.h5"
    writer = ShowerWriter(path, n_cells=266, condition_names=["impact_eta", "pid"])
    writer.append(make_showers(n=2))
    assert not path.exists()
    writer.close()
    writer.close()  # idempotent
    assert len(read_showers(path)) == 2
    with raises_data_error(path, "closed"):
        writer.append(make_showers(n=2))


def test_writer_without_rows_gives_empty_readable_file(tmp_path):
    path = tmp_path / "empty.h5"
    with ShowerWriter(path, n_cells=266, condition_names=["impact_eta"]):
        pass
    with ShowerFile(path) as f:
        assert len(f) == 0 and f.condition_names == ["impact_eta"]
        assert list(f.iter_chunks(10)) == []


def test_writer_rejects_wrong_cell_count(tmp_path):
    path = tmp_path / "s.h5"
    with ShowerWriter(path, n_cells=266) as writer:
        with raises_data_error(path, "504 cells", "266 cells"):
            writer.append(make_showers(n=2, n_cells=504, geometry="calogan").subset(slice(None)))


def test_writer_rejects_other_conditions(tmp_path):
    path = tmp_path / "s.h5"
    with ShowerWriter(path, n_cells=266, condition_names=["impact_eta"]) as writer:
        with raises_data_error(path, "conditions do not match", "unexpected ['pid']"):
            writer.append(make_showers(n=2))
        assert len(writer) == 0


def test_writer_rejects_changed_condition_width(tmp_path):
    path = tmp_path / "s.h5"
    data = make_showers(n=2)
    with ShowerWriter(path, n_cells=266, condition_names=["impact_eta", "pid"]) as writer:
        writer.append(data)
        data.conditions["pid"] = np.zeros((2, 3), dtype=np.int32)
        with raises_data_error(path, "condition 'pid' has 3 columns, earlier appends had 2"):
            writer.append(data)
        assert len(writer) == 2
    assert len(read_showers(path)) == 2


def test_writer_geometry_must_match_n_cells(tmp_path):
    path = tmp_path / "s.h5"
    with raises_data_error(path, "'calogan' has 504 cells", "n_cells is 266"):
        ShowerWriter(path, n_cells=266, geometry="calogan")
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ bad input


def test_missing_file(tmp_path):
    path = tmp_path / "absent.h5"
    with raises_data_error(path, "no such file"):
        ShowerFile(path)


def test_missing_key_names_key_and_lists_existing(tmp_path):
    path = write_raw(tmp_path / "d.h5", incident_energies=np.ones((3, 1)), energies=np.ones((3, 266)))
    with raises_data_error(path, "missing dataset 'showers'", "energies, incident_energies"):
        ShowerFile(path)


def test_calogan_file_gets_a_hint(tmp_path):
    path = write_raw(tmp_path / "cg.h5", energy=np.ones((2, 1)), layer_0=np.ones((2, 3, 96)))
    with raises_data_error(path, "missing dataset 'incident_energies'", "read_calogan"):
        read_showers(path)


def test_showers_must_be_two_dimensional(tmp_path):
    path = write_raw(tmp_path / "d.h5", incident_energies=np.ones((3, 1)), showers=np.ones((3, 7, 38)))
    with raises_data_error(path, "'showers' must be 2-D", "(3, 7, 38)"):
        ShowerFile(path)


def test_energies_must_be_one_column(tmp_path):
    path = write_raw(tmp_path / "d.h5", incident_energies=np.ones((3, 2)), showers=np.ones((3, 266)))
    with raises_data_error(path, "'incident_energies' must have shape (N, 1)", "(3, 2)"):
        ShowerFile(path)


def test_row_count_mismatch(tmp_path):
    path = write_raw(tmp_path / "d.h5", incident_energies=np.ones((4, 1)), showers=np.ones((3, 266)))
    with raises_data_error(path, "'incident_energies' has 4 rows but 'showers' has 3"):
        ShowerFile(path)


def test_geometry_attribute_mismatch(tmp_path):
    path = tmp_path / "d.h5"
    write_showers(path, make_showers(n=2))
    with raises_data_error(path, "file is for geometry 'atlas266'", "'calogan' was requested"):
        ShowerFile(path, geometry="calogan")


def test_cell_count_mismatch_names_both_numbers(tmp_path):
    path = write_raw(tmp_path / "d.h5", incident_energies=np.ones((2, 1)), showers=np.ones((2, 266)))
    with raises_data_error(path, "'calogan' has 504 cells", "266 columns"):
        ShowerFile(path, geometry="calogan")


def test_unknown_geometry_name(tmp_path):
    path = write_raw(tmp_path / "d.h5", incident_energies=np.ones((2, 1)), showers=np.ones((2, 266)))
    with pytest.raises(GeometryError, match="unknown geometry 'atlas999'"):
        ShowerFile(path, geometry="atlas999")


def test_unknown_geometry_attribute(tmp_path):
    path = write_raw(tmp_path / "d.h5", incident_energies=np.ones((2, 1)), showers=np.ones((2, 266)))
    with h5py.File(path, "a") as f:
        f.attrs["geometry"] = "no-such-detector"
    with pytest.raises(GeometryError, match="no-such-detector"):
        read_showers(path)


def test_nan_in_showers_names_dataset_and_absolute_row(tmp_path):
    data = make_showers(n=30)
    data.showers[17, 5] = np.nan
    path = tmp_path / "d.h5"
    write_showers(path, data)
    with ShowerFile(path) as f:
        f.read(0, 17)  # the rows before are fine
        with raises_data_error(path, "dataset 'showers'", "nan at row 17, column 5"):
            f.read(10, 20)
        with raises_data_error(path, "row 17"):
            list(f.iter_chunks(4))


def test_inf_in_energies(tmp_path):
    data = make_showers(n=5)
    data.incident_energies[3, 0] = np.inf
    path = tmp_path / "d.h5"
    write_showers(path, data)
    with raises_data_error(path, "dataset 'incident_energies'", "inf at row 3"):
        read_showers(path)


def test_nan_in_condition(tmp_path):
    data = make_showers(n=5)
    data.conditions["impact_eta"][1, 0] = -np.inf
    path = tmp_path / "d.h5"
    write_showers(path, data)
    with raises_data_error(path, "dataset 'impact_eta'", "-inf at row 1"):
        read_showers(path)


def test_truncated_file(tmp_path):
    path = tmp_path / "d.h5"
    write_showers(path, make_showers(n=200))
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    with raises_data_error(path, "not a readable HDF5 file (truncated or corrupt?)"):
        ShowerFile(path)


def test_corrupt_data_after_valid_header_fails_at_read_time(tmp_path):
    path = tmp_path / "d.h5"
    data = make_showers(n=2000)
    write_showers(path, data)
    raw = bytearray(path.read_bytes())
    middle = len(raw) // 2
    raw[middle : middle + 50_000] = b"\xff" * 50_000  # garbage inside the compressed chunks
    path.write_bytes(bytes(raw))
    with ShowerFile(path) as f:  # the header is intact
        assert len(f) == 2000
        with raises_data_error(path, "cannot read dataset 'showers'", "truncated or corrupt"):
            f.read()


def test_text_file_is_not_hdf5(tmp_path):
    path = tmp_path / "notes.h5"
    path.write_text("energy,cell_0\n1,2\n")
    with raises_data_error(path, "not a readable HDF5 file"):
        read_showers(path)
