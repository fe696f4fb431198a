import numpy as np
import pytest
from scipy import integrate

from hepgan.sim.profiles import annulus_fractions, rectangle_fractions


def _density(y, x, radius):
    return radius**2 / (np.pi * (x * x + y * y + radius**2) ** 2)


@pytest.mark.parametrize("box", [(-3.0, 5.0, -2.0, 1.0), (1.0, 4.0, 2.0, 7.5), (-20.0, -1.0, -0.5, 0.5)])
def test_rectangle_fraction_matches_numerical_integration(box):
    x1, x2, y1, y2 = box
    radius = 2.5
    frac = rectangle_fractions(np.array([[x1, x2]]), np.array([[y1, y2]]), np.array([[radius]]))[0, 0, 0, 0]
    expected, _ = integrate.dblquad(_density, x1, x2, y1, y2, args=(radius,), epsabs=1e-12)
    assert frac == pytest.approx(expected, rel=1e-8, abs=1e-12)


def test_rectangle_fractions_tile_the_plane_and_match_the_radial_cdf():
    radius = np.array([[1.0, 4.0]])
    edges = np.array([np.concatenate([[-1e9], np.linspace(-30, 30, 61), [1e9]])])
    frac = rectangle_fractions(edges, edges, radius)
    np.testing.assert_allclose(frac.sum(axis=(-1, -2)), 1.0, atol=1e-9)
    # symmetric profile: mirrored cells carry the same fraction
    np.testing.assert_allclose(frac, frac[..., ::-1, :], atol=1e-14)
    np.testing.assert_allclose(frac, np.swapaxes(frac, -1, -2), atol=1e-14)


def test_rectangle_fractions_agree_with_sampled_radii():
    rng = np.random.default_rng(0)
    radius = 3.0
    u = rng.random(400_000)
    r = radius * np.sqrt(u / (1 - u))  # inverse CDF of 2 r R^2 / (r^2 + R^2)^2
    phi = rng.uniform(0, 2 * np.pi, r.size)
    x, y = r * np.cos(phi), r * np.sin(phi)
    edges = np.array([[-6.0, -2.0, 0.5, 4.0]])
    counts, _, _ = np.histogram2d(x, y, bins=[edges[0], edges[0]])
    frac = rectangle_fractions(edges, edges, np.array([[radius]]))[0, 0]
    np.testing.assert_allclose(counts / r.size, frac, atol=3e-3)


def test_annulus_fractions_follow_the_closed_form_cdf():
    r_edges = np.array([0.0, 1.0, 2.0, 5.0, 100.0])
    frac = annulus_fractions(r_edges, np.array([[2.0]]))[0, 0]
    cdf = r_edges**2 / (r_edges**2 + 4.0)
    np.testing.assert_allclose(frac, np.diff(cdf))
    assert frac.sum() == pytest.approx(100.0**2 / (100.0**2 + 4.0))
