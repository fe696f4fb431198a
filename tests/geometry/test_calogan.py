"""The CaloGAN calorimeter (Paganini et al. 2017): a 480 mm lead/liquid-argon cube in three layers."""

import numpy as np
import pytest

from hepgan.geometry import get_geometry

# PDG radiation lengths: lead 5.612 mm, liquid argon 140 mm; the medium is 2 mm Pb + 4 mm LAr periods.
PB_LAR_X0_MM = 1.0 / ((2.0 / 6.0) / 5.612 + (4.0 / 6.0) / 140.0)


def test_calogan_has_the_papers_three_layers_of_cells():
    g = get_geometry("calogan")
    assert [layer.name for layer in g.layers] == ["layer_0", "layer_1", "layer_2"]
    assert [layer.shape for layer in g.layers] == [(3, 96), (12, 12), (12, 6)]
    assert g.n_cells == 3 * 96 + 12 * 12 + 12 * 6 == 504
    # cells of 160 x 5 mm, 40 x 40 mm and 40 x 80 mm, in millimetres
    assert [layer.pitch for layer in g.layers] == [(160.0, 5.0), (40.0, 40.0), (40.0, 80.0)]
    for layer in g.layers:
        assert layer.units == ("x_mm", "y_mm") and layer.mm_per_unit == (1.0, 1.0)
        assert layer.shape[0] * layer.pitch[0] == layer.shape[1] * layer.pitch[1] == 480.0


def test_calogan_layers_are_90_347_and_43_mm_of_lead_and_liquid_argon():
    g = get_geometry("calogan")
    assert g.material.name == "Pb(2mm)/LAr(4mm)"
    assert g.material.x0_mm == pytest.approx(PB_LAR_X0_MM)
    assert g.layers[0].depth_x0[0] == 0.0
    for (_, back), nxt in zip((layer.depth_x0 for layer in g.layers), g.layers[1:]):
        assert nxt.depth_x0[0] == back
    thickness_mm = [layer.thickness_x0 * PB_LAR_X0_MM for layer in g.layers]
    assert thickness_mm == pytest.approx([90.0, 347.0, 43.0])
    assert g.layers[-1].depth_x0[1] == pytest.approx(480.0 / PB_LAR_X0_MM)  # about 31 X0 deep
    assert 30 < g.layers[-1].depth_x0[1] < 32


def test_calogan_particles_enter_at_the_centre_at_normal_incidence():
    g = get_geometry("calogan")
    assert g.impact is None and g.reference_eta is None and g.anchor_layer is None
    assert g.sample_impact(np.random.default_rng(0), 4) == {}
    np.testing.assert_array_equal(g.path_scale({}, 4), np.ones(4))
    # every window is the whole 480 mm face, centred on the beam axis
    for layer in g.layers:
        xe, ye = g.lateral_edges_mm(layer, {}, 2)
        np.testing.assert_allclose(xe, np.broadcast_to(np.linspace(-240, 240, layer.shape[0] + 1), xe.shape))
        np.testing.assert_allclose(ye, np.broadcast_to(np.linspace(-240, 240, layer.shape[1] + 1), ye.shape))
