"""What an exported generator carries besides its weights: inputs and units, the trained range
(and warnings or refusals outside it), and which kind of model a path is."""

import json
from types import SimpleNamespace

import numpy as np
import pytest

from hepgan.data.hdf5 import read_showers
from hepgan.errors import ConfigError, DataError
from hepgan.export.info import ExportInfo, check_range, info_from_generator, model_kind, trained_range
from hepgan.sim import SimConfig
from tests.export.conftest import make_generator, make_image_generator


def test_the_metadata_round_trips_through_json_and_describes_the_inputs():
    info = info_from_generator(make_generator(), source="runs/a")
    assert info.kind == "showers" and info.geometry == "atlas266" and info.latent_dim == 8 and info.n_outputs == 266
    assert info.trained_range["energy"] == [2000.0, 32000.0]  # the simulated 2-32 GeV of the run's config
    d = json.loads(json.dumps(info.to_dict()))
    assert d["format"] == "hepgan-export-1" and d["sample_shape"] == [266]
    assert d["inputs"] == [{"name": "energy", "width": 1, "unit": "MeV", "encoding": "log"},
                           {"name": "impact_eta", "width": 1, "unit": "", "encoding": "linear"},
                           {"name": "alignment", "width": 6, "unit": "one-hot", "encoding": "categorical"}]
    back = ExportInfo.from_dict(d, "g.onnx")
    assert back == info and back.condition_names == ["energy", "impact_eta", "alignment"]
    images = info_from_generator(make_image_generator("CONCAT, DENSE|16|RELU, DENSE|784|TANH, RESHAPE|1|28|28"))
    assert images.n_classes == 10 and images.n_outputs == 784 and images.trained_range == {}


@pytest.mark.parametrize("change, message", [
    ({"format": "something-else"}, "not a hepgan export"),
    ({"latent_dim": None}, r"incomplete or malformed \(TypeError"),
    ({"kind": "voxels"}, "unknown kind 'voxels'"),
    ({"encoder": {"names": ["energy"], "mean": [], "std": []}}, "incomplete or malformed"),
    ({"trained_range": None}, r"incomplete or malformed \(AttributeError"),
])
def test_damaged_metadata_is_a_data_error_naming_the_file(change, message):
    d = {**info_from_generator(make_generator()).to_dict(), **change}
    with pytest.raises(DataError, match=message) as exc:
        ExportInfo.from_dict(d, "model.onnx")
    assert "model.onnx" in str(exc.value)
    d = info_from_generator(make_generator()).to_dict()
    del d["encoder"]
    with pytest.raises(DataError, match=r"incomplete or malformed \(KeyError"):
        ExportInfo.from_dict(d, "model.onnx")


def test_conditions_outside_the_trained_range_warn_or_are_refused():
    info = info_from_generator(make_generator())  # 2-32 GeV, impact_eta 0.2-0.25
    inside = {"energy": np.array([2000.0, 32000.0 * (1 + 1e-7)]), "impact_eta": np.array([0.2, 0.25])}
    assert check_range(info, inside, warn=pytest.fail) == []  # the edges (to 1e-6) are inside
    warned = []
    outside = {"energy": np.array([1000.0, 8000.0, 64000.0, 64000.0]), "impact_eta": np.array([0.3, 0.2, 0.2, 0.2])}
    problems = check_range(info, outside, warn=warned.append)
    assert problems == ["energy 1, 64 GeV is outside the trained range 2-32 GeV",
                        "impact_eta 0.3 is outside the trained range 0.2-0.25"]
    assert warned == [p + "; the generator extrapolates there" for p in problems]
    with pytest.raises(ConfigError, match=r"energy 1, 64 GeV is outside .*; impact_eta 0.3 .* \(refused: --strict\)"):
        check_range(info, outside, strict=True)


def test_a_run_trained_on_a_file_reads_its_range_from_the_file(shower_file):
    data = read_showers(shower_file)  # 2, 8 and 32 GeV
    config = SimpleNamespace(data=SimpleNamespace(path=str(shower_file), exclude_energies_gev=[32.0], simulate=None))
    ranges = trained_range(config, "atlas266")
    assert ranges["energy"] == [2000.0, 8000.0]  # the left-out energy is extrapolation
    kept = data.incident_energies[:, 0] < 30_000
    for name in ("impact_eta", "impact_phi"):
        values = data.conditions[name][kept, 0]
        assert ranges[name] == [float(values.min()), float(values.max())]
    config.data.path = str(shower_file.parent / "gone.h5")
    assert trained_range(config, "atlas266") == {}  # unknown, not an error


def test_the_kind_of_model_is_told_by_the_path(tmp_path):
    (tmp_path / "run").mkdir()
    for name in ("g.onnx", "g.ONNX", "g.json", "g.h5"):
        (tmp_path / name).write_text("")
    assert model_kind(tmp_path / "run") == "run"
    assert model_kind(tmp_path / "g.onnx") == model_kind(tmp_path / "g.ONNX") == "onnx"
    assert model_kind(tmp_path / "g.json") == "lwtnn"
    with pytest.raises(ConfigError, match="expected a run directory, an .onnx file or an lwtnn .json file"):
        model_kind(tmp_path / "g.h5")
    with pytest.raises(ConfigError, match="no such run directory or model file"):
        model_kind(tmp_path / "absent.onnx")


def test_a_run_trained_on_a_spectrum_knows_its_trained_range():
    config = SimpleNamespace(data=SimpleNamespace(simulate=SimConfig(spectrum="calochallenge-1"),
                                                  exclude_energies_gev=[4194.304]))
    assert trained_range(config, "atlas266")["energy"] == [256.0, 2097152.0]
    config.data.simulate = SimConfig(spectrum="calochallenge-2", geometry="calochallenge-2")
    assert trained_range(config, "calochallenge-2")["energy"] == [1000.0, 1e6]
