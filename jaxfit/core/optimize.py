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
``"lm"``
    projected Levenberg-Marquardt for a chi2 that is a sum of squared residuals (the
    objective built by :func:`jaxfit.core.objective.least_squares`): tens of steps where
    L-BFGS needs hundreds (:mod:`jaxfit.core.lm`).
``"adam"``
    optax Adam with a cosine-decayed learning rate, also unconstrained; for rough or
    stochastic objectives where a line search is wasted.
``"scipy-lbfgsb"``
    scipy's L-BFGS-B on the constrained parameters with exact JAX value-and-gradient (one
    jitted call per iteration on the host); single start only.
``"de"``
    differential evolution (``best1bin`` as scipy's default, or ``rand1bin``) whose whole
    population is evaluated in one vmapped call per generation, then polished by L-BFGS.

The JAX methods are built by :func:`jaxfit.core.solvers.make_solver` into a pure function
``solve(u0, fixed, key, data) -> SolveOutput`` of one start, which :func:`solve_batch` vmaps over
starts (and :mod:`jaxfit.core.scan` over grid points x starts), chunked and sharded by
:mod:`jaxfit.core.parallel`. A start that fails (non-finite objective, iteration limit)
fails alone, with its own status; the batch carries on.

Stopping: a start converges when ``max|grad_u f| <= gtol * max(1, |f|)`` (status 0) or when
``|delta f| <= ftol * max(1, |f|)`` for three consecutive iterations (status 1). The gradient
is taken in the unconstrained space, where it vanishes at an active bound, which is the
right optimality condition there ("lbfgs-box" and "lm": the gradient of the parameters not
held on a bound).
"""

from __future__ import annotations

import dataclasses
import functools
import warnings
from collections.abc import Callable, Mapping

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from jaxfit.core import checks
from jaxfit.core.objective import with_data
from jaxfit.core.parallel import map_batched
from jaxfit.core.params import ParamSpec
from jaxfit.core.progress import status_line
from jaxfit.core.results import ResultSet
from jaxfit.core.solvers import (  # noqa: F401  (re-exported: their home before the split)
    STATUS_MESSAGES,
    SUCCESS_STATUS,
    U_START_MAX,
    SolveOutput,
    SolverOptions,
    make_solver,
    objective_in_u,
)

METHODS = ("lbfgs", "lbfgs-box", "lm", "adam", "scipy-lbfgsb", "de")
SAMPLERS = ("sobol", "uniform")


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


def solve_batch(
    fun: Callable,
    spec: ParamSpec,
    method: str,
    x0,
    fixed,
    *,
    data=None,
    seed: int = 0,
    options: SolverOptions | None = None,
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
    solve = make_solver(fun, skeleton, method, SolverOptions() if options is None else options)
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
