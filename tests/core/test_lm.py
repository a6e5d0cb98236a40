"""method="lm" (jaxfit.core.lm) against scipy.optimize.least_squares on a nonlinear
least-squares fit: an exponential decay y = A exp(-k t) + c with Gaussian noise.

The reference is scipy's trust-region reflective least squares (``method="trf"``, bounds
supported) at tight tolerances; both must find the same optimum (chi2 to 1e-10 relative,
parameters to 1e-6), with and without an active bound.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.optimize import least_squares as scipy_least_squares

import jaxfit  # noqa: F401  (float64)
from jaxfit.core.objective import least_squares
from jaxfit.core.optimize import minimize, solve_batch
from jaxfit.core.params import Param, ParamSpec
from jaxfit.core.solvers import SolverOptions, make_solver

T = np.linspace(0.0, 4.0, 40)
TRUTH = (2.0, 1.3, 0.5)
SIGMA = 0.05
Y = TRUTH[0] * np.exp(-TRUTH[1] * T) + TRUTH[2] + SIGMA * np.random.default_rng(3).normal(
    size=T.size)
DATA = {"t": jnp.asarray(T), "y": jnp.asarray(Y)}


def pulls(p, data):
    model = p["A"] * jnp.exp(-p["k"] * data["t"]) + p["c"]
    return (model - data["y"]) / SIGMA


CHI2 = least_squares(pulls)
SPEC = ParamSpec([Param("A", 1.0, 0.0, 10.0), Param("k", 0.5, 0.01, 5.0),
                  Param("c", 0.0, -2.0, 2.0)])


def _scipy(lower, upper, x0):
    def res(x):
        return (x[0] * np.exp(-x[1] * T) + x[2] - Y) / SIGMA

    out = scipy_least_squares(res, x0, bounds=(lower, upper), method="trf", xtol=1e-15,
                              ftol=1e-15, gtol=1e-15, x_scale="jac")
    return out.x, float(np.sum(out.fun**2))


@pytest.mark.parametrize("k_upper", [5.0, 1.0])  # 1.0: the optimum k ~ 1.3 is cut off
def test_lm_matches_scipy_least_squares(k_upper):
    spec = SPEC.replace("k", upper=k_upper)
    fit = minimize(CHI2, spec, data=DATA, method="lm", progress=False)
    x_ref, chi2_ref = _scipy(spec.lower, spec.upper, np.asarray(spec.pack()))
    assert fit.success, fit
    assert abs(fit.fun / chi2_ref - 1.0) <= 1e-10
    np.testing.assert_allclose(fit.x_free, x_ref, rtol=0, atol=1e-6)
    # the same chi2 as L-BFGS on the same objective (called as a scalar), in far fewer steps
    lbfgs = minimize(CHI2, spec, data=DATA, method="lbfgs", progress=False)
    assert fit.fun <= lbfgs.fun * (1 + 1e-10)
    assert fit.n_fev < lbfgs.n_fev
    if k_upper == 1.0:
        assert fit.x["k"] == 1.0  # exactly on the active bound (projected steps)


def test_lm_batched_and_jitted_equals_eager():
    opts = SolverOptions()
    skeleton = SPEC.skeleton()
    solve = make_solver(CHI2, skeleton, "lm", opts)
    starts = np.array([[1.0, 0.5, 0.0], [5.0, 3.0, -1.0]])
    fixed = np.zeros((2, 0))
    batched = solve_batch(CHI2, SPEC, "lm", starts, fixed, data=DATA, options=opts,
                          progress=False)
    for i, x0 in enumerate(starts):
        u0 = skeleton.to_unconstrained(jnp.asarray(x0), SPEC.bound_arrays())
        eager = solve(u0, jnp.zeros(0), jax.random.key(0), DATA, SPEC.bound_arrays())
        np.testing.assert_allclose(np.asarray(eager.x), batched.x[i], rtol=1e-12, atol=1e-12)
        assert float(eager.fun) == pytest.approx(float(batched.fun[i]), rel=1e-12)


def test_lm_needs_a_least_squares_objective():
    with pytest.raises(ValueError, match="method 'lm' needs a least-squares objective"):
        minimize(lambda p, d: CHI2(p, d), SPEC, data=DATA, method="lm", progress=False)
    # without data, a one-argument residual function works too
    fit = minimize(least_squares(lambda p: pulls(p, DATA)), SPEC, method="lm", progress=False)
    assert fit.success and fit.fun == pytest.approx(
        minimize(CHI2, SPEC, data=DATA, method="lm", progress=False).fun, rel=1e-12)
