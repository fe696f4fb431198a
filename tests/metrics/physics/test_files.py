"""Evaluation of files read in chunks: the numbers of the in-memory path, memory bounded by the
chunk and the low-level budget rather than by the file."""

import tracemalloc

import numpy as np
import pytest

from hepgan.api import evaluate
from hepgan.data.hdf5 import ShowerFile, write_showers
from hepgan.data.io import load_showers
from hepgan.data.showers import ShowerData
from hepgan.errors import ConfigError
from hepgan.geometry import get_geometry
from hepgan.metrics.physics import evaluate_showers, format_summary
from hepgan.metrics.physics.files import default_chunk_rows, evaluate_files, observe_file


@pytest.fixture(scope="module")
def small_files(tmp_path_factory, reference_a, reference_b):
    """600 atlas266 showers a file, every 15th of the simulated sets (all three energies)."""
    directory = tmp_path_factory.mktemp("files")
    gen, ref = directory / "gen.h5", directory / "ref.h5"
    write_showers(gen, reference_b.subset(slice(0, 9000, 15)))
    write_showers(ref, reference_a.subset(slice(0, 9000, 15)))
    return gen, ref


def _without_clocks(result: dict) -> dict:
    result = {k: v for k, v in result.items() if k != "timing_s"}
    if result["classifier"] is not None:
        result["classifier"] = {level: {k: v for k, v in r.items() if k != "seconds"}
                                for level, r in result["classifier"].items()}
    return result


# atlas266 low-level inputs: 266 cells, log energy, impact eta and phi, as float32, for 2 sets
CAP_400 = 400 * 2 * 4 * 269


@pytest.mark.parametrize("memory", [None, CAP_400], ids=["every-shower", "memory-cap"])
def test_files_read_in_chunks_give_the_numbers_of_the_sets_held_whole(small_files, memory):
    gen, ref = small_files
    options = {"seed": 0, "threads": 1} | ({} if memory is None else {"low_level_memory": memory})
    whole = evaluate_showers(load_showers(gen), load_showers(ref), **options)
    chunked = evaluate_files(gen, ref, chunk_size=97, **options)
    assert _without_clocks(chunked) == _without_clocks(whole)
    read = chunked["classifier"]["low_level"]["showers_read"]
    if memory is None:
        assert read == {"generated": 600, "reference": 600}
        assert not chunked["classifier"]["low_level"]["memory_capped"]
        assert "memory cap" not in format_summary(chunked)
    else:
        assert read == {"generated": 400, "reference": 400} and chunked["classifier"]["low_level"]["memory_capped"]
        assert chunked["classifier"]["low_level"]["n_train"] == 480  # 60% of 400 + 400
        assert "low-level classifier on 400 + 400 of 600 showers (memory cap)" in format_summary(chunked)


def test_every_row_is_read_once_and_never_more_than_a_chunk_at_a_time(small_files, monkeypatch):
    reads: dict[str, list[tuple[int, int]]] = {}
    original = ShowerFile.read

    def read(self, start=0, stop=None, **kwargs):
        data = original(self, start, stop, **kwargs)
        reads.setdefault(self.path.name, []).append((start, len(data)))
        return data

    monkeypatch.setattr(ShowerFile, "read", read)
    gen, ref = small_files
    result = evaluate_files(gen, ref, seed=0, threads=1, chunk_size=64, low_level_memory=CAP_400 // 4)
    for name in ("gen.h5", "ref.h5"):
        starts, sizes = zip(*reads[name])
        assert max(sizes) <= 64
        assert list(starts) == list(range(0, 600, 64)) and sum(sizes) == 600  # one pass, in order
    assert result["classifier"]["low_level"]["showers_read"] == {"generated": 100, "reference": 100}


def test_mixed_inputs_and_other_formats_are_held_whole(small_files, tmp_path):
    gen, ref = small_files
    npz = tmp_path / "ref.npz"
    from hepgan.data.io import save_showers

    save_showers(npz, load_showers(ref))
    from_file = evaluate_files(gen, ref, classifier=False, seed=0)
    mixed = evaluate_files(load_showers(gen), npz, classifier=False, seed=0)
    assert mixed["reference"]["source"].endswith("ref.npz")
    assert mixed["summary"] == from_file["summary"] and mixed["observables"] == from_file["observables"]
    api = evaluate(gen, ref, classifier=False, seed=0)
    assert api["summary"] == from_file["summary"]


def _ds3_file(path, n: int, seed: int = 0):
    """``n`` sparse random showers on CaloChallenge dataset 3's 40,500 voxels (162 kB of float32 each)."""
    rng = np.random.default_rng(seed)
    cells = get_geometry("calochallenge-3").n_cells
    showers = np.where(rng.random((n, cells)) < 0.05, rng.gamma(0.5, 20.0, (n, cells)), 0.0).astype(np.float32)
    energies = np.exp(rng.uniform(np.log(1e3), np.log(1e6), (n, 1)))
    write_showers(path, ShowerData(showers, energies, geometry="calochallenge-3"), compression=None)
    return n * cells * 4


def test_memory_of_reading_a_ds3_file_follows_the_chunk_not_the_file(tmp_path):
    geometry = get_geometry("calochallenge-3")
    peaks, sizes = {}, {}
    for n in (48, 192):
        path = tmp_path / f"ds3-{n}.h5"
        sizes[n] = _ds3_file(path, n)
        with ShowerFile(path) as handle:
            tracemalloc.start()
            observed = observe_file(handle, geometry, [], chunk_size=8, low_level_memory=20 * 2 * 4 * 40501)
            peaks[n] = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        assert len(observed.observables["e_total"]) == n and observed.low_level.shape == (20, 40501)
        assert observed.low_level.dtype == np.float32
        path.unlink()
    # four times the showers: 19 MB more cells, but only their observables (~0.4 MB) more memory
    assert peaks[192] - peaks[48] < 0.05 * (sizes[192] - sizes[48])
    assert peaks[192] < 0.5 * sizes[192]


def test_default_chunks_are_whole_stored_chunks_of_about_256_mb():
    assert default_chunk_rows(40500) == 1024
    assert default_chunk_rows(266) % 1024 == 0 and default_chunk_rows(266) * 266 * 4 <= 256 * 2**20
    assert default_chunk_rows(10**8) == 1


def test_bad_chunk_size_and_budget_are_one_line_errors(small_files):
    gen, ref = small_files
    with pytest.raises(ConfigError, match="chunk_size must be a positive"):
        evaluate_files(gen, ref, chunk_size=0, classifier=False)
    with pytest.raises(ConfigError, match="at least 10"):
        evaluate_files(gen, ref, low_level_memory=1000)
