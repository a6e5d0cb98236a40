"""Hessian uncertainties against closed-form linear least squares.

Reference: for a linear model ``y = J theta`` with data covariance ``C`` and
``chi2 = r^T C^-1 r``, the parameter covariance is exactly ``(J^T C^-1 J)^-1``
(generalised least squares), computed here with numpy.
"""

import json
import math

import jax.numpy as jnp
import numpy as np
import pytest

import jaxfit  # noqa: F401  (switches on float64)
from jaxfit.core.params import Param, ParamSpec
from jaxfit.core.uncertainty import hessian_uncertainty

N_POINTS = 20
X = np.linspace(0.5, 3.0, N_POINTS)  # asymmetric, so no covariance entry is exactly zero


def _data_covariance():
    """SPD, non-diagonal: AR(1) correlation 0.5 with point-dependent sigmas."""
    sigma = 0.1 + 0.05 * X
    index = np.arange(N_POINTS)
    rho = 0.5 ** np.abs(index[:, None] - index[None, :])
    return rho * np.outer(sigma, sigma)


def _gls(design, y, cov):
    """Generalised least-squares estimate and its covariance (the reference)."""
    precision = np.linalg.inv(cov)
    fisher = design.T @ precision @ design
    param_cov = np.linalg.inv(fisher)
    return param_cov @ design.T @ precision @ y, param_cov


def _chi2(model, y, cov):
    precision = jnp.asarray(np.linalg.inv(cov))

    def chi2(params):
        r = jnp.asarray(y) - model(params)
        return r @ precision @ r

    return chi2


@pytest.fixture(scope="module")
def quadratic():
    """y = a + b x + c x^2 with correlated noise; returns (fun, spec, best, reference cov)."""
    rng = np.random.default_rng(1)
    cov = _data_covariance()
    design = np.stack([np.ones_like(X), X, X**2], axis=1)
    y = design @ np.array([1.0, -2.0, 0.5]) + rng.multivariate_normal(np.zeros(N_POINTS), cov)
    theta, reference = _gls(design, y, cov)
    spec = ParamSpec.from_dict({"a": 0.0, "b": 0.0, "c": 0.0})
    fun = _chi2(lambda p: p["a"] + p["b"] * X + p["c"] * X**2, y, cov)
    return fun, spec, dict(zip("abc", theta, strict=True)), reference


def test_linear_least_squares_covariance_matches_gls(quadratic):
    fun, spec, best, reference = quadratic
    result = hessian_uncertainty(fun, spec, best)
    # tolerance: 1e-8 relative, per element
    np.testing.assert_allclose(result.covariance, reference, rtol=1e-8)
    sigma = np.sqrt(np.diag(reference))
    np.testing.assert_allclose(result.correlation, reference / np.outer(sigma, sigma), rtol=1e-8)
    for i, name in enumerate("abc"):
        assert math.isclose(result.errors[name], sigma[i], rel_tol=1e-8)
    assert result.names == ("a", "b", "c")
    assert result.unconstrained == ()
    assert result.best == pytest.approx(best, rel=0, abs=0)


def test_nll_kind_gives_same_covariance(quadratic):
    fun, spec, best, reference = quadratic
    result = hessian_uncertainty(lambda p: 0.5 * fun(p), spec, best, kind="nll")
    np.testing.assert_allclose(result.covariance, reference, rtol=1e-8)  # 1e-8 relative


def test_frozen_parameter_excluded_and_taken_from_spec(quadratic):
    fun, spec, best, _ = quadratic
    frozen = spec.freeze(["c"], {"c": best["c"]})
    result = hessian_uncertainty(fun, frozen, best)
    # reference: GLS covariance with c known = inverse of the (a, b) block of the Fisher matrix
    cov = _data_covariance()
    design = np.stack([np.ones_like(X), X], axis=1)
    reference = np.linalg.inv(design.T @ np.linalg.inv(cov) @ design)
    assert result.names == ("a", "b")
    np.testing.assert_allclose(result.covariance, reference, rtol=1e-8)  # 1e-8 relative
    with pytest.raises(ValueError, match="frozen parameters"):
        hessian_uncertainty(fun, frozen, {**best, "c": best["c"] + 1.0})


def test_degenerate_sum_flags_both_and_not_the_constrained_one():
    """y = (a + b) x + c: a and b are flagged; c's error equals the fit of y = s x + c."""
    rng = np.random.default_rng(2)
    cov = _data_covariance()
    y = 1.5 * X + 0.3 + rng.multivariate_normal(np.zeros(N_POINTS), cov)
    spec = ParamSpec.from_dict({"a": 1.0, "b": 0.5, "c": 0.0})
    fun = _chi2(lambda p: (p["a"] + p["b"]) * X + p["c"], y, cov)
    result = hessian_uncertainty(fun, spec, {"a": 1.0, "b": 0.5, "c": 0.3})

    assert result.unconstrained == ("a", "b")
    assert result.errors["a"] == math.inf and result.errors["b"] == math.inf
    _, reference = _gls(np.stack([X, np.ones_like(X)], axis=1), y, cov)
    # tolerance 1e-8 relative: the null direction (1, -1, 0) has no c component
    assert math.isclose(result.errors["c"], math.sqrt(reference[1, 1]), rel_tol=1e-8)
    assert np.isinf(result.covariance[0, 0]) and np.isnan(result.covariance[0, 2])
    assert np.isnan(result.correlation[2, 0]) and result.correlation[0, 0] == 1.0
    assert result.eigenvalues[0] <= 1e-10 * result.eigenvalues[-1]
    assert result.table()["unconstrained"].tolist() == [True, True, False]


def test_parameter_absent_from_model_is_flagged():
    """y = a x + 0 b: only b is flagged, a keeps its one-parameter GLS error."""
    rng = np.random.default_rng(3)
    cov = _data_covariance()
    y = 2.0 * X + rng.multivariate_normal(np.zeros(N_POINTS), cov)
    spec = ParamSpec.from_dict({"a": 1.0, "b": 0.0})
    fun = _chi2(lambda p: p["a"] * X + 0.0 * p["b"], y, cov)
    result = hessian_uncertainty(fun, spec, {"a": 2.0, "b": 0.0})

    assert result.unconstrained == ("b",)
    _, reference = _gls(X[:, None], y, cov)
    assert math.isclose(result.errors["a"], math.sqrt(reference[0, 0]), rel_tol=1e-8)


def test_badly_scaled_parameter_is_constrained():
    """y = h + (R / 1e9) x with R ~ 1e9: F's raw eigenvalue ratio is ~1e-18, but R is
    well measured. Reference: the GLS covariance in (h, r = R / 1e9), rescaled exactly."""
    rng = np.random.default_rng(4)
    cov = _data_covariance()
    y = 67.0 + 1.0 * X + rng.multivariate_normal(np.zeros(N_POINTS), cov)
    spec = ParamSpec.from_dict({"h": (67.0, 0.0, 200.0), "R": (1e9, 0.0, 1e12)})
    fun = _chi2(lambda p: p["h"] + p["R"] * 1e-9 * X, y, cov)
    (h, r), reference = _gls(np.stack([np.ones_like(X), X], axis=1), y, cov)
    result = hessian_uncertainty(fun, spec, {"h": h, "R": r * 1e9})

    assert result.unconstrained == ()
    scale = np.array([1.0, 1e9])
    # tolerance: 1e-8 relative, per element
    np.testing.assert_allclose(result.covariance, reference * np.outer(scale, scale), rtol=1e-8)


def test_hessian_finite_at_bound():
    """chi2 = ((p - 0.3) / 0.1)^2 taken at p on its lower bound 0: error exactly 0.1."""
    spec = ParamSpec([Param("p", 0.5, 0.0, 1.0), Param("q", 0.0)])
    result = hessian_uncertainty(
        lambda v: ((v["p"] - 0.3) / 0.1) ** 2 + v["q"] ** 2, spec, {"p": 0.0, "q": 0.0}
    )
    assert math.isclose(result.errors["p"], 0.1, rel_tol=1e-12)
    assert math.isclose(result.errors["q"], 1.0, rel_tol=1e-12)


def test_non_finite_hessian_names_the_parameter():
    spec = ParamSpec([Param("p", 0.5, 0.0, 1.0), Param("q", 0.0)])
    with pytest.raises(ValueError, match=r"not finite.*\['p'\]"):
        hessian_uncertainty(lambda v: jnp.sqrt(v["p"]) + v["q"] ** 2, spec, {"p": 0.0, "q": 0.0})


def test_bad_inputs(quadratic):
    fun, spec, best, _ = quadratic
    with pytest.raises(KeyError, match="nope"):
        hessian_uncertainty(fun, spec, {**best, "nope": 1.0})
    with pytest.raises(KeyError, match="'c'"):
        hessian_uncertainty(fun, spec, {"a": 1.0, "b": 1.0})
    with pytest.raises(ValueError, match="chi2, nll"):
        hessian_uncertainty(fun, spec, best, kind="chi")


def test_to_dict_is_json_and_table_columns():
    spec = ParamSpec.from_dict({"a": 1.0, "b": 0.0})
    result = hessian_uncertainty(lambda p: (p["a"] - 1.0) ** 2, spec, {"a": 1.0, "b": 0.0})
    payload = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert payload["errors"] == {"a": pytest.approx(1.0, rel=1e-12), "b": None}  # F = H/2 = 1
    assert payload["unconstrained"] == ["b"]
    assert list(result.table().columns) == ["name", "value", "error", "unconstrained"]


def test_error_wider_than_the_bounds_is_flagged():
    # chi2 = (a - 1)^2 / 0.1^2 + (b / 10)^2: sigma_b = 10 exceeds b's whole range [-2, 2]
    spec = ParamSpec([Param("a", 1.0, -5.0, 5.0), Param("b", 0.0, -2.0, 2.0)])
    result = hessian_uncertainty(
        lambda p: ((p["a"] - 1.0) / 0.1) ** 2 + (p["b"] / 10.0) ** 2, spec, {"a": 1.0, "b": 0.0}
    )
    assert result.unconstrained == ("b",)
    assert result.errors["b"] == math.inf
    np.testing.assert_allclose(result.errors["a"], 0.1, rtol=1e-12)  # analytic


def test_default_hessian_equals_exact_for_a_curved_degenerate_objective():
    """A non-quadratic chi2 with one direction the data barely see (curvature 1e-14 of the
    others): the default Hessian (central differences of the compiled gradient) reports the
    same unconstrained parameter, errors and correlations as jax.hessian, to 1e-7."""
    spec = ParamSpec.from_dict({"a": 1.0, "b": 2.0, "c": 0.5, "d": 1.0})

    def chi2(p):
        return (((p["a"] - 1.1) / 0.1) ** 2 + ((p["a"] * p["b"] - 2.3) / 0.2) ** 2
                + ((jnp.exp(0.5 * p["a"]) - p["d"]) / 0.05) ** 2
                + 1e-14 * jnp.sin(3.0 * p["c"]) ** 2)

    best = {"a": 1.1, "b": 2.3 / 1.1, "c": 0.3, "d": math.exp(0.55)}
    exact = hessian_uncertainty(chi2, spec, best, hessian="exact")
    default = hessian_uncertainty(chi2, spec, best)
    assert default.unconstrained == exact.unconstrained == ("c",)
    for name in ("a", "b", "d"):
        assert default.errors[name] == pytest.approx(exact.errors[name], rel=1e-7)
    kept = [0, 1, 3]
    np.testing.assert_allclose(default.correlation[np.ix_(kept, kept)],
                               exact.correlation[np.ix_(kept, kept)], rtol=0, atol=1e-7)
