"""hepgan export / hepgan generate on the command line: files written, one-line errors, no tracebacks."""

import subprocess
import sys

import numpy as np

from hepgan.cli import main
from hepgan.data.io import load_showers
from hepgan.export.onnx import read_info
from hepgan.export.runtime import LwtnnGenerator


def test_export_both_formats_then_generate_from_each(tmp_path, trained_run, capsys):
    assert main(["export", str(trained_run), "--format", "onnx", "--out", str(tmp_path / "g.onnx")]) == 0
    text = capsys.readouterr().out
    assert "exported showers generator (step 2)" in text and "opset 17" in text and "verified on 7 samples" in text
    assert read_info(tmp_path / "g.onnx").geometry == "atlas266"
    assert main(["export", str(trained_run), "--format", "lwtnn", "--out", str(tmp_path / "g.json")]) == 0
    assert "lwtnn" in capsys.readouterr().out
    assert LwtnnGenerator.load(tmp_path / "g.json").info.condition_names == ["energy", "impact_eta", "alignment"]

    for model in ("g.onnx", "g.json"):
        out = tmp_path / f"{model}.h5"
        assert main(["generate", str(tmp_path / model), "--energies", "2,8", "--eta", "0.22", "--events", "5",
                     "--out", str(out), "--seed", "1"]) == 0
        assert "wrote 10 showers (2 energies x 5)" in capsys.readouterr().out
    a, b = load_showers(tmp_path / "g.onnx.h5"), load_showers(tmp_path / "g.json.h5")
    assert a.showers.shape == (10, 266)
    assert np.abs(a.showers - b.showers).max() <= 1e-5 * np.abs(a.showers).max()


def test_warnings_and_errors_are_single_lines(tmp_path, trained_run, capsys):
    out = tmp_path / "w.h5"
    assert main(["generate", str(trained_run), "--energies", "300", "--events", "2", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert err == ("hepgan generate: warning: energy 300 GeV is outside the trained range 2-32 GeV; "
                   "the generator extrapolates there\n")
    assert main(["generate", str(trained_run), "--energies", "300", "--events", "2", "--out", str(out), "--strict"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["export", str(empty), "--out", str(tmp_path / "x.onnx")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hepgan export: error: ") and "not a trained run (expected checkpoints/best.pt or checkpoints/last.pt)" in err and err.count("\n") == 1


def test_a_corrupt_model_file_fails_without_a_traceback(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"inputs": [')
    result = subprocess.run([sys.executable, "-m", "hepgan.cli", "generate", str(bad), "--energies", "8", "--events", "1",
                             "--out", str(tmp_path / "x.h5")], capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert result.stderr.startswith("hepgan generate: error: ") and "not valid JSON" in result.stderr
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1
