"""The HTML report, rendered in a real headless browser."""

import json
import shutil

import numpy as np
import pytest

from hepgan.report import report
from hepgan.sim import SimConfig, simulate


def _browser():
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not chromium or not driver:
        pytest.skip("no chromium/chromedriver on this machine (.ci/run installs Debian's chromium and chromium-driver)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"):
        options.add_argument(flag)
    options.binary_location = chromium
    return webdriver.Chrome(service=Service(driver), options=options)


@pytest.fixture(scope="module")
def reference_pair():
    first = simulate(energies_gev=[8.0, 65.0], events_per_energy=1500, seed=1)
    second = simulate(energies_gev=[8.0, 65.0], events_per_energy=1500, seed=2)
    radial = SimConfig().radial
    wide = radial.model_copy(update={"rc": (radial.rc[0] * 1.2, radial.rc[1] * 1.2, radial.rc[2] * 1.2, radial.rc[3] * 1.2),
                                     "rt": (radial.rt[0] * 1.2, *radial.rt[1:])})
    distorted = simulate(energies_gev=[8.0, 65.0], events_per_energy=1500, seed=3, radial=wide)
    return first, second, distorted


def test_report_of_two_reference_samples_renders_and_passes(tmp_path, reference_pair):
    first, second, _ = reference_pair
    out = report(generated=second, reference=first, out=tmp_path / "report.html")
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    auc = metrics["summary"]["auc_high_level"]
    assert abs(auc - 0.5) < 0.05
    browser = _browser()
    try:
        browser.get(out.as_uri())
        widths = browser.execute_script("return Array.from(document.images).map(i => i.complete ? i.naturalWidth : 0)")
        assert len(widths) >= 5 and all(w > 0 for w in widths), widths  # no broken images
        table = browser.find_element("id", "key-numbers").text
        assert "classifier AUC, high level" in table and f"{auc:.4g}" in table
        assert "fail" not in browser.find_element("id", "response").text
        assert browser.title.startswith("hepgan report")
    finally:
        browser.quit()


def test_report_flags_a_distorted_sample(tmp_path, reference_pair):
    first, _, distorted = reference_pair
    report(generated=distorted, reference=first, out=tmp_path / "report.html", classifier=True)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["summary"]["auc_high_level"] > 0.65
    html = (tmp_path / "report.html").read_text()
    assert '<tr class="fail"><td>classifier AUC, high level' in html
    widths = [o for o in metrics["observables"] if o.startswith("width_")]
    assert np.mean([metrics["observables"][o]["separation_power"] for o in widths]) > 0.05


def test_report_of_a_training_run_marks_the_left_out_energy(tmp_path, shower_file):
    from hepgan.train import Trainer, load_train_config
    from tests.helpers import shower_config

    config = load_train_config(shower_config(
        tmp_path / "run", shower_file, data={"exclude_energies_gev": [8.0]},
        eval={"every": 2, "metrics": ["response"], "select": "response_error", "n_generated": 100},
        schedule={"steps": 4}))
    Trainer(config).fit()
    out = report(tmp_path / "run", classifier=False)
    assert out == tmp_path / "run/report.html"
    html = out.read_text()
    assert "left out of training" in html and "selected by response_error" in html
    metrics = json.loads((tmp_path / "run/metrics.json").read_text())
    assert metrics["run"]["family"] == "cwgan_gp" and metrics["run"]["best"]["metric"] == "response_error"
    energies = [round(r["energy_mev"] / 1000) for r in metrics["response"]]
    assert 8 in energies  # the held-out comparison includes the energy left out of training
    assert '<tr class="little-training">' in html
    assert "<td>left out of training</td></tr>" in html  # the response table says why the row is marked


def test_report_cli_writes_html_for_two_files(tmp_path, reference_pair):
    import subprocess
    import sys

    from hepgan.data.hdf5 import write_showers

    first, second, _ = reference_pair
    write_showers(tmp_path / "a.h5", first.subset(slice(0, 600)))
    write_showers(tmp_path / "b.h5", second.subset(slice(0, 600)))
    result = subprocess.run([sys.executable, "-m", "hepgan", "report", "--generated", str(tmp_path / "b.h5"),
                             "--reference", str(tmp_path / "a.h5"), "--no-classifier", "--out", str(tmp_path / "r.html"),
                             "--threshold", "width_ratio=0.2"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "r.html").exists() and (tmp_path / "metrics.json").exists()
    assert "<td class=\"num\">0.2</td>" in (tmp_path / "r.html").read_text()
    bad = subprocess.run([sys.executable, "-m", "hepgan", "report", "--generated", str(tmp_path / "b.h5"),
                          "--reference", str(tmp_path / "a.h5"), "--threshold", "auc=0.7"], capture_output=True, text=True)
    assert bad.returncode == 2 and "--threshold expects NAME=VALUE" in bad.stderr


def test_report_of_an_image_run_shows_training_samples_classes_and_the_fid_floor(tmp_path, mnist_dir):
    from hepgan.data.idx import read_mnist, write_idx
    from hepgan.train import Trainer, load_train_config
    from tests.helpers import image_config

    data = tmp_path / "mnist"
    data.mkdir()
    train = read_mnist(mnist_dir, "train")
    for split, (lo, hi) in (("train", (0, 200)), ("t10k", (200, 300))):
        write_idx(data / f"{split}-images-idx3-ubyte", train.images[lo:hi])
        write_idx(data / f"{split}-labels-idx1-ubyte", train.labels[lo:hi])
    run = tmp_path / "run"
    g = "CONCAT, DENSE|392|RELU, RESHAPE|8|7|7, TCONV|4|4|4|2|2|1|1|RELU, TCONV|1|4|4|2|2|1|1|TANH"
    d = "CONV|8|4|4|2|2|1|1|LEAKYRELU, RESHAPE|FLAT, DENSE|16|LEAKYRELU"
    Trainer(load_train_config(image_config(run, data, "cgan_proj", g, d, data={"conditional": True},
                                           schedule={"steps": 4, "batch_size": 16, "n_critic": 1},
                                           log={"samples_every": 2}, checkpoint={"every": 4}))).fit()
    html = report(run).read_text()
    metrics = json.loads((run / "metrics.json").read_text())["images"]
    assert "saved samples (log.samples_every)" in html  # the grid of samples over training
    assert "a collapsed generator piles up in few bins" in html and "confidence, real vs generated" in html
    assert 'id="per-class-accuracy"' in html and len(metrics["per_class_accuracy"]) == 10
    assert metrics["fid_real_train"] > 0 and np.isfinite(metrics["inception_score_std"])
    assert sum(metrics["predicted_class_histogram"]) == 100
    # 100 test images: both estimates are flagged, with the counts used
    assert metrics["n_generated"] == 100 and metrics["n_real"] == 100
    assert "the inception score splits 100 images into 10 groups of 10 (under 500): it is biased low" in html
    assert "the FID compares 100 generated with 100 real images (under 2,000)" in html
    # not MNIST: scored by a LeNet trained on the run's own 200 training images, judged against the real images
    assert "a LeNet trained on this data set&#x27;s 200 training images" in html and (run / "metric_classifier.pt").is_file()
    assert metrics["thresholds"]["inception_score"] == pytest.approx(0.92 * metrics["real_inception_score"])
    assert metrics["thresholds"]["label_accuracy"] == pytest.approx(0.976 * metrics["real_label_accuracy"])
    assert "<th>real images</th>" in html


def test_estimates_on_enough_images_are_not_flagged():
    from hepgan.report.report import small_sample_warnings

    assert small_sample_warnings(10_000, 10_000, 10) == []
    assert len(small_sample_warnings(4_999, 10_000, 10)) == 1 and len(small_sample_warnings(10_000, 1_999, 10)) == 1


def test_a_fresh_response_reference_joins_the_response_table(tmp_path):
    """response_reference: fresh reference-simulator showers (another seed than the training data's)
    join the held-out ones in the response table only; files without a run cannot have them."""
    from hepgan.errors import ConfigError
    from hepgan.train import Trainer, load_train_config
    from tests.helpers import shower_config

    simulated = {"kind": "showers", "simulate": {"energies_gev": [4.0, 16.0], "events_per_energy": 200, "seed": 5},
                 "cache_dir": str(tmp_path / "cache"), "conditions": ["energy", "impact_eta"],
                 "validation_fraction": 0.2}
    config = shower_config(tmp_path / "run", None, schedule={"steps": 2})
    config["data"] = simulated  # the reference simulator's showers, not a file
    config = load_train_config(config)
    Trainer(config).fit()
    report(tmp_path / "run", classifier=False)
    held_out = json.loads((tmp_path / "run/metrics.json").read_text())
    html = report(tmp_path / "run", classifier=False, response_reference=300).read_text()
    both = json.loads((tmp_path / "run/metrics.json").read_text())
    held_out_n = [r["reference"]["n"] for r in held_out["response"]]
    assert sum(held_out_n) == 80  # the 20 % validation split of 2 x 200
    assert [r["reference"]["n"] for r in both["response"]] == [n + 300 for n in held_out_n]
    assert [r["generated"]["n"] for r in both["response"]] == [n + 300 for n in held_out_n]
    assert both["response_reference"] == {"held_out": 80, "fresh": 600}
    assert both["reference"]["n"] == held_out["reference"]["n"] == 80  # the other metrics keep the held-out set
    assert "and 600 fresh ones from the reference simulator" in html
    ref_width = [r["reference"]["rel_width"] for r in both["response"]]
    assert ref_width != [r["reference"]["rel_width"] for r in held_out["response"]]
    with pytest.raises(ConfigError, match="give a run directory"):
        report(generated=tmp_path / "x.h5", reference=tmp_path / "y.h5", response_reference=10)
    with pytest.raises(ConfigError, match="must be >= 0"):
        report(tmp_path / "run", response_reference=-1)
