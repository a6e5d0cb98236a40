"""Plots and the HTML report of the cosmo domain."""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path

import jax
import numpy as np

from jaxfit.core.io import atomic_write_bytes, save_figure, write_json
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


def posterior_rows(folder) -> list[dict]:
    """One row per NUTS run saved in ``folder`` (``MODEL_nuts.json`` of ``jaxfit cosmo
    sample``): draw counts, divergences and the worst R-hat and effective sample size."""
    rows = []
    for path in sorted(Path(folder).glob("*_nuts.json")):
        record = json.loads(path.read_text())
        summary = record["summary"].values()
        r_hat = [row["r_hat"] for row in summary if row["r_hat"] is not None]
        n_eff = [row["n_eff"] for row in summary if row["n_eff"] is not None]
        rows.append({
            "model": path.name.removesuffix("_nuts.json"),
            "datasets": (record.get("provenance") or {}).get("datasets"),
            "chains": record["num_chains"],
            "draws per chain": record["num_samples"],
            "warmup": record["num_warmup"],
            "draws": record["num_chains"] * record["num_samples"],
            "divergences": record["num_divergences"],
            "max r_hat": max(r_hat, default=None),
            "min n_eff": min(n_eff, default=None),
        })
    return rows


def posterior_section(folder, outdir) -> dict:
    """The report section of the NUTS runs in ``folder``: the draw counts and each run's
    corner plot (copied next to the page), with links to its draws."""
    folder, outdir = Path(folder), Path(outdir)
    rows = posterior_rows(folder) if folder.is_dir() else []
    if not rows:
        return {"title": "NUTS posterior",
                "text": [f"No NUTS run in {folder}: `jaxfit cosmo sample --out {folder}` "
                         "makes one."]}
    images, files = [], []
    for row in rows:
        stem = f"{row['model']}_nuts"
        # the page's folder must hold its images; the draws stay where they are, linked
        atomic_write_bytes(outdir / f"{stem}.png", (folder / f"{stem}.png").read_bytes())
        images.append(f"{stem}.png")
        files += [os.path.relpath(folder / name, outdir)
                  for name in (f"{stem}.nc", f"{stem}_draws.csv", f"{stem}.csv")]
    return {
        "title": "NUTS posterior",
        "text": ["Corner plots: the draws' 68% and 95% regions (black) against the Hessian "
                 "ellipses at the stored point (red dashed); where they agree, the Hessian "
                 "errors are the posterior's."],
        "table": table_html(rows),
        "images": images,
        "files": files,
    }


def write_report(store: OptimizedParameterStore, outdir, posterior=None) -> Path:
    """HTML report of the store: optimisation summary, parameters, BAO residual plot, and
    the NUTS runs saved in the folder ``posterior`` when given (:func:`posterior_section`)."""
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
    record = {"rows": optimization_rows(store), "defaults": fits}
    if posterior is not None:
        sections.append(posterior_section(posterior, outdir))
        record["posterior"] = posterior_rows(posterior) if Path(posterior).is_dir() else []
    provenance = run_record(store=str(store.root))
    write_json(outdir / "report.json", record | {"provenance": provenance})
    return write_index(outdir / "index.html", "jaxfit cosmo report", sections, provenance)
