"""Objectives and the optimisation system of the cosmo domain (seed 004's design).

The objective is one module-level pure function, :func:`jaxfit.cosmo.objective.chi2`
``(params, data)``, with the loaded data sets passed as an argument (a
:class:`~jaxfit.cosmo.objective.CosmoData` pytree from :func:`cosmo_data`). Every compiled
program (solver, Hessian, breakdown) therefore depends only on the shapes of the data: a
repeated fit, a fit with another covariance scaling or another frozen value compiles
nothing new, and no cache of objectives is kept.

:func:`optimize_parameters` fits chosen parameters with
:func:`jaxfit.core.optimize.minimize`, attaches Hessian errors (naming the directions the
data leave unconstrained), and stores the best fit as the model's new defaults unless it is
a dry run or the fit failed. :func:`make_objective` and :func:`make_parts` give the same
chi2 as functions of the parameters alone (closures over the data), for batch evaluation.

Injection rule: every fit starts from ``store.get_model_defaults(model)``, never from
literals; the model registry's values are only the store's built-ins.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from jaxfit.core.optimize import minimize
from jaxfit.core.provenance import package_versions, run_record
from jaxfit.core.uncertainty import hessian_uncertainty
from jaxfit.cosmo.model import get_model
from jaxfit.cosmo.objective import (
    BAOLikelihood,
    CMBLikelihood,
    CosmoData,
    as_data,
    bao_part,
    chi2,
    chi2_breakdown,
    chi2_parts,
    chi2_parts_jit,
    cmb_part,
    cosmo_data,
    sn_part,
)
from jaxfit.cosmo.store import OptimizedParameterStore

__all__ = [
    "DEFAULT_OPTIMIZE",
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

# the seed's default optimisation lists
DEFAULT_OPTIMIZE = {
    "lcdm": ("H0", "Om0", "Obh2", "ns"),
    "pbuf": ("H0", "Om0", "Obh2", "ns", "alpha", "Rmax", "eps0", "n_eps", "k_sat"),
}
# a free parameter closer than this fraction of its range to a bound "reached" it
BOUND_FRACTION = 1e-6


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
    :func:`make_objective`)."""
    data = as_data(model, datasets, rd_method)

    def part(d):
        if isinstance(d, CMBLikelihood):
            return lambda p: cmb_part(p, d, data.model)
        if isinstance(d, BAOLikelihood):
            return lambda p: bao_part(p, d, data.model, data.rd_method)
        return lambda p: sn_part(p, d, data.model)

    return {key: part(d) for key, d in data.sets.items()}


@dataclasses.dataclass
class OptimizationResult:
    """The seed's OptimizationResult, plus errors and the full parameter set."""

    model: str
    optimized_params: dict[str, float]
    starting_params: dict[str, float]
    final_chi2: float
    chi2_improvement: float
    convergence_status: str
    n_function_evaluations: int
    optimization_time: float
    bounds_reached: list[str]
    optimizer_info: dict[str, str]
    covariance_scaling: float
    metadata: dict

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


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

    Args:
        model: a name from :data:`jaxfit.cosmo.model.MODELS`.
        datasets: selection such as ``"cmb,bao"`` (:func:`jaxfit.cosmo.data.parse_datasets`).
        optimize_params: parameters to fit (default: the seed's list for the model).
        starting_values: overrides of the stored defaults (validated against the bounds).
        frozen: parameters held fixed even if listed in ``optimize_params``.
        bounds: ``{name: (lower, upper)}`` narrower than the model's bounds.
        cov_scale: multiplies the CMB covariance.
        method, n_starts, seed: passed to :func:`jaxfit.core.optimize.minimize`.
        store: the parameter store (default: the user's store, see store.resolve_store_dir).
        warm_start: start from the stored optimum if it is younger than 24 h.
        dry_run: compute everything, write nothing.
        data_dir: folder with cobaya ``bao_data``/``sn_data`` (None: packaged data only).
        rd_method: ``"aubourg"`` (default) or ``"eh98"``.
        gtol: convergence tolerance on the gradient (the config's
            ``convergence_tolerance``; default: core's 1e-9 relative to max(1, chi2)).
    """
    cosmo = get_model(model)
    store = OptimizedParameterStore() if store is None else store
    optimize_params = list(optimize_params or DEFAULT_OPTIMIZE.get(model, cosmo.spec.free_names))
    cosmo.spec.check_names(list(optimize_params) + list(frozen) + list(bounds or {}))
    free = [n for n in optimize_params if n not in set(frozen)]
    if not free:
        raise ValueError("no parameter left to optimise (all frozen)")

    start = dict(store.get_model_defaults(model))
    warm = store.get_warm_start_params(model) if warm_start else None
    if warm:
        start.update(warm)
    overrides = cosmo.spec.validate(starting_values or {})
    start.update(overrides)
    spec = cosmo.spec.with_defaults(start).free_only(free)
    for name, (lower, upper) in (bounds or {}).items():
        spec = spec.replace(name, lower=float(lower), upper=float(upper))

    # the data are an argument of every compiled program below (solver, Hessian,
    # breakdown): another cov_scale, frozen value or repeat of this fit compiles nothing new
    data = cosmo_data(model, datasets, data_dir, cov_scale, rd_method)
    chi2_start = sum(chi2_breakdown(spec.unpack(spec.pack()), data).values())
    if not np.isfinite(chi2_start):
        raise ValueError(f"chi2 at the starting values is not finite ({chi2_start}): {start}")

    t0 = time.perf_counter()
    options = {} if gtol is None else {"gtol": float(gtol)}
    fit = minimize(chi2, spec, data=data, method=method, n_starts=n_starts, seed=seed,
                   progress=progress, **options)
    elapsed = time.perf_counter() - t0
    errors = hessian_uncertainty(chi2, spec, fit.x, data=data)
    reached = [
        n
        for n, lo, hi in zip(spec.free_names, spec.lower, spec.upper, strict=True)
        if min(fit.x[n] - lo, hi - fit.x[n]) <= BOUND_FRACTION * (hi - lo)
    ]
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
        "optimizer_info": optimizer_info,
        "covariance_scaling": float(cov_scale),
        "rd_method": rd_method,
        "data_dir": None if data_dir is None else str(Path(data_dir).resolve()),
        # every parameter's value in the fit (optimised ones at their optimum), so the
        # stored point is the fitted one and a regression can re-run the same problem
        "fit_point": {n: float(v) for n, v in fit.x.items()},
        "errors": {n: errors.errors[n] for n in free},
        "unconstrained": list(errors.unconstrained),
        "correlation": errors.correlation,
        "warm_start_used": bool(warm),
        "provenance": run_record(seeds={"starts": seed}, timings={"fit_s": elapsed}),
    }
    result = OptimizationResult(
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
    if fit.success and not dry_run:
        # store the point actually fitted: the optimum plus any overridden fixed values
        store.update_model_defaults(
            model, {**overrides, **result.optimized_params}, metadata
        )
    return result


# ------------------------------------------------------------------------- config files
CONFIG_KEYS = {
    "optimize_parameters": list,
    "frozen_parameters": list,
    "use_precomputed": bool,
    "save_results": bool,
    "convergence_tolerance": (int, float),
    "covariance_scaling": (int, float),
    "warm_start": bool,
    "dry_run": bool,
}
TOP_KEYS = ("optimization", "parameter_overrides", "model", "datasets")


def load_config(path) -> dict:
    """Read and validate a JSON config in the seed's format.

    Accepted top-level keys: ``optimization`` (keys of :data:`CONFIG_KEYS`),
    ``parameter_overrides`` ({name: value}), and jaxfit's ``model`` and ``datasets``.
    ``convergence_tolerance`` becomes the optimiser's ``gtol``; ``use_precomputed`` is
    accepted for compatibility with the research configs and has no effect (jaxfit
    computes every prediction on the fly; there are no precomputed tables).

    Raises:
        ValueError: unreadable JSON, unknown keys, or values of the wrong type (the message
            names the file and the key).
    """
    path = Path(path)
    try:
        config = json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"config file {path} does not exist") from None
    except json.JSONDecodeError as err:
        raise ValueError(f"config file {path}: not valid JSON ({err})") from None
    if not isinstance(config, dict):
        raise ValueError(f"config file {path}: expected a JSON object at the top level")
    unknown = [k for k in config if k not in TOP_KEYS]
    if unknown:
        raise ValueError(f"config file {path}: unknown keys {unknown}; valid: {list(TOP_KEYS)}")
    options = config.get("optimization", {})
    if not isinstance(options, dict):
        raise ValueError(f"config file {path}: 'optimization' must be an object")
    for key, value in options.items():
        if key not in CONFIG_KEYS:
            raise ValueError(
                f"config file {path}: unknown optimization key {key!r}; valid: {list(CONFIG_KEYS)}"
            )
        if not isinstance(value, CONFIG_KEYS[key]) or (
            CONFIG_KEYS[key] is not bool and isinstance(value, bool)
        ):
            raise ValueError(f"config file {path}: optimization.{key} has the wrong type")
    overrides = config.get("parameter_overrides", {})
    if not isinstance(overrides, dict) or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in overrides.values()
    ):
        raise ValueError(f"config file {path}: parameter_overrides must map names to numbers")
    return config


# --------------------------------------------------------------------------- regression
REGRESSION_RTOL = 1e-8


def regression(store: OptimizedParameterStore, quick: bool = True, rtol: float = REGRESSION_RTOL):
    """Check that each model's stored optimisation still reproduces.

    ``quick``: the chi2 at the stored optimum, recomputed with today's code and data (same
    data sets, covariance scaling, r_d method), must equal the stored ``final_chi2`` to
    ``rtol`` (relative to max(1, |chi2|)); no fit is run. Otherwise (full) the fit itself is
    re-run as a dry run with the stored method, number of starts and seed: the optimised
    parameters start from the built-in defaults, the others are held at the values the
    stored fit used; chi2 and every *constrained* optimised parameter must agree to ``rtol``.
    Parameters the stored fit reported as unconstrained are listed but not compared: their
    values are arbitrary by construction.

    Returns:
        One dict per optimised model: model, datasets, chi2 (stored, new), the worst relative
        parameter difference and its parameter (full mode), skipped names, ``reproduced``.
    """
    rows = []
    for model in store.models:
        meta = store.get_optimization_metadata(model)
        if not meta:
            continue
        stored = store.get_model_defaults(model)
        datasets = meta.get("datasets", meta["source_dataset"])
        info = meta.get("optimizer_info", {})
        skipped = list(meta.get("unconstrained", []))
        diffs = {}
        if quick:
            data = cosmo_data(model, datasets, meta.get("data_dir"),
                              meta.get("covariance_scaling", 1.0),
                              meta.get("rd_method", "aubourg"))
            chi2_new = sum(chi2_breakdown(stored, data).values())
            converged = True
        else:
            with tempfile.TemporaryDirectory(prefix="jaxfit-regression-") as tmp:
                # a scratch store with only the built-ins: the re-run starts where the first
                # fit of a fresh user would, and (a dry run) writes nothing anywhere
                scratch = OptimizedParameterStore(tmp, builtins=store.builtins,
                                                  bounds=store.bounds)
                fixed = {
                    n: v for n, v in meta.get("fit_point", {}).items()
                    if n not in meta["optimized_params"]
                }
                result = optimize_parameters(
                    model,
                    datasets,
                    meta["optimized_params"],
                    fixed,
                    store=scratch,
                    data_dir=meta.get("data_dir"),
                    cov_scale=meta.get("covariance_scaling", 1.0),
                    rd_method=meta.get("rd_method", "aubourg"),
                    method=info.get("method", "lbfgs"),
                    n_starts=int(info.get("n_starts", 16)),
                    seed=int(info.get("seed", 0)),
                    dry_run=True,
                    progress=False,
                )
            chi2_new, converged = result.final_chi2, result.convergence_status == "success"
            diffs = {
                n: abs(v - stored[n]) / max(abs(stored[n]), 1e-300)
                for n, v in result.optimized_params.items()
                if n not in skipped
            }
        worst = max(diffs, key=diffs.get) if diffs else None
        chi2_stored = float(meta["final_chi2"])
        chi2_diff = abs(chi2_new - chi2_stored) / max(1.0, abs(chi2_stored))
        rows.append({
            "model": model,
            "datasets": "+".join(datasets) if isinstance(datasets, list) else datasets,
            "mode": "quick" if quick else "full",
            "chi2_stored": chi2_stored,
            "chi2_new": chi2_new,
            "chi2_rel_diff": chi2_diff,
            "worst_param": worst,
            "worst_rel_diff": diffs.get(worst, 0.0),
            "skipped_unconstrained": skipped,
            "reproduced": bool(
                converged and chi2_diff <= rtol and all(d <= rtol for d in diffs.values())
            ),
        })
    return rows
