"""The JAX solvers of one start: options, status codes, and :func:`make_solver`.

:func:`make_solver` builds, for one objective and spec structure, a pure function
``solve(u0, fixed, key, data, bounds) -> SolveOutput`` of a single start, which
:func:`jaxfit.core.optimize.solve_batch` vmaps over starts (and :mod:`jaxfit.core.scan` over
grid points x starts). Methods: L-BFGS (:mod:`jaxfit.core.lbfgs`) in the unconstrained space
(``"lbfgs"``) or projected onto the bounds (``"lbfgs-box"``), Levenberg-Marquardt for
least-squares objectives (``"lm"``, :mod:`jaxfit.core.lm`), optax Adam, and differential
evolution with an L-BFGS polish. The user-facing entry is :func:`jaxfit.core.optimize.minimize`.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import numbers
from collections.abc import Callable, Mapping
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxfit.core import checks
from jaxfit.core.lbfgs import lbfgs
from jaxfit.core.lm import levenberg_marquardt
from jaxfit.core.objective import LeastSquares
from jaxfit.core.params import ParamSpec

STATUS_MESSAGES = {
    0: "converged: gradient below gtol",
    1: "converged: objective change below ftol",
    2: "stopped: maximum number of iterations reached",
    3: "failed: objective or gradient not finite",
    4: "failed: scipy L-BFGS-B reported an abnormal termination",
}
SUCCESS_STATUS = (0, 1)
# Starts are placed at most this far out in unconstrained space (about 3e-7 of the range
# from a bound), so a start on a bound still feels a gradient.
U_START_MAX = 15.0


@dataclasses.dataclass(frozen=True)
class SolverOptions:
    """Settings shared by the methods (each uses the ones that apply to it).

    Attributes:
        maxiter: iterations (L-BFGS, Adam, scipy) or generations (DE).
        gtol: gradient tolerance, relative to max(1, |f|).
        ftol: objective-change tolerance, relative to max(1, |f|).
        memory_size: L-BFGS history length.
        linesearch_steps: most backtracking trials per L-BFGS iteration; a line search
            that runs out takes its best point, or restarts along the gradient when no
            trial lowered the objective (:mod:`jaxfit.core.lbfgs`).
        learning_rate: Adam's initial step in unconstrained units (cosine decay to 1e-4 of
            it at maxiter).
        popsize: DE population = popsize x number of free parameters (min 5).
        mutation: DE differential weight F, or (F_min, F_max) drawn uniformly per
            generation ("dithering").
        recombination: DE crossover probability CR.
        strategy: DE strategy, "best1bin" or "rand1bin".
        de_tol: DE stops when std(f) <= de_tol * |mean(f)| over the population (scipy's tol).
        polish: polish the DE optimum with L-BFGS.
    """

    maxiter: int = 1000
    gtol: float = 1e-9
    ftol: float = 1e-15
    memory_size: int = 10
    linesearch_steps: int = 20
    learning_rate: float = 5e-2
    popsize: int = 15
    mutation: float | tuple[float, float] = (0.5, 1.0)
    recombination: float = 0.7
    strategy: str = "best1bin"
    de_tol: float = 0.01
    polish: bool = True

    def __post_init__(self):
        object.__setattr__(self, "maxiter", checks.count(self.maxiter, "maxiter"))
        for name in ("gtol", "ftol", "learning_rate", "de_tol"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite non-negative number, got {value!r}")
        if self.strategy not in ("best1bin", "rand1bin"):
            raise ValueError(f"strategy must be 'best1bin' or 'rand1bin', got {self.strategy!r}")
        if not 0.0 <= self.recombination <= 1.0:
            raise ValueError(f"recombination must lie in [0, 1], got {self.recombination!r}")
        # a single F (scipy accepts one) means no dithering
        mutation = self.mutation
        if isinstance(mutation, numbers.Real):
            mutation = (mutation, mutation)
        mutation = tuple(float(m) for m in mutation)
        if len(mutation) != 2 or not 0.0 <= mutation[0] <= mutation[1] <= 2.0:
            raise ValueError(f"mutation must be F or (F_min, F_max) within [0, 2], got {mutation}")
        object.__setattr__(self, "mutation", mutation)
        object.__setattr__(self, "popsize", checks.count(self.popsize, "popsize"))
        object.__setattr__(self, "linesearch_steps",
                           checks.count(self.linesearch_steps, "linesearch_steps"))

    @classmethod
    def build(cls, options: Mapping) -> SolverOptions:
        """From keyword options, naming unknown keys and listing the valid ones."""
        valid = [f.name for f in dataclasses.fields(cls)]
        unknown = [k for k in options if k not in valid]
        if unknown:
            raise TypeError(f"unknown solver option(s) {unknown}; valid options: {valid}")
        return cls(**options)


class SolveOutput(NamedTuple):
    """Per-start result arrays (a leading batch axis when batched)."""

    x: jax.Array  # free parameters, constrained
    fun: jax.Array
    grad_norm: jax.Array  # max |grad| in unconstrained space
    n_iter: jax.Array
    status: jax.Array
    n_fev: jax.Array  # objective evaluations (value and gradient together count once)


# ------------------------------------------------------------------------ solvers
def objective_in_u(fun: Callable, spec: ParamSpec) -> Callable:
    """``f(u, fixed, data, bounds=None)``: ``fun(params, data)`` of the unconstrained free
    parameters (bounds: the spec's, or ``(lower, upper)`` arrays of the same kinds)."""

    def f(u, fixed, data, bounds=None):
        return fun(spec.unpack(spec.from_unconstrained(u, bounds), fixed), data)

    return f


def _iterate(step, state0, f_u, u0, opts: SolverOptions) -> SolveOutput:
    """Run ``step`` until convergence, failure or ``maxiter`` (a ``lax.while_loop``)."""
    f0, g0 = jax.value_and_grad(f_u)(u0)
    finite0 = jnp.isfinite(f0) & jnp.all(jnp.isfinite(g0))
    running = -1

    def cond(carry):
        return (carry["status"] == running) & (carry["it"] < opts.maxiter)

    def body(carry):
        u_new, state_new, f_new, g_new, evals = step(
            carry["u"], carry["state"], carry["f"], carry["g"]
        )
        ok = jnp.isfinite(f_new) & jnp.all(jnp.isfinite(g_new))
        scale = jnp.maximum(1.0, jnp.abs(f_new))
        small = jnp.where(jnp.abs(carry["f"] - f_new) <= opts.ftol * scale, carry["small"] + 1, 0)
        gnorm = jnp.max(jnp.abs(g_new), initial=0.0)
        status = jnp.where(
            ~ok, 3, jnp.where(gnorm <= opts.gtol * scale, 0, jnp.where(small >= 3, 1, running))
        )
        keep = lambda new, old: jnp.where(ok, new, old)  # noqa: E731 - a failed step is undone
        return {
            "u": keep(u_new, carry["u"]),
            "state": jax.tree_util.tree_map(keep, state_new, carry["state"]),
            "f": keep(f_new, carry["f"]),
            "g": keep(g_new, carry["g"]),
            "it": carry["it"] + 1,
            "nfev": carry["nfev"] + evals,
            "small": small,
            "status": status,
        }

    scale0 = jnp.maximum(1.0, jnp.abs(f0))
    status0 = jnp.where(
        ~finite0, 3, jnp.where(jnp.max(jnp.abs(g0), initial=0.0) <= opts.gtol * scale0, 0, running)
    )
    carry = {"u": u0, "state": state0, "f": f0, "g": g0, "it": 0, "nfev": 1, "small": 0,
             "status": status0}
    carry = jax.lax.while_loop(cond, body, carry)
    status = jnp.where(carry["status"] == running, 2, carry["status"])
    gnorm = jnp.max(jnp.abs(carry["g"]), initial=0.0)
    return SolveOutput(carry["u"], carry["f"], gnorm, carry["it"], status, carry["nfev"])


def _lbfgs(f_u, u0, opts: SolverOptions, box=None) -> SolveOutput:
    return SolveOutput(*lbfgs(f_u, u0, opts, box))


def _adam(f_u, u0, opts: SolverOptions) -> SolveOutput:
    schedule = optax.cosine_decay_schedule(opts.learning_rate, opts.maxiter, alpha=1e-4)
    # b2 = 0.99 (not 0.999) so the step size follows the recent gradient scale: near an
    # active bound the unconstrained gradient decays exponentially and a long memory of
    # earlier, larger gradients would stall the approach. eps ~ 0 keeps Adam scale-free
    # (gradients of chi2 near its minimum are far below the usual 1e-8).
    opt = optax.adam(schedule, b2=0.99, eps=1e-300)
    value_and_grad = jax.value_and_grad(f_u)

    def step(u, state, f, g):
        updates, state = opt.update(g, state, u)
        u = optax.apply_updates(u, updates)
        f, g = value_and_grad(u)
        return u, state, f, g, 1

    return _iterate(step, opt.init(u0), f_u, u0, opts)


def _de(f_u, spec: ParamSpec, bounds, u0, key, opts: SolverOptions) -> SolveOutput:
    """Differential evolution in the unit cube of ``bounds = (lower, upper)``; u0 seeds one
    member."""
    n = spec.n_free
    lo, width = bounds[0], bounds[1] - bounds[0]
    n_pop = max(5, opts.popsize * n)
    to_u = lambda p: spec.to_unconstrained(lo + width * p, bounds)  # noqa: E731

    def fitness(pop):
        values = jax.vmap(f_u)(jax.vmap(to_u)(pop))
        return jnp.where(jnp.isfinite(values), values, jnp.inf)

    key, k_init = jax.random.split(key)
    pop = jax.random.uniform(k_init, (n_pop, n))
    pop = pop.at[0].set(jnp.clip((spec.from_unconstrained(u0, bounds) - lo) / width, 0.0, 1.0))
    fit = fitness(pop)

    def converged(fit):
        return jnp.std(fit) <= opts.de_tol * jnp.abs(jnp.mean(fit))

    def cond(carry):
        pop, fit, key, gen = carry
        return (gen < opts.maxiter) & ~converged(fit)

    def body(carry):
        pop, fit, key, gen = carry
        key, k_f, k_idx, k_cr, k_j, k_new = jax.random.split(key, 6)
        weight = jax.random.uniform(k_f, (), minval=opts.mutation[0], maxval=opts.mutation[1])
        # three distinct partners per member, none equal to the member itself
        idx_keys = jax.random.split(k_idx, n_pop)
        picks = jax.vmap(lambda k: jax.random.choice(k, n_pop - 1, (3,), replace=False))(idx_keys)
        picks = picks + (picks >= jnp.arange(n_pop)[:, None])
        base = pop[jnp.argmin(fit)] if opts.strategy == "best1bin" else pop[picks[:, 2]]
        mutant = base + weight * (pop[picks[:, 0]] - pop[picks[:, 1]])
        cross = jax.random.uniform(k_cr, (n_pop, n)) < opts.recombination
        cross = cross | (jnp.arange(n) == jax.random.randint(k_j, (n_pop, 1), 0, n))
        trial = jnp.where(cross, mutant, pop)
        # as scipy: a coordinate outside the box is redrawn uniformly inside it
        outside = (trial < 0.0) | (trial > 1.0)
        trial = jnp.where(outside, jax.random.uniform(k_new, (n_pop, n)), trial)
        fit_trial = fitness(trial)
        better = fit_trial <= fit
        return (
            jnp.where(better[:, None], trial, pop),
            jnp.where(better, fit_trial, fit),
            key,
            gen + 1,
        )

    pop, fit, key, gen = jax.lax.while_loop(cond, body, (pop, fit, key, 0))
    u_best = to_u(pop[jnp.argmin(fit)])
    f_best, g_best = jax.value_and_grad(f_u)(u_best)
    status = jnp.where(jnp.isfinite(f_best), jnp.where(converged(fit), 1, 2), 3)
    n_fev = n_pop * (gen + 1) + 1
    out = SolveOutput(u_best, f_best, jnp.max(jnp.abs(g_best)), gen, status, n_fev)
    if opts.polish:
        polished = _lbfgs(f_u, u_best, opts)
        better = jnp.isfinite(polished.fun) & (polished.fun <= f_best)
        out = SolveOutput(
            jnp.where(better, polished.x, u_best),
            jnp.where(better, polished.fun, f_best),
            jnp.where(better, polished.grad_norm, out.grad_norm),
            gen,
            jnp.where(better & (polished.status <= 1), polished.status, status),
            n_fev + polished.n_fev,
        )
    return out


@functools.lru_cache(maxsize=64)
def make_solver(fun: Callable, spec: ParamSpec, method: str, options: SolverOptions) -> Callable:
    """Pure ``solve(u0, fixed, key, data, bounds=None) -> SolveOutput`` for one start of a
    JAX method.

    ``fun(params, data)`` is the objective; ``u0`` is the start in unconstrained space,
    ``fixed`` the frozen parameters' values, ``key`` a PRNG key (used by DE only), ``data``
    the objective's data pytree, ``bounds`` the free parameters' ``(lower, upper)`` (default:
    ``spec``'s). The returned ``x`` is constrained. Cached on (fun, spec, method, options);
    callers pass ``spec.skeleton()`` and the bounds, so repeated fits of one objective
    compile once whatever their starting values, frozen values, bounds and data.
    """
    f_u = objective_in_u(fun, spec)
    if method == "lm" and not isinstance(fun, LeastSquares):
        raise ValueError("method 'lm' needs a least-squares objective: pass "
                         "jaxfit.core.objective.least_squares(residuals), with "
                         "residuals(params, data) -> 1-D array")

    def solve(u0, fixed, key, data, bounds=None):
        bounds = spec.bound_arrays() if bounds is None else bounds
        f = lambda u: f_u(u, fixed, data, bounds)  # noqa: E731
        if method == "lm":
            # Levenberg-Marquardt on the parameters themselves, projected onto the bounds
            r_x = lambda x: fun.residuals(spec.unpack(x, fixed), data)  # noqa: E731
            return SolveOutput(*levenberg_marquardt(
                r_x, spec.from_unconstrained(u0, bounds), *bounds, options))
        if method == "lbfgs-box":
            # projected L-BFGS on the parameters themselves: no transform to undo
            f_x = lambda x: fun(spec.unpack(x, fixed), data)  # noqa: E731
            return _lbfgs(f_x, spec.from_unconstrained(u0, bounds), options, box=bounds)
        if method == "lbfgs":
            out = _lbfgs(f, u0, options)
        elif method == "adam":
            out = _adam(f, u0, options)
        elif method == "de":
            out = _de(f, spec, bounds, u0, key, options)
        else:
            raise ValueError(f"method {method!r} has no batched solver; use one of lbfgs/adam/de")
        return out._replace(x=spec.from_unconstrained(out.x, bounds))

    return solve
