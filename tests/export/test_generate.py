"""hepgan generate: the same showers from every backend, chunk-size independent, in the data's layout."""

import numpy as np
import pytest

from hepgan.data.io import load_showers
from hepgan.errors import ConfigError, DataError
from hepgan.export.generate import generate_file, open_model
from hepgan.export.lwtnn import export_lwtnn
from hepgan.export.onnx import export_onnx
from hepgan.train.generator import TrainedGenerator
from tests.export.conftest import make_image_generator


@pytest.fixture(scope="module")
def exported(trained_run, tmp_path_factory):
    directory = tmp_path_factory.mktemp("exported")
    gen = TrainedGenerator.from_run(trained_run)
    export_onnx(gen, directory / "g.onnx", source=str(trained_run))
    export_lwtnn(gen, directory / "g.json", source=str(trained_run))
    return directory / "g.onnx", directory / "g.json"


def test_every_backend_and_model_kind_writes_the_same_showers(tmp_path, trained_run, exported):
    onnx_file, lwtnn_file = exported
    runs = [(trained_run, "torch"), (trained_run, "onnx"), (trained_run, "numpy"), (onnx_file, None), (lwtnn_file, None)]
    files = []
    for i, (model, backend) in enumerate(runs):
        out = tmp_path / f"s{i}.h5"
        result = generate_file(model, out, energies_gev=[2, 8, 32], events=40, eta=0.22, backend=backend, seed=5,
                               chunk_size=16)
        assert result.n == 120 and result.warnings == []
        files.append(load_showers(out))
    ref = files[0]
    assert ref.showers.shape == (120, 266) and ref.geometry == "atlas266" and (ref.showers >= 0).all()
    np.testing.assert_array_equal(ref.incident_energies[:, 0], np.repeat([2000.0, 8000.0, 32000.0], 40))
    np.testing.assert_array_equal(ref.conditions["impact_eta"], 0.22)
    phi = ref.conditions["impact_phi"]
    assert 0.0 <= phi.min() and phi.max() < 0.0982 and len(np.unique(phi)) == 120  # drawn like the simulator
    assert ref.attrs["backend"] == "torch" and ref.attrs["seed"] == 5
    for other in files[1:]:
        assert np.abs(other.showers - ref.showers).max() <= 1e-5 * np.abs(ref.showers).max()
        np.testing.assert_array_equal(other.conditions["impact_phi"], phi)


def _spy(backend, calls):
    original = backend.run

    def run(z, conditions=None, labels=None):
        calls.append((z.copy(), {k: v.copy() for k, v in conditions.items()}))
        return original(z, conditions, labels)

    backend.run = run
    return backend


def test_chunking_bounds_memory_without_changing_the_showers(tmp_path, exported):
    _, lwtnn_file = exported
    outs, calls = [], {}
    for chunk in (7, 1000):
        calls[chunk] = []
        out = tmp_path / f"chunk{chunk}.h5"
        generate_file(_spy(open_model(lwtnn_file), calls[chunk]), out, energies_gev=[8, 32], events=30, seed=2,
                      chunk_size=chunk)
        outs.append(load_showers(out))
    assert [len(z) for z, _ in calls[7]] == [7, 7, 7, 7, 2] * 2 and [len(z) for z, _ in calls[1000]] == [30, 30]
    for key in ("z", "energy", "impact_eta", "impact_phi", "alignment"):  # the model's inputs: bit-identical
        def joined(chunk, key=key):
            return np.concatenate([z if key == "z" else c[key] for z, c in calls[chunk]])
        np.testing.assert_array_equal(joined(7), joined(1000))
    assert outs[0].conditions["impact_eta"].std() > 0  # no --eta: drawn over the trained range
    # outputs: equal up to float32 rounding (BLAS sums in a batch-size-dependent order)
    np.testing.assert_allclose(outs[0].showers, outs[1].showers, rtol=1e-6, atol=1e-6 * outs[1].showers.max())


def test_conditions_outside_the_trained_range_warn_or_are_refused(tmp_path, exported):
    onnx_file, _ = exported
    warnings = []
    result = generate_file(onnx_file, tmp_path / "w.h5", energies_gev=[8, 262], events=3, eta=0.3, warn=warnings.append)
    assert warnings == ["energy 262 GeV is outside the trained range 2-32 GeV; the generator extrapolates there",
                        "impact_eta 0.3 is outside the trained range 0.200075-0.249955; the generator extrapolates there"]
    assert result.warnings and len(load_showers(tmp_path / "w.h5")) == 6
    with pytest.raises(ConfigError, match=r"energy 262 GeV is outside the trained range 2-32 GeV \(refused: --strict\)"):
        generate_file(onnx_file, tmp_path / "s.h5", energies_gev=[8, 262], events=3, strict=True)
    assert not (tmp_path / "s.h5").exists()


def test_bad_models_and_arguments_give_clear_errors(tmp_path, exported):
    onnx_file, lwtnn_file = exported
    empty_run = tmp_path / "empty-run"
    empty_run.mkdir()
    out = tmp_path / "x.h5"
    cases = [
        (empty_run, {}, ConfigError, "not a trained run"),
        (tmp_path / "nothing", {}, ConfigError, "no such run directory or model file"),
        (onnx_file, {"backend": "numpy"}, ConfigError, "is an ONNX model, which backend numpy cannot run; use --backend onnx"),
        (lwtnn_file, {"backend": "torch"}, ConfigError, "use --backend numpy"),
        (onnx_file, {"energies_gev": [0]}, ConfigError, "energies must be positive"),
        (onnx_file, {"events": 0}, ConfigError, "events must be at least 1"),
    ]
    wrong = tmp_path / "model.txt"
    wrong.write_text("x")
    cases.append((wrong, {}, ConfigError, "expected a run directory, an .onnx file or an lwtnn .json file"))
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(onnx_file.read_bytes()[:2000])
    cases.append((corrupt, {}, DataError, "not a readable ONNX model"))
    for model, kwargs, error, message in cases:
        args = {"energies_gev": [8], "events": 2, **kwargs}
        with pytest.raises(error, match=message):
            generate_file(model, out, **args)
    assert not out.exists()


def test_an_image_generator_is_not_a_shower_generator(tmp_path):
    from hepgan.export.generate import TorchBackend

    backend = TorchBackend(make_image_generator("CONCAT, DENSE|784|TANH, RESHAPE|1|28|28"))
    with pytest.raises(ConfigError, match="image generator; hepgan generate writes showers"):
        generate_file(backend, tmp_path / "x.h5", energies_gev=[8], events=2)
