"""Minimisation: one :func:`minimize` entry, batched multi-start, differential evolution.

An objective is a pure JAX function ``fun(params: dict[str, Array]) -> scalar`` (for
physics fits, a chi2); a :class:`~jaxfit.core.params.ParamSpec` says which parameters are
free and where their bounds are. Methods:

``"lbfgs"``
    L-BFGS with a backtracking line search (:mod:`jaxfit.core.lbfgs`: one objective
    evaluation per loop step, so the objective is compiled once), in the unconstrained
    space of the spec (bounds are enforced by the transform, so the optimiser never leaves
    them). Default.
``"lbfgs-box"``
    the same L-BFGS on the parameters themselves, projected onto their bounds: a parameter
    whose optimum lies on a bound lands on it exactly, where the sigmoid transform only
    approaches it exponentially slowly (fewer evaluations when optima sit on bounds).
``"adam"``
    optax Adam with a cosine-decayed learning rate, also unconstrained; for rough or
    stochastic objectives where a line search is wasted.
``"scipy-lbfgsb"``
    scipy's L-BFGS-B on the constrained parameters with exact JAX value-and-gradient (one
    jitted call per iteration on the host); single start only.
``"de"``
    differential evolution (``best1bin`` as scipy's default, or ``rand1bin``) whose whole
    population is evaluated in one vmapped call per generation, then polished by L-BFGS.

The JAX methods are built by :func:`make_solver` into a pure function
``solve(u0, fixed, key, data) -> SolveOutput`` of one start, which :func:`solve_batch` vmaps over
starts (and :mod:`jaxfit.core.scan` over grid points x starts), chunked and sharded by
:mod:`jaxfit.core.parallel`. A start that fails (non-finite objective, iteration limit)
fails alone, with its own status; the batch carries on.

Stopping: a start converges when ``max|grad_u f| <= gtol * max(1, |f|)`` (status 0) or when
``|delta f| <= ftol * max(1, |f|)`` for three consecutive iterations (status 1). The gradient
is taken in the unconstrained space, where it vanishes at an active bound, which is the
right optimality condition there.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import numbers
import warnings
from collections.abc import Callable, Mapping
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pandas as pd

from jaxfit.core import checks
from jaxfit.core.lbfgs import lbfgs
from jaxfit.core.objective import with_data
from jaxfit.core.parallel import map_batched
from jaxfit.core.params import ParamSpec
from jaxfit.core.progress import status_line
from jaxfit.core.results import ResultSet

METHODS = ("lbfgs", "lbfgs-box", "adam", "scipy-lbfgsb", "de")
SAMPLERS = ("sobol", "uniform")
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


@dataclasses.dataclass
class FitResult(ResultSet):
    """The outcome of :func:`minimize`.

    Attributes:
        x: best-fit value of every parameter (frozen ones included), by name.
        fun: objective at ``x``.
        success: whether the best start converged (status 0 or 1).
        status: code of the best start (see ``STATUS_MESSAGES``).
        message: human-readable status.
        n_iter: iterations (generations for DE) of the best start.
        n_fev: objective evaluations summed over all starts (the cost of the fit).
        method: the method used.
        grad_norm: max |gradient| in unconstrained space at ``x``.
        free_names: names of the free parameters, in ``x_free`` order.
        x_free: free parameters as a vector.
        starts: for multi-start, one row per start (start values, end values, fun,
            status, n_iter), sorted by start index; None for a single start.
    """

    x: dict[str, float]
    fun: float
    success: bool
    status: int
    message: str
    n_iter: int
    n_fev: int
    method: str
    grad_norm: float
    free_names: tuple[str, ...]
    x_free: np.ndarray
    starts: pd.DataFrame | None = None

    default_stem = "fit"

    @property
    def n_starts(self) -> int:
        return 1 if self.starts is None else len(self.starts)

    @property
    def n_converged(self) -> int:
        if self.starts is None:
            return int(self.success)
        return int(self.starts["success"].sum())

    def to_dict(self) -> dict:
        """JSON-friendly summary (the per-start table is left to CSV)."""
        return {
            "x": self.x,
            "fun": self.fun,
            "success": self.success,
            "status": self.status,
            "message": self.message,
            "n_iter": self.n_iter,
            "n_fev": self.n_fev,
            "method": self.method,
            "grad_norm": self.grad_norm,
            "free_names": list(self.free_names),
            "n_starts": self.n_starts,
            "n_converged": self.n_converged,
        }

    def summary(self) -> str:
        """Two lines: the optimum and the verdict (never "converged" when it did not)."""
        values = ", ".join(f"{k} = {v:.8g}" for k, v in self.x.items())
        verdict = "converged" if self.success else "NOT converged"
        return (f"{self.method}: fun = {self.fun:.10g} at {values}\n"
                f"{verdict} ({self.message}); {self.n_converged}/{self.n_starts} starts "
                f"converged, {self.n_fev} evaluations")

    def to_frame(self) -> pd.DataFrame:
        """The per-start table (one row for a single start)."""
        if self.starts is not None:
            return self.starts
        return pd.DataFrame([{**self.x, "fun": self.fun, "status": self.status,
                              "success": self.success, "n_iter": self.n_iter}])

    def plot(self):
        """Final objective of each start, sorted, relative to the best: how many starts
        reach the optimum and how far the others stop from it."""
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(5.5, 4.2))
        frame = self.to_frame()
        excess = np.sort(frame["fun"].to_numpy(dtype=float) - self.fun)
        ax.semilogy(np.arange(1, excess.size + 1), np.maximum(excess, 1e-12), "o", ms=4)
        ax.axhline(1.0, color="grey", ls="--", lw=1, label="1 above the best")
        ax.set_xlabel("start (sorted by final objective)")
        ax.set_ylabel("objective - best (floored at 1e-12)")
        ax.set_title(f"{self.method}: {self.n_converged}/{self.n_starts} starts converged")
        ax.legend(loc="best", fontsize=8)
        return fig

    def __str__(self):
        values = ", ".join(f"{k}={v:.8g}" for k, v in self.x.items())
        return (
            f"FitResult({self.method}: fun={self.fun:.10g}, {self.message}, "
            f"{self.n_converged}/{self.n_starts} starts converged; {values})"
        )


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

    def solve(u0, fixed, key, data, bounds=None):
        bounds = spec.bound_arrays() if bounds is None else bounds
        f = lambda u: f_u(u, fixed, data, bounds)  # noqa: E731
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


def solve_batch(
    fun: Callable,
    spec: ParamSpec,
    method: str,
    x0,
    fixed,
    *,
    data=None,
    seed: int = 0,
    options: SolverOptions = SolverOptions(),
    chunk_size: int | None = None,
    devices=None,
    progress: bool = True,
    description: str = "fits",
) -> SolveOutput:
    """Run a JAX method from every row of ``x0`` (B, n_free) with frozen values ``fixed``
    (B, n_frozen); returns numpy :class:`SolveOutput` arrays with leading axis B.

    ``fun(params, data)`` with ``data`` shared by every start (``data=None``: ``fun(params)``);
    the data travel to the devices once, as an argument of the compiled program.
    """
    fun, data = with_data(fun, data)
    x0 = np.atleast_2d(np.asarray(x0, dtype=np.float64))
    fixed = np.asarray(fixed, dtype=np.float64).reshape(len(x0), len(spec.frozen_names))
    if spec.n_free == 0:
        # nothing to fit: a grid scan of a fully fixed model is an evaluation
        values = map_batched(
            _evaluate(fun, spec.skeleton()),
            fixed,
            shared=data,
            chunk_size=chunk_size,
            devices=devices,
            progress=progress,
            description=description,
        )
        finite = np.isfinite(values)
        zeros = np.zeros(len(x0), dtype=np.int64)
        return SolveOutput(
            x0, values, np.zeros(len(x0)), zeros, np.where(finite, 0, 3), zeros + 1
        )
    if method == "de":
        key_data = np.asarray(jax.random.key_data(jax.random.split(jax.random.key(seed),
                                                                   len(x0))))
    else:
        # only DE draws random numbers; the others get a placeholder of the same shape, so
        # a fit starts no extra random-number programs
        shape = jax.eval_shape(lambda: jax.random.key_data(jax.random.key(0))).shape
        key_data = np.zeros((len(x0), *shape), np.uint32)
    skeleton = spec.skeleton()
    solve = make_solver(fun, skeleton, method, options)
    out = map_batched(
        _start_item(solve, skeleton),
        (x0, fixed, key_data),
        shared=(data, spec.bound_arrays()),
        chunk_size=chunk_size,
        devices=devices,
        progress=progress,
        description=description,
    )
    return SolveOutput(*out)


@functools.lru_cache(maxsize=64)
def _start_item(solve: Callable, skeleton: ParamSpec) -> Callable:
    """One batch item ``((x0, fixed, key data), (data, bounds)) -> SolveOutput``: the start
    is mapped to unconstrained space inside the compiled program (no eager operations before
    the fit), and keys travel as raw uint32 data so they chunk and shard like any array."""
    def item(args, shared):
        x0, fixed, key_data = args
        data, bounds = shared
        u0 = jnp.clip(skeleton.to_unconstrained(x0, bounds), -U_START_MAX, U_START_MAX)
        return solve(u0, fixed, jax.random.wrap_key_data(key_data), data, bounds)

    return item


# ------------------------------------------------------------------------ starts
def sample_starts(spec: ParamSpec, n: int, *, sampler: str = "sobol", seed: int = 0) -> np.ndarray:
    """``n`` points inside the bounds of the free parameters, shape (n, n_free).

    ``"sobol"``: scrambled Sobol sequence (even coverage); ``"uniform"``: seeded uniform.
    Both need finite bounds on every free parameter.
    """
    if sampler not in SAMPLERS:
        raise ValueError(f"sampler must be one of {SAMPLERS}, got {sampler!r}")
    spec.require_finite_bounds("sampling starts")
    if sampler == "sobol":
        from scipy.stats import qmc  # imported here: scipy.stats adds 0.3 s to every start-up

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # balance warning for n != 2^k
            unit = qmc.Sobol(d=spec.n_free, scramble=True, seed=seed).random(n)
    else:
        unit = np.random.default_rng(seed).uniform(size=(n, spec.n_free))
    return spec.lower + (spec.upper - spec.lower) * unit


def _check_starts(spec: ParamSpec, starts) -> np.ndarray:
    if isinstance(starts, Mapping) or (
        isinstance(starts, (list, tuple)) and starts and isinstance(starts[0], Mapping)
    ):
        rows = [starts] if isinstance(starts, Mapping) else starts
        starts = [
            [spec.validate(r).get(n, spec.defaults[n]) for n in spec.free_names] for r in rows
        ]
    starts = np.atleast_2d(np.asarray(starts, dtype=np.float64))
    if starts.shape[1:] != (spec.n_free,) or len(starts) == 0:
        raise ValueError(
            f"starts: expected shape (n_starts, {spec.n_free}) for free parameters "
            f"{list(spec.free_names)}, got {starts.shape}"
        )
    bad = ~np.isfinite(starts) | (starts < spec.lower) | (starts > spec.upper)
    if bad.any():
        row, col = map(int, np.argwhere(bad)[0])
        raise ValueError(
            f"starts: parameter {spec.free_names[col]!r} of start {row} is "
            f"{starts[row, col]}, outside [{spec.lower[col]}, {spec.upper[col]}] or not finite"
        )
    return starts


# ------------------------------------------------------------------------ minimize
def minimize(
    fun: Callable,
    spec: ParamSpec,
    *,
    data=None,
    method: str = "lbfgs",
    x0: Mapping[str, float] | None = None,
    n_starts: int = 1,
    starts=None,
    sampler: str = "sobol",
    seed: int = 0,
    chunk_size: int | None = None,
    devices=None,
    progress: bool = True,
    **options,
) -> FitResult:
    """Minimise ``fun(params, data) -> scalar`` over the free parameters of ``spec``.

    Args:
        fun: pure JAX objective ``fun(params, data)`` of a ``{name: value}`` dict and the
            data pytree; ``fun(params)`` when ``data`` is None.
        spec: parameters, bounds and frozen flags.
        data: pytree of arrays given to ``fun`` as an argument of the compiled programs, so
            the same fit on other data of the same shapes compiles nothing new.
        method: one of ``METHODS`` (module doc).
        x0: first start (default: the spec's defaults); validated against the bounds.
            Values given for frozen parameters set the values they are frozen at.
        n_starts: number of starts; start 0 is ``x0``, the others are drawn inside the
            bounds by ``sampler`` with ``seed``. All starts run as one batched program.
        starts: explicit starts instead, array (n, n_free) or list of dicts.
        sampler: ``"sobol"`` or ``"uniform"``.
        seed: seeds the start sampler and DE.
        chunk_size: starts per compiled call (memory control); see core.parallel.
        devices: devices the starts are sharded over (default: all local devices;
            :func:`jaxfit.core.parallel.local_devices` picks the first N).
        progress: progress bar over chunks.
        **options: fields of :class:`SolverOptions` (maxiter, gtol, ftol, ...).

    Returns:
        :class:`FitResult` of the best start, with the per-start table for multi-start.
    """
    if not callable(fun):
        raise TypeError(f"fun must be callable, got {type(fun).__name__}")
    if not isinstance(spec, ParamSpec):
        raise TypeError(f"spec must be a ParamSpec, got {type(spec).__name__}")
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; valid methods: {', '.join(METHODS)}")
    if spec.n_free == 0:
        raise ValueError("every parameter is frozen: there is nothing to minimise")
    n_starts = checks.count(n_starts, "n_starts")
    opts = SolverOptions.build(options)
    first = spec.pack(x0 or {})[None, :]
    if starts is not None:
        x_starts = _check_starts(spec, starts)
    elif n_starts > 1:
        x_starts = np.concatenate([first, sample_starts(spec, n_starts - 1, sampler=sampler,
                                                        seed=seed)])
    else:
        x_starts = np.asarray(first)
    multi = len(x_starts) > 1
    if method == "de":
        spec.require_finite_bounds("differential evolution")
        if multi:
            raise ValueError("method 'de' evolves a population; set popsize instead of starts")
    fixed = np.asarray(spec.fixed_vector(x0 or {}))
    if method == "scipy-lbfgsb":
        if multi:
            raise ValueError(
                "method 'scipy-lbfgsb' runs one start on the host; use method='lbfgs' for "
                "batched multi-start"
            )
        with status_line("scipy L-BFGS-B fit", enabled=progress):
            out = _scipy_lbfgsb(*with_data(fun, data), spec, x_starts[0], fixed, opts)
    else:
        out = solve_batch(
            fun,
            spec,
            method,
            x_starts,
            np.broadcast_to(fixed, (len(x_starts), len(fixed))),
            data=data,
            seed=seed,
            options=opts,
            chunk_size=chunk_size,
            devices=devices,
            progress=progress,
            description=f"the {len(x_starts)}-start {method} fit",
        )
    return _fit_result(spec, method, x_starts, out, fixed, multi)


def _fit_result(spec, method, x_starts, out: SolveOutput, fixed, multi: bool) -> FitResult:
    fun = np.where(np.isfinite(out.fun), out.fun, np.inf)
    best = int(np.argmin(fun))
    status = int(out.status[best])
    starts = None
    if multi:
        starts = pd.DataFrame(
            {f"start_{n}": x_starts[:, i] for i, n in enumerate(spec.free_names)}
            | {n: out.x[:, i] for i, n in enumerate(spec.free_names)}
            | {
                "fun": out.fun,
                "status": out.status,
                "success": np.isin(out.status, SUCCESS_STATUS),
                "n_iter": out.n_iter,
                "n_fev": out.n_fev,
            }
        )
        starts.index.name = "start"
    return FitResult(
        x=spec.to_dict(out.x[best], fixed),
        fun=float(out.fun[best]),
        success=status in SUCCESS_STATUS,
        status=status,
        message=STATUS_MESSAGES[status],
        n_iter=int(out.n_iter[best]),
        n_fev=int(np.sum(out.n_fev)),
        method=method,
        grad_norm=float(out.grad_norm[best]),
        free_names=spec.free_names,
        x_free=np.asarray(out.x[best]),
        starts=starts,
    )


@functools.lru_cache(maxsize=64)
def value_and_grad_x(fun: Callable, skeleton: ParamSpec) -> Callable:
    """Jitted ``(x, fixed, data) -> (f, grad f)`` in the constrained free parameters ``x`` of
    ``fun(params, data)``; compiled once per objective, spec structure and data shapes."""
    return jax.jit(
        jax.value_and_grad(lambda x, fixed, data: fun(skeleton.unpack(x, fixed), data))
    )


@functools.lru_cache(maxsize=64)
def _evaluate(fun: Callable, skeleton: ParamSpec) -> Callable:
    """``(fixed, data) -> f`` for a spec with nothing free (a grid scan without a fit)."""
    return lambda fixed, data: fun(skeleton.unpack(jnp.zeros(0), fixed), data)


def _scipy_lbfgsb(fun, data, spec: ParamSpec, x0, fixed, opts: SolverOptions) -> SolveOutput:
    """scipy L-BFGS-B on constrained parameters with one jitted value-and-grad per call."""
    import scipy.optimize  # imported here: only this method needs it (0.3 s at start-up)

    value_and_grad = value_and_grad_x(fun, spec.skeleton())

    def scipy_fun(x):
        f, g = value_and_grad(jnp.asarray(x), fixed, data)
        return float(f), np.asarray(g, dtype=np.float64)

    bounds = [
        (lo if np.isfinite(lo) else None, hi if np.isfinite(hi) else None)
        for lo, hi in zip(spec.lower, spec.upper, strict=True)
    ]
    res = scipy.optimize.minimize(
        scipy_fun,
        np.asarray(x0),
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        options={"maxiter": opts.maxiter, "gtol": opts.gtol, "ftol": opts.ftol},
    )
    finite = np.isfinite(res.fun) and np.all(np.isfinite(res.jac))
    if not finite:
        status = 3
    elif res.success:
        status = 0
    elif res.nit >= opts.maxiter:
        status = 2
    else:
        status = 4
    # projected gradient: zero along a component pressed against its bound
    at_lo = (res.x <= spec.lower) & (res.jac > 0)
    at_hi = (res.x >= spec.upper) & (res.jac < 0)
    projected = np.where(at_lo | at_hi, 0.0, res.jac)
    return SolveOutput(
        res.x[None],
        np.array([res.fun]),
        np.array([np.max(np.abs(projected), initial=0.0)]),
        np.array([res.nit]),
        np.array([status]),
        np.array([res.nfev]),
    )
