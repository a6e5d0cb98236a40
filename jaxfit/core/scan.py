"""Profile likelihoods and grid scans over one or two parameters.

For a chi2 objective, the profile over a parameter theta is
``chi2_p(theta) = min over the other free parameters of chi2``. :func:`scan` computes it on a
grid: every grid point x every start is one item of a single batched program
(:func:`jaxfit.core.optimize.solve_batch`), chunked with a progress bar and sharded over the
local devices. With ``profile=False`` the other parameters stay at their defaults (a plain
grid scan: one objective evaluation per point).

Intervals (Wilks): delta-chi2 = 1 bounds the 68.3% interval of one parameter; in two
dimensions the 68.3 / 95.4 / 99.73% regions are delta-chi2 < 2.30 / 6.18 / 11.83
(:data:`CONTOUR_LEVELS_2D`). The reference chi2_min is the lower of the grid minimum and a
global fit with the scanned parameters free inside the grid range, so delta-chi2 does not
depend on whether the grid happens to contain the optimum.

The 1-sigma ends are found by linear interpolation of ``sqrt(delta-chi2)`` between the two
grid points that bracket 1: for a Gaussian likelihood ``sqrt(delta-chi2) = |theta -
theta_hat| / sigma`` is exactly linear on each side, so the interval is exact on any grid,
and for non-Gaussian profiles it is far more accurate than interpolating delta-chi2 itself.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from jaxfit.core import checks
from jaxfit.core.objective import with_data
from jaxfit.core.optimize import (
    SUCCESS_STATUS,
    FitResult,
    SolverOptions,
    minimize,
    sample_starts,
    solve_batch,
)
from jaxfit.core.parallel import map_batched
from jaxfit.core.params import ParamSpec
from jaxfit.core.results import ResultSet

DELTA_CHI2_1SIGMA_1D = 1.0
CONTOUR_LEVELS_1D = (1.0, 4.0, 9.0)
CONTOUR_LEVELS_2D = (2.30, 6.18, 11.83)


def parse_grid(text: str) -> np.ndarray:
    """A grid from ``"start:stop:n"`` (linear) or ``"log:start:stop:n"`` (log-spaced)."""
    parts = text.split(":")
    log = parts[0] == "log"
    parts = parts[1:] if log else parts
    try:
        start, stop, n = float(parts[0]), float(parts[1]), int(parts[2])
        if len(parts) != 3:
            raise ValueError
    except (ValueError, IndexError):
        raise ValueError(
            f"grid {text!r}: expected 'start:stop:n' or 'log:start:stop:n'"
        ) from None
    if n < 1:
        raise ValueError(f"grid {text!r}: n must be at least 1")
    if log:
        if start <= 0 or stop <= 0:
            raise ValueError(f"grid {text!r}: a log grid needs positive start and stop")
        return np.geomspace(start, stop, n)
    return np.linspace(start, stop, n)


@dataclasses.dataclass
class ScanResult(ResultSet):
    """A profile likelihood or grid scan.

    Attributes:
        names: the scanned parameters (1 or 2).
        axes: their grid values.
        chi2: profiled objective per grid point, shape ``tuple(len(a) for a in axes)``.
        best: every parameter's value at each grid point's optimum (same shape).
        status: status code of each grid point's best start.
        n_converged: how many starts converged at each grid point.
        n_starts: starts per grid point.
        profile: True for a profile likelihood, False for a plain grid scan.
        global_fit: the fit with the scanned parameters free (None if not run).
        warnings: what makes the grid unfit for its contours (too coarse for the Hessian
            ellipse, contours leaving it; :func:`jaxfit.core.contours.grid_warnings`),
            one line each, printed by :meth:`summary`.
    """

    names: tuple[str, ...]
    axes: tuple[np.ndarray, ...]
    chi2: np.ndarray
    best: dict[str, np.ndarray]
    status: np.ndarray
    n_converged: np.ndarray
    n_starts: int
    profile: bool
    global_fit: FitResult | None = None
    warnings: tuple[str, ...] = ()

    default_stem = "scan"

    # ------------------------------------------------------------------ derived
    @property
    def chi2_min(self) -> float:
        grid_min = float(np.nanmin(np.where(np.isfinite(self.chi2), self.chi2, np.nan)))
        if self.global_fit is not None and np.isfinite(self.global_fit.fun):
            return min(grid_min, self.global_fit.fun)
        return grid_min

    @property
    def delta_chi2(self) -> np.ndarray:
        return self.chi2 - self.chi2_min

    @property
    def best_point(self) -> dict[str, float]:
        """The scanned parameters at the minimum (global fit if run, else grid minimum)."""
        if self.global_fit is not None and self.global_fit.fun <= np.nanmin(self.chi2):
            return {n: self.global_fit.x[n] for n in self.names}
        index = np.unravel_index(np.nanargmin(self.chi2), self.chi2.shape)
        return {n: float(a[i]) for n, a, i in zip(self.names, self.axes, index, strict=True)}

    @property
    def levels(self) -> tuple[float, ...]:
        return (DELTA_CHI2_1SIGMA_1D,) if len(self.names) == 1 else CONTOUR_LEVELS_2D

    @property
    def all_converged(self) -> bool:
        return bool(np.all(np.isin(self.status, SUCCESS_STATUS)))

    def interval(self, level: float = DELTA_CHI2_1SIGMA_1D) -> tuple[float | None, float | None]:
        """(low, high) where the 1-D profile crosses ``delta-chi2 = level``.

        An end is None when the profile stays below ``level`` up to the grid edge on that
        side (the interval is open there; widen the grid).
        """
        if len(self.names) != 1:
            raise ValueError("interval() is defined for 1-D scans; use levels for 2-D")
        theta, d = self.axes[0], self.delta_chi2
        root = np.sqrt(np.clip(d, 0.0, None))
        target = np.sqrt(level)
        i_min = int(np.nanargmin(d))

        def crossing(indices):
            for a, b in zip(indices[:-1], indices[1:], strict=True):
                if not (np.isfinite(root[a]) and np.isfinite(root[b])):
                    return None
                if root[a] < target <= root[b]:
                    frac = (target - root[a]) / (root[b] - root[a])
                    return float(theta[a] + frac * (theta[b] - theta[a]))
            return None

        low = crossing(list(range(i_min, -1, -1)))
        high = crossing(list(range(i_min, len(theta))))
        return low, high

    def local_minima(self) -> int:
        """Grid points below all their neighbours (8-neighbourhood in 2-D)."""
        return count_local_minima(self.chi2)

    # ------------------------------------------------------------------ output
    def to_frame(self) -> pd.DataFrame:
        """One row per grid point: scanned values, chi2, delta-chi2, status, all params."""
        mesh = np.meshgrid(*self.axes, indexing="ij")
        columns = {f"scan_{n}": m.ravel() for n, m in zip(self.names, mesh, strict=True)}
        columns |= {
            "chi2": self.chi2.ravel(),
            "delta_chi2": self.delta_chi2.ravel(),
            "status": self.status.ravel(),
            "n_converged": self.n_converged.ravel(),
        }
        columns |= {n: v.ravel() for n, v in self.best.items()}
        return pd.DataFrame(columns)

    def to_dict(self) -> dict:
        """Settings, minimum, levels, verdicts, and the chi2/status/best grids."""
        out = {
            "names": list(self.names),
            "profile": self.profile,
            "grid": {n: a for n, a in zip(self.names, self.axes, strict=True)},
            "n_starts": self.n_starts,
            "chi2_min": self.chi2_min,
            "best_point": self.best_point,
            "levels": list(self.levels),
            "local_minima": self.local_minima(),
            "all_converged": self.all_converged,
            "n_points_failed": int(np.sum(~np.isin(self.status, SUCCESS_STATUS))),
            "global_fit": None if self.global_fit is None else self.global_fit.to_dict(),
            "warnings": list(self.warnings),
        }
        if len(self.names) == 1:
            low, high = self.interval()
            out["interval_1sigma"] = {"low": low, "high": high}
        return out | {
            "chi2": self.chi2,
            "delta_chi2": self.delta_chi2,
            "status": self.status,
            "best": self.best,
        }

    def summary(self) -> str:
        """Two lines: the minimum and where, then convergence (and the 1-D interval)."""
        kind = "profile" if self.profile else "grid scan"
        shape = "x".join(str(len(a)) for a in self.axes)
        best = ", ".join(f"{n} = {v:.6g}" for n, v in self.best_point.items())
        failed = int(np.sum(~np.isin(self.status, SUCCESS_STATUS)))
        lines = [f"{kind} over {', '.join(self.names)} ({shape} points, {self.n_starts} "
                 f"starts each): chi2_min = {self.chi2_min:.10g} at {best}",
                 "all points converged" if failed == 0 else
                 f"{failed} of {self.chi2.size} points did not converge"]
        if len(self.names) == 1:
            low, high = self.interval()
            show = lambda end: "open (widen the grid)" if end is None else f"{end:.6g}"  # noqa: E731
            lines.append(f"1-sigma interval: [{show(low)}, {show(high)}]")
        return "\n".join(lines + [f"warning: {w}" for w in self.warnings])

    def plot(self, ax=None, label: str | None = None):
        """Delta-chi2 into ``ax`` (a new figure when None); returns the figure.

        1-D: the profile on a symlog axis (linear below 1, logarithmic above), so a
        profile whose every point lies far above the levels still shows its shape. 2-D:
        ``log10(delta-chi2 + 1)`` as colour under the labelled 68.27/95.45/99.73% contours.
        Either way a note says so when no level has a contour inside the grid (two or more
        points below it and one above).
        """
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(5.5, 4.2))
        d = self.delta_chi2
        # a level with one point below it has no contour worth the name around it
        crossed = [lv for lv in self.levels if np.sum(d < lv) >= 2 and np.nanmax(d) > lv]
        best = self.best_point
        if len(self.names) == 1:
            theta = self.axes[0]
            ax.plot(theta, d, "o-", ms=3, label=label)
            for level in self.levels:
                ax.axhline(level, color="grey", ls="--", lw=1,
                           label=rf"$\Delta\chi^2 = {level:g}$ ({level_label(level, 1)})")
            low, high = self.interval()
            for end in (low, high):
                if end is not None:
                    ax.axvline(end, color="C3", ls=":", lw=1)
            ax.set_yscale("symlog", linthresh=1.0)
            ax.set_ylim(0.0, max(10.0, 2.0 * float(np.nanmax(d))))
            ax.set_xlabel(self.names[0])
            ax.set_ylabel(r"$\Delta\chi^2$ (symlog)")
        else:
            x, y = self.axes
            mesh = ax.pcolormesh(x, y, np.log10(np.maximum(d, 0.0) + 1.0).T, shading="nearest",
                                 cmap="viridis")
            ax.figure.colorbar(mesh, ax=ax, label=r"$\log_{10}(\Delta\chi^2 + 1)$")
            if crossed:
                lines = ax.contour(x, y, d.T, levels=crossed, colors="w", linewidths=1.0)
                ax.clabel(lines, fmt={lv: level_label(lv, 2) for lv in crossed}, fontsize=7)
            ax.plot(best[self.names[0]], best[self.names[1]], "r+", ms=10, label="minimum")
            ax.set_xlabel(self.names[0])
            ax.set_ylabel(self.names[1])
        if not crossed:
            ax.text(0.5, 0.02, "no contour inside the grid (at most one point below each "
                    f"level): delta-chi2 from {np.nanmin(d):.3g} to {np.nanmax(d):.3g}",
                    transform=ax.transAxes, ha="center", fontsize=8, color="C3")
        kind = "profile" if self.profile else "grid scan"
        ax.set_title(f"{kind}: " + ", ".join(self.names))
        ax.legend(loc="best", fontsize=8)
        return ax.figure


def count_local_minima(chi2: np.ndarray, judged_only: bool = False) -> int:
    """Points of a 1-D or 2-D array below all their neighbours (8-neighbourhood in 2-D);
    NaN points are neither minima nor lower neighbours, or, with ``judged_only``, no
    neighbour of a minimum (a point next to a NaN cannot be judged then)."""
    chi2 = np.where(np.isfinite(chi2), chi2, -np.inf if judged_only else np.inf)
    padded = np.pad(chi2, 1, constant_values=np.inf)
    is_min = np.ones(chi2.shape, dtype=bool)
    offsets = [-1, 0, 1]
    shifts = (
        [(o,) for o in offsets if o]
        if chi2.ndim == 1
        else [(a, b) for a in offsets for b in offsets if (a, b) != (0, 0)]
    )
    for shift in shifts:
        window = tuple(slice(1 + s, 1 + s + n) for s, n in zip(shift, chi2.shape, strict=True))
        is_min &= chi2 < padded[window]
    return int(np.sum(is_min & np.isfinite(chi2)))


def level_label(level: float, ndim: int) -> str:
    """The confidence of ``delta-chi2 < level`` for ``ndim`` Gaussian parameters, as text
    ("68.3%" for 1 in 1-D or 2.30 in 2-D)."""
    from scipy.stats import chi2  # imported here: scipy.stats adds 0.3 s to every start-up

    return f"{100.0 * chi2.cdf(level, ndim):.1f}%"


def levels_for_sigmas(sigmas, ndim: int) -> tuple[float, ...]:
    """Delta-chi2 levels holding the Gaussian ``n``-sigma probability ``erf(n / sqrt 2)`` of
    each ``n`` in ``sigmas`` for ``ndim`` parameters (1, 2, 3 -> 2.2958, 6.1801, 11.829
    in 2-D; the rounded :data:`CONTOUR_LEVELS_2D` are the defaults)."""
    from scipy.special import erf
    from scipy.stats import chi2

    sigmas = checks.finite_array(sigmas, "sigmas", positive=True, ndim=1)
    return tuple(float(chi2.ppf(erf(n / np.sqrt(2.0)), ndim)) for n in np.sort(sigmas))


def _check_grid(spec: ParamSpec, grid: Mapping) -> tuple[tuple[str, ...], tuple[np.ndarray, ...]]:
    if not isinstance(grid, Mapping) or not 1 <= len(grid) <= 2:
        raise ValueError("grid must map one or two parameter names to their grid values")
    spec.check_names(grid, "scan parameter")
    axes = []
    for name, values in grid.items():
        values = np.atleast_1d(np.asarray(values, dtype=np.float64))
        p = spec[name]
        if values.ndim != 1 or values.size == 0:
            raise ValueError(f"grid for {name!r} is empty or not 1-D (shape {values.shape})")
        if not np.all(np.isfinite(values)):
            raise ValueError(f"grid for {name!r} contains NaN or inf")
        if np.any(np.diff(values) <= 0):
            raise ValueError(f"grid for {name!r} must be strictly increasing")
        if values[0] < p.lower or values[-1] > p.upper:
            raise ValueError(
                f"grid for {name!r} spans [{values[0]}, {values[-1]}], outside the bounds "
                f"[{p.lower}, {p.upper}]"
            )
        axes.append(values)
    return tuple(grid), tuple(axes)


def scan(
    fun: Callable,
    spec: ParamSpec,
    grid: Mapping[str, np.ndarray],
    *,
    data=None,
    profile: bool = True,
    method: str = "lbfgs",
    n_starts: int = 8,
    continuation: bool = True,
    sampler: str = "sobol",
    seed: int = 0,
    global_fit: bool = True,
    chunk_size: int | None = None,
    devices=None,
    progress: bool = True,
    **options,
) -> ScanResult:
    """Profile likelihood (or grid scan) of ``fun`` over one or two parameters.

    Args:
        fun: pure JAX objective (chi2) ``fun(params, data)`` of a ``{name: value}`` dict
            and the data pytree (``fun(params)`` when ``data`` is None).
        data: the objective's data, an argument of the compiled program: every grid
            point, start and the global fit share one compilation per shape.
        spec: parameters; the scanned ones are frozen at each grid value, the other free
            ones are fitted (``profile=True``) or held at their defaults.
        grid: ``{name: increasing values}`` for 1 or 2 parameters (:func:`parse_grid`
            reads ``"start:stop:n"`` strings).
        method: inner JAX method ("lbfgs", "adam" or "de").
        n_starts: starts per grid point: the defaults plus ``n_starts - 1`` drawn inside
            the bounds (the same draws at every point).
        continuation: after these starts, each point is also started from its
            neighbours' optima and from the global fit, round after round, until no point
            improves (:func:`continue_from_neighbours`): a basin found at one point spreads
            over the grid, so a few starts per point reach what many independent starts
            would. False: independent starts only.
        sampler, seed: how the starts are drawn.
        global_fit: also fit with the scanned parameters free within the grid range, to
            anchor delta-chi2 at the true minimum (and, with ``continuation``, to start
            every point from it).
        chunk_size: batch items (grid points x starts) per compiled call.
        devices: devices the batch is sharded over (default: all local devices).
        progress: progress bar over chunks.
        **options: :class:`~jaxfit.core.optimize.SolverOptions` fields.
    """
    names, axes = _check_grid(spec, grid)
    opts = SolverOptions.build(options)
    n_starts = checks.count(n_starts, "n_starts")
    inner = spec.freeze(names) if profile else spec.freeze(spec.names)
    shape = tuple(len(a) for a in axes)
    mesh = np.meshgrid(*axes, indexing="ij")
    n_points = int(np.prod(shape))

    fixed = np.tile(np.asarray(inner.fixed_vector()), (n_points, 1))
    for name, values in zip(names, mesh, strict=True):
        fixed[:, inner.frozen_names.index(name)] = values.ravel()

    fit = None
    if global_fit and profile and all(len(a) > 1 for a in axes):
        outer = spec
        for name, values in zip(names, axes, strict=True):
            default = float(np.clip(spec[name].default, values[0], values[-1]))
            outer = outer.replace(name, lower=values[0], upper=values[-1], default=default,
                                  frozen=False)
        # the scan's own method where it is a local one (one solver less to compile)
        local = method if method in ("lbfgs", "lbfgs-box", "lm") else "lbfgs"
        fit = minimize(fun, outer, data=data, method=local, n_starts=n_starts, sampler=sampler,
                       seed=seed, devices=devices, progress=False, **options)

    if inner.n_free and n_starts > 1:
        starts = np.concatenate(
            [np.asarray(inner.pack())[None],
             sample_starts(inner, n_starts - 1, sampler=sampler, seed=seed)]
        )
    else:
        starts = np.asarray(inner.pack())[None]
    n_s = len(starts)
    solve = functools.partial(solve_batch, fun, inner, method, data=data, seed=seed,
                              options=opts, devices=devices, progress=progress)
    out = solve(np.tile(starts, (n_points, 1)), np.repeat(fixed, n_s, axis=0),
                chunk_size=chunk_size,
                description=f"scan {'x'.join(names)} ({n_points} points x {n_s} starts)")
    fun_values = np.where(np.isfinite(out.fun), out.fun, np.inf).reshape(n_points, n_s)
    pick = np.argmin(fun_values, axis=1)
    rows = np.arange(n_points) * n_s + pick
    points = PointBest(
        chi2=fun_values[np.arange(n_points), pick],
        x=np.asarray(out.x[rows]),
        status=np.asarray(out.status[rows]),
        n_converged=np.isin(out.status, SUCCESS_STATUS).reshape(n_points, n_s).sum(axis=1),
    )
    if continuation and profile and inner.n_free:
        seeds = [] if fit is None else [inner.pack({n: fit.x[n] for n in inner.free_names})]
        chunk = chunk_size or min(n_points * n_s, CONTINUATION_CHUNK)
        points = continue_from_neighbours(
            functools.partial(solve, chunk_size=chunk), screening(fun, inner, data, chunk,
                                                                  devices),
            chunk, points, fixed, _neighbours(shape), np.asarray(seeds), sum(shape) + 1)

    best = {}
    for name in spec.names:
        if name in inner.free_names:
            values = points.x[:, inner.free_names.index(name)]
        else:
            values = fixed[:, inner.frozen_names.index(name)]
        best[name] = np.asarray(values).reshape(shape)
    return ScanResult(
        names=names,
        axes=axes,
        chi2=np.where(np.isfinite(points.chi2), points.chi2, np.nan).reshape(shape),
        best=best,
        status=points.status.reshape(shape),
        n_converged=points.n_converged.reshape(shape),
        n_starts=n_s,
        profile=profile,
        global_fit=fit,
    )


@dataclasses.dataclass
class PointBest:
    """The best optimum found so far at each grid point (flat point index)."""

    chi2: np.ndarray  # (P,), inf where no start ended finite
    x: np.ndarray  # (P, n_free)
    status: np.ndarray  # (P,) status of the best start
    n_converged: np.ndarray  # (P,) converged starts of the n_starts drawn ones


# A start from a neighbour's optimum counts as an improvement only when it lowers chi2 by
# more than this (relative): smaller changes are rounding, and chasing them would keep
# rounds going without changing any answer.
IMPROVEMENT_RTOL = 1e-10
# Continuation rounds run in chunks of this many starts (fewer when the first round of the
# scan had fewer), each round padded to whole chunks: every round of every scan of one grid
# shape then reuses one compiled program, whatever the data make the rounds' sizes.
CONTINUATION_CHUNK = 64


def _padding(n: int, chunk: int) -> np.ndarray:
    """Row indices ``0..n-1`` padded with the last row to whole chunks (one compiled
    program for every round)."""
    return np.concatenate([np.arange(n), np.full(-(-n // chunk) * chunk - n, n - 1)])


def _neighbours(shape: tuple[int, ...]) -> np.ndarray:
    """``(P, K)`` flat indices of each point's neighbours (8 in 2-D, 2 in 1-D), -1 where
    the grid ends."""
    index = np.arange(int(np.prod(shape))).reshape(shape)
    padded = np.pad(index, 1, constant_values=-1)
    offsets = ([(o,) for o in (-1, 1)] if len(shape) == 1 else
               [(a, b) for a in (-1, 0, 1) for b in (-1, 0, 1) if (a, b) != (0, 0)])
    columns = []
    for shift in offsets:
        window = tuple(slice(1 + s, 1 + s + n) for s, n in zip(shift, shape, strict=True))
        columns.append(padded[window].ravel())
    return np.stack(columns, axis=1)


@functools.lru_cache(maxsize=64)
def _value_at(fun: Callable, skeleton: ParamSpec) -> Callable:
    """``((x, fixed), data) -> fun``: the objective at constrained free values ``x``."""
    return lambda item, data: fun(skeleton.unpack(item[0], item[1]), data)


def screening(fun: Callable, inner: ParamSpec, data, chunk: int, devices) -> Callable:
    """``((x, fixed)) -> fun`` over a batch, in padded chunks of ``chunk``: the one
    evaluation that screens continuation starts (:func:`continue_from_neighbours`)."""
    f_data, shared = with_data(fun, data)
    return functools.partial(map_batched, _value_at(f_data, inner.skeleton()), shared=shared,
                             chunk_size=chunk, devices=devices, progress=False)


def continue_from_neighbours(solve, evaluate, chunk: int, points: PointBest, fixed,
                             neighbours: np.ndarray, seeds, max_rounds: int) -> PointBest:
    """Start every point from its neighbours' optima, round after round, until no point
    improves (or ``max_rounds``, the graph's diameter, have run).

    ``neighbours`` is ``(P, K)``: each point's neighbour indices, -1 where there is none
    (:func:`_neighbours` for a rectangular grid; :mod:`jaxfit.core.contours` builds it for
    its lattice).

    A profile's optimum moves continuously along the grid except where another basin takes
    over; a point that missed the better basin is reached from a neighbour that found it.
    Round 1 starts every point from all its neighbours' optima and from ``seeds`` (the
    global fit, whose basin holds the overall minimum); later rounds only from the
    neighbours whose optimum improved in the round before, so the work shrinks to the
    front where a better basin is still spreading (at most grid-diameter rounds).

    A start is only run where it already beats the point's optimum (one batched
    evaluation screens them all): a neighbour's optimum in the point's own basin is worse
    there than the point's optimum, so on a one-basin profile the continuation costs one
    evaluation per neighbour and no fit.
    """
    n_points = len(points.chi2)
    changed = np.ones(n_points, dtype=bool)
    for round_ in range(1, max_rounds + 1):
        p_idx, q_idx = np.nonzero((neighbours >= 0) & changed[np.maximum(neighbours, 0)])
        q_idx = neighbours[p_idx, q_idx]
        x0 = points.x[q_idx]
        keep = np.isfinite(points.chi2[q_idx]) & ~np.all(x0 == points.x[p_idx], axis=1)
        p_idx, x0 = p_idx[keep], x0[keep]
        if round_ == 1 and len(seeds):
            p_idx = np.concatenate([p_idx, np.repeat(np.arange(n_points), len(seeds))])
            x0 = np.concatenate([x0, np.tile(seeds, (n_points, 1))])
        if len(p_idx):
            pad = _padding(len(p_idx), chunk)
            at_start = evaluate((x0[pad], fixed[p_idx[pad]]))[:len(p_idx)]
            tol = IMPROVEMENT_RTOL * np.maximum(1.0, np.abs(points.chi2[p_idx]))
            promising = at_start < np.where(np.isfinite(points.chi2[p_idx]),
                                            points.chi2[p_idx] - tol, np.inf)
            p_idx, x0 = p_idx[promising], x0[promising]
        if len(p_idx) == 0:
            break
        n = len(p_idx)
        pad = _padding(n, chunk)
        out = solve(x0[pad], fixed[p_idx[pad]],
                    description=f"scan continuation round {round_} ({n} starts)")
        f = np.where(np.isfinite(out.fun[:n]), out.fun[:n], np.inf)
        # the best new start of each point (lexsort: by point, then by chi2)
        order = np.lexsort((f, p_idx))
        first = np.ones(n, dtype=bool)
        first[1:] = p_idx[order][1:] != p_idx[order][:-1]
        best_rows = order[first]
        targets = p_idx[best_rows]
        tol = IMPROVEMENT_RTOL * np.maximum(1.0, np.abs(points.chi2[targets]))
        better = f[best_rows] < points.chi2[targets] - np.where(
            np.isfinite(points.chi2[targets]), tol, 0.0)
        rows, targets = best_rows[better], targets[better]
        points.chi2[targets] = f[rows]
        points.x[targets] = out.x[:n][rows]
        points.status[targets] = out.status[:n][rows]
        changed = np.zeros(n_points, dtype=bool)
        changed[targets] = True
        if not changed.any():
            break
    return points
