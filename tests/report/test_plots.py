"""The report's figures: each returns a PNG (none when there is nothing to draw), copes with the
undefined values the metrics give, and leaves no figure open."""

import io

import matplotlib.image
import matplotlib.pyplot as plt
import numpy as np
import pytest

from hepgan.geometry import get_geometry
from hepgan.report import plots

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def no_figure_left_open():
    plt.close("all")
    yield
    assert plt.get_fignums() == []


def _size(png: bytes) -> tuple[int, int]:
    """(height, width) of a PNG, decoded."""
    assert png[:8] == PNG
    return matplotlib.image.imread(io.BytesIO(png)).shape[:2]


def test_curves_of_the_training_log_and_none_without_what_they_show():
    records = [{"step": s, "time": 0.1 * s, "loss_d": -s / 10, "loss_g": s / 5} for s in range(1, 6)]
    records += [{"step": 2, "validation": {"response_error": 0.3, "resolution_error": 0.2}},
                {"step": 4, "validation": {"response_error": 0.1, "resolution_error": float("nan")}}]
    assert _size(plots.loss_curves(records))[1] > 0
    one = plots.validation_curves(records[-2:-1], None, None)
    marked = plots.validation_curves(records, "response_error", 4)
    assert _size(one)[1] > 0 and _size(marked)[1] > 0
    assert plots.loss_curves([r for r in records if "validation" in r]) is None
    assert plots.loss_curves([{"step": 1, "time": 0.1}]) is None  # no losses logged
    assert plots.validation_curves(records[:5], "response_error", None) is None


def test_response_and_width_with_undefined_values_and_marked_energies():
    rows = [{"energy_gev": e, "reference": {"mean": 0.97, "mean_err": 0.001, "width": w, "width_err": 0.001},
             "generated": {"mean": m, "mean_err": None if m is None else 0.002, "width": w, "width_err": 0.002}}
            for e, m, w in ((2.0, 0.95, 0.08), (8.0, None, 0.04), (32.0, 0.99, 0.02))]
    png = plots.response_resolution(rows, {8.0: "left out"})
    assert _size(png)[1] > 0


def test_observable_histograms_skip_empty_and_constant_observables():
    rng = np.random.default_rng(0)
    reference = {"a": rng.normal(size=500), "empty": np.full(10, np.nan), "constant": np.ones(100),
                 "b": rng.exponential(size=500)}
    generated = {"a": rng.normal(0.2, 1.1, 500), "empty": np.array([1.0]), "constant": np.ones(50),
                 "b": np.array([])}
    png = plots.observable_histograms(generated, reference, list(reference), "observables", {"a": 0.01})
    height, width = _size(png)
    assert width > height  # four panels in a row


def test_layer_images_show_each_layer_with_empty_cells_too():
    g = get_geometry("atlas266")
    rng = np.random.default_rng(1)
    showers = rng.exponential(1.0, (20, g.n_cells)) * (rng.random((20, g.n_cells)) > 0.5)
    showers[:, g.layer_slices[0]] = 0.0  # an empty layer: nothing to put on a log scale
    height, width = _size(plots.layer_images(showers, showers * 1.1, g))
    assert width > height  # one column per layer, reference above generated


def test_image_figures():
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (40, 1, 28, 28)).astype(float)
    labels = np.arange(40) % 4
    by_class, grid = plots.image_grid(images, labels, "by class"), plots.image_grid(images, None, "grid")
    assert _size(by_class)[0] < _size(grid)[0]  # 4 rows of classes, an 8 x 8 grid
    one, three = (plots.sample_evolution([(s, images[:10]) for s in range(n)]) for n in (1, 3))
    assert _size(three)[0] > 2 * _size(one)[0]  # a row per saved step
    x = np.linspace(0, 1, 20)
    for png in (plots.curve(x, {"a": x, "b": x**2}, "recall", "precision", "PRD"),
                plots.embedding_scatter(rng.normal(size=(50, 2)), rng.normal(size=(50, 2)), "t-SNE"),
                plots.class_histogram(np.bincount(labels, minlength=10), np.ones(10), "classes"),
                plots.class_histogram(np.zeros(10), np.zeros(10), "nothing yet"),
                plots.confidence_histogram(rng.random(100), rng.random(100), "confidence")):
        assert _size(png)[1] > 0
