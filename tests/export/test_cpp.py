"""The C++ reference implementation (examples/cpp), built with the system g++: its output on lwtnn
exports of MLP, convolutional, calorimeter and layered generators against torch, and its refusals
of damaged files."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from hepgan.export.lwtnn import export_lwtnn
from hepgan.export.module import reference_forward
from tests.export.conftest import SMALL_MLP, make_generator, make_image_generator
from tests.export.test_head import QUICKSTART, _trained
from tests.export.test_image_layers import MNIST_BEST
from tests.export.test_layered_head import layered_generator

CPP = Path(__file__).resolve().parents[2] / "examples" / "cpp"
TOLERANCE = 1e-5  # of the largest output, as the export's own verification

pytestmark = pytest.mark.skipif(shutil.which("g++") is None,
                                reason="g++ is not on PATH, so the C++ example (examples/cpp) cannot be built")


@pytest.fixture(scope="session")
def generate_cpp(tmp_path_factory) -> Path:
    exe = tmp_path_factory.mktemp("cpp") / "generate"
    build = subprocess.run(["g++", "-O2", "-std=c++17", "-o", str(exe), str(CPP / "generate.cpp")],
                           capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    return exe


def _write_inputs(path: Path, z, conditions=None, names=(), labels=None) -> Path:
    n = len(z)
    columns = [np.asarray(z, np.float64)] + [np.asarray(conditions[k], np.float64).reshape(n, -1) for k in names]
    if labels is not None:
        columns.append(np.asarray(labels, np.float64).reshape(n, 1))
    np.savetxt(path, np.concatenate(columns, axis=1), fmt="%.17g")  # float32 latents written exactly
    return path


def _run(exe: Path, *args) -> subprocess.CompletedProcess:
    return subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True, timeout=120)


def _check_against_torch(exe: Path, gen, tmp_path: Path, z, conditions=None, labels=None) -> np.ndarray:
    model = export_lwtnn(gen, tmp_path / "g.json").path
    inputs = _write_inputs(tmp_path / "in.txt", z, conditions, gen.encoder.names, labels)
    result = _run(exe, model, inputs, tmp_path / "out.txt")
    assert result.returncode == 0, result.stderr
    actual = np.loadtxt(tmp_path / "out.txt", ndmin=2)
    expected = reference_forward(gen, z, conditions, labels).reshape(len(z), -1)
    assert actual.shape == expected.shape
    assert np.abs(actual - expected).max() <= TOLERANCE * np.abs(expected).max()
    return actual


@pytest.mark.parametrize("layout, preprocessing", [
    (SMALL_MLP, ["EnergyNormalize"]),  # batch norm, Swish, leaky ReLU, softplus output
    ("CONCAT, DENSE|24|ELU, DENSE|24|SIGMOID, DENSE|266|LINEAR", ["EnergyNormalize", "LogTransform", "Standardize"]),
    ("CONCAT, DENSE|24|TANH, DENSE|24|RELU, DENSE|266|LINEAR", ["EnergyNormalize", "LogitTransform"]),
], ids=["small-mlp", "log-standardised", "logit"])
def test_mlp_shower_generator_matches_torch(generate_cpp, tmp_path, fixed_inputs, layout, preprocessing):
    gen = make_generator(layout, preprocessing=[{"type": t} for t in preprocessing])
    z, conditions = fixed_inputs(gen, n=6)
    showers = _check_against_torch(generate_cpp, gen, tmp_path, z, conditions)
    assert showers.shape == (6, 266) and (showers >= 0).all()


def test_class_conditional_image_generator_matches_torch(generate_cpp, tmp_path):
    gen = make_image_generator("CONCAT, DENSE|32|RELU, DENSE|784|TANH, RESHAPE|1|28|28")
    z = np.random.default_rng(0).standard_normal((5, gen.latent_dim)).astype(np.float32)
    images = _check_against_torch(generate_cpp, gen, tmp_path, z, labels=np.array([0, 3, 7, 7, 9]))
    assert images.shape == (5, 784) and 0 <= images.min() and images.max() <= 255


@pytest.mark.parametrize(("family", "conditional", "layout"), [
    ("cgan_proj", True, MNIST_BEST),  # transposed convolutions with batch norm
    ("cgan", True, "CONCAT, DENSE|392|LINEAR, RESHAPE|8|7|7, UPSAMPLE|2, CONV|4|3|3|1|1|1|1|LEAKYRELU:0.1, BNORM, "
                   "UPSAMPLE|2, CONV|1|3|3|1|1|1|1|TANH"),
    ("dcgan", False, "DENSE|392|LINEAR, RESHAPE|8|7|7, UPSAMPLE|2|BILINEAR, CONV|4|3|3|2|2|1|1|SWISH, "
                     "TCONV|2|3|3|2|2|1|1|ELU|1, UPSAMPLE|2, CONV|1|5|5|1|1|2|2|SOFTPLUS"),
], ids=["mnist-best", "upsample-conv", "bilinear-strided"])
def test_a_convolutional_image_generator_matches_torch(generate_cpp, tmp_path, family, conditional, layout):
    gen = make_image_generator(layout, conditional=conditional, family=family)
    z = np.random.default_rng(2).standard_normal((4, gen.latent_dim)).astype(np.float32)
    images = _check_against_torch(generate_cpp, gen, tmp_path, z, labels=np.array([0, 3, 7, 9]) if conditional else None)
    assert images.shape == (4, 784) and 0 <= images.min() and images.max() <= 255


def test_a_conditional_shower_generator_with_a_convolution_matches_torch(generate_cpp, tmp_path, fixed_inputs):
    """A convolution, then a dense layer on its flattened output and an output-only activation."""
    gen = make_generator("CONCAT, DENSE|98|RELU, RESHAPE|2|7|7, CONV|3|3|3|1|1|1|1|TANH, RESHAPE|FLAT, "
                         "DENSE|266|SOFTPLUS")
    z, conditions = fixed_inputs(gen, n=6)
    showers = _check_against_torch(generate_cpp, gen, tmp_path, z, conditions)
    assert showers.shape == (6, 266) and (showers >= 0).all()


@pytest.mark.parametrize(("geometry", "n_cells", "empty", "cell_noise"), [
    ("calochallenge-1-photons", 368, False, False), ("calochallenge-2", 6480, False, False),
    ("calochallenge-1-pions", 533, True, False), ("calochallenge-1-pions", 533, True, True)])
def test_a_layered_generator_matches_torch(generate_cpp, tmp_path, geometry, n_cells, empty, cell_noise):
    gen = layered_generator(geometry, empty, cell_noise)
    z = np.random.default_rng(5).standard_normal((20, gen.latent_dim)).astype(np.float32)
    energies = np.geomspace(1e3, 1e6, 20)
    showers = _check_against_torch(generate_cpp, gen, tmp_path, z, {"energy": energies})
    assert showers.shape == (20, n_cells) and (showers >= 0).all()
    expected = reference_forward(gen, z, {"energy": energies})
    np.testing.assert_allclose(showers.sum(axis=1), expected.sum(axis=1), rtol=1e-5)
    assert (expected.sum(axis=1) == 0).any() == empty


@pytest.mark.parametrize("calo", [QUICKSTART, {**QUICKSTART, "calibrate_layers": True}, {"cell_noise": 0.2}],
                         ids=["as-the-quickstart", "layer-calibrated", "cell-noise"])
def test_the_flagship_matches_torch(generate_cpp, tmp_path, shower_file, fixed_inputs, calo):
    gen = _trained(tmp_path, shower_file, calo)
    z, conditions = fixed_inputs(gen, n=40)
    showers = _check_against_torch(generate_cpp, gen, tmp_path, z, conditions)
    assert showers.shape == (40, 266) and (showers >= 0).all()


def test_the_flagship_on_a_calochallenge_binning_matches_torch(generate_cpp, tmp_path):
    """Five layers and 368 cells, conditioned on the energy only; layer-calibrated, so rarely hit
    layers' maps have knots ~1e-8 apart (evaluated in double everywhere, they agree)."""
    from hepgan.data.hdf5 import write_showers
    from hepgan.models.calo.features import feature_dim
    from hepgan.sim import simulate
    from hepgan.train import Trainer, load_train_config
    from hepgan.train.generator import TrainedGenerator
    from tests.helpers import shower_config
    from tests.models.calo._helpers import CALO_MODEL

    geometry = "calochallenge-1-photons"
    write_showers(tmp_path / "showers.h5", simulate(geometry=geometry, energies_gev=[2.0, 8.0, 32.0],
                                                    events_per_energy=100, seed=5))
    model = {**CALO_MODEL, "generator": f"CONCAT, DENSE|32|SWISH, DENSE|{feature_dim(geometry)}|LINEAR",
             "calo": {**QUICKSTART, "calibrate_layers": True}}
    Trainer(load_train_config(shower_config(tmp_path / "run", tmp_path / "showers.h5", model=model,
                                            data={"conditions": ["energy"]}, schedule={"steps": 2}))).fit()
    gen = TrainedGenerator.from_run(tmp_path / "run")
    assert gen.geometry == geometry and gen.encoder.names == ["energy"]
    z = np.random.default_rng(1).standard_normal((40, gen.latent_dim)).astype(np.float32)
    showers = _check_against_torch(generate_cpp, gen, tmp_path, z, {"energy": np.geomspace(2e3, 32e3, 40)})
    assert showers.shape == (40, 368) and (showers >= 0).all()


@pytest.fixture(scope="module")
def mlp_spec() -> dict:
    return export_lwtnn(make_generator(SMALL_MLP)).spec


def _damaged(spec: dict, damage: str) -> str:
    spec = json.loads(json.dumps(spec))
    post = spec["hepgan_postprocess"]
    if damage == "missing section":
        del spec["hepgan_postprocess"]
    elif damage == "unknown activation":
        spec["layers"][0]["activation"] = "softmax"
    elif damage == "unknown head stage":
        post["head"] = [{"type": "softmax_head"}]
    elif damage == "weights that do not fit":
        spec["layers"][0]["weights"].pop()
    elif damage == "LayerFractions":
        post["transform"] = {"type": "Pipeline", "stages": [{"type": "LayerFractions", "geometry": "atlas266"}]}
    elif damage == "2-d convolution kernel":
        post["head"] = [{"type": "image_network", "layers": [
            {"type": "reshape", "shape": [2, 7, 19]},
            {"type": "conv", "weights": [[1.0]], "bias": [0.0], "stride": [1, 1], "padding": [0, 0]}]}]
    elif damage == "layered stage of another width":
        post["head"] = [{"type": "layered_shower", "layer_sizes": [3, 2], "width": 3, "shower_latent": 4,
                         "shape_latent": 2}]
    elif damage == "newer version":
        post["version"] = 3
    text = json.dumps(spec)
    return text[: len(text) // 2] if damage == "truncated" else text


@pytest.mark.parametrize("damage, message", [
    ("missing section", r"missing section 'hepgan_postprocess'"),
    ("unknown activation", r"layer 0: activation 'softmax' is not supported \(linear, rectified"),
    ("unknown head stage", r"head stage 0: unknown type 'softmax_head' \(gaussian_path"),
    ("weights that do not fit", r"layer 0: \d+ weights do not fit 24 biases"),
    ("2-d convolution kernel", r"head stage 0 \(image_network\): image_network layer 1: weights must be a list of 4 dimensions"),
    ("layered stage of another width", r"head stage 0 \(layered_shower\): the network gives 266 values but 2 layers need 3"),
    ("LayerFractions", r"transform LayerFractions is not supported: .*layer slices"),
    ("newer version", r"hepgan_postprocess version 3 is not supported"),
    ("truncated", r"not valid JSON \(.* at line 1, column \d+"),
])
def test_a_damaged_file_is_refused_on_one_line(generate_cpp, tmp_path, mlp_spec, damage, message):
    model = tmp_path / "g.json"
    model.write_text(_damaged(mlp_spec, damage))
    inputs = _write_inputs(tmp_path / "in.txt", np.zeros((1, 16)))
    result = _run(generate_cpp, model, inputs, tmp_path / "out.txt")
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {model}: "), result.stderr
    assert re.search(message, lines[0]), lines[0]


def test_bench_mode_and_a_bad_input_line(generate_cpp, tmp_path, mlp_spec):
    model = tmp_path / "g.json"
    model.write_text(json.dumps(mlp_spec))
    good = "0 " * 8 + "8000 0.22 1 0 0 0 0 0\n"  # 8 latent values, energy (MeV), eta, 6 alignment values
    (tmp_path / "in.txt").write_text(f"# z, energy, impact_eta, alignment\n{good}")
    bench = _run(generate_cpp, "--bench", 5, model, tmp_path / "in.txt")
    assert bench.returncode == 0 and re.match(r"\d+\.\d+ us per call \(median", bench.stdout), bench.stderr
    (tmp_path / "in.txt").write_text(good + "0 1 2\n")
    result = _run(generate_cpp, model, tmp_path / "in.txt", tmp_path / "out.txt")
    assert result.returncode != 0
    assert re.fullmatch(r"error: .*in\.txt: line 2: expected 16 numbers \(8 latent values, then energy \(1\), "
                        r"impact_eta \(1\), alignment \(6\)\)\n", result.stderr), result.stderr
