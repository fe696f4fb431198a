"""The library functions behind the hepgan verbs, called as a Python user would: simulate, info,
geometries, train, evaluate, export and generate on small inputs."""

import json

import numpy as np
import pytest

from hepgan import api
from hepgan.data.hdf5 import read_showers
from hepgan.data.io import save_showers
from hepgan.errors import ConfigError, DataError
from hepgan.geometry import list_geometries
from hepgan.sim import SimConfig
from hepgan.train import load_train_config
from tests.helpers import shower_config


def test_simulate_to_a_file_and_info_reads_back_its_per_energy_summary(tmp_path):
    path = tmp_path / "s.h5"
    summary = api.simulate(out=path, energies_gev=[2.0, 8.0], events_per_energy=60, seed=4)
    in_memory = api.simulate(energies_gev=[2.0, 8.0], events_per_energy=60, seed=4)
    data = read_showers(path)
    np.testing.assert_array_equal(data.showers, in_memory.showers)  # the file holds what memory would
    rows = api.info(path).rows()
    assert [(r["energy_gev"], r["n"]) for r in rows] == [(2.0, 60), (8.0, 60)]
    for row, energy in zip(rows, (2000.0, 8000.0)):
        response = data.showers[data.incident_energies[:, 0] == energy].sum(1, dtype=np.float64) / energy
        assert row["response"] == pytest.approx(response.mean(), rel=1e-9)
        assert row["relative_width"] == pytest.approx(response.std(ddof=1) / response.mean(), rel=1e-6)
        assert sum(row["layer_fractions"]) == pytest.approx(1.0)
    assert summary.rows() == rows  # the summary simulate returns is the file's
    _assert_same_rows(api.info(path, chunk_size=7).rows(), rows)  # read in chunks, the same summary
    save_showers(tmp_path / "s.npz", data)
    _assert_same_rows(api.info(tmp_path / "s.npz").rows(), rows)  # other formats are read whole
    with pytest.raises(DataError, match="no such file"):
        api.info(tmp_path / "absent.h5")


def _assert_same_rows(actual, expected):
    assert [(r["energy_gev"], r["n"]) for r in actual] == [(r["energy_gev"], r["n"]) for r in expected]
    for a, e in zip(actual, expected):
        assert a["response"] == pytest.approx(e["response"], rel=1e-9)
        assert a["relative_width"] == pytest.approx(e["relative_width"], rel=1e-6)
        assert a["layer_fractions"] == pytest.approx(e["layer_fractions"], rel=1e-9)


def test_simulate_takes_a_config_and_overrides():
    data = api.simulate(SimConfig(geometry="calogan", particle="electron", energies_gev=[10.0], events_per_energy=5),
                        events_per_energy=3)
    assert data.geometry == "calogan" and len(data) == 3 and np.allclose(data.incident_energies, 10_000.0)


def test_geometries_describes_every_registered_geometry():
    described = api.geometries()
    assert [g["name"] for g in described] == list_geometries()
    atlas = described[0]
    assert atlas["name"] == "atlas266" and atlas["n_cells"] == 266
    assert [layer["name"] for layer in atlas["layers"]] == ["presampler", "strips", "middle", "back"]


@pytest.fixture(scope="module")
def two_samples(tmp_path_factory):
    directory = tmp_path_factory.mktemp("evaluate")
    for name, seed in (("gen.h5", 1), ("ref.h5", 2)):
        api.simulate(out=directory / name, energies_gev=[4.0, 16.0], events_per_energy=150, seed=seed)
    return directory / "gen.h5", directory / "ref.h5"


def test_evaluate_writes_its_result_as_json_replacing_the_old_file_whole(tmp_path, two_samples):
    out = tmp_path / "metrics.json"
    out.write_text("old")
    result = api.evaluate(*two_samples, classifier=False, per_energy=False, out=out)
    assert json.loads(out.read_text()) == result and [p.name for p in tmp_path.iterdir()] == ["metrics.json"]
    assert result["generated"]["n"] == result["reference"]["n"] == 300 and result["geometry"] == "atlas266"
    assert result["summary"]["mean_separation_power"] < 0.2  # two samples of the same simulator


def test_evaluate_refuses_an_out_path_it_could_not_write_before_the_work(tmp_path, two_samples, monkeypatch):
    import hepgan.metrics.physics.files as files

    monkeypatch.setattr(files, "evaluate_files", lambda *a, **k: pytest.fail("evaluated before checking --out"))
    with pytest.raises(DataError, match="cannot write: directory .* does not exist"):
        api.evaluate(*two_samples, out=tmp_path / "no" / "dir" / "m.json")
    assert list(tmp_path.iterdir()) == []


def test_a_failed_evaluation_leaves_the_old_result(tmp_path, two_samples):
    other = tmp_path / "calogan.h5"
    api.simulate(out=other, geometry="calogan", particle="electron", energies_gev=[10.0], events_per_energy=20)
    out = tmp_path / "metrics.json"
    out.write_text('{"old": true}')
    with pytest.raises(DataError, match="generated showers are on geometry 'atlas266' but the reference .* 'calogan'"):
        api.evaluate(two_samples[0], other, classifier=False, out=out)
    assert out.read_text() == '{"old": true}'


@pytest.fixture(scope="module")
def run(tmp_path_factory, shower_file):
    """A two-step run trained through the API."""
    run_dir = tmp_path_factory.mktemp("api") / "run"
    config = shower_config(run_dir, shower_file, model={"generator": "DENSE|16|RELU, DENSE|266|SOFTPLUS"},
                           schedule={"steps": 4})
    result = api.train(config, progress=False, **{"schedule.steps": 2, "checkpoint.every": 2})
    assert result.steps == 2 and result.run_dir == run_dir and not result.cut_short
    return run_dir


def test_train_takes_a_config_object_and_resumes_a_run(run, shower_file):
    config = load_train_config(shower_config(run, shower_file,
                                             model={"generator": "DENSE|16|RELU, DENSE|266|SOFTPLUS"},
                                             schedule={"steps": 3}, checkpoint={"every": 2}))
    result = api.train(config, resume=True, progress=False)
    assert result.steps == 3 and result.trained == 1


def test_export_then_generate_from_the_file_and_read_it_with_info(run, tmp_path):
    exported = api.export(run, format="lwtnn", out=tmp_path / "g.json")
    assert exported.path == tmp_path / "g.json" and exported.verification["relative"] <= 1e-5
    result = api.generate(tmp_path / "g.json", out=tmp_path / "g.h5", energies_gev=[4.0, 16.0], events=25, seed=1)
    assert result.n == 50 and result.backend == "numpy" and result.energies_gev == [4.0, 16.0]
    assert [(r["energy_gev"], r["n"]) for r in api.info(tmp_path / "g.h5").rows()] == [(4.0, 25), (16.0, 25)]
    from_run = api.generate(run, out=tmp_path / "r.h5", energies_gev=[4.0, 16.0], events=25, seed=1)
    assert from_run.backend == "torch"
    np.testing.assert_allclose(read_showers(tmp_path / "r.h5").showers, read_showers(tmp_path / "g.h5").showers,
                               rtol=1e-4, atol=1e-3)  # the export reproduces the run


def test_export_refuses_what_it_cannot_do_before_the_work(run, tmp_path):
    with pytest.raises(ConfigError, match="unknown export format 'tflite'; valid: lwtnn, onnx"):
        api.export(run, format="tflite", out=tmp_path / "g.tflite")
    (tmp_path / "g.onnx").write_text("")
    with pytest.raises(ConfigError, match="expected a run directory .* got a file"):
        api.export(tmp_path / "g.onnx", out=tmp_path / "h.onnx")
    with pytest.raises(DataError, match="cannot write: directory .* does not exist"):
        api.export(run, out=tmp_path / "no" / "g.onnx")
    with pytest.raises(ConfigError, match="--opset applies to --format onnx only"):
        api.export(run, format="lwtnn", opset=17, out=tmp_path / "g.json")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.onnx"]
