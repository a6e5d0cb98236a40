"""Fitting the cosmo models: :func:`optimize_parameters` (seed 004's optimisation system).

The objective is one module-level pure function, :func:`jaxfit.cosmo.objective.chi2`
``(params, data)``, with the loaded data sets passed as an argument (a
:class:`~jaxfit.cosmo.objective.CosmoData` pytree from :func:`cosmo_data`). Every compiled
program (solver, Hessian, breakdown) therefore depends only on the shapes of the data: a
repeated fit, a fit with another covariance scaling or another frozen value compiles
nothing new, and no cache of objectives is kept.

:func:`optimize_parameters` fits chosen parameters with
:func:`jaxfit.core.optimize.minimize`, attaches Hessian errors (naming the directions the
data leave unconstrained), and stores the best fit as the model's new defaults unless it is
a dry run or the fit failed; it returns an :class:`~jaxfit.cosmo.results.OptimizationResult`.
:func:`make_objective` and :func:`make_parts` give the same chi2 as functions of the
parameters alone (closures over the data), for batch evaluation.

Injection rule: every fit starts from the stored point (``store.read_point(model)``),
never from literals; the model registry's values are only the store's built-ins. The fit
stores its whole fitted point by compare-and-swap against the version it read (see
:mod:`jaxfit.cosmo.store`), so concurrent fits never mix their points.

This module also re-exports, under their former path, the objective's names
(:mod:`jaxfit.cosmo.objective`), :class:`OptimizationResult`
(:mod:`jaxfit.cosmo.results`), :func:`load_config` (:mod:`jaxfit.cosmo.config`) and
:func:`regression` (:mod:`jaxfit.cosmo.regression`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from jaxfit.core.diagnostics import BOUND_FRACTION, fit_status
from jaxfit.core.optimize import minimize
from jaxfit.core.provenance import package_versions, run_record
from jaxfit.core.uncertainty import hessian_uncertainty
from jaxfit.cosmo.config import CONFIG_KEYS, TOP_KEYS, load_config
from jaxfit.cosmo.model import MODELS, get_model
from jaxfit.cosmo.objective import (
    CosmoData,
    as_data,
    chi2,
    chi2_breakdown,
    chi2_parts,
    chi2_parts_jit,
    cosmo_data,
)
from jaxfit.cosmo.records import parse_timestamp, utc_now
from jaxfit.cosmo.regression import REGRESSION_RTOL, regression
from jaxfit.cosmo.results import OptimizationResult
from jaxfit.cosmo.store import OptimizedParameterStore, StoreConflict, StoredPoint

__all__ = [
    "BOUND_FRACTION",
    "CONFIG_KEYS",
    "DEFAULT_OPTIMIZE",
    "MAX_REFITS",
    "REGRESSION_RTOL",
    "TOP_KEYS",
    "CosmoData",
    "OptimizationResult",
    "as_data",
    "chi2",
    "chi2_breakdown",
    "chi2_parts",
    "chi2_parts_jit",
    "cosmo_data",
    "load_config",
    "make_objective",
    "make_parts",
    "optimize_parameters",
    "regression",
]

DEFAULT_OPTIMIZE = {name: m.spec.free_names for name, m in MODELS.items()}
"""The parameters each model's fit frees by default: its non-frozen ones (the seed's lists:
H0, Om0, Obh2, ns, and for PBUF also alpha, Rmax, eps0, n_eps, k_sat)."""

MAX_REFITS = 16
"""How often a fit is re-run from a newer stored point before its result is refused: each
re-run means another fit of the model was stored meanwhile, so 16 covers 17 fits of one
model finishing at the same time (a re-run reuses the compiled programs: ~0.1 s for a CMB
fit of LCDM)."""

WARM_START_HOURS = 24.0
"""A stored optimum younger than this counts as a warm start."""


def make_objective(model: str, datasets: Mapping, rd_method: str = "aubourg") -> Callable:
    """``chi2(p)`` summed over ``datasets`` (``{key: CMBPriors | BAOData | SNData}``).

    A closure over the data: :func:`jaxfit.cosmo.objective.chi2` ``(p, data)`` with the data
    of :func:`~jaxfit.cosmo.objective.as_data` fixed, for batch evaluation
    (:func:`jaxfit.core.parallel.map_batched`) or plain ``jax.jit``/``jax.grad``. For fits
    pass ``chi2`` and ``data`` to the core instead (``minimize(chi2, spec, data=data)``):
    a closure bakes its data into every program compiled from it, so each new closure
    compiles again.
    """
    data = as_data(model, datasets, rd_method)

    def chi2_of_params(p):
        return chi2(p, data)

    return chi2_of_params


def make_parts(model: str, datasets: Mapping, rd_method: str = "aubourg") -> dict:
    """``{key: chi2_part(p)}``: one pure JAX chi2 per data set (closures over the data, as
    :func:`make_objective`). Each is its term of :func:`chi2_parts`, distances from the one
    merged quadrature of all the data sets included, so the parts sum to the objective."""
    data = as_data(model, datasets, rd_method)

    def part(key):
        return lambda p: chi2_parts(p, data)[key]

    return {key: part(key) for key in data.sets}


def optimize_parameters(
    model: str,
    datasets: str | Sequence[str] = "cmb",
    optimize_params: Sequence[str] | None = None,
    starting_values: Mapping[str, float] | None = None,
    *,
    frozen: Sequence[str] = (),
    bounds: Mapping[str, tuple[float, float]] | None = None,
    cov_scale: float = 1.0,
    method: str = "lbfgs",
    n_starts: int = 16,
    seed: int = 0,
    store: OptimizedParameterStore | None = None,
    warm_start: bool = False,
    dry_run: bool = False,
    data_dir=None,
    rd_method: str = "aubourg",
    gtol: float | None = None,
    progress: bool = True,
) -> OptimizationResult:
    """Fit ``optimize_params`` of ``model`` to ``datasets`` and store the result.

    The fit starts from the stored point (:meth:`OptimizedParameterStore.read_point`) and
    stores its whole fitted point only if no other fit stored one meanwhile; otherwise it
    is re-run from the new stored point, at most :data:`MAX_REFITS` times (the store's
    "one fit, one stored point"). ``metadata["start_point"]`` is where the stored fit
    started and ``metadata["store_refits"]`` how often it was re-run.

    Args:
        model: a name from :data:`jaxfit.cosmo.model.MODELS`.
        datasets: selection such as ``"cmb,bao"`` (:func:`jaxfit.cosmo.datasets.parse_datasets`).
        optimize_params: parameters to fit (default: the seed's list for the model).
        starting_values: overrides of the stored defaults (validated against the bounds).
        frozen: parameters held fixed even if listed in ``optimize_params``.
        bounds: ``{name: (lower, upper)}`` narrower than the model's bounds.
        cov_scale: multiplies the CMB covariance.
        method, n_starts, seed: passed to :func:`jaxfit.core.optimize.minimize`.
        store: the parameter store (default: the user's store, see store.resolve_store_dir).
        warm_start: record whether the stored start is an optimum younger than 24 h (the
            fit starts from the stored point in any case).
        dry_run: compute everything, write nothing: a corrupt store file is only warned
            about (the fit starts from the built-ins, as after a repair) and left as it is.
        data_dir: folder with cobaya ``bao_data``/``sn_data`` (None: packaged data only).
        rd_method: ``"aubourg"`` (default) or ``"eh98"``.
        gtol: convergence tolerance on the gradient (the config's
            ``convergence_tolerance``; default: core's 1e-9 relative to max(1, chi2)).

    Raises:
        StoreConflict: other fits of ``model`` were stored during each of the
            ``1 + MAX_REFITS`` attempts (nothing written).
    """
    cosmo = get_model(model)
    store = OptimizedParameterStore() if store is None else store
    optimize_params = list(optimize_params or DEFAULT_OPTIMIZE[model])
    cosmo.spec.check_names(list(optimize_params) + list(frozen) + list(bounds or {}))
    free = [n for n in optimize_params if n not in set(frozen)]
    if not free:
        raise ValueError("no parameter left to optimise (all frozen)")
    overrides = cosmo.spec.validate(starting_values or {})
    # the data are an argument of every compiled program (solver, Hessian, breakdown):
    # another cov_scale, frozen value, start or repeat of this fit compiles nothing new
    data = cosmo_data(model, datasets, data_dir, cov_scale, rd_method)
    problem = {
        "model": model, "free": free, "overrides": overrides, "bounds": bounds, "data": data,
        "cov_scale": cov_scale, "method": method, "n_starts": n_starts, "seed": seed,
        "data_dir": data_dir, "rd_method": rd_method, "gtol": gtol, "progress": progress,
    }
    for refits in range(MAX_REFITS + 1):
        point = store.read_point(model, repair=not dry_run)
        result = _fit_from(point, warm_start, refits, **problem)
        if dry_run or not result.converged:
            return result
        try:
            # the whole fitted point: the optimum, overridden and stored fixed values
            store.update_model_defaults(model, result.metadata["fit_point"], result.metadata,
                                        expected_version=point.version)
        except StoreConflict:
            continue  # another fit stored its point meanwhile: fit again from that one
        return result
    raise StoreConflict(
        f"{model!r}: other fits were stored during each of {MAX_REFITS + 1} attempts of this "
        "fit; its result was not stored (run fits of one model fewer at a time)"
    )


def _fit_from(point: StoredPoint, warm_start: bool, refits: int, *, model, free, overrides,
              bounds, data, cov_scale, method, n_starts, seed, data_dir, rd_method, gtol,
              progress) -> OptimizationResult:
    """One fit of :func:`optimize_parameters` from the stored ``point`` (no I/O)."""
    cosmo = get_model(model)
    start = {**point.defaults, **overrides}
    warm = warm_start and _age_hours(point.metadata) < WARM_START_HOURS
    spec = cosmo.spec.with_defaults(start).free_only(free)
    for name, (lower, upper) in (bounds or {}).items():
        spec = spec.replace(name, lower=float(lower), upper=float(upper))
    chi2_start = sum(chi2_breakdown(spec.unpack(spec.pack()), data).values())
    if not np.isfinite(chi2_start):
        raise ValueError(f"chi2 at the starting values is not finite ({chi2_start}): {start}")

    t0 = time.perf_counter()
    options = {} if gtol is None else {"gtol": float(gtol)}
    fit = minimize(chi2, spec, data=data, method=method, n_starts=n_starts, seed=seed,
                   progress=progress, **options)
    elapsed = time.perf_counter() - t0
    errors = hessian_uncertainty(chi2, spec, fit.x, data=data)
    # converged, starts agreeing, degeneracies; the Hessian above is reused (a second one
    # is taken only with parameters held on a bound)
    trust = fit_status(chi2, spec, fit, data=data, uncertainty=errors)
    reached = list(trust.at_bounds)  # within core.diagnostics.BOUND_FRACTION of a bound
    library = "scipy" if method == "scipy-lbfgsb" else "optax"
    optimizer_info = {
        "method": method,
        "library": library,
        "version": package_versions().get(library) or "",
        "n_starts": str(fit.n_starts),
        "seed": str(seed),
    }
    status = "success" if fit.success else "failed"
    # the kinds ("cmb", "cmb+bao") name the source as the seed does; full names under datasets
    source = "+".join(dict.fromkeys(k.split(":")[0] for k in data.keys))
    metadata = {
        "source_dataset": source,
        "datasets": data.keys,
        "optimized_params": free,
        "final_chi2": fit.fun,
        "chi2_improvement": chi2_start - fit.fun,
        "chi2_parts": chi2_breakdown(fit.x, data),
        "convergence_status": status,
        "convergence_message": fit.message,
        "fit_status": trust.to_dict(),
        "optimizer_info": optimizer_info,
        "covariance_scaling": float(cov_scale),
        "rd_method": rd_method,
        "data_dir": None if data_dir is None else str(Path(data_dir).resolve()),
        # every parameter's value in the fit (optimised ones at their optimum): the point
        # the store keeps, so a regression can re-run the same problem
        "fit_point": {n: float(v) for n, v in fit.x.items()},
        # every parameter's start: the previous stored point (plus overrides), so the
        # history shows each fit building on the one before it
        "start_point": {n: float(v) for n, v in start.items()},
        "store_refits": refits,
        "errors": {n: errors.errors[n] for n in free},
        "unconstrained": list(errors.unconstrained),
        "correlation": errors.correlation,
        "warm_start_used": bool(warm),
        "provenance": run_record(seeds={"starts": seed}, timings={"fit_s": elapsed}),
    }
    return OptimizationResult(
        model=model,
        optimized_params={n: fit.x[n] for n in free},
        starting_params={n: start[n] for n in free},
        final_chi2=fit.fun,
        chi2_improvement=chi2_start - fit.fun,
        convergence_status=status,
        n_function_evaluations=fit.n_fev,
        optimization_time=elapsed,
        bounds_reached=reached,
        optimizer_info=optimizer_info,
        covariance_scaling=float(cov_scale),
        metadata=metadata,
    )


def _age_hours(metadata) -> float:
    """Hours since the stored point's fit (inf when it was never optimised)."""
    if not metadata or "timestamp" not in metadata:
        return math.inf
    return (utc_now() - parse_timestamp(metadata["timestamp"])).total_seconds() / 3600.0
