"""Tests of jaxfit.core.optimize against analytic optima and independent numpy/scipy results.

Compilation dominates the run time, and compiled solvers are cached on (objective, spec,
method, options) and on the batch size, so every test reuses the module-level objectives and
specs below, with default options where possible.
"""

import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
from scipy.stats import qmc

import jaxfit  # noqa: F401  (switches on float64)
from jaxfit.core import optimize as opt
from jaxfit.core.objective import NO_DATA, with_data
from jaxfit.core.optimize import (
    METHODS,
    STATUS_MESSAGES,
    SolverOptions,
    make_solver,
    minimize,
    sample_starts,
    solve_batch,
)
from jaxfit.core.params import Param, ParamSpec


# ------------------------------------------------------------------- test problems
def rosenbrock(p):
    return (1.0 - p["x"]) ** 2 + 100.0 * (p["y"] - p["x"] ** 2) ** 2


ROSEN_SPEC = ParamSpec([Param("x", -1.2, -5.0, 5.0), Param("y", 1.0, -5.0, 5.0)])


def bounded_quadratic(p):
    return (p["a"] - 3.0) ** 2 + (p["b"] + 0.5) ** 2


def quadratic_of_data(p, data):
    """(a - a0)^2 + (b - b0)^2 with the centre (a0, b0) = data["centre"]: an objective that
    takes its data."""
    return (p["a"] - data["centre"][0]) ** 2 + (p["b"] - data["centre"][1]) ** 2


QUAD_OF_DATA = with_data(bounded_quadratic, None)[0]


# the unconstrained optimum a = 3 lies outside [-1, 2]: the bounded optimum is a = 2 on
# the upper bound, b = -0.5 inside; f there is 1
QUAD_SPEC = ParamSpec([Param("a", 0.0, -1.0, 2.0), Param("b", 0.0, -5.0, 5.0)])

PROBLEMS = {
    # name: (objective, spec, analytic optimum x, analytic f there)
    "rosenbrock": (rosenbrock, ROSEN_SPEC, np.array([1.0, 1.0]), 0.0),
    "bounded_quadratic": (bounded_quadratic, QUAD_SPEC, np.array([2.0, -0.5]), 1.0),
}
# Adam (no line search) needs many small steps on the Rosenbrock valley
METHOD_OPTIONS = {"lbfgs": {}, "lbfgs-box": {}, "adam": {"maxiter": 20000}, "scipy-lbfgsb": {},
                  "de": {}}

NAN_ABOVE = 3.5


def tilted_double_well(p):
    """(x^2 - 4)^2 + x: local minimum near +1.97, global near -2.03; NaN for x > 3.5."""
    x = p["x"]
    return jnp.where(x > NAN_ABOVE, jnp.nan, (x**2 - 4.0) ** 2 + x)


WELL_SPEC = ParamSpec([Param("x", 1.5, -4.0, 4.0)])  # default in the local basin


def _well_minima():
    """Analytic stationary points: roots of f'(x) = 4x^3 - 16x + 1; minima where f'' > 0."""
    roots = np.roots([4.0, 0.0, -16.0, 1.0])
    roots = np.sort(roots[np.isreal(roots)].real)
    minima = roots[12.0 * roots**2 - 16.0 > 0]
    values = (minima**2 - 4.0) ** 2 + minima
    return minima, values  # ascending x: [global (left), local (right)]


def rastrigin(p):
    x = jnp.stack([p[f"x{i}"] for i in range(5)])
    return 10.0 * 5 + jnp.sum(x**2 - 10.0 * jnp.cos(2.0 * jnp.pi * x))


# defaults at 2.0 each: near a local minimum, far from the global one at the origin
RASTRIGIN_SPEC = ParamSpec([Param(f"x{i}", 2.0, -5.12, 5.12) for i in range(5)])


# ------------------------------------------------------------- optima per method
@pytest.mark.parametrize("method", [m for m in METHODS if m != "lm"])  # lm: test_lm.py
@pytest.mark.parametrize("problem", ["rosenbrock", "bounded_quadratic"])
def test_each_method_reaches_analytic_optimum(problem, method):
    fun, spec, x_opt, f_opt = PROBLEMS[problem]
    res = minimize(fun, spec, method=method, progress=False, **METHOD_OPTIONS[method])
    assert res.success, str(res)
    assert res.status in (0, 1) and res.message == STATUS_MESSAGES[res.status]
    assert res.method == method and res.free_names == spec.free_names
    np.testing.assert_allclose(res.x_free, x_opt, rtol=0, atol=1e-8)
    assert res.x == pytest.approx(dict(zip(spec.names, x_opt, strict=True)), abs=1e-8)
    assert abs(res.fun - f_opt) <= 1e-8
    assert abs(res.fun - float(fun(spec.unpack(jnp.asarray(res.x_free))))) <= 1e-12
    assert res.starts is None and res.n_starts == 1 and res.n_converged == 1
    assert res.n_iter >= 1 and math.isfinite(res.grad_norm)
    if problem == "bounded_quadratic":
        # a start exactly on the bounds (u would be -27.6 / +27.6) still moves and reaches
        # the optimum; same batch shape and options, so no new compilation
        res = minimize(fun, spec, method=method, x0={"a": -1.0, "b": 5.0}, progress=False,
                       **METHOD_OPTIONS[method])
        assert res.success, str(res)
        # Adam stops on the objective change; with f_min = 1 a change of b by d changes f
        # by d^2, invisible below d ~ sqrt(eps) = 1.5e-8 (this start ends 2.3e-8 off)
        tol = 5e-8 if method == "adam" else 1e-8
        np.testing.assert_allclose(res.x_free, x_opt, rtol=0, atol=tol)
        if method in ("lbfgs", "lbfgs-box", "adam") and res.status == 0:
            # at the active bound the unconstrained (lbfgs, adam) or projected (lbfgs-box)
            # gradient vanishes (the stopping rule)
            assert res.grad_norm <= SolverOptions().gtol * max(1.0, res.fun)


def test_lbfgs_box_lands_exactly_on_an_active_bound():
    """The projected L-BFGS holds a variable on its bound once the gradient pushes it out:
    the optimum is the bound itself, not 1e-10 inside it as through the sigmoid."""
    res = minimize(bounded_quadratic, QUAD_SPEC, method="lbfgs-box", progress=False)
    lbfgs = minimize(bounded_quadratic, QUAD_SPEC, method="lbfgs", progress=False)
    on_bound = [i for i, n in enumerate(QUAD_SPEC.free_names)
                if res.x_free[i] in (QUAD_SPEC[n].lower, QUAD_SPEC[n].upper)]
    assert on_bound, res
    assert res.fun <= lbfgs.fun + 1e-12 and res.n_fev <= lbfgs.n_fev


def test_objective_gradient_finite_on_bound():
    """grad_u f at u = to_unconstrained(point on a bound) is finite and equals the chain rule."""
    f_u = opt.objective_in_u(QUAD_OF_DATA, QUAD_SPEC)
    u = QUAD_SPEC.to_unconstrained(jnp.array([2.0, 5.0]))  # a and b both on upper bounds
    fixed = QUAD_SPEC.fixed_vector()
    value, grad = jax.value_and_grad(f_u)(u, fixed, NO_DATA)
    grad = np.asarray(grad)
    assert np.all(np.isfinite(grad)) and math.isfinite(float(value))
    x = np.asarray(QUAD_SPEC.from_unconstrained(u))
    s = 1.0 / (1.0 + np.exp(-np.asarray(u)))
    s_minus = 1.0 / (1.0 + np.exp(np.asarray(u)))
    dx_du = (QUAD_SPEC.upper - QUAD_SPEC.lower) * s * s_minus
    expected = np.array([2.0 * (x[0] - 3.0), 2.0 * (x[1] + 0.5)]) * dx_du
    # jax differentiates sigmoid as s (1 - s); at u = +27.6 the factor 1 - s ~ 1e-12 carries
    # ~1e-4 relative rounding (an absolute error of eps x width), hence rtol 1e-3 here
    np.testing.assert_allclose(grad, expected, rtol=1e-3, atol=1e-15 * 10.0)
    # a is pushed further out (towards 3, blocked by the bound), b back inwards (to -0.5)
    np.testing.assert_array_equal(np.sign(grad), [-1.0, 1.0])
    assert float(value) == pytest.approx((2.0 - 3.0) ** 2 + 5.5**2, abs=1e-9)


def test_scipy_lbfgsb_reports_projected_gradient_on_bound():
    res = minimize(bounded_quadratic, QUAD_SPEC, method="scipy-lbfgsb", progress=False)
    # raw df/da = 2 (a - 3) = -2 at a = 2, but it points out of the box: projected to 0
    assert res.x["a"] == 2.0
    assert res.grad_norm <= 1e-8


def test_frozen_parameter_held_at_its_value():
    spec = QUAD_SPEC.freeze(["b"], {"b": 1.0})
    res = minimize(bounded_quadratic, spec, method="scipy-lbfgsb", progress=False)
    assert res.free_names == ("a",)
    assert res.x["b"] == 1.0
    assert res.x["a"] == pytest.approx(2.0, abs=1e-8)
    assert res.fun == pytest.approx(1.0 + 1.5**2, abs=1e-8)  # analytic: (2-3)^2 + (1+0.5)^2


def test_iteration_limit_gives_status_2():
    res = minimize(bounded_quadratic, QUAD_SPEC, method="adam", maxiter=5, progress=False)
    assert (res.status, res.n_iter, res.success) == (2, 5, False)
    assert res.message == STATUS_MESSAGES[2]
    assert (res.n_starts, res.n_converged) == (1, 0)
    assert res.to_dict()["free_names"] == ["a", "b"] and res.to_dict()["n_converged"] == 0
    assert "0/1 starts converged" in str(res) and "stopped: maximum number" in str(res)
    # a spec differing only in its defaults reuses the compiled solver (cached on the
    # skeleton) and still starts from its own defaults
    misses = make_solver.cache_info().misses
    moved = minimize(bounded_quadratic, QUAD_SPEC.with_defaults({"a": 1.5, "b": -2.0}),
                     method="adam", maxiter=5, progress=False)
    assert make_solver.cache_info().misses == misses
    assert moved.n_iter == 5 and moved.x["b"] < -1.0 < res.x["b"]  # 5 small steps from -2
    res = minimize(rosenbrock, ROSEN_SPEC, method="scipy-lbfgsb", maxiter=2, progress=False)
    assert (res.status, res.n_iter, res.success) == (2, 2, False)


# --------------------------------------------------------------------- multi-start
def test_single_start_stays_in_local_minimum():
    (x_glob, x_loc), (f_glob, f_loc) = _well_minima()
    # the analytic minima agree with a dense grid (independent check of the reference)
    grid = np.linspace(-4.0, NAN_ABOVE, 1_500_001)
    values = (grid**2 - 4.0) ** 2 + grid
    assert abs(grid[np.argmin(values)] - x_glob) <= 1e-5
    assert abs(values.min() - f_glob) <= 1e-9

    res = minimize(tilted_double_well, WELL_SPEC, progress=False)
    assert res.success
    assert res.x["x"] == pytest.approx(x_loc, abs=1e-8)
    assert res.fun == pytest.approx(f_loc, abs=1e-12)
    assert res.fun - f_glob > 3.9  # the local minimum is ~4 above the global one

    # a single start in the NaN region fails with status 3 (same compiled program)
    res = minimize(tilted_double_well, WELL_SPEC, x0={"x": 3.9}, progress=False)
    assert (res.status, res.success) == (3, False) and res.message == STATUS_MESSAGES[3]
    assert math.isnan(res.fun)


def test_multi_start_finds_global_minimum():
    """16 starts (one program): the global minimum, the per-start table, failing starts."""
    minima, values = _well_minima()
    res = minimize(tilted_double_well, WELL_SPEC, n_starts=16, progress=False)
    assert res.success, str(res)
    assert res.x["x"] == pytest.approx(minima[0], abs=1e-8)
    assert res.fun == pytest.approx(values[0], abs=1e-12)
    assert res.x_free.shape == (1,)

    table = res.starts
    assert isinstance(table, pd.DataFrame)
    assert len(table) == 16 and res.n_starts == 16
    assert table.index.name == "start" and list(table.index) == list(range(16))
    columns = ["start_x", "x", "fun", "status", "success", "n_iter"]
    assert list(table.columns)[:6] == columns
    # start 0 is the default; the others are the scrambled Sobol points (scipy, same seed)
    assert table["start_x"].iloc[0] == WELL_SPEC.defaults["x"]
    sobol = -4.0 + 8.0 * qmc.Sobol(d=1, scramble=True, seed=0).random(16)[:15, 0]
    np.testing.assert_allclose(table["start_x"].to_numpy()[1:], sobol, rtol=0, atol=1e-15)
    # row 0 is the single-start fit from the default: the local minimum
    assert table["x"].iloc[0] == pytest.approx(minima[1], abs=1e-8)
    # starts in the NaN region fail alone with status 3; the batch still succeeds
    in_nan = table["start_x"].to_numpy() > NAN_ABOVE
    assert in_nan.any(), "precondition: some Sobol start lands in the NaN region"
    assert (table["status"][in_nan] == 3).all()
    assert (~table["success"][in_nan]).all() and table["fun"][in_nan].isna().all()
    ok = table[~in_nan]
    assert ok["status"].isin([0, 1]).all() and ok["success"].all()
    assert res.n_converged == int((~in_nan).sum())
    # every converged start ends in one of the two analytic minima, with f evaluated there
    ends = ok["x"].to_numpy()
    nearest = minima[np.argmin(np.abs(ends[:, None] - minima[None, :]), axis=1)]
    np.testing.assert_allclose(ends, nearest, rtol=0, atol=1e-7)
    np.testing.assert_allclose(ok["fun"].to_numpy(), (ends**2 - 4) ** 2 + ends, rtol=1e-13)
    assert (ends < 0).any() and (ends > 0).any()  # both basins were visited

    summary = res.to_dict()
    assert summary["n_starts"] == 16 and summary["method"] == "lbfgs"
    assert summary["n_converged"] == res.n_converged
    assert json.loads(json.dumps(summary)) == summary
    text = str(res)
    assert f"{res.n_converged}/16 starts converged" in text and "x=-2.03" in text

    # explicit starts as a list of dicts (16 again: the same compiled program)
    starts = [{"x": float(v)} for v in np.linspace(-3.9, 3.9, 16)]
    res = minimize(tilted_double_well, WELL_SPEC, starts=starts, progress=False)
    assert res.success and res.fun == pytest.approx(values[0], abs=1e-12)
    np.testing.assert_array_equal(res.starts["start_x"], [d["x"] for d in starts])
    assert list(res.starts["status"].iloc[-1:]) == [3]  # x = 3.9: NaN
    assert res.starts["status"].iloc[:-1].isin([0, 1]).all()


# ---------------------------------------------------------------------- DE
def test_de_rastrigin_global_minimum_reproducible():
    res = minimize(rastrigin, RASTRIGIN_SPEC, method="de", seed=0, progress=False)
    assert res.success, str(res)
    # analytic: the global minimum is 0 at the origin (the default start is at 2.0 each,
    # by a local minimum with f ~ 20)
    np.testing.assert_allclose(res.x_free, np.zeros(5), rtol=0, atol=1e-8)
    assert 0.0 <= res.fun <= 1e-10
    assert float(rastrigin(RASTRIGIN_SPEC.defaults)) > 15.0
    # same seed -> the same run
    again = minimize(rastrigin, RASTRIGIN_SPEC, method="de", seed=0, progress=False)
    np.testing.assert_array_equal(again.x_free, res.x_free)
    assert (again.fun, again.n_iter, again.status) == (res.fun, res.n_iter, res.status)


# ---------------------------------------------------------------- jit vs eager
def _assert_same_output(actual, expected, row=None):
    for name, a, b in zip(expected._fields, expected, actual, strict=True):
        b = np.asarray(b) if row is None else np.asarray(b)[row]
        np.testing.assert_allclose(b, np.asarray(a), rtol=1e-12, atol=1e-14, err_msg=name)


def test_lbfgs_solver_jit_and_batch_equal_eager():
    """One start: solve eagerly == jax.jit(solve) == the solve_batch row (jit of vmap)."""
    solve = make_solver(QUAD_OF_DATA, QUAD_SPEC, "lbfgs", SolverOptions())
    x0 = np.array([0.5, 1.0])
    u0 = QUAD_SPEC.to_unconstrained(jnp.asarray(x0))
    fixed, key = QUAD_SPEC.fixed_vector(), jax.random.key(0)
    eager = solve(u0, fixed, key, NO_DATA)
    _assert_same_output(jax.jit(solve)(u0, fixed, key, NO_DATA), eager)
    out = solve_batch(bounded_quadratic, QUAD_SPEC, "lbfgs", x0[None], np.zeros((1, 0)),
                      progress=False)
    assert out.x.shape == (1, 2) and out.fun.shape == (1,) and out.status.shape == (1,)
    _assert_same_output(out, eager, row=0)
    np.testing.assert_allclose(np.asarray(eager.x), [2.0, -0.5], rtol=0, atol=1e-8)


@pytest.mark.parametrize(
    "method, options",
    [("adam", SolverOptions(maxiter=300)), ("de", SolverOptions(maxiter=30, polish=False))],
)
def test_make_solver_jit_equals_eager(method, options):
    solve = make_solver(QUAD_OF_DATA, QUAD_SPEC, method, options)
    u0 = QUAD_SPEC.to_unconstrained(jnp.array([0.5, 1.0]))
    fixed = QUAD_SPEC.fixed_vector()
    key = jax.random.key(3)
    eager = solve(u0, fixed, key, NO_DATA)
    _assert_same_output(jax.jit(solve)(u0, fixed, key, NO_DATA), eager)
    # x comes back constrained, inside the bounds, and fun is the objective there
    x = np.asarray(eager.x)
    assert np.all(x >= QUAD_SPEC.lower) and np.all(x <= QUAD_SPEC.upper)
    assert float(eager.fun) == pytest.approx((x[0] - 3) ** 2 + (x[1] + 0.5) ** 2, rel=1e-14)


def test_make_solver_cached_on_equal_inputs():
    spec_copy = ParamSpec(list(QUAD_SPEC.params))
    a = make_solver(QUAD_OF_DATA, QUAD_SPEC, "lbfgs", SolverOptions())
    assert make_solver(QUAD_OF_DATA, spec_copy, "lbfgs", SolverOptions()) is a
    assert make_solver(QUAD_OF_DATA, QUAD_SPEC, "lbfgs", SolverOptions(maxiter=7)) is not a


# ------------------------------------------------------------------------ starts
@pytest.mark.filterwarnings("ignore:The balance properties of Sobol")
def test_sample_starts_match_scipy_and_numpy():
    spec = ParamSpec([Param("a", 0.0, -1.0, 2.0), Param("b", 1.0, 0.0, 10.0, frozen=True),
                      Param("c", 0.0, -5.0, 5.0)])
    lo, hi = np.array([-1.0, -5.0]), np.array([2.0, 5.0])
    sobol = sample_starts(spec, 7, seed=4)
    assert sobol.shape == (7, 2)
    np.testing.assert_allclose(
        sobol, lo + (hi - lo) * qmc.Sobol(d=2, scramble=True, seed=4).random(7), rtol=1e-15
    )
    uniform = sample_starts(spec, 5, sampler="uniform", seed=2)
    np.testing.assert_allclose(
        uniform, lo + (hi - lo) * np.random.default_rng(2).uniform(size=(5, 2)), rtol=1e-15
    )
    for starts in (sobol, uniform):
        assert np.all(starts >= lo) and np.all(starts <= hi)
    np.testing.assert_array_equal(sample_starts(spec, 7, seed=4), sobol)  # reproducible
    assert not np.array_equal(sample_starts(spec, 7, seed=5), sobol)


def test_sample_starts_bad_inputs():
    with pytest.raises(ValueError, match=r"sampler must be one of \('sobol', 'uniform'\), "
                                         r"got 'halton'"):
        sample_starts(QUAD_SPEC, 3, sampler="halton")
    with pytest.raises(ValueError, match=r"sampling starts needs finite .* \['b'\]"):
        sample_starts(ParamSpec([Param("a", 0.0, -1.0, 1.0), Param("b", 0.0)]), 3)


# ----------------------------------------------------------------- SolverOptions
def test_x0_sets_the_value_of_a_frozen_parameter():
    # the frozen b is held at the value given in x0, not at its default 0
    spec = QUAD_SPEC.freeze(["b"])
    res = minimize(bounded_quadratic, spec, method="scipy-lbfgsb", x0={"b": 1.0}, progress=False)
    assert res.x["b"] == 1.0
    assert res.fun == pytest.approx(1.0 + 1.5**2, abs=1e-8)  # analytic: (2-3)^2 + (1+0.5)^2


def test_scalar_mutation_means_no_dithering():
    assert SolverOptions(mutation=0.8).mutation == (0.8, 0.8)  # as scipy's single F


def test_solver_options_build_and_validate():
    opts = SolverOptions.build({"maxiter": 50, "mutation": [0.4, 0.9]})
    assert opts == SolverOptions(maxiter=50, mutation=(0.4, 0.9))
    assert hash(opts) == hash(SolverOptions(maxiter=50, mutation=(0.4, 0.9)))
    assert opts.mutation == (0.4, 0.9) and isinstance(opts.mutation, tuple)
    with pytest.raises(TypeError, match=r"unknown solver option\(s\) \['maxiters'\]; "
                                        r"valid options: \['maxiter', 'gtol'"):
        SolverOptions.build({"maxiters": 5})


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"maxiter": 0}, r"maxiter must be a positive integer, got 0"),
        ({"maxiter": 2.5}, r"maxiter must be a positive integer, got 2.5"),
        ({"gtol": -1.0}, r"gtol must be a finite non-negative number, got -1.0"),
        ({"ftol": math.nan}, r"ftol must be a finite non-negative number, got nan"),
        ({"learning_rate": math.inf}, r"learning_rate must be a finite"),
        ({"strategy": "best2bin"}, r"strategy must be 'best1bin' or 'rand1bin', got 'best2bin'"),
        ({"recombination": 1.5}, r"recombination must lie in \[0, 1\], got 1.5"),
        ({"mutation": (1.0, 0.5)}, r"mutation must be F or \(F_min, F_max\) within \[0, 2\]"),
        ({"mutation": 3.0}, r"mutation must be F or"),
        ({"popsize": 0}, r"popsize must be a positive integer, got 0"),
    ],
)
def test_solver_options_reject_bad_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SolverOptions(**kwargs)


# --------------------------------------------------------------------- bad inputs
@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"x0": {"z": 1.0}}, KeyError, r"unknown parameter 'z'; valid names: x, y"),
        ({"x0": {"x": math.nan}}, ValueError, r"parameter 'x': value must be finite, got nan"),
        ({"x0": {"y": 7.0}}, ValueError, r"parameter 'y': value 7.0 is outside its bounds"),
        ({"method": "newton"}, ValueError,
         r"unknown method 'newton'; valid methods: lbfgs, lbfgs-box, lm, adam, scipy-lbfgsb, de"),
        ({"maxiters": 10}, TypeError, r"unknown solver option\(s\) \['maxiters'\]"),
        ({"n_starts": 0}, ValueError, r"n_starts must be a positive integer, got 0"),
        ({"n_starts": 2.0}, ValueError, r"n_starts must be a positive integer, got 2.0"),
        ({"method": "scipy-lbfgsb", "n_starts": 3}, ValueError,
         r"'scipy-lbfgsb' runs one start .* use method='lbfgs' for batched multi-start"),
        ({"method": "de", "n_starts": 3}, ValueError, r"'de' evolves a population"),
        ({"starts": np.zeros((2, 3))}, ValueError,
         r"starts: expected shape \(n_starts, 2\) for free parameters \['x', 'y'\], "
         r"got \(2, 3\)"),
        ({"starts": np.zeros((0, 2))}, ValueError, r"starts: expected shape"),
        ({"starts": [[0.0, 0.0], [1.0, math.nan]]}, ValueError,
         r"starts: parameter 'y' of start 1 is nan"),
        ({"starts": [[0.0, 0.0], [1.0, 6.0]]}, ValueError,
         r"starts: parameter 'y' of start 1 is 6.0, outside \[-5.0, 5.0\]"),
        ({"starts": [{"x": 0.0}, {"w": 1.0}]}, KeyError, r"unknown parameter 'w'"),
    ],
)
def test_minimize_bad_inputs(kwargs, error, match):
    with pytest.raises(error, match=match):
        minimize(rosenbrock, ROSEN_SPEC, progress=False, **kwargs)


def test_minimize_bad_inputs_de_and_frozen():
    with pytest.raises(
        ValueError,
        match=r"differential evolution needs finite lower and upper bounds; parameters "
        r"without them: \['x'\]",
    ):
        minimize(rosenbrock, ROSEN_SPEC.replace("x", lower=-math.inf), method="de")
    with pytest.raises(ValueError, match=r"every parameter is frozen"):
        minimize(rosenbrock, ROSEN_SPEC.freeze(["x", "y"]))
    with pytest.raises(TypeError, match=r"fun must be callable, got float"):
        minimize(1.0, ROSEN_SPEC)
    with pytest.raises(TypeError, match=r"spec must be a ParamSpec, got dict"):
        minimize(rosenbrock, {"x": 0.0, "y": 0.0})
    with pytest.raises(ValueError, match=r"method 'scipy-lbfgsb' has no batched solver"):
        solve_batch(rosenbrock, ROSEN_SPEC, "scipy-lbfgsb", [[0.0, 0.0]], np.zeros((1, 0)),
                    progress=False)


def test_numpy_integer_counts_accepted():
    assert SolverOptions(maxiter=np.int64(100)).maxiter == 100
    res = minimize(bounded_quadratic, QUAD_SPEC, method="scipy-lbfgsb", n_starts=np.int64(1),
                   progress=False)
    np.testing.assert_allclose(res.x_free, [2.0, -0.5], rtol=0, atol=1e-8)
