"""Objectives that take their data compile once per shape (issue 12).

A compiled program must depend only on the shapes and dtypes of the data, the frozen values
and the starts: a second fit on other data of the same shapes, a scan at other frozen values
or the same fit repeated from Python traces nothing new. The objective below counts its own
traces (a Python side effect runs only while JAX traces), so a recompilation shows up as a
new trace.
"""

import jax
import numpy as np
import pytest

import jaxfit  # noqa: F401  (switches on float64)
from jaxfit.core.optimize import minimize
from jaxfit.core.params import Param, ParamSpec
from jaxfit.core.sampling import sample_nuts
from jaxfit.core.scan import scan
from jaxfit.core.uncertainty import hessian_uncertainty, objective_hessian

TRACES = {"n": 0}


def line_chi2(p, data):
    """chi2 of a straight line y = slope x + offset to points (x, y) with errors sigma."""
    TRACES["n"] += 1
    model = p["slope"] * data["x"] + p["offset"]
    return jax.numpy.sum(((data["y"] - model) / data["sigma"]) ** 2)


SPEC = ParamSpec([Param("slope", 1.0, -10.0, 10.0), Param("offset", 0.0, -10.0, 10.0)])


def _data(slope, offset, n=20, seed=0):
    x = np.linspace(0.0, 1.0, n)
    noise = np.random.default_rng(seed).normal(0.0, 0.1, n)
    return {"x": x, "y": slope * x + offset + noise, "sigma": np.full(n, 0.1)}


def _traces_of(run):
    before = TRACES["n"]
    result = run()
    return result, TRACES["n"] - before


def test_fit_on_other_data_of_same_shape_compiles_nothing_new():
    first, traced = _traces_of(lambda: minimize(line_chi2, SPEC, data=_data(2.0, 1.0),
                                                n_starts=4, progress=False))
    assert traced > 0 and first.success
    again, traced = _traces_of(lambda: minimize(line_chi2, SPEC, data=_data(2.0, 1.0),
                                                n_starts=4, progress=False))
    assert traced == 0
    assert again.fun == first.fun
    other, traced = _traces_of(lambda: minimize(line_chi2, SPEC, data=_data(-3.0, 0.5, seed=1),
                                                n_starts=4, progress=False))
    assert traced == 0
    # the other data moved the optimum: the data really are an argument, not a constant
    assert other.x["slope"] == pytest.approx(-3.0, abs=0.3)
    assert first.x["slope"] == pytest.approx(2.0, abs=0.3)


def test_scan_at_other_frozen_values_and_data_compiles_nothing_new():
    grid = {"slope": np.linspace(1.0, 3.0, 5)}
    first, _ = _traces_of(lambda: scan(line_chi2, SPEC, grid, data=_data(2.0, 1.0),
                                       n_starts=2, progress=False))
    moved = {"slope": np.linspace(1.5, 3.5, 5)}
    second, traced = _traces_of(lambda: scan(line_chi2, SPEC, moved, data=_data(2.2, 0.8),
                                             n_starts=2, progress=False, global_fit=False))
    assert traced == 0
    assert not np.allclose(first.chi2, second.chi2)


def test_profile_over_another_range_reuses_the_global_fit():
    """Bounds are arguments too: the global fit inside another grid range (narrowed bounds)
    and a fit with other bounds of the same kinds reuse the compiled solvers."""
    data = _data(2.0, 1.0)
    scan(line_chi2, SPEC, {"slope": np.linspace(1.0, 3.0, 5)}, data=data, n_starts=2,
         progress=False)
    moved, traced = _traces_of(lambda: scan(line_chi2, SPEC, {"slope": np.linspace(1.8, 2.6, 5)},
                                            data=data, n_starts=2, progress=False))
    assert traced == 0
    assert 1.8 <= moved.global_fit.x["slope"] <= 2.6
    # the 4-start fit on the full bounds first, so this test does not depend on which tests
    # ran before it on this worker
    minimize(line_chi2, SPEC, data=data, n_starts=4, progress=False)
    narrow = SPEC.replace("offset", lower=0.0, upper=0.5)
    fit, traced = _traces_of(lambda: minimize(line_chi2, narrow, data=data, n_starts=4,
                                              progress=False))
    assert traced == 0
    # the narrowed bound is respected: the free optimum (offset ~ 1) is outside it
    assert fit.x["offset"] == pytest.approx(0.5, abs=1e-6)


def test_hessian_on_other_data_compiles_nothing_new():
    data = _data(2.0, 1.0)
    fit = minimize(line_chi2, SPEC, data=data, progress=False)
    hessian_uncertainty(line_chi2, SPEC, fit.x, data=data)
    other = _data(1.0, -1.0, seed=2)
    _, traced = _traces_of(lambda: hessian_uncertainty(line_chi2, SPEC, fit.x, data=other))
    assert traced == 0


def test_central_difference_hessian_equals_exact():
    """The default Hessian (Richardson central differences of the compiled gradient) equals
    jax.hessian; for a quadratic chi2 the differences are exact up to rounding."""
    data = _data(2.0, 1.0)
    x = np.array([1.7, 0.9])
    exact = objective_hessian(line_chi2, SPEC, x, data=data, method="exact")
    by_differences = objective_hessian(line_chi2, SPEC, x, data=data, method="differences")
    np.testing.assert_allclose(by_differences, exact, rtol=1e-9)
    # analytic: H = 2 sum([x^2, x; x, 1] / sigma^2)
    w = 1.0 / data["sigma"] ** 2
    analytic = 2.0 * np.array([[np.sum(w * data["x"] ** 2), np.sum(w * data["x"])],
                               [np.sum(w * data["x"]), np.sum(w)]])
    np.testing.assert_allclose(exact, analytic, rtol=1e-12)


def test_nuts_with_data_matches_the_line_posterior():
    data = _data(2.0, 1.0)
    draws = sample_nuts(line_chi2, SPEC, data=data, num_chains=1, num_warmup=200,
                        num_samples=400, progress=False)
    errors = hessian_uncertainty(line_chi2, SPEC, minimize(line_chi2, SPEC, data=data,
                                                           progress=False).x, data=data)
    # flat prior, Gaussian likelihood: posterior std = Hessian error (to sampling noise)
    assert np.std(draws.samples["slope"]) == pytest.approx(errors.errors["slope"], rel=0.25)
