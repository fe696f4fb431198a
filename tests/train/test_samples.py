"""Sample sets saved during training: an .npz of generated and reference samples with their
conditions, and a PNG beside it, for showers and for images."""

import numpy as np
import pytest

from hepgan.train.samples import save_sample_set

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("geometry, energy", [("atlas266", True), (None, True), ("atlas266", False)])
def test_shower_sample_sets_hold_the_samples_and_their_conditions(tmp_path, geometry, energy):
    rng = np.random.default_rng(0)
    generated, reference = rng.exponential(10.0, (20, 266)), rng.exponential(10.0, (20, 266))
    conditions = {"impact_eta": rng.uniform(0.2, 0.25, 20)}
    if energy:
        conditions["energy"] = np.full(20, 2660.0)
    path = save_sample_set(tmp_path / "samples", 12, generated, reference, conditions, "showers", geometry)
    assert path == tmp_path / "samples/step-000000012.npz"
    with np.load(path) as f:
        assert sorted(f.files) == sorted(["generated", "reference", *(f"cond_{k}" for k in conditions)])
        np.testing.assert_array_equal(f["generated"], generated)
        np.testing.assert_array_equal(f["reference"], reference)
        np.testing.assert_array_equal(f["cond_impact_eta"], conditions["impact_eta"])
    assert path.with_suffix(".png").read_bytes()[:8] == PNG


def test_image_sample_sets_show_a_grid(tmp_path):
    images = np.random.default_rng(1).integers(0, 256, (70, 1, 28, 28)).astype(np.float32)  # more than a grid
    path = save_sample_set(tmp_path, 3, images, images[:5], {}, "images", None)
    with np.load(path) as f:
        assert f["generated"].shape == (70, 1, 28, 28) and f["reference"].shape == (5, 1, 28, 28)
    png = path.with_suffix(".png")
    assert png.read_bytes()[:8] == PNG
    import matplotlib.image

    height, width = matplotlib.image.imread(png).shape[:2]
    assert width == 8 * 80 and height == 8 * 80  # 8 x 8 images of one inch at 80 dpi
