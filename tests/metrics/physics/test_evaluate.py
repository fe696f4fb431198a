"""The whole evaluation: two reference samples agree, a 20% wider shower is caught; errors, API, CLI."""

import json
import subprocess
import sys

import numpy as np
import pytest

from hepgan.api import evaluate
from hepgan.cli import main
from hepgan.data.io import save_showers
from hepgan.data.showers import ShowerData
from hepgan.errors import ConfigError, DataError
from hepgan.metrics.physics import evaluate_showers


def test_two_reference_samples_are_indistinguishable(ref_vs_ref):
    s = ref_vs_ref["summary"]
    assert abs(s["auc_low_level"] - 0.5) < 0.03
    assert abs(s["auc_high_level"] - 0.5) < 0.03
    assert s["mean_separation_power"] < 0.01
    assert s["mean_separation_power_per_energy"] < 0.015
    assert abs(s["fpd"]) < 2 * s["fpd_err"]
    assert abs(s["kpd"]) < 3 * s["kpd_err"]
    for row in ref_vs_ref["response"]:
        r = row["ratio"]
        assert abs(r["mean"] - 1) < 3 * r["mean_err"] + 1e-3, row["label"]
        assert abs(r["rel_width"] - 1) < 3 * r["rel_width_err"] + 0.01, row["label"]
    for name, stats in ref_vs_ref["observables"].items():
        if stats["separation_power"] is not None:
            assert stats["separation_power"] < 4 * stats["separation_power_floor"] + 1e-3, name


def test_a_twenty_percent_wider_shower_is_flagged(ref_vs_ref, ref_vs_widened):
    s, base = ref_vs_widened["summary"], ref_vs_ref["summary"]
    assert s["auc_high_level"] > 0.7 and s["auc_low_level"] > 0.6
    assert s["fpd"] > 5 * s["fpd_err"]
    assert s["kpd"] > 5 * s["kpd_err"]
    assert s["mean_separation_power"] > 3 * base["mean_separation_power"]
    widths = ("width_eta_middle", "width_phi_middle", "width_eta_strips")
    for name in widths:
        sp = ref_vs_widened["observables"][name]["separation_power"]
        assert sp > 0.02 and sp > 10 * ref_vs_ref["observables"][name]["separation_power"], name
    worst = [w["observable"] for w in s["worst_observables"]]
    assert {"r_eta", "r_phi", "width_eta_middle", "width_phi_middle"} & set(worst)
    assert len(ref_vs_widened["per_energy"]) == 3
    for point in ref_vs_widened["per_energy"]:
        assert point["observables"]["width_eta_middle"]["separation_power"] > 0.02, point["label"]


def test_result_is_strict_json_with_every_section(ref_vs_ref):
    text = json.dumps(ref_vs_ref, allow_nan=False)
    back = json.loads(text)
    assert set(back) >= {"summary", "observables", "per_energy", "response", "fpd", "kpd", "classifier", "timing_s"}
    assert back["geometry"] == "atlas266" and back["settings"]["conditions"] == ["impact_eta", "impact_phi"]
    assert [p["label"] for p in back["per_energy"]] == ["4 GeV", "16 GeV", "65 GeV"]
    assert set(back["timing_s"]) == {"observables", "comparisons", "response", "distances", "classifier"}
    assert back["classifier"]["high_level"]["model"] == "hgb" and back["classifier"]["low_level"]["model"] == "mlp"


def _data(n=100, geometry="atlas266", seed=0, **kw):
    rng = np.random.default_rng(seed)
    return ShowerData(rng.gamma(0.5, 10.0, size=(n, 266)), np.full((n, 1), 1e4), geometry=geometry, **kw)


def test_geometry_mismatch_and_missing_geometry_are_clear_errors():
    with pytest.raises(DataError, match="geometry 'calogan' was requested"):
        evaluate_showers(_data(), _data(seed=1), geometry="calogan", classifier=False)
    with pytest.raises(ConfigError, match="pass geometry"):
        evaluate_showers(_data(geometry=None), _data(geometry=None, seed=1), classifier=False)
    other = ShowerData(np.ones((30, 504)), np.ones((30, 1)), geometry="calogan", source="other.h5")
    with pytest.raises(DataError, match="is on 'calogan'"):
        evaluate_showers(_data(source="gen.h5"), other, classifier=False)
    with pytest.raises(DataError, match="266 cells but showers have 504"):
        evaluate_showers(ShowerData(np.ones((30, 504)), np.ones((30, 1))), _data(), classifier=False)
    bad = _data()
    bad.showers[3, 7] = np.nan
    with pytest.raises(DataError, match="non-finite"):
        evaluate_showers(bad, _data(seed=1), classifier=False)


def test_geometry_can_be_given_for_unlabelled_data_and_runs_without_impact_conditions():
    result = evaluate_showers(_data(geometry=None), _data(geometry=None, seed=1), geometry="atlas266",
                              classifier=False, per_energy=False)
    assert result["classifier"] is None and result["per_energy"] == []
    assert result["settings"]["conditions"] == []
    assert "offset_eta_middle" not in result["observables"] and "centroid_eta_middle" in result["observables"]
    assert "auc_low_level" not in result["summary"]


@pytest.fixture(scope="module")
def shower_files(tmp_path_factory, reference_a, reference_b):
    directory = tmp_path_factory.mktemp("evaluate")
    gen, ref = directory / "gen.h5", directory / "ref.h5"
    save_showers(gen, reference_b.subset(slice(0, 1500)))
    save_showers(ref, reference_a.subset(slice(0, 1500)))
    return gen, ref


def test_api_evaluate_reads_files_and_writes_json(shower_files, tmp_path):
    gen, ref = shower_files
    out = tmp_path / "m.json"
    result = evaluate(gen, ref, classifier=False, out=out)
    assert json.loads(out.read_text()) == result
    assert result["generated"]["source"].endswith("gen.h5") and result["generated"]["n"] == 1500


def test_cli_prints_a_summary_and_writes_the_json(shower_files, tmp_path, capsys):
    gen, ref = shower_files
    out = tmp_path / "metrics.json"
    assert main(["evaluate", str(gen), str(ref), "--no-classifier", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "1500 generated vs 1500 reference showers on atlas266" in text
    assert "FPD x1e3" in text and "worst observables" in text and "65 GeV" in text
    assert f"wrote {out}" in text
    assert json.loads(out.read_text())["summary"]["mean_separation_power"] < 0.02


def test_cli_bad_files_give_one_line_errors(shower_files, tmp_path):
    gen, _ = shower_files
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not a shower file at all")
    for args, expected in (
        ([str(gen), str(tmp_path / "missing.h5")], "missing.h5: no such file"),
        ([str(junk), str(gen)], "junk.h5"),
        ([str(gen), str(gen), "--geometry", "calogan"], "calogan"),
        ([str(gen), str(gen), "--out", str(tmp_path / "no" / "dir" / "m.json")], "does not exist"),
    ):
        result = subprocess.run([sys.executable, "-m", "hepgan.cli", "evaluate", *args, "--no-classifier"],
                                capture_output=True, text=True, check=False)
        assert result.returncode == 2, result.stderr
        errors = [line for line in result.stderr.splitlines() if not line.startswith("evaluate:")]
        assert len(errors) == 1, result.stderr
        assert errors[0].startswith("hepgan evaluate: error:") and expected in errors[0], result.stderr
        assert "Traceback" not in result.stderr


def test_the_high_level_classifier_can_be_a_dnn(reference_a, widened):
    result = evaluate_showers(widened, reference_a, seed=0, threads=1, per_energy=False, high_level_model="mlp")
    assert result["summary"]["auc_high_level"] > 0.65  # the DNN also catches the 20% wider showers
