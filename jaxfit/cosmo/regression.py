"""Do the stored cosmo fits still reproduce? (``jaxfit cosmo regression``)

:func:`regression` recomputes each model's stored optimisation with today's code and data:
quickly (the chi2 at the stored optimum) or in full (the fit re-run from the built-in
defaults as a dry run), and compares to :data:`REGRESSION_RTOL`. It writes nothing: each
model's defaults and metadata come from one read of its file that repairs nothing
(:meth:`~jaxfit.cosmo.store.OptimizedParameterStore.read_point` with ``repair=False``), so a
fit stored meanwhile cannot pair one fit's chi2 with another fit's point.
"""

from __future__ import annotations

import tempfile

from jaxfit.cosmo.objective import chi2_breakdown, cosmo_data
from jaxfit.cosmo.store import OptimizedParameterStore

REGRESSION_RTOL = 1e-8
"""Relative tolerance of a reproduced chi2 and of every constrained parameter."""


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
        point = store.read_point(model, repair=False)
        meta, stored = point.metadata, point.defaults
        if not meta:
            continue
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
            # imported here: jaxfit.cosmo.fit re-exports this module's names
            from jaxfit.cosmo.fit import optimize_parameters

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
