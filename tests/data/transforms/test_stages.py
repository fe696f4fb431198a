"""Single transform stages: exact round trips, edge values, rejection of bad input and parameters."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from hepgan.data.transforms import (
    EnergyNormalize,
    LayerFractions,
    LogitTransform,
    LogTransform,
    Pipeline,
    Standardize,
)
from hepgan.errors import ConfigError, DataError, GeometryError
from hepgan.geometry import get_geometry
from tests.data.transforms._helpers import GEOMETRIES, _expect_data_error, assert_round_trip, make_showers

# Any numpy overflow/invalid warning inside a transform is a bug, not noise.
pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")


# -- round trips ---------------------------------------------------------------------------------
def _single_stage_cases():
    """(id, transform factory, how its input is made from showers and energies)."""
    return [
        ("energy_normalize", lambda g: EnergyNormalize(scale=100.0), lambda s, e: s),
        ("log_mev", lambda g: LogTransform(), lambda s, e: s),
        ("log_normalised", lambda g: LogTransform(eps=1e-8), lambda s, e: s / e),
        ("logit", lambda g: LogitTransform(alpha=1e-6), lambda s, e: s / e),
        ("layer_fractions", lambda g: LayerFractions(g), lambda s, e: s),
        ("standardize", lambda g: Standardize(), lambda s, e: s),
    ]


@pytest.mark.parametrize("geometry", GEOMETRIES)
@pytest.mark.parametrize("case", _single_stage_cases(), ids=lambda c: c[0])
def test_single_transform_round_trip(geometry, case):
    _, factory, make_input = case
    showers, energies = make_showers(geometry)
    x = make_input(showers, energies)
    t = factory(geometry).fit(x, energies)
    y = t.forward(x, energies)
    assert y.dtype == np.float64 and np.isfinite(y).all()
    assert not np.array_equal(y, x)  # it did something
    assert_round_trip(t.inverse(y, energies), x)


# -- hypothesis: exact round trips on arbitrary non-negative showers --------------------------------
_ATLAS = get_geometry("atlas266")
_cell = st.one_of(st.just(0.0), st.floats(1e-6, 1e7, allow_nan=False, allow_infinity=False, allow_subnormal=False))


@st.composite
def _showers_and_energies(draw):
    n = draw(st.integers(1, 6))
    cells = draw(hnp.arrays(np.float64, (n, _ATLAS.n_cells), elements=_cell))
    empty_layers = draw(hnp.arrays(np.bool_, (n, len(_ATLAS.layers))))
    cells = cells * np.repeat(~empty_layers, _ATLAS.layer_sizes, axis=1)
    energies = draw(hnp.arrays(np.float64, (n, 1), elements=st.floats(1.0, 1e7, allow_subnormal=False)))
    return cells, energies


@settings(max_examples=60, deadline=None)
@given(_showers_and_energies())
def test_layer_fractions_round_trip_property(data):
    cells, energies = data
    t = LayerFractions("atlas266")
    y = t.forward(cells, energies)
    assert y.shape == (cells.shape[0], t.output_dim)
    np.testing.assert_allclose(t.inverse(y, energies), cells, rtol=1e-12, atol=0)


@settings(max_examples=60, deadline=None)
@given(_showers_and_energies())
def test_log_round_trip_property(data):
    cells, energies = data
    t = LogTransform()
    # exp/log are good to ~1e-16 of (x + eps); with eps = 1e-6 that is < 1e-18 absolute for zeros.
    np.testing.assert_allclose(t.inverse(t.forward(cells)), cells, rtol=1e-12, atol=1e-18)
    pipe = Pipeline([LayerFractions("atlas266"), LogTransform()])
    back = pipe.inverse(pipe.forward(cells, energies), energies)
    # Log keeps each column to a few ulp of (column + eps), ~1e-21 absolute: a cell inherits that
    # error times E_inc (through its layer-energy column) and times its layer energy (through
    # its within-layer fraction). Relative precision is lost only where those are far above it.
    atol = 1e-20 * max(energies.max(), _ATLAS.layer_energies(cells).max())
    np.testing.assert_allclose(back, cells, rtol=1e-10, atol=atol)


# -- LayerFractions ------------------------------------------------------------------------------
@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_layer_fractions_columns(geometry):
    geo = get_geometry(geometry)
    showers, energies = make_showers(geometry, seed=5)
    t = LayerFractions(geometry)
    assert t.n_layers == len(geo.layers) and t.output_dim == len(geo.layers) + geo.n_cells
    y = t.forward(showers, energies)
    assert y.shape == (len(showers), t.output_dim)
    layer_part, cell_part = y[:, : t.n_layers], y[:, t.n_layers :]
    np.testing.assert_allclose(layer_part, geo.layer_energies(showers) / energies, rtol=1e-12)
    np.testing.assert_allclose(layer_part.sum(axis=1), showers.sum(axis=1) / energies[:, 0], rtol=1e-12)
    assert ((cell_part >= 0) & (cell_part <= 1)).all()
    sums = geo.layer_energies(cell_part)
    empty = geo.layer_energies(showers) == 0
    assert empty.any() and (~empty).any()  # the fixture exercises both cases
    np.testing.assert_allclose(sums[~empty], 1.0, rtol=1e-12)
    assert (sums[empty] == 0).all()
    np.testing.assert_array_equal(y[0], 0.0)  # the all-empty shower


def test_layer_fractions_decodes_generated_rows_to_valid_showers():
    geo = get_geometry("atlas266")
    t = LayerFractions("atlas266")
    rng = np.random.default_rng(6)
    y = rng.normal(0.3, 0.3, size=(50, t.output_dim))  # some entries negative, sums != 1
    energies = np.full((50, 1), 1e4)
    cells = t.inverse(y, energies)
    assert (cells >= 0).all()
    # Layer energies are exactly the (clipped) layer-energy columns, unless a layer's fractions all vanished.
    expected = np.maximum(y[:, : t.n_layers], 0) * energies
    alive = geo.layer_energies(np.maximum(y[:, t.n_layers :], 0)) > 0
    np.testing.assert_allclose(geo.layer_energies(cells)[alive], expected[alive], rtol=1e-12)


# -- Standardize -----------------------------------------------------------------------------------
def test_standardize_unit_scale_and_constant_columns():
    showers, energies = make_showers("atlas266", seed=7)
    x = showers.copy()
    x[:, 5] = 0.0  # a cell never hit in the whole data set
    x[:, 9] = 3.5  # a constant non-zero column
    t = Standardize(min_std=1e-8).fit(x, energies)
    y = t.forward(x, energies)
    assert np.isfinite(y).all()
    varying = x.std(axis=0) > 1e-8
    assert varying.sum() > 200
    np.testing.assert_allclose(y[:, varying].mean(axis=0), 0.0, atol=1e-10)
    np.testing.assert_allclose(y[:, varying].std(axis=0), 1.0, rtol=1e-10)
    assert t.std[5] == 1e-8 and t.std[9] == 1e-8
    np.testing.assert_array_equal(y[:, 5], 0.0)
    np.testing.assert_allclose(y[:, 9], 0.0, atol=1e-6)
    assert_round_trip(t.inverse(y, energies), x)
    # A generated value in a constant column decodes close to that constant, not to infinity.
    assert abs(t.inverse(np.ones((1, x.shape[1])))[0, 5]) < 1e-7


def test_standardize_refit_changes_width():
    t = Standardize().fit(np.random.default_rng(8).normal(size=(10, 4)))
    assert t.output_dim == 4
    t.fit(np.ones((3, 7)))
    assert t.output_dim == 7


# -- edge values -------------------------------------------------------------------------------------
def test_logit_tolerance_and_inverse_range():
    t = LogitTransform(alpha=1e-6)
    edge = t.forward(np.array([[-1e-10, 1 + 1e-10, 0.0, 1.0]]))
    assert edge[0, 0] == edge[0, 2] and edge[0, 1] == edge[0, 3]
    np.testing.assert_allclose(edge[0, 2:], [np.log(1e-6 / (1 - 1e-6)), np.log((1 - 1e-6) / 1e-6)], rtol=1e-12)
    back = t.inverse(np.array([[-1e4, -50.0, 0.0, 50.0, 1e4]]))
    np.testing.assert_allclose(back, [[0.0, 0.0, 0.5, 1.0, 1.0]], atol=1e-12)


def test_log_inverse_clips_below_eps():
    t = LogTransform(eps=1e-6)
    back = t.inverse(np.array([[-1e3, np.log(1e-7), np.log(1e-6)]]))
    np.testing.assert_array_equal(back[0, :2], 0.0)
    assert abs(back[0, 2]) < 1e-20
    with pytest.raises(DataError, match="overflows"):
        t.inverse(np.array([[1e3]]))


# -- bad input -----------------------------------------------------------------------------------
def _valid_cases():
    """(transform, valid forward input, valid inverse input) on 4 showers."""
    showers, energies = make_showers("atlas266", n=4, seed=9)
    frac = LayerFractions("atlas266")
    fitted = Standardize().fit(showers, energies)
    pipe = Pipeline([LayerFractions("atlas266"), LogitTransform(), Standardize()]).fit(showers, energies)
    return energies, [
        (EnergyNormalize(), showers, showers),
        (LogTransform(), showers, showers),
        (LogitTransform(), showers / energies, showers),
        (frac, showers, frac.forward(showers, energies)),
        (fitted, showers, showers),
        (pipe, showers, pipe.forward(showers, energies)),
    ]


_ENERGIES, _CASES = _valid_cases()
_CASE_IDS = [c[0].type_name for c in _CASES]



@pytest.mark.parametrize("direction", ["forward", "inverse"])
@pytest.mark.parametrize("case", _CASES, ids=_CASE_IDS)
def test_shape_and_value_errors(case, direction):
    t, x_fwd, x_inv = case
    x = x_fwd if direction == "forward" else x_inv
    call = getattr(t, direction)
    e = _ENERGIES
    name = t.type_name

    _expect_data_error(lambda: call(x[0], e), "must be a 2-D array", name)
    _expect_data_error(lambda: call(x[None], e), "must be a 2-D array", name)
    _expect_data_error(lambda: call(x, e[:3]), "input has 4 rows but incident energies have 3", name)
    _expect_data_error(lambda: call(x, np.ones((4, 2))), r"shape \(N, 1\) or \(N,\)", name)
    _expect_data_error(lambda: call(x.astype(str), e), "must be numeric", name)

    bad = x.copy()
    bad[2, 7] = np.nan
    _expect_data_error(lambda: call(bad, e), r"contains 1 non-finite value\(s\) \(first: nan at row 2, column 7\)", name)
    bad_e = e.copy()
    bad_e[1] = np.inf
    _expect_data_error(lambda: call(x, bad_e), "incident energies contains 1 non-finite", name)
    bad_e = e.copy()
    bad_e[[1, 3]] = [[0.0], [-5.0]]
    _expect_data_error(lambda: call(x, bad_e), r"must be > 0 MeV; 2 are not \(first: 0.0 at row 1\)", name)


@pytest.mark.parametrize("t", [EnergyNormalize(), LayerFractions("atlas266")], ids=lambda t: t.type_name)
def test_energy_dependent_transforms_need_energies(t):
    x = np.ones((2, 266))
    _expect_data_error(lambda: t.forward(x), "incident energies .* are required", t.type_name)
    _expect_data_error(lambda: Pipeline([t]).forward(x), "incident energies .* are required", "Pipeline")


def test_log_rejects_negative_input():
    x = np.ones((3, 5))
    x[0, 1] = x[2, 2] = x[2, 4] = -0.5
    _expect_data_error(lambda: LogTransform().forward(x), "3 value.s. are negative", "LogTransform")


def test_logit_rejects_values_outside_unit_interval():
    x = np.full((2, 4), 0.5)
    x[0, 0], x[1, 3] = -1e-6, 1.01
    _expect_data_error(lambda: LogitTransform().forward(x), r"2 value\(s\) are outside", "LogitTransform")


def test_layer_fractions_rejects_wrong_width_and_negative_cells():
    t = LayerFractions("atlas266")
    e = np.ones((2, 1))
    _expect_data_error(lambda: t.forward(np.ones((2, 504)), e), "must have 266 columns", "LayerFractions")
    _expect_data_error(lambda: t.inverse(np.ones((2, 266)), e), "must have 270 columns", "LayerFractions")
    x = np.ones((2, 266))
    x[1, 100] = -1.0
    _expect_data_error(lambda: t.forward(x, e), "1 value.s. are negative", "LayerFractions")


def test_standardize_before_fit_and_wrong_width():
    t = Standardize()
    for call in (t.forward, t.inverse):
        with pytest.raises(ConfigError, match="call fit first"):
            call(np.ones((2, 3)))
    with pytest.raises(ConfigError, match="call fit first"):
        Pipeline([LogTransform(), Standardize()]).forward(np.ones((2, 3)))
    _expect_data_error(lambda: t.fit(np.ones((0, 3))), "cannot fit on 0 rows", "Standardize")
    t.fit(np.ones((4, 3)))
    _expect_data_error(lambda: t.forward(np.ones((2, 5))), "must have 3 columns", "Standardize")


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: EnergyNormalize(scale=0), "scale must be a finite number > 0"),
        (lambda: EnergyNormalize(scale=float("nan")), "scale must be"),
        (lambda: LogTransform(eps="small"), "eps must be"),
        (lambda: LogitTransform(alpha=0.0), r"alpha must be in \(0, 0.5\)"),
        (lambda: LogitTransform(alpha=0.5), r"alpha must be in \(0, 0.5\)"),
        (lambda: Standardize(min_std=-1), "min_std must be"),
        (lambda: Pipeline([LogTransform(), "Standardize"]), "stage 1 is not a Transform"),
        (lambda: Pipeline(LogTransform()), "takes a list of transforms"),
    ],
)
def test_bad_parameters_raise_config_error(make, match):
    with pytest.raises(ConfigError, match=match):
        make()


def test_unknown_geometry():
    with pytest.raises(GeometryError, match="unknown geometry 'nope'"):
        LayerFractions("nope")
