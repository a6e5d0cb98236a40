"""Tests of jaxfit.core.scan against the analytic profile likelihood of a 2-D Gaussian.

chi2(a, b) = r^T C^-1 r with r = (a - mu_a, b - mu_b) and a correlated covariance C. Then
(analytic):

- the profile over b is chi2_p(a) = (a - mu_a)^2 / C_aa, so the 1-sigma interval of a is
  mu_a +- sqrt(C_aa);
- the profiled b at fixed a is the conditional mean mu_b + C_ba / C_aa (a - mu_a);
- the 2-D delta-chi2 is the quadratic form itself (its minimum is 0).

The grids span the spec's bounds exactly, so the global fit that anchors delta-chi2 runs on a
spec equal to SPEC and shares its compiled solver across tests.
"""

import json
import math

import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

import jaxfit  # noqa: F401  (switches on float64)
from jaxfit.core.params import Param, ParamSpec
from jaxfit.core.scan import CONTOUR_LEVELS_2D, ScanResult, parse_grid, scan

MU = np.array([0.7, -0.4])
COV = np.array([[0.04, 0.03], [0.03, 0.09]])  # correlation 0.5
COV_INV = np.linalg.inv(COV)
SIGMA_A = math.sqrt(COV[0, 0])


def gaussian_chi2(p):
    r = jnp.stack([p["a"] - MU[0], p["b"] - MU[1]])
    return r @ COV_INV @ r


def _numpy_chi2(a, b):
    """Independent numpy evaluation of the same quadratic form (broadcasting)."""
    ra, rb = np.asarray(a) - MU[0], np.asarray(b) - MU[1]
    return COV_INV[0, 0] * ra**2 + 2.0 * COV_INV[0, 1] * ra * rb + COV_INV[1, 1] * rb**2


SPEC = ParamSpec([Param("a", 0.5, 0.0, 1.5), Param("b", 0.0, -1.5, 1.0)])
# 14 points: a step of 0.115, so neither 1-sigma end (0.5, 0.9) falls on a grid point
GRID_A = np.linspace(0.0, 1.5, 14)
GRID_2D = {"a": np.linspace(0.0, 1.5, 7), "b": np.linspace(-1.5, 1.0, 6)}
N_STARTS = 4


# ----------------------------------------------------------------------- 1-D profile
def test_profile_1d_is_analytic(tmp_path):
    """One scan (one compiled program) checked against every analytic property."""
    res = scan(gaussian_chi2, SPEC, {"a": GRID_A}, n_starts=N_STARTS, progress=False)
    assert res.names == ("a",) and res.profile and res.n_starts == N_STARTS
    np.testing.assert_array_equal(res.axes[0], GRID_A)

    # profile chi2_p(a) = (a - mu_a)^2 / C_aa, and the nuisance at its conditional mean
    np.testing.assert_allclose(res.chi2, (GRID_A - MU[0]) ** 2 / COV[0, 0], rtol=0, atol=1e-10)
    conditional_b = MU[1] + COV[1, 0] / COV[0, 0] * (GRID_A - MU[0])
    np.testing.assert_allclose(res.best["b"], conditional_b, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(res.best["a"], GRID_A)
    assert res.all_converged and np.all(np.isin(res.status, (0, 1)))
    assert res.status.shape == res.n_converged.shape == (len(GRID_A),)
    assert np.all(res.n_converged >= 1) and np.all(res.n_converged <= N_STARTS)

    # 1-sigma interval mu_a +- sqrt(C_aa); the module doc promises it exact for a Gaussian
    # on any grid, so 1e-6 (<< the 1e-3 of the issue)
    low, high = res.interval()
    assert low == pytest.approx(MU[0] - SIGMA_A, abs=1e-6)
    assert high == pytest.approx(MU[0] + SIGMA_A, abs=1e-6)
    low2, high2 = res.interval(4.0)  # 2 sigma
    assert low2 == pytest.approx(MU[0] - 2 * SIGMA_A, abs=1e-6)
    assert high2 == pytest.approx(MU[0] + 2 * SIGMA_A, abs=1e-6)

    # the global fit anchors chi2_min at the true minimum 0 at mu
    assert res.global_fit is not None and res.global_fit.success
    np.testing.assert_allclose(res.global_fit.x_free, MU, rtol=0, atol=1e-7)
    assert 0.0 <= res.chi2_min <= 1e-12
    np.testing.assert_allclose(
        res.delta_chi2, (GRID_A - MU[0]) ** 2 / COV[0, 0], rtol=0, atol=1e-10
    )
    assert res.best_point["a"] == pytest.approx(MU[0], abs=1e-7)
    assert res.levels == (1.0,)
    assert res.local_minima() == 1

    # save: json / csv / png that parse back
    paths = res.save(tmp_path / "out", stem="prof", provenance={"seed": 0})
    assert set(paths) == {"json", "csv", "png"}
    with open(paths["json"]) as handle:
        data = json.load(handle)
    assert data["names"] == ["a"] and data["provenance"] == {"seed": 0}
    assert len(data["chi2"]) == len(GRID_A) and len(data["grid"]["a"]) == len(GRID_A)
    np.testing.assert_array_equal(data["chi2"], res.chi2)
    assert data["interval_1sigma"]["low"] == pytest.approx(MU[0] - SIGMA_A, abs=1e-6)
    assert data["local_minima"] == 1 and data["all_converged"] is True
    frame = pd.read_csv(paths["csv"])
    assert len(frame) == len(GRID_A)
    assert {"scan_a", "chi2", "delta_chi2", "status", "n_converged", "a", "b"} <= set(frame)
    np.testing.assert_allclose(frame["scan_a"], GRID_A, rtol=1e-15)
    np.testing.assert_allclose(frame["b"], res.best["b"], rtol=1e-15)
    assert paths["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "prof.csv", "prof.json", "prof.png"
    ]


# ----------------------------------------------------------------------------- 2-D
def test_scan_2d_is_analytic(tmp_path):
    res = scan(gaussian_chi2, SPEC, GRID_2D, n_starts=N_STARTS, progress=False)
    assert res.names == ("a", "b") and res.chi2.shape == (7, 6)
    aa, bb = np.meshgrid(GRID_2D["a"], GRID_2D["b"], indexing="ij")
    np.testing.assert_allclose(res.chi2, _numpy_chi2(aa, bb), rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(res.delta_chi2, _numpy_chi2(aa, bb), rtol=0, atol=1e-8)
    np.testing.assert_array_equal(res.best["a"], aa)
    np.testing.assert_array_equal(res.best["b"], bb)
    assert res.local_minima() == 1
    assert res.levels == (2.30, 6.18, 11.83) == CONTOUR_LEVELS_2D
    assert res.global_fit is not None
    np.testing.assert_allclose(res.global_fit.x_free, MU, rtol=0, atol=1e-7)
    with pytest.raises(ValueError, match=r"interval\(\) is defined for 1-D scans"):
        res.interval()

    frame = res.to_frame()
    assert len(frame) == 42
    # row order is C order of the (a, b) grid
    np.testing.assert_array_equal(frame["scan_a"], aa.ravel())
    np.testing.assert_array_equal(frame["scan_b"], bb.ravel())
    np.testing.assert_allclose(frame["chi2"], _numpy_chi2(aa, bb).ravel(), rtol=1e-13)
    paths = res.save(tmp_path)
    assert len(pd.read_csv(paths["csv"])) == 42
    with open(paths["json"]) as handle:
        data = json.load(handle)
    assert np.asarray(data["chi2"]).shape == (7, 6) and "interval_1sigma" not in data
    assert data["levels"] == [2.30, 6.18, 11.83]
    assert paths["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------- plain grid scan
def test_grid_scan_equals_direct_evaluation():
    res = scan(gaussian_chi2, SPEC, {"a": GRID_A}, profile=False, progress=False)
    b0 = SPEC.defaults["b"]
    np.testing.assert_allclose(res.chi2, _numpy_chi2(GRID_A, b0), rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(res.best["b"], np.full(len(GRID_A), b0))
    assert not res.profile and res.global_fit is None and res.n_starts == 1
    assert res.all_converged
    # delta-chi2 is relative to the grid minimum when there is no global fit
    np.testing.assert_allclose(
        res.delta_chi2, res.chi2 - _numpy_chi2(GRID_A, b0).min(), rtol=0, atol=1e-12
    )


def test_single_point_grid():
    """A one-point grid is a valid scan (parse_grid allows n = 1); there is no global fit
    then, since the scanned parameter would need lower == upper."""
    res = scan(gaussian_chi2, SPEC, {"a": [MU[0]]}, n_starts=N_STARTS, progress=False)
    # the profile at a = mu_a is the global minimum 0, with b at mu_b
    np.testing.assert_allclose(res.chi2, [0.0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(res.best["b"], [MU[1]], rtol=0, atol=1e-6)
    assert res.global_fit is None and res.interval() == (None, None)


def test_profile_of_parameter_frozen_in_spec():
    """Scanning a parameter that the spec freezes: same profile, same anchor (the docstring:
    the global fit has 'the scanned parameters free within the grid range')."""
    res = scan(gaussian_chi2, SPEC.freeze(["a"]), {"a": GRID_A}, n_starts=N_STARTS,
               progress=False)
    np.testing.assert_allclose(res.chi2, (GRID_A - MU[0]) ** 2 / COV[0, 0], rtol=0, atol=1e-10)
    assert res.global_fit is not None
    assert res.global_fit.x["a"] == pytest.approx(MU[0], abs=1e-7)
    assert 0.0 <= res.chi2_min <= 1e-12
    low, high = res.interval()
    assert (low, high) == pytest.approx((MU[0] - SIGMA_A, MU[0] + SIGMA_A), abs=1e-6)


# ---------------------------------------------------------- synthetic ScanResults
def _result_1d(theta, chi2, global_fit=None):
    theta, chi2 = np.asarray(theta, float), np.asarray(chi2, float)
    return ScanResult(
        names=("t",), axes=(theta,), chi2=chi2, best={"t": theta},
        status=np.zeros(len(theta), int), n_converged=np.ones(len(theta), int), n_starts=1,
        profile=True, global_fit=global_fit,
    )


def test_interval_of_offset_gaussian_profile():
    theta = np.linspace(-1.0, 3.0, 9)
    res = _result_1d(theta, ((theta - 1.13) / 0.37) ** 2 + 5.0)  # chi2_min 5 off the grid
    low, high = res.interval()
    # the grid minimum is at theta = 1.0 (delta ~ 0.12 there): the interval of the linear
    # interpolation of sqrt(delta) between grid points, computed by hand
    d = ((theta - 1.13) / 0.37) ** 2 - ((1.0 - 1.13) / 0.37) ** 2
    r = np.sqrt(d)
    lo_expected = theta[4] + (1 - r[4]) / (r[3] - r[4]) * (theta[3] - theta[4])
    assert r[5] < 1.0 < r[6]  # on the right, the crossing is in the second segment
    hi_expected = theta[5] + (1 - r[5]) / (r[6] - r[5]) * (theta[6] - theta[5])
    assert (low, high) == pytest.approx((lo_expected, hi_expected), abs=1e-12)


def test_interval_open_ends_and_minima_count():
    theta = np.linspace(0.0, 1.0, 11)
    flat = _result_1d(theta, 0.5 * (theta - 0.5) ** 2)  # never reaches delta = 1
    assert flat.interval() == (None, None)
    edge = _result_1d(theta, 100.0 * theta**2)  # minimum on the left edge
    low, high = edge.interval()
    assert low is None and high == pytest.approx(0.1, abs=1e-12)
    double = _result_1d(theta, 10.0 * ((theta - 0.5) ** 2 - 0.1) ** 2)
    assert double.local_minima() == 2  # minima at 0.5 +- 0.316 on the grid: 0.2 and 0.8
    with_nan = _result_1d(theta, np.where(theta > 0.75, np.nan, (theta - 0.3) ** 2 * 100))
    assert with_nan.local_minima() == 1
    assert with_nan.interval() == pytest.approx((0.2, 0.4), abs=1e-12)


def test_local_minima_2d_counts_separate_basins():
    x = np.linspace(-2.0, 2.0, 9)
    xx, yy = np.meshgrid(x, x, indexing="ij")
    chi2 = (xx**2 - 1.0) ** 2 + yy**2  # minima at (+-1, 0)
    res = ScanResult(
        names=("x", "y"), axes=(x, x), chi2=chi2, best={"x": xx, "y": yy},
        status=np.zeros(chi2.shape, int), n_converged=np.ones(chi2.shape, int), n_starts=1,
        profile=True,
    )
    assert res.local_minima() == 2
    assert res.levels == CONTOUR_LEVELS_2D


# --------------------------------------------------------------------- parse_grid
def test_parse_grid():
    np.testing.assert_array_equal(parse_grid("0:1:5"), [0.0, 0.25, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(parse_grid("log:1e-3:1:4"), [1e-3, 1e-2, 1e-1, 1.0], rtol=1e-14)
    np.testing.assert_array_equal(parse_grid("-2:2:1"), [-2.0])


@pytest.mark.parametrize(
    "text, match",
    [
        ("0:1", r"grid '0:1': expected 'start:stop:n' or 'log:start:stop:n'"),
        ("a:b:3", r"grid 'a:b:3': expected"),
        ("0:1:2.5", r"grid '0:1:2.5': expected"),
        ("0:1:5:7", r"grid '0:1:5:7': expected"),
        ("", r"grid '': expected"),
        ("0:1:0", r"grid '0:1:0': n must be at least 1"),
        ("log:0:1:3", r"grid 'log:0:1:3': a log grid needs positive start and stop"),
        ("log:-1:1:3", r"a log grid needs positive"),
    ],
)
def test_parse_grid_rejects_bad_strings(text, match):
    with pytest.raises(ValueError, match=match):
        parse_grid(text)


# --------------------------------------------------------------------- bad inputs
@pytest.mark.parametrize(
    "grid, kwargs, error, match",
    [
        ({"c": [0.1, 0.2]}, {}, KeyError, r"unknown scan parameter 'c'; valid names: a, b"),
        ({"a": []}, {}, ValueError, r"grid for 'a' is empty or not 1-D"),
        ({"a": [[0.1, 0.2]]}, {}, ValueError, r"grid for 'a' is empty or not 1-D"),
        ({"a": [0.1, math.nan]}, {}, ValueError, r"grid for 'a' contains NaN or inf"),
        ({"a": [0.3, 0.2]}, {}, ValueError, r"grid for 'a' must be strictly increasing"),
        ({"a": [0.1, 0.1]}, {}, ValueError, r"grid for 'a' must be strictly increasing"),
        ({"a": [-0.5, 1.0]}, {}, ValueError,
         r"grid for 'a' spans \[-0.5, 1.0\], outside the bounds \[0.0, 1.5\]"),
        ({"b": [0.0, 2.0]}, {}, ValueError, r"grid for 'b' spans .* outside the bounds"),
        ({}, {}, ValueError, r"grid must map one or two parameter names"),
        ({"a": [0.1], "b": [0.1], "c": [0.1]}, {}, ValueError, r"one or two parameter"),
        ([0.1, 0.2], {}, ValueError, r"grid must map one or two parameter names"),
        ({"a": [0.1, 0.2]}, {"maxiters": 3}, TypeError, r"unknown solver option\(s\)"),
        ({"a": [0.1, 0.2]}, {"n_starts": 0}, ValueError, r"n_starts must be a positive"),
        ({"a": [0.1, 0.2]}, {"method": "newton"}, ValueError,
         r"method 'newton' has no batched solver"),
    ],
)
def test_scan_bad_inputs(grid, kwargs, error, match):
    with pytest.raises(error, match=match):
        scan(gaussian_chi2, SPEC, grid, progress=False, **kwargs)


# ------------------------------------------------------------------ continuation
# A wide well at b = -1 (chi2 30) and a narrow, deeper one (width 0.05, chi2 ~22) whose
# centre moves with the scanned a by 0.03 per grid step: a fixed start finds the narrow
# well only at the few points where it lies close to the well's centre; a profile
# continued from its neighbours' optima follows the well across the whole grid.
WELL_SPEC = ParamSpec([Param("a", 0.5, 0.0, 1.0), Param("b", 0.0, -3.0, 3.0)])
WELL_GRID = np.linspace(0.0, 1.0, 11)
WELL_WIDTH = 0.05


def _well_centre():
    from jaxfit.core.optimize import sample_starts

    # the one drawn start of n_starts=2 (the other is the default b = 0): the narrow well
    # sits under it at a = 0.5
    return float(sample_starts(WELL_SPEC.freeze(["a"]), 1, seed=0)[0, 0])


def two_wells(p, centre):
    b0 = centre + 0.3 * (p["a"] - 0.5)
    return (30.0 + (p["b"] + 1.0) ** 2
            - 20.0 * jnp.exp(-0.5 * ((p["b"] - b0) / WELL_WIDTH) ** 2))


def test_continuation_reaches_the_best_of_64_independent_starts():
    centre = _well_centre()
    grid = {"a": WELL_GRID}
    run = lambda **kw: scan(two_wells, WELL_SPEC, grid, data=centre, progress=False,  # noqa: E731
                            global_fit=False, **kw)
    reference = run(n_starts=64, continuation=False)
    few = run(n_starts=2, continuation=False)
    continued = run(n_starts=2)
    # the test has teeth: two independent starts miss the narrow well at some points
    assert np.any(few.chi2 > reference.chi2 + 1.0)
    # continuation from 2 starts per point matches 64 independent starts everywhere
    np.testing.assert_allclose(continued.chi2, reference.chi2, rtol=1e-9, atol=0)
    np.testing.assert_allclose(continued.best["b"], reference.best["b"], atol=1e-5)
    assert continued.all_converged


def test_continuation_in_2d_and_its_neighbours():
    from jaxfit.core.scan import _neighbours

    nb = _neighbours((2, 3))
    assert sorted(nb[0][nb[0] >= 0]) == [1, 3, 4]  # corner (0, 0): right, below, diagonal
    assert sorted(nb[4][nb[4] >= 0]) == [0, 1, 2, 3, 5]
    assert sorted(_neighbours((3,))[1]) == [0, 2]
    # on the analytic Gaussian, continuation changes nothing (one basin)
    res = scan(gaussian_chi2, SPEC, GRID_2D, n_starts=N_STARTS, progress=False)
    mesh = np.meshgrid(*GRID_2D.values(), indexing="ij")
    np.testing.assert_allclose(res.chi2, _numpy_chi2(*mesh), rtol=0, atol=1e-10)
