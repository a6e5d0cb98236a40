"""Tests of jaxfit.core.diagnostics: the fit status on toy objectives whose answer is known
in closed form (tolerances in each test)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import jaxfit  # noqa: F401  (float64)
from jaxfit.core.diagnostics import combination, fit_status
from jaxfit.core.optimize import minimize
from jaxfit.core.params import Param, ParamSpec


def sum_only(p):
    """a and b enter only as a + b (chi2 flat along a - b); c is well constrained."""
    return (p["a"] + p["b"] - 3.0) ** 2 + ((p["c"] - 1.0) / 0.1) ** 2


def double_well(p, tilt):
    """Minima near x = -2 and x = +2, the left one lower by about 4 tilt."""
    return (p["x"] ** 2 - 4.0) ** 2 + tilt * p["x"]


WELL = ParamSpec([Param("x", 0.5, -3.0, 3.0)])


def test_sum_degeneracy_is_reported_naming_both():
    spec = ParamSpec([Param(n, 0.2, -10.0, 10.0) for n in ("a", "b", "c")])
    fit = minimize(sum_only, spec, progress=False)
    status = fit_status(sum_only, spec, fit)
    assert status.converged and status.verdict == "degenerate"
    (direction,) = status.degenerate
    # the flat direction is a - b: unit steps of opposite sign, to 1e-6
    assert set(direction) == {"a", "b"}
    assert direction["a"] == pytest.approx(-direction["b"], abs=1e-6)
    assert abs(direction["a"]) == pytest.approx(1.0, abs=1e-6)
    # c is constrained: sigma = 0.1 (chi2 = ((c - 1) / 0.1)^2), to 1e-6 relative
    assert status.errors["c"] == pytest.approx(0.1, rel=1e-6)
    text = status.summary()
    assert "degenerate" in text and combination(direction) in text and "passed" not in text


def test_start_agreement_on_a_double_well():
    # tilt 0.5: the wells differ by about 2 in chi2, so only the left one agrees with the best
    fit = minimize(double_well, WELL, data=0.5, n_starts=12, progress=False)
    status = fit_status(double_well, WELL, fit, data=0.5)
    ends = fit.starts["x"].to_numpy()
    left = np.abs(ends + 2.0) < 0.1
    assert 0 < left.sum() < len(ends) and np.all(left | (np.abs(ends - 2.0) < 0.1))
    assert status.n_agree == left.sum() and status.n_starts == 12
    assert status.spread["x"] == pytest.approx((ends[left].min(), ends[left].max()), abs=1e-12)
    # curvature f'' = 12 x^2 - 16 at the optimum: sigma = sqrt(2 / f''), to 1e-6 relative
    x = status.best["x"]
    assert status.errors["x"] == pytest.approx(np.sqrt(2.0 / (12.0 * x**2 - 16.0)), rel=1e-6)
    assert status.not_unique == () and status.verdict == "converged"

    # tilt 0.1: the wells differ by about 0.8 < 1, so every start agrees and the optimum is
    # not unique (they sit 4 apart, 16 sigma)
    fit = minimize(double_well, WELL, data=0.1, n_starts=12, progress=False)
    status = fit_status(double_well, WELL, fit, data=0.1)
    assert status.n_agree == 12 and status.not_unique == ("x",)
    assert status.spread["x"][1] - status.spread["x"][0] == pytest.approx(4.0, abs=0.1)
    assert "NOT unique" in status.summary()
    # the same fit with one unit of chi2 = 0.1 of the objective: the wells separate again
    assert fit_status(double_well, WELL, fit, data=0.1, loss_scale=0.1).n_agree < 12


def test_not_converged_fit_never_reads_converged(tmp_path):
    spec = ParamSpec([Param("x", -1.5, -5.0, 5.0), Param("y", 2.0, -5.0, 5.0)])

    def rosenbrock(p):
        return (1.0 - p["x"]) ** 2 + 100.0 * (p["y"] - p["x"] ** 2) ** 2

    fit = minimize(rosenbrock, spec, maxiter=3, progress=False)
    status = fit_status(rosenbrock, spec, fit)
    assert not status.converged and status.verdict == "NOT converged"
    assert status.summary().startswith("fit status: NOT converged")
    saved = json.loads(status.save(tmp_path)["json"].read_text())
    assert saved["converged"] is False and saved["verdict"] == "NOT converged"


def test_parameter_on_a_bound_is_held_there():
    spec = ParamSpec([Param("x", 0.0, -3.0, 3.0), Param("y", 0.0, -3.0, 3.0)])

    def pulled(p):
        # x wants 5, beyond its bound 3; y is a chi2 with sigma 0.5
        return (p["x"] - 5.0) ** 2 + ((p["y"] - 1.0) / 0.5) ** 2

    fit = minimize(pulled, spec, method="lbfgs-box", progress=False)
    status = fit_status(pulled, spec, fit)
    assert status.at_bounds == {"x": "upper"}
    assert set(status.errors) == {"y"} and status.errors["y"] == pytest.approx(0.5, rel=1e-6)
    assert "x (upper)" in status.summary()
    with pytest.raises(ValueError, match="loss_scale"):
        fit_status(pulled, spec, fit, loss_scale=0.0)
    frame = status.to_frame().set_index("parameter")
    assert frame.loc["x", "at_bound"] == "upper" and np.isnan(frame.loc["x", "error"])


def test_a_given_hessian_is_reused_when_nothing_is_pinned(monkeypatch):
    """uncertainty= (the caller's Hessian at the optimum) gives the same errors and flat
    direction as the status's own Hessian, to 1e-9 relative, without taking a second one."""
    from jaxfit.core import diagnostics
    from jaxfit.core.uncertainty import hessian_uncertainty

    spec = ParamSpec([Param(n, 0.2, -10.0, 10.0) for n in ("a", "b", "c")])
    fit = minimize(sum_only, spec, progress=False)
    own = fit_status(sum_only, spec, fit)
    given = hessian_uncertainty(sum_only, spec, fit.x, rel_tol=diagnostics.DEGENERATE_RTOL)
    calls = []
    original = diagnostics.hessian_uncertainty
    monkeypatch.setattr(diagnostics, "hessian_uncertainty",
                        lambda *a, **k: calls.append(1) or original(*a, **k))
    reused = fit_status(sum_only, spec, fit, uncertainty=given)
    assert calls == []
    assert reused.errors["c"] == pytest.approx(own.errors["c"], rel=1e-9)
    assert len(reused.degenerate) == len(own.degenerate) == 1
    assert reused.verdict == own.verdict == "degenerate"
