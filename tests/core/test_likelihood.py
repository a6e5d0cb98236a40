"""Tests of jaxfit.core.likelihood against numpy linear algebra and brute-force minimisation."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.optimize

import jaxfit  # noqa: F401  (switches on float64)
from jaxfit.core import likelihood as lk

N = 12


def _rel(actual, expected):
    return abs(float(actual) - float(expected)) / abs(float(expected))


@pytest.fixture(scope="module")
def problem():
    """A small data set: x grid, template E, data m = 1.7 E + 0.4 + noise, sigma, SPD cov."""
    rng = np.random.default_rng(20240611)
    x = np.linspace(0.0, 1.0, N)
    template = np.exp(-(((x - 0.45) / 0.2) ** 2)) + 0.1
    sigma = rng.uniform(0.05, 0.15, size=N)
    a = rng.normal(size=(N, N))
    # correlated errors: a random SPD part on top of the diagonal (condition number ~ 5)
    cov = 0.002 * (a @ a.T) / N + np.diag(sigma**2)
    data = 1.7 * template + 0.4 + sigma * rng.normal(size=N)
    return {"x": x, "template": template, "sigma": sigma, "cov": cov, "data": data}


def _numpy_chi2(residual, p, kind):
    """Reference chi2 in plain numpy: explicit inverse for the covariance case."""
    if kind == "diag":
        return float(np.sum((residual / p["sigma"]) ** 2))
    return float(residual @ np.linalg.inv(p["cov"]) @ residual)


def _errors(p, kind):
    return {"sigma": p["sigma"]} if kind == "diag" else {"chol": lk.cholesky_factor(p["cov"])}


def _brute_force_min(chi2):
    """Minimise a 1-D chi2 by Brent's method, then polish with one exact parabola step.

    A minimiser that only compares function values is guaranteed to locate a minimum only to
    about sqrt(eps) ~ 1e-8 relative: within that distance chi2 changes by less than its
    rounding. That is
    enough for chi2_min (flat there) but not for a 1e-10 test of the nuisance value. chi2
    is exactly quadratic in a linear nuisance, so the vertex of the parabola through three
    points a step h = 0.1 apart is the minimum up to rounding of order eps * chi2 / (chi2''
    h) ~ 1e-14 — still a brute-force evaluation of the same chi2, not the analytic formula.
    """
    brent = scipy.optimize.minimize_scalar(chi2, method="brent", options={"xtol": 1e-14})
    h = 0.1
    lo, mid, hi = chi2(brent.x - h), chi2(brent.x), chi2(brent.x + h)
    vertex = brent.x - h * (hi - lo) / (2.0 * (hi - 2.0 * mid + lo))
    assert abs(vertex - brent.x) < 1e-6 * max(1.0, abs(vertex))  # polish is a local step
    return vertex, chi2(vertex), brent.fun


# ------------------------------------------------------------------ chi2
def test_chi2_cholesky_equals_inverse(problem):
    # reference: r^T inv(C) r with numpy; 1e-10 relative
    r = problem["data"] - problem["template"]
    chol = lk.cholesky_factor(problem["cov"])
    assert _rel(lk.chi2_cholesky(r, chol), _numpy_chi2(r, problem, "cov")) < 1e-10


def test_chi2_cholesky_batched(problem):
    # reference: the unbatched numpy chi2 of each residual; 1e-10 relative
    rng = np.random.default_rng(3)
    r = rng.normal(size=(2, 3, N))
    got = lk.chi2_cholesky(r, lk.cholesky_factor(problem["cov"]))
    expected = np.array([[_numpy_chi2(r[i, j], problem, "cov") for j in range(3)] for i in (0, 1)])
    assert got.shape == (2, 3)
    np.testing.assert_allclose(got, expected, rtol=1e-10)


def test_chi2_diag(problem):
    # reference: sum((r / sigma)^2) in numpy; 1e-14 relative
    r = problem["data"] - problem["template"]
    assert _rel(lk.chi2_diag(r, problem["sigma"]), _numpy_chi2(r, problem, "diag")) < 1e-14


# ------------------------------------------------------------------ profiling
@pytest.mark.parametrize("kind", ["diag", "cov"])
def test_profile_scale_equals_brute_force(problem, kind):
    # reference: 1-D minimisation of the numpy chi2 (see _brute_force_min); 1e-10 relative
    # in both S and chi2_min
    m, e = problem["data"], problem["template"]
    ref_s, ref_chi2, brent_chi2 = _brute_force_min(lambda s: _numpy_chi2(m - s * e, problem, kind))
    s, chi2 = lk.profile_scale(e, m, **_errors(problem, kind))
    assert _rel(s, ref_s) < 1e-10
    assert _rel(chi2, ref_chi2) < 1e-10
    assert _rel(chi2, brent_chi2) < 1e-10
    if kind == "diag":  # reference: the documented closed form; 1e-13 relative
        w = 1.0 / problem["sigma"] ** 2
        assert _rel(s, np.sum(m * e * w) / np.sum(e * e * w)) < 1e-13


@pytest.mark.parametrize("kind", ["diag", "cov"])
def test_profile_offset_equals_brute_force(problem, kind):
    # reference: 1-D minimisation of the numpy chi2; 1e-10 relative in M and chi2_min
    d, model = problem["data"], 1.7 * problem["template"]
    ref_m, ref_chi2, _ = _brute_force_min(lambda off: _numpy_chi2(d - model - off, problem, kind))
    offset, chi2 = lk.profile_offset(model, d, **_errors(problem, kind))
    assert _rel(offset, ref_m) < 1e-10
    assert _rel(chi2, ref_chi2) < 1e-10


@pytest.mark.parametrize("kind", ["diag", "cov"])
def test_profile_linear_equals_lstsq(problem, kind):
    # reference: numpy.linalg.lstsq on the whitened system (k = 2 templates); 1e-10 relative
    templates = np.stack([problem["template"], np.sin(3.0 * problem["x"])])
    d = problem["data"]
    if kind == "diag":
        a_w, y_w = templates.T / problem["sigma"][:, None], d / problem["sigma"]
    else:
        chol = np.linalg.cholesky(problem["cov"])
        a_w, y_w = np.linalg.solve(chol, templates.T), np.linalg.solve(chol, d)
    ref_amp, ref_chi2, _, _ = np.linalg.lstsq(a_w, y_w, rcond=None)
    amp, chi2 = lk.profile_linear(templates, d, **_errors(problem, kind))
    np.testing.assert_allclose(amp, ref_amp, rtol=1e-10)
    assert _rel(chi2, ref_chi2[0]) < 1e-10


def test_profile_scale_offset_equals_profile_linear(problem):
    # reference: profile_linear with templates (E, 1); 1e-14 relative
    errors = _errors(problem, "cov")
    (s, off), chi2 = lk.profile_scale_offset(problem["template"], problem["data"], **errors)
    stacked = np.stack([problem["template"], np.ones(N)])
    amp, ref_chi2 = lk.profile_linear(stacked, problem["data"], **errors)
    np.testing.assert_allclose([s, off], amp, rtol=1e-14)
    assert _rel(chi2, ref_chi2) < 1e-14


@pytest.mark.parametrize("kind", ["diag", "cov"])
def test_grad_of_profiled_chi2(problem, kind):
    # reference 1: central finite difference, step 1e-5, truncation ~ h^2 ~ 1e-10 and
    # rounding ~ eps chi2 / h ~ 1e-11, so 1e-7 relative.
    # reference 2 (envelope theorem): the partial derivative at fixed S = S*; 1e-10 relative.
    x, d = problem["x"], problem["data"]
    errors = _errors(problem, kind)

    def template(centre):
        return jnp.exp(-(((x - centre) / 0.2) ** 2)) + 0.1

    @jax.jit
    def profiled(centre):
        return lk.profile_scale(template(centre), d, **errors)[1]

    centre, h = 0.5, 1e-5
    grad = jax.jit(jax.grad(profiled))(centre)
    fd = (profiled(centre + h) - profiled(centre - h)) / (2.0 * h)
    assert _rel(grad, fd) < 1e-7

    s_star = lk.profile_scale(template(centre), d, **errors)[0]
    whiten = lk.chi2_diag if kind == "diag" else lk.chi2_cholesky
    err = errors["sigma"] if kind == "diag" else errors["chol"]
    partial = jax.grad(lambda c: whiten(d - s_star * template(c), err))(centre)
    assert _rel(grad, partial) < 1e-10


def test_jit_equals_eager(problem):
    # reference: the same calls without jit; 1e-13 relative (XLA may reorder sums)
    e, d, sigma = problem["template"], problem["data"], problem["sigma"]
    chol = lk.cholesky_factor(problem["cov"])
    templates = np.stack([e, np.ones(N)])
    calls = {
        "chi2_cholesky": (lambda: lk.chi2_cholesky(d - e, chol)),
        "chi2_diag": (lambda: lk.chi2_diag(d - e, sigma)),
        "profile_linear": (lambda: lk.profile_linear(templates, d, chol=chol)),
        "profile_scale": (lambda: lk.profile_scale(e, d, sigma=sigma)),
        "profile_offset": (lambda: lk.profile_offset(e, d, chol=chol)),
        "profile_scale_offset": (lambda: lk.profile_scale_offset(e, d, sigma=sigma)),
    }
    for name, call in calls.items():
        eager, jitted = call(), jax.jit(call)()
        for a, b in zip(jax.tree.leaves(eager), jax.tree.leaves(jitted), strict=True):
            np.testing.assert_allclose(b, a, rtol=1e-13, err_msg=name)


def test_vmap_over_data_sets(problem):
    # reference: a Python loop over the data sets; 1e-13 relative
    rng = np.random.default_rng(5)
    data = problem["data"] + 0.1 * rng.normal(size=(3, N))
    chol = lk.cholesky_factor(problem["cov"])
    s, chi2 = jax.vmap(lambda d: lk.profile_scale(problem["template"], d, chol=chol))(data)
    for i in range(3):
        s_i, chi2_i = lk.profile_scale(problem["template"], data[i], chol=chol)
        assert _rel(s[i], s_i) < 1e-13 and _rel(chi2[i], chi2_i) < 1e-13


# ------------------------------------------------------------------ errors
def test_cholesky_factor_reproduces_covariance(problem):
    # reference: L L^T == C; 1e-13 relative to max |C|
    chol = np.asarray(lk.cholesky_factor(problem["cov"]))
    assert np.allclose(np.triu(chol, 1), 0.0)
    scale = np.abs(problem["cov"]).max()
    assert np.abs(chol @ chol.T - problem["cov"]).max() < 1e-13 * scale


def _bad(kind):
    spd = np.array([[2.0, 0.5, 0.0], [0.5, 1.0, 0.2], [0.0, 0.2, 1.5]])
    if kind == "non-square":
        return np.ones((3, 4))
    if kind == "non-symmetric":
        return spd + np.triu(np.full((3, 3), 1e-3), 1)
    if kind == "not-pd":
        return np.diag([1.0, -1.0, 1.0])
    return np.where(np.eye(3, dtype=bool), np.nan, spd)  # NaN


@pytest.mark.parametrize(
    ("kind", "match"),
    [
        ("non-square", r"^sn_cov: expected a non-empty square 2-D matrix, got shape \(3, 4\)"),
        ("non-symmetric", r"^sn_cov: expected a symmetric matrix"),
        ("not-pd", r"^sn_cov: not positive definite \(Cholesky failed\)"),
        ("nan", r"^sn_cov: expected finite entries, got nan"),
    ],
)
def test_bad_covariance_raises_naming_it(kind, match):
    with pytest.raises(ValueError, match=match):
        lk.cholesky_factor(_bad(kind), name="sn_cov")


def test_default_name_and_tracer_refused():
    with pytest.raises(ValueError, match=r"^covariance: not positive definite"):
        lk.cholesky_factor(-np.eye(2))
    with pytest.raises(TypeError, match=r"^covariance: .*concrete"):
        jax.jit(lk.cholesky_factor)(np.eye(2))


@pytest.mark.parametrize("errors", [{}, {"sigma": np.ones(N), "chol": np.eye(N)}])
def test_profile_needs_exactly_one_error_model(problem, errors):
    with pytest.raises(ValueError, match="exactly one of sigma"):
        lk.profile_scale(problem["template"], problem["data"], **errors)
