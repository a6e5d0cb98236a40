"""What every lepton workflow solves, and the two batched solves it runs.

A :class:`Problem` is a validated objective ``fun(params, data)`` with its data and the
settings that describe it in results files (:func:`make_problem`). :func:`run_fit` fits it
from many starts (-> :class:`~jaxfit.leptons.results.LeptonFit`), :func:`run_scan` profiles
it over a beta or (beta, w) grid (-> :class:`~jaxfit.leptons.results.LeptonScan`). Both are
built only from :mod:`jaxfit.core` (``minimize``, ``scan``, ``hessian_uncertainty``), and
every start and grid point runs in one batched program. The data and the frozen values
(beta, w, the grid) are arguments of the compiled programs, never constants, so the same
workflow at other values or with other targets compiles nothing new
(tests/leptons/test_compile_once.py).

The user-facing workflows built on these are :mod:`jaxfit.leptons.fit`,
:mod:`jaxfit.leptons.scan` and :mod:`jaxfit.leptons.cross`.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from jaxfit.core.optimize import minimize
from jaxfit.core.params import ParamSpec
from jaxfit.core.scan import ScanResult, scan
from jaxfit.core.uncertainty import hessian_uncertainty
from jaxfit.leptons.data import LEPTONS, LeptonTargets, check_targets
from jaxfit.leptons.model import EnergyConfig
from jaxfit.leptons.objective import (
    LeptonData,
    make_objective,
    parts_at_points,
    point_summary,
)
from jaxfit.leptons.params import LEPTON_PARAMS, bound_side, bounds_reached, check_values
from jaxfit.leptons.results import LeptonFit, LeptonScan


@dataclasses.dataclass(frozen=True)
class Problem:
    """A validated objective of a workflow: ``fun(params, data)``, its data, and the
    settings that describe it in results files."""

    fun: Callable
    data: LeptonData
    settings: dict

    @property
    def kind(self) -> str:
        return self.data.kind

    def summary(self, params: Mapping[str, float]) -> dict:
        """:func:`~jaxfit.leptons.objective.point_summary` at an optimiser's ``params``."""
        return point_summary(params, self.data)


def make_problem(kind: str, config: EnergyConfig, sigma_model: float, sigma_g: float | None = None,
                 include_tau_g: bool = False, targets: LeptonTargets | None = None) -> Problem:
    """The :class:`Problem` of :func:`~jaxfit.leptons.objective.make_objective` (arguments
    as there; ``targets`` default to CODATA 2022)."""
    targets = check_targets(targets)
    fun, data = make_objective(kind, config=config, sigma_model=sigma_model,
                               sigma_g=sigma_g, include_tau_g=include_tau_g, targets=targets)
    settings = {
        "kind": kind,
        "flow": config.flow,
        "config": dataclasses.asdict(config),
        "sigma_model": float(sigma_model),
        "targets": {"year": targets.year, "citation": targets.citation,
                    "masses": dict(zip(LEPTONS, targets.masses, strict=True))},
    }
    if kind == "cross":
        settings |= {"sigma_g": float(sigma_g), "include_tau_g": bool(include_tau_g)}
    return Problem(fun=fun, data=data, settings=settings)


def run_fit(problem: Problem, spec: ParamSpec, *, x0, n_starts, sampler, seed, method,
            chunk_size, devices, progress, errors, options) -> LeptonFit:
    """Multi-start fit of ``problem`` over the free parameters of ``spec`` (arguments as
    :func:`jaxfit.core.optimize.minimize`; ``errors``: also the Hessian uncertainties)."""
    x0 = check_values(x0, "x0")
    t0 = time.perf_counter()
    # the data (targets, sigmas, box numbers) and the frozen beta, w are arguments of the
    # compiled solver: the same fit again, or at other values, compiles nothing new
    fit = minimize(problem.fun, spec, data=problem.data, method=method, x0=x0 or None,
                   n_starts=n_starts, sampler=sampler, seed=seed, chunk_size=chunk_size,
                   devices=devices, progress=progress, **options)
    elapsed = time.perf_counter() - t0
    reached = bounds_reached(spec, fit.x)
    uncertainty = (hessian_uncertainty(problem.fun, spec, fit.x, data=problem.data)
                   if errors else None)
    return LeptonFit(
        kind=problem.kind,
        params=dict(fit.x),
        chi2=float(fit.fun),
        summary_at_min=problem.summary(fit.x),
        bounds_reached=reached,
        bound_sides={n: bound_side(spec, n, fit.x[n]) for n in reached},
        fit=fit,
        settings=problem.settings | dict(
            free=list(spec.free_names), n_starts=fit.n_starts, sampler=sampler, seed=seed,
            method=method, options=dict(options)),
        timings={"fit_s": elapsed},
        errors=uncertainty,
        bounds={n: (float(lo), float(hi))
                for n, lo, hi in zip(spec.free_names, spec.lower, spec.upper, strict=True)},
    )


def beta_profile(result: ScanResult) -> ScanResult:
    """The 1-D profile over beta of a (beta, w) scan: the minimum over w at each beta."""
    if len(result.names) == 1:
        return result
    chi2 = np.where(np.isfinite(result.chi2), result.chi2, np.inf)
    pick = np.argmin(chi2, axis=1)
    rows = np.arange(chi2.shape[0])
    take = lambda a: np.asarray(a)[rows, pick]  # noqa: E731
    return ScanResult(
        names=(result.names[0],),
        axes=(result.axes[0],),
        chi2=take(result.chi2),
        best={k: take(v) for k, v in result.best.items()},
        status=take(result.status),
        n_converged=take(result.n_converged),
        n_starts=result.n_starts,
        profile=result.profile,
        global_fit=result.global_fit,
    )


def run_scan(problem: Problem, spec: ParamSpec, grid: dict, *, n_starts, sampler, seed,
             method, global_fit, chunk_size, devices, progress, options,
             extra_settings, continuation: bool = True) -> LeptonScan:
    """Profile ``problem`` over ``grid`` (``{"beta": values}`` or ``{"beta": ..., "w":
    ...}``), the free parameters of ``spec`` fitted at every point (arguments as
    :func:`jaxfit.core.scan.scan`); ``extra_settings`` go into the result's settings."""
    t0 = time.perf_counter()
    # grid values enter as frozen values and the data as an argument: another grid of the
    # same length, another w or other targets reuse the compiled scan
    result = scan(problem.fun, spec, grid, data=problem.data, n_starts=n_starts,
                  sampler=sampler, seed=seed, method=method, global_fit=global_fit,
                  continuation=continuation, chunk_size=chunk_size, devices=devices,
                  progress=progress, **options)
    elapsed = time.perf_counter() - t0

    # derived quantities at every grid point, one vmapped call
    arrays = parts_at_points(result.best, problem.data)
    columns = {"S_opt": arrays["S_opt"], "chi2_mass": arrays["chi2_mass"]}
    columns |= {f"E_{lep}": arrays["E_total"][:, i] for i, lep in enumerate(LEPTONS)}
    columns |= {f"residual_{lep}": arrays["residuals"][:, i] for i, lep in enumerate(LEPTONS)}
    if problem.kind == "cross":
        columns |= {"C_mu": arrays["C_mu"], "chi2_g": arrays["chi2_g"]}

    grid_min = np.nanmin(np.where(np.isfinite(result.chi2), result.chi2, np.nan))
    if result.global_fit is not None and result.global_fit.fun <= grid_min:
        at_min = dict(result.global_fit.x)
    else:
        index = np.unravel_index(np.nanargmin(result.chi2), result.chi2.shape)
        at_min = {n: float(v[index]) for n, v in result.best.items()}
    lepton_free = [n for n in spec.free_names if n in LEPTON_PARAMS]
    settings = problem.settings | dict(
        grid={n: a for n, a in zip(result.names, result.axes, strict=True)},
        free=lepton_free, n_starts=result.n_starts, sampler=sampler, seed=seed, method=method,
        global_fit=global_fit, continuation=continuation, options=dict(options),
        **extra_settings)
    return LeptonScan(
        kind=problem.kind,
        scan=result,
        profile=beta_profile(result),
        points=pd.DataFrame(columns),
        params_at_min=at_min,
        summary_at_min=problem.summary(at_min),
        bounds_reached=bounds_reached(spec.free_only(lepton_free), at_min),
        settings=settings,
        timings={"scan_s": elapsed},
    )
