"""Plots and the HTML report of the cosmo domain."""

from __future__ import annotations

import functools
from pathlib import Path

import jax
import numpy as np

from jaxfit.core.io import save_figure, write_json
from jaxfit.core.provenance import run_record
from jaxfit.core.report import table_html, write_index
from jaxfit.cosmo.bao import BAOData, bao_model_vector
from jaxfit.cosmo.datasets import load_bao
from jaxfit.cosmo.model import hubble_distance, r_drag, transverse_comoving_distance
from jaxfit.cosmo.store import OptimizedParameterStore


def bao_predictions(params: dict, model: str, bao: BAOData, rd_method: str = "aubourg"):
    """Model values of the BAO data vector at ``params``."""
    params = {k: np.float64(v) for k, v in params.items()}
    return np.asarray(_bao_vector(params, np.asarray(bao.z), bao.rd_fid, model=model,
                                  rd_method=rd_method, quantity=tuple(bao.quantity)))


@functools.partial(jax.jit, static_argnames=("model", "rd_method", "quantity"))
def _bao_vector(params, z, rd_fid, *, model, rd_method, quantity):
    # one compiled program per model: evaluated op by op, the distances would compile some
    # thirty small programs (~1 s) before a plot
    return bao_model_vector(quantity, z, transverse_comoving_distance(z, params, model),
                            hubble_distance(z, params, model),
                            rd=r_drag(params, model, rd_method), rd_fid=rd_fid)


def plot_bao_residuals(fits: dict[str, dict], bao: BAOData, path,
                       rd_methods: dict[str, str] | None = None) -> Path:
    """(data - model) / sigma of every BAO point for each ``{model: params}``.

    ``rd_methods`` gives each model's r_d method (default "aubourg").
    """
    rd_methods = rd_methods or {}
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    sigma = np.sqrt(np.diag(bao.cov))
    markers = {"DV_over_rs": "o", "DM_over_rs": "s", "DH_over_rs": "^"}
    for k, (model, params) in enumerate(fits.items()):
        predicted = bao_predictions(params, model, bao, rd_methods.get(model, "aubourg"))
        pull = (np.asarray(bao.value) - predicted) / sigma
        for q in dict.fromkeys(bao.quantity):
            sel = np.array([qq == q for qq in bao.quantity])
            ax.plot(np.asarray(bao.z)[sel] + 0.015 * k, pull[sel], markers.get(q, "o"),
                    color=f"C{k}", label=f"{model} {q}")
    ax.axhline(0, color="k", lw=0.8)
    ax.axhspan(-1, 1, color="grey", alpha=0.15)
    ax.set_xlabel("z")
    ax.set_ylabel("(data - model) / sigma")
    ax.set_title(f"BAO residuals: {bao.name}")
    ax.legend(fontsize=7, ncol=2)
    return save_figure(fig, path)


def optimization_rows(store: OptimizedParameterStore) -> list[dict]:
    """One row per model: chi2, improvement, date, optimised parameters, unconstrained."""
    rows = []
    for model in store.models:
        meta = store.get_optimization_metadata(model) or {}
        rows.append({
            "model": model,
            "datasets": meta.get("source_dataset", "(not optimised)"),
            "chi2": meta.get("final_chi2"),
            "improvement": meta.get("chi2_improvement"),
            "date": meta.get("timestamp"),
            "optimized": ", ".join(meta.get("optimized_params", [])),
            "unconstrained": ", ".join(meta.get("unconstrained", [])),
        })
    return rows


def write_report(store: OptimizedParameterStore, outdir) -> Path:
    """HTML report of the store: optimisation summary, parameters, BAO residual plot."""
    outdir = Path(outdir)
    bao = load_bao("desi_dr2")
    fits = {m: store.get_model_defaults(m) for m in store.models}
    # each model drawn with the r_d method its stored fit used
    rd_methods = {m: (store.get_optimization_metadata(m) or {}).get("rd_method", "aubourg")
                  for m in store.models}
    plot_bao_residuals(fits, bao, outdir / "bao_residuals.png", rd_methods)
    summary = store.export_optimization_summary(outdir / "optimization_summary.json")
    params = [{"model": m, **p} for m, p in fits.items()]
    sections = [
        {"title": "Optimisation summary", "table": table_html(optimization_rows(store)),
         "files": [summary.name]},
        {"title": "Stored defaults", "table": table_html(params)},
        {"title": "BAO residuals at the stored defaults", "images": ["bao_residuals.png"]},
    ]
    provenance = run_record(store=str(store.root))
    write_json(outdir / "report.json", {"rows": optimization_rows(store), "defaults": fits,
                                        "provenance": provenance})
    return write_index(outdir / "index.html", "jaxfit cosmo report", sections, provenance)
