"""The core tour of ``jaxfit demo``: every piece of jaxfit.core on one toy problem.

Toy model: an emission line of amplitude ``A``, centre ``mu`` and width ``s`` on a linear
continuum ``c0 + c1 x``, sampled at 80 points with Gaussian noise of known sigma. The
continuum offset ``c0`` enters linearly and is profiled analytically
(:func:`jaxfit.core.likelihood.profile_offset`), so the fit runs over (A, mu, s, c1) only.
The truth is known, so every number the tour prints can be judged.
"""

from __future__ import annotations

import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxfit.core.io import save_figure, write_csv, write_json
from jaxfit.core.likelihood import profile_offset
from jaxfit.core.optimize import minimize
from jaxfit.core.params import Param, ParamSpec
from jaxfit.core.provenance import run_record
from jaxfit.core.report import table_html
from jaxfit.core.sampling import sample_nuts
from jaxfit.core.scan import scan
from jaxfit.core.uncertainty import hessian_uncertainty

SEED = 20261121
TRUTH = {"A": 3.0, "mu": 0.4, "s": 0.6, "c1": 0.5, "c0": 1.0}
NOISE = 0.5

SPEC = ParamSpec(
    [
        Param("A", 1.0, 0.0, 10.0, doc="line amplitude"),
        Param("mu", -1.0, -4.0, 4.0, doc="line centre"),
        Param("s", 1.0, 0.05, 3.0, doc="line width (Gaussian sigma)"),
        Param("c1", 0.0, -5.0, 5.0, doc="continuum slope"),
    ]
)


def toy_data(seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    x = np.linspace(-5.0, 5.0, 80)
    rng = np.random.default_rng(seed)
    return x, np.asarray(line_model(TRUTH, x, TRUTH["c0"])) + rng.normal(0.0, NOISE, x.size)


@jax.jit
def line_model(p, x, c0=0.0):
    """Gaussian line plus linear continuum (jitted: called on the host for data and plots,
    one compiled program instead of one per operation)."""
    return p["A"] * jnp.exp(-0.5 * ((x - p["mu"]) / p["s"]) ** 2) + c0 + p["c1"] * x


def line_data(x, y) -> dict:
    """The toy data as the objective's data pytree: positions, values and their errors."""
    return {"x": jnp.asarray(x), "y": jnp.asarray(y), "sigma": jnp.full(np.shape(x), NOISE)}


def chi2(p, data):
    """chi2(A, mu, s, c1) with the continuum offset c0 profiled analytically."""
    _, value = profile_offset(line_model(p, data["x"]), data["y"], sigma=data["sigma"])
    return value


def run(outdir: Path, quiet: bool = False) -> dict:
    """Fit, errors, profiles and a short NUTS run; writes files into ``outdir/core``."""
    out = Path(outdir) / "core"
    x, y = toy_data()
    data = line_data(x, y)
    timings = {}

    t0 = time.perf_counter()
    fit = minimize(chi2, SPEC, data=data, n_starts=32, progress=not quiet)
    timings["multistart_fit_s"] = time.perf_counter() - t0
    c0_hat, _ = profile_offset(line_model(fit.x, x), y, sigma=data["sigma"])
    errors = hessian_uncertainty(chi2, SPEC, fit.x, data=data)

    t0 = time.perf_counter()
    mu_grid = np.linspace(-0.2, 1.0, 41)
    profile = scan(chi2, SPEC, {"mu": mu_grid}, data=data, n_starts=8, progress=not quiet)
    contour = scan(
        chi2, SPEC, {"mu": np.linspace(-0.2, 1.0, 25), "s": np.linspace(0.25, 1.1, 25)},
        data=data, n_starts=4, progress=not quiet,
    )
    timings["profiles_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    posterior = sample_nuts(chi2, SPEC, data=data, num_chains=2, num_warmup=300,
                            num_samples=500, init=fit.x, seed=1, progress=not quiet)
    timings["nuts_s"] = time.perf_counter() - t0

    provenance = run_record(seeds={"data": SEED, "starts": 0, "nuts": 1}, timings=timings)
    low, high = profile.interval()
    table = posterior.table
    rows = [
        {
            "parameter": name,
            "truth": TRUTH[name],
            "best fit": fit.x[name],
            "Hessian error": errors.errors[name],
            "NUTS mean": float(table.loc[name, "mean"]),
            "NUTS std": float(table.loc[name, "std"]),
            "NUTS r_hat": float(table.loc[name, "r_hat"]),
        }
        for name in SPEC.names
    ]
    write_json(out / "fit.json", {"fit": fit.to_dict(), "c0_profiled": float(c0_hat),
                                  "uncertainty": errors.to_dict(),
                                  "nuts": posterior.to_dict(), "provenance": provenance})
    write_csv(out / "starts.csv", fit.starts)
    profile.save(out, "profile_mu", provenance)
    contour.save(out, "profile_mu_s", provenance)
    posterior.save(out, "nuts", provenance, reference=errors)
    _plot_fit(x, y, fit.x, float(c0_hat), out / "fit.png")

    summary = [
        f"toy line fit: chi2_min = {fit.fun:.2f} for {x.size - 5} degrees of freedom, "
        f"{fit.n_converged}/{fit.n_starts} starts converged",
        f"mu = {fit.x['mu']:.4f} +- {errors.errors['mu']:.4f} (Hessian); profile 1-sigma "
        f"[{low:.4f}, {high:.4f}]; truth {TRUTH['mu']}",
        f"NUTS: mu = {table.loc['mu', 'mean']:.4f} +- {table.loc['mu', 'std']:.4f}, max r_hat "
        f"{table['r_hat'].max():.3f}",
    ]
    section = {
        "title": "Core tour: a Gaussian line on a linear continuum",
        "text": [
            "Multi-start L-BFGS (32 starts in one batched program), Hessian errors, a 1-D "
            "profile likelihood over mu (41 points x 8 starts) and a 2-D profile over "
            "(mu, s) with 68/95/99.7% contours, and NUTS from the same chi2. The continuum "
            "offset is profiled analytically. The corner plot sets the NUTS draws against "
            "the Hessian ellipses at the best fit.",
            *summary,
        ],
        "table": table_html(rows),
        "images": ["core/fit.png", "core/profile_mu.png", "core/profile_mu_s.png",
                   "core/nuts.png"],
        "files": ["core/fit.json", "core/starts.csv", "core/profile_mu.json",
                  "core/profile_mu.csv", "core/profile_mu_s.json", "core/profile_mu_s.csv",
                  "core/nuts.nc", "core/nuts_draws.csv", "core/nuts_state.json"],
    }
    return {"section": section, "summary": summary, "provenance": provenance}


def _plot_fit(x, y, best, c0, path):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4.2))
    ax.errorbar(x, y, yerr=NOISE, fmt="o", ms=3, color="grey", label="data")
    fine = np.linspace(x.min(), x.max(), 400)
    ax.plot(fine, line_model(TRUTH, fine, TRUTH["c0"]), "k--", lw=1, label="truth")
    ax.plot(fine, line_model(best, fine, c0), "C3", label="best fit")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title("toy line fit")
    ax.legend(fontsize=8)
    save_figure(fig, path)
