"""Profile likelihoods that find their own contours.

A fixed grid is right only by luck: the CMB+BAO ellipse in (Om0, H0) (sigma 0.0039 and
0.30, correlation -0.975) falls between the points of a 13 x 13 grid of steps 0.005 and
0.5, and its contours break into islands. :func:`profile` instead builds the grid from the
problem:

1. the best fit, with the scanned parameters free (:func:`jaxfit.core.optimize.minimize`);
2. the profile Hessian there: the Hessian of the chi2 in the scanned and the nuisance
   parameters, the nuisance eliminated by its Schur complement (parameters resting on a
   bound stay held: the profile does not move them), so that near the best fit
   ``delta-chi2 = (s - s_hat)^T C^-1 (s - s_hat)`` with ``C`` the covariance of the scanned
   parameters ``s``;
3. a lattice in the whitened coordinates ``u`` of that ellipse, ``s = s_hat + A u`` with
   ``A A^T = C`` (the eigenvectors of ``C`` scaled by their sigmas): the ellipses are
   circles ``|u|^2 = level`` there, so the spacing ``h`` puts :data:`CELLS` steps across the
   radius of the smallest requested contour, whatever the correlation;
4. a flood fill: the disc of the lattice that the Hessian predicts to hold the largest
   contour is profiled first (one batched call), then every round profiles the lattice
   points near a point below the largest level that are still missing (within
   :data:`REACH` steps, doubling while the contour is still far), until none is: each
   contour is then closed by points above its level, whatever its shape. Every new point
   starts from the Hessian's linear prediction of the nuisance (exact for a Gaussian),
   from the best fit and from the nearest profiled point; at the end every point is
   restarted from its neighbours' optima
   (:func:`jaxfit.core.scan.continue_from_neighbours`);
5. refinement: a contour with fewer than :data:`MIN_INSIDE` lattice points inside it is
   not resolved; the spacing is halved and the fill goes on from the points below the
   largest level;
6. verdicts: a contour is closed when no point inside it borders a lattice point outside
   the bounds or left unprofiled (the ``max_points`` budget). Each open or unresolved
   contour gets a one-line warning naming its level.

The chi2 is taken to be ``-2 ln L`` (Wilks levels: delta-chi2 1, 4, 9 in 1-D, 2.30, 6.18,
11.83 in 2-D for 68.27/95.45/99.73%). :func:`grid_warnings` checks a user's explicit grid
against the same ellipse.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence

import numpy as np

from jaxfit.core import checks
from jaxfit.core.optimize import SUCCESS_STATUS, FitResult, SolverOptions, minimize, solve_batch
from jaxfit.core.params import ParamSpec
from jaxfit.core.profile_result import ProfileResult
from jaxfit.core.scan import (
    CONTOUR_LEVELS_1D,
    CONTOUR_LEVELS_2D,
    PointBest,
    ScanResult,
    _padding,
    continue_from_neighbours,
    level_label,
    screening,
)
from jaxfit.core.uncertainty import objective_hessian

CELLS = {1: 6, 2: 4}
"""Lattice steps across the Hessian radius of the smallest contour, by dimension. 2-D: 4
steps put ~50 points inside the 68% contour and ~450 in the disc profiled first; the
contour's radius is then good to ~0.2% on a Gaussian (linear interpolation of
``sqrt(delta-chi2)``, which is linear along any ray from the best fit)."""
MIN_INSIDE = {1: 9, 2: 20}
"""Fewest lattice points inside a contour for it to count as resolved, by dimension."""
MARGIN = 1.25
"""The first disc reaches this times the Hessian radius of the largest contour."""
REACH = 2
"""Lattice steps a flood-fill round reaches beyond the points below the largest level. It
doubles after a round whose new points lie mostly below that level (up to
:data:`MAX_REACH`), so a contour many times larger than the Hessian's takes a few rounds,
not one per step, and falls back once the fill has passed the contour."""
MAX_REACH = {1: 256, 2: 16}
"""Largest reach by dimension: a 2-D round looks at ``(2 reach + 1)^2`` steps per point."""
MAX_POINTS = 4096
"""Default budget of profiled points."""
ON_BOUND_RTOL = 1e-6
"""A nuisance parameter within this fraction of its range from a bound rests on it."""
_STRIDE = 1 << 21  # lattice index (k0, k1) -> one int64 key; |k| < 2**20 always here


@dataclasses.dataclass(frozen=True, eq=False)
class ProfileHessian:
    """The quadratic model of the profile at the best fit.

    Attributes:
        centre: the scanned parameters at the best fit, ``(d,)``.
        covariance: ``C``, ``(d, d)``, in the scanned parameters' units (products).
        transform: ``A`` with ``A A^T = C``: ``s = centre + A u``.
        nuisance_slope: ``(n_free_nuisance, d)``: the nuisance's change per unit change of
            the scanned parameters along the profile (zero rows for those held on bounds).
        warning: why the Hessian could not be used (the grid then spans the bounds), or "".
    """

    centre: np.ndarray
    covariance: np.ndarray
    transform: np.ndarray
    nuisance_slope: np.ndarray
    warning: str = ""


def default_levels(ndim: int) -> tuple[float, ...]:
    """68.27/95.45/99.73% levels: (1, 4, 9) in 1-D, (2.30, 6.18, 11.83) in 2-D."""
    return CONTOUR_LEVELS_1D if ndim == 1 else CONTOUR_LEVELS_2D


def _outer_spec(spec: ParamSpec, names: Sequence[str]) -> ParamSpec:
    """``spec`` with the scanned parameters free (a spec may freeze the one it scans)."""
    for name in names:
        spec = spec.replace(name, frozen=False)
    return spec


def profile_hessian(fun: Callable, spec: ParamSpec, names: Sequence[str], best: dict, *,
                    data=None) -> ProfileHessian:
    """The profile's quadratic model at ``best`` (a minimum of ``fun`` over the free
    parameters of ``spec``, which include ``names``); see the module doc, step 2.

    With ``H`` the Hessian of the chi2 in (scanned s, nuisance n), the profile's Hessian is
    ``H_ss - H_sn H_nn^-1 H_ns`` and ``C = 2 (that)^-1``; the nuisance follows the scanned
    parameters with slope ``-H_nn^-1 H_ns``. When ``C`` is not positive definite and
    finite, the covariance falls back to a diagonal one whose largest contour spans each
    parameter's bounds, and ``warning`` says so.
    """
    nuisance = [n for n in spec.free_names if n not in names]
    width = {n: spec[n].upper - spec[n].lower for n in spec.names}
    resting = [n for n in nuisance
               if min(best[n] - spec[n].lower, spec[n].upper - best[n])
               <= ON_BOUND_RTOL * width[n]]
    moving = [n for n in nuisance if n not in resting]
    sub = spec.free_only([*names, *moving]).with_defaults(best)
    order = [sub.free_names.index(n) for n in (*names, *moving)]
    hessian = objective_hessian(fun, sub, sub.pack(), data=data)[np.ix_(order, order)]
    d = len(names)
    h_ss, h_sn, h_nn = hessian[:d, :d], hessian[:d, d:], hessian[d:, d:]
    slope = -np.linalg.lstsq(h_nn, h_sn.T, rcond=None)[0] if moving else np.zeros((0, d))
    profile = h_ss + h_sn @ slope
    full_slope = np.zeros((len(nuisance), d))
    full_slope[[nuisance.index(n) for n in moving]] = slope
    centre = np.array([best[n] for n in names])
    covariance = 2.0 * np.linalg.inv(profile) if np.all(np.isfinite(profile)) else profile
    eigenvalues, vectors = (np.linalg.eigh((covariance + covariance.T) / 2.0)
                            if np.all(np.isfinite(covariance)) else (np.zeros(d), np.eye(d)))
    warning = ""
    if not np.all(eigenvalues > 0):
        span = np.array([min(width[n], 1e300) for n in names])
        covariance = np.diag((span / (2.0 * np.sqrt(CONTOUR_LEVELS_2D[-1]))) ** 2)
        eigenvalues, vectors = np.linalg.eigh(covariance)
        warning = (f"the profile Hessian in {', '.join(names)} at the best fit is not positive "
                   "definite: the grid is sized from the bounds instead")
    return ProfileHessian(centre=centre, covariance=covariance,
                          transform=vectors * np.sqrt(eigenvalues), nuisance_slope=full_slope,
                          warning=warning)


# -------------------------------------------------------------------------- lattice
def _keys(k: np.ndarray) -> np.ndarray:
    """One int64 per lattice index row (1-D or 2-D)."""
    k = np.asarray(k, dtype=np.int64)
    return k[:, 0] if k.shape[1] == 1 else k[:, 0] * _STRIDE + k[:, 1]


def _offsets(ndim: int, reach: int) -> np.ndarray:
    """Every lattice step with components in ``[-reach, reach]`` except zero."""
    axes = np.meshgrid(*[np.arange(-reach, reach + 1)] * ndim, indexing="ij")
    steps = np.stack([a.ravel() for a in axes], axis=1)
    return steps[np.any(steps != 0, axis=1)]


def _rows_of(keys: np.ndarray, query: np.ndarray) -> np.ndarray:
    """The row of each ``query`` key in ``keys`` (unsorted, unique), -1 where absent."""
    order = np.argsort(keys)
    at = np.clip(np.searchsorted(keys[order], query), 0, len(keys) - 1)
    return np.where(keys[order][at] == query, order[at], -1)


def _unique_new(k: np.ndarray, *known: np.ndarray) -> np.ndarray:
    """Rows of ``k`` (unique) whose keys are in none of ``known`` (key arrays)."""
    k = np.unique(k, axis=0)
    taken = np.concatenate(known) if known else np.zeros(0, np.int64)
    return k[~np.isin(_keys(k), taken)]


@dataclasses.dataclass
class _Lattice:
    """Profiled lattice points (rows) and the ones found outside the bounds."""

    k: np.ndarray  # (P, d) lattice indices at the current spacing
    points: PointBest
    outside: np.ndarray  # (Q, d) lattice indices outside the bounds

    def neighbours(self, reach: int = 1) -> np.ndarray:
        """``(P, K)`` rows of each point's neighbours within ``reach`` steps, -1 if none."""
        steps = _offsets(self.k.shape[1], reach)
        query = _keys((self.k[:, None, :] + steps[None]).reshape(-1, self.k.shape[1]))
        return _rows_of(_keys(self.k), query).reshape(len(self.k), len(steps))


# -------------------------------------------------------------------------- profile
def profile(
    fun: Callable,
    spec: ParamSpec,
    names: Sequence[str],
    *,
    data=None,
    levels: Sequence[float] | None = None,
    method: str = "lbfgs",
    n_starts: int = 4,
    cells: int | None = None,
    max_points: int = MAX_POINTS,
    max_refinements: int = 2,
    sampler: str = "sobol",
    seed: int = 0,
    chunk_size: int = 64,
    devices=None,
    progress: bool = True,
    **options,
) -> ProfileResult:
    """Profile likelihood of the chi2 ``fun`` over one or two parameters on a grid that
    finds, closes and resolves its contours (module doc).

    Args:
        fun: pure JAX chi2 ``fun(params, data)`` (``fun(params)`` when ``data`` is None).
        spec: the parameters; the other free ones are profiled (fitted at every point).
        names: the 1 or 2 scanned parameters (free or frozen in ``spec``).
        levels: delta-chi2 levels, increasing (default :func:`default_levels`;
            :func:`jaxfit.core.scan.levels_for_sigmas` turns n-sigma into levels).
        method: local solver of the best fit and the points ("lbfgs", "lbfgs-box", "lm").
        n_starts: starts of the best fit (the default plus drawn ones); the points start
            warm (module doc, step 4).
        cells: lattice steps across the smallest contour's Hessian radius (default
            :data:`CELLS`).
        max_points: most points profiled; a contour the budget cuts short is reported open.
        max_refinements: most halvings of the spacing (step 5).
        sampler, seed: the best fit's drawn starts.
        chunk_size: points per compiled call; every round is padded to whole chunks, so
            all rounds share one compiled program.
        devices, progress, **options: as :func:`jaxfit.core.scan.scan`.

    Raises:
        ValueError: not 1 or 2 names, levels not positive and increasing, bad counts.
        KeyError: an unknown name.
    """
    names = tuple(names)
    if not 1 <= len(names) <= 2 or len(set(names)) != len(names):
        raise ValueError(f"names must be one or two distinct parameter names, got {names!r}")
    spec.check_names(names, "profile parameter")
    ndim = len(names)
    levels = default_levels(ndim) if levels is None else tuple(
        checks.finite_array(levels, "levels", positive=True, ndim=1))
    if np.any(np.diff(levels) <= 0):
        raise ValueError(f"levels must be increasing delta-chi2 values, got {list(levels)}")
    n_starts = checks.count(n_starts, "n_starts")
    cells = checks.count(CELLS[ndim] if cells is None else cells, "cells")
    max_points = checks.count(max_points, "max_points")
    max_refinements = checks.count(max_refinements, "max_refinements", minimum=0)
    chunk_size = checks.count(chunk_size, "chunk_size")
    opts = SolverOptions.build(options)
    local = checks.one_of(method, "method", ("lbfgs", "lbfgs-box", "lm"))

    outer = _outer_spec(spec, names)
    fit = minimize(fun, outer, data=data, method=local, n_starts=n_starts, sampler=sampler,
                   seed=seed, devices=devices, progress=False, **options)
    quad = profile_hessian(fun, outer, names, fit.x, data=data)
    inner = outer.freeze(names, {n: fit.x[n] for n in names}).with_defaults(fit.x)
    bounds = np.array([[outer[n].lower, outer[n].upper] for n in names])

    def coordinates(k, h):
        return quad.centre + (h * np.asarray(k, float)) @ quad.transform.T

    def fixed_at(s):
        fixed = np.tile(np.asarray(inner.fixed_vector()), (len(s), 1))
        for i, name in enumerate(names):
            fixed[:, inner.frozen_names.index(name)] = s[:, i]
        return fixed

    solve = functools.partial(solve_batch, fun, inner, local, data=data, seed=seed,
                              options=opts, chunk_size=chunk_size, devices=devices,
                              progress=progress)
    x_best = np.asarray(inner.pack())

    def profile_points(k, h, lattice):
        """Profile lattice points ``k`` (one batched call; 2 warm starts each)."""
        s = coordinates(k, h)
        predicted = np.clip(x_best + (s - quad.centre) @ quad.nuisance_slope.T,
                            inner.lower, inner.upper)
        x0 = np.concatenate([predicted, np.tile(x_best, (len(k), 1))])
        if lattice is not None and len(lattice.k):  # a third start: the nearest point
            near = np.argmin(np.abs(k[:, None, :] - lattice.k[None]).sum(-1), axis=1)
            x0 = np.concatenate([x0, lattice.points.x[near]])
        n_s = len(x0) // len(k)
        pad = _padding(len(x0), chunk_size)
        out = solve(x0[pad], fixed_at(np.tile(s, (n_s, 1)))[pad],
                    description=f"profile {'x'.join(names)} ({len(k)} points x {n_s} starts)")
        f = np.where(np.isfinite(out.fun[:len(x0)]), out.fun[:len(x0)], np.inf)
        f = f.reshape(n_s, len(k))
        pick = np.argmin(f, axis=0)
        rows = pick * len(k) + np.arange(len(k))
        return PointBest(chi2=f[pick, np.arange(len(k))], x=np.asarray(out.x[rows]),
                         status=np.asarray(out.status[rows]),
                         n_converged=np.isin(out.status[:len(x0)], SUCCESS_STATUS)
                         .reshape(n_s, len(k)).sum(axis=0))

    def add(lattice, k, h):
        """``lattice`` with the in-bounds points of ``k`` profiled, the others recorded."""
        s = coordinates(k, h)
        inside = np.all((s >= bounds[:, 0]) & (s <= bounds[:, 1]), axis=1)
        outside = np.concatenate([lattice.outside, k[~inside]]) if lattice else k[~inside]
        if not inside.any():
            return dataclasses.replace(lattice, outside=outside)
        new = profile_points(k[inside], h, lattice)
        if lattice is None:
            return _Lattice(k[inside], new, outside)
        merged = PointBest(*(np.concatenate([a, b]) for a, b in
                             zip(dataclasses.astuple(lattice.points),
                                 dataclasses.astuple(new), strict=True)))
        return _Lattice(np.concatenate([lattice.k, k[inside]]), merged, outside)

    h = np.sqrt(levels[0]) / cells
    radius = int(np.ceil(MARGIN * np.sqrt(levels[-1]) / h))
    disc = np.stack(np.meshgrid(*[np.arange(-radius, radius + 1)] * ndim, indexing="ij"),
                    axis=-1).reshape(-1, ndim)
    lattice = add(None, disc[np.sum(disc**2, axis=1) <= radius**2], h)
    budget_spent, refinements, n_rounds, reach = False, 0, 1, REACH
    while True:
        chi2_min = min(fit.fun, float(np.min(lattice.points.chi2)))
        below = lattice.points.chi2 - chi2_min < levels[-1]
        steps = _offsets(ndim, reach)
        wanted = _unique_new((lattice.k[below][:, None, :] + steps[None]).reshape(-1, ndim),
                             _keys(lattice.k), _keys(lattice.outside))
        if not len(wanted):
            inside_smallest = np.sum(lattice.points.chi2 - chi2_min < levels[0])
            if inside_smallest >= MIN_INSIDE[ndim] or refinements == max_refinements:
                break
            refinements += 1
            h, reach = h / 2.0, REACH
            lattice = _Lattice(2 * lattice.k, lattice.points, 2 * lattice.outside)
            continue
        room = max_points - len(lattice.k)
        if room <= 0:
            budget_spent = True
            break
        if len(wanted) > room:  # the budget goes to the points nearest the best fit
            wanted = wanted[np.argsort(np.sum(wanted**2, axis=1), kind="stable")[:room]]
        n_before = len(lattice.k)
        lattice = add(lattice, wanted, h)
        # mostly still below the largest level: the contour is far out, reach further
        new_below = lattice.points.chi2[n_before:] - chi2_min < levels[-1]
        reach = min(2 * reach, MAX_REACH[ndim]) if np.mean(new_below) > 0.5 else REACH
        n_rounds += 1

    if inner.n_free:
        chunk = chunk_size
        neighbours = lattice.neighbours()
        lattice.points = continue_from_neighbours(
            functools.partial(solve, progress=False), screening(fun, inner, data, chunk,
                                                                devices),
            chunk, lattice.points, fixed_at(coordinates(lattice.k, h)), neighbours,
            np.asarray([x_best]), len(lattice.k))
    return _result(names, levels, fit, quad, lattice, h, inner, n_rounds, budget_spent,
                   coordinates)


def _verdicts(lattice: _Lattice, delta: np.ndarray, levels, names, ndim, budget_spent):
    """(closed, resolved, warnings) per level (module doc, step 6)."""
    neighbours = lattice.neighbours()
    steps = _offsets(ndim, 1)
    beyond = (lattice.k[:, None, :] + steps[None]).reshape(-1, ndim)
    off_bounds = np.isin(_keys(beyond), _keys(lattice.outside)).reshape(neighbours.shape)
    closed, resolved, warnings = [], [], []
    for level in levels:
        inside = delta < level
        open_edge = inside[:, None] & (off_bounds | (neighbours < 0))
        closed.append(not open_edge.any())
        resolved.append(int(inside.sum()) >= MIN_INSIDE[ndim])
        label = f"the {level_label(level, ndim)} contour (delta-chi2 = {level:g})"
        if not closed[-1]:
            why = ("the point budget ran out (raise max_points)" if budget_spent
                   and not off_bounds[open_edge].any() else
                   f"it reaches the bounds of {', '.join(names)}")
            warnings.append(f"{label} is not closed: {why}")
        if not resolved[-1]:
            n = int(inside.sum())
            warnings.append(f"{label} is not resolved: only {n} grid point{'s' * (n != 1)} "
                            "inside it")
    return tuple(closed), tuple(resolved), warnings


def _result(names, levels, fit: FitResult, quad: ProfileHessian, lattice: _Lattice, h,
            inner: ParamSpec, n_rounds, budget_spent, coordinates) -> ProfileResult:
    ndim = len(names)
    chi2_min = min(fit.fun, float(np.min(lattice.points.chi2)))
    delta = lattice.points.chi2 - chi2_min
    closed, resolved, warnings = _verdicts(lattice, delta, levels, names, ndim, budget_spent)
    if quad.warning:
        warnings.insert(0, quad.warning)
    if fit.fun - chi2_min > 1e-6 * max(1.0, abs(fit.fun)):
        warnings.append(f"a grid point lies {fit.fun - chi2_min:.3g} below the best fit: the "
                        "best fit missed the minimum (try more n_starts)")
    # a dense array over the lattice's bounding box: NaN where nothing was profiled
    low = lattice.k.min(axis=0)
    shape = tuple(lattice.k.max(axis=0) - low + 1)
    index = tuple((lattice.k - low).T)
    box = np.stack(np.meshgrid(*[np.arange(n) for n in shape], indexing="ij"), axis=-1)
    coords = coordinates(box.reshape(-1, ndim) + low, h).reshape(*shape, ndim)

    def dense(values, fill=np.nan):
        out = np.full(shape, fill, dtype=np.result_type(values, fill))
        out[index] = values
        return out

    chi2 = dense(np.where(np.isfinite(lattice.points.chi2), lattice.points.chi2, np.nan))
    best = {}
    for name in inner.names:
        if name in names:
            best[name] = coords[..., names.index(name)]
        elif name in inner.free_names:
            best[name] = dense(lattice.points.x[:, inner.free_names.index(name)])
        else:
            best[name] = np.full(shape, inner[name].default)
    return ProfileResult(
        names=names, levels=tuple(float(v) for v in levels),
        coords={n: coords[..., i] for i, n in enumerate(names)}, chi2=chi2, best=best,
        status=dense(lattice.points.status, fill=-1), best_fit=fit,
        covariance=quad.covariance, transform=quad.transform, spacing=float(h),
        closed=closed, resolved=resolved, warnings=tuple(warnings),
        n_rounds=n_rounds, n_points=len(lattice.k), hessian_ok=not quad.warning)


# ----------------------------------------------------------------- explicit grids
def grid_warnings(result: ScanResult, covariance: np.ndarray,
                  levels: Sequence[float] | None = None) -> tuple[str, ...]:
    """What makes an explicit grid unfit for the contours of the Hessian ellipse
    ``covariance`` (of ``result.names``, centred on the best point), one line each:

    - a step larger than half the smallest contour's half-chord through the centre along
      that axis, ``sqrt(level / (C^-1)_ii)`` (fewer than ~4 points across it: the contour
      breaks up, as the 13 x 13 CMB+BAO grid did);
    - the largest contour's extent ``+- sqrt(level C_ii)`` leaving the grid.
    """
    ndim = len(result.names)
    levels = default_levels(ndim) if levels is None else tuple(levels)
    covariance = np.atleast_2d(covariance)
    chord = np.sqrt(levels[0] / np.diag(np.linalg.inv(covariance)))
    reach = np.sqrt(levels[-1] * np.diag(covariance))
    out = []
    for i, (name, axis) in enumerate(zip(result.names, result.axes, strict=True)):
        centre = result.best_point[name]
        step = float(np.max(np.diff(axis))) if len(axis) > 1 else np.inf
        if step > chord[i] / 2.0:
            out.append(f"the grid of {name} has steps up to {step:.3g}, too coarse for the "
                       f"{level_label(levels[0], ndim)} contour (half-width {chord[i]:.3g} "
                       f"along {name} from the Hessian): use steps <= {chord[i] / 2:.3g} or "
                       "the automatic grid")
        if axis[0] > centre - reach[i] or axis[-1] < centre + reach[i]:
            out.append(f"the {level_label(levels[-1], ndim)} contour reaches {name} = "
                       f"{centre - reach[i]:.4g} .. {centre + reach[i]:.4g}, beyond the grid "
                       f"[{axis[0]:.4g}, {axis[-1]:.4g}]")
    return tuple(out)


def explicit_profile(fun: Callable, spec: ParamSpec, grid, *, data=None,
                     levels: Sequence[float] | None = None, **kwargs) -> ScanResult:
    """:func:`jaxfit.core.scan.scan` on the user's ``grid`` (``kwargs`` go to it), with
    :func:`grid_warnings` for ``levels`` from the profile Hessian at the scan's global fit
    (when it ran and converged)."""
    from jaxfit.core.scan import scan

    result = scan(fun, spec, grid, data=data, **kwargs)
    fit = result.global_fit
    if fit is None or not fit.success:
        return result
    outer = _outer_spec(spec, result.names)
    quad = profile_hessian(fun, outer, result.names, fit.x, data=data)
    found = (quad.warning,) if quad.warning else grid_warnings(result, quad.covariance, levels)
    return dataclasses.replace(result, warnings=result.warnings + found)
