"""hepgan's NumPy runtime: runs lwtnn files without torch and rejects bad files in one line."""

import json
import subprocess
import sys

import numpy as np
import pytest

from hepgan.errors import DataError
from hepgan.export.lwtnn import export_lwtnn
from hepgan.export.module import reference_forward
from hepgan.export.runtime import LwtnnGenerator
from tests.export.conftest import make_generator

SCRIPT = """
import sys, numpy as np
from hepgan.export.runtime import LwtnnGenerator
model = LwtnnGenerator.load(sys.argv[1])
z = np.load(sys.argv[2])
cond = dict(np.load(sys.argv[3]))
np.save(sys.argv[4], model.run(z, cond))
assert "torch" not in sys.modules, sorted(m for m in sys.modules if m.startswith("torch"))[:3]
"""


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    path = tmp_path_factory.mktemp("lwtnn") / "g.json"
    gen = make_generator("CONCAT, DENSE|16|SWISH, DENSE|266|SOFTPLUS")
    export_lwtnn(gen, path)
    return gen, path


def test_the_runtime_never_imports_torch(tmp_path, exported, fixed_inputs):
    gen, path = exported
    z, conditions = fixed_inputs(gen)
    np.save(tmp_path / "z.npy", z)
    np.savez(tmp_path / "c.npz", **conditions)
    out = tmp_path / "out.npy"
    result = subprocess.run([sys.executable, "-c", SCRIPT, str(path), str(tmp_path / "z.npy"), str(tmp_path / "c.npz"),
                             str(out)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    expected = reference_forward(gen, z, conditions)
    assert np.abs(np.load(out) - expected).max() <= 1e-5 * np.abs(expected).max()


def _spec(path):
    return json.loads(path.read_text())


def _write(tmp_path, spec):
    target = tmp_path / "bad.json"
    target.write_text(json.dumps(spec))
    return target


def test_bad_files_are_one_line_data_errors(tmp_path, exported):
    _, path = exported
    truncated = tmp_path / "truncated.json"
    truncated.write_text(path.read_text()[:5000])
    cases = [(truncated, "not valid JSON")]
    spec = _spec(path)
    del spec["hepgan_postprocess"]
    cases.append((_write(tmp_path, spec), "missing section 'hepgan_postprocess'"))
    spec = _spec(path)
    spec["layers"][0]["activation"] = "mish"
    target = tmp_path / "mish.json"
    target.write_text(json.dumps(spec))
    cases.append((target, "layer 0: activation 'mish' is not supported"))
    spec = _spec(path)
    spec["layers"][1]["weights"] = spec["layers"][1]["weights"][:-16]
    target = tmp_path / "short.json"
    target.write_text(json.dumps(spec))
    cases.append((target, "layer 1"))
    spec = _spec(path)
    spec["hepgan"]["format"] = "something-else"
    target = tmp_path / "foreign.json"
    target.write_text(json.dumps(spec))
    cases.append((target, "not a hepgan export"))
    for bad, message in cases:
        with pytest.raises(DataError, match=message) as info:
            LwtnnGenerator.load(bad)
        assert "\n" not in str(info.value) and str(bad) in str(info.value)


def test_missing_or_bad_conditions_are_named(exported, fixed_inputs):
    gen, path = exported
    model = LwtnnGenerator.load(path)
    z, conditions = fixed_inputs(gen)
    with pytest.raises(DataError, match="condition 'alignment' is missing"):
        model.run(z, {k: v for k, v in conditions.items() if k != "alignment"})
    with pytest.raises(DataError, match="'energy' must be positive"):
        model.run(z, {**conditions, "energy": -conditions["energy"]})
    with pytest.raises(DataError, match=r"z must have shape \(N, 8\)"):
        model.run(z[:, :3], conditions)
