"""Gravity: the 175-galaxy SPARC kernel evaluation with its gradient, and the joint fit.

1. SPARC (real files from ../shared/data/sparc or the `jaxfit data sparc` cache; 175
   galaxies full, 20 small; skipped when absent): jaxfit evaluates ``L_SPARC`` and its
   gradient in the 6 theory parameters for all galaxies in one jitted call
   (:func:`jaxfit.gravity.fit.sparc_metrics`, the points an argument of the program; the
   kernel's derivatives are summed in the same pass over the wavelength nodes as its
   value). The reference is the research approach: a numpy loop over galaxies, each
   galaxy's kernel by ``np.trapezoid`` over 400 log-spaced wavelengths normalised over its
   own radii, the gradient by central finite differences (13 loop evaluations), which is
   what a numpy user pays for a gradient.
2. Joint fit (MW kernel + SPARC + clusters): jaxfit multi-start L-BFGS
   (:func:`jaxfit.gravity.fit.joint_fit`: the objective
   :func:`~jaxfit.gravity.fit.joint_loss` with its data as an argument) against
   ``scipy.optimize.differential_evolution`` calling the same jitted loss one point at a
   time, with the same number of loss evaluations (DE's ``maxiter`` set from jaxfit's
   ``n_fev``); the final losses of both are reported.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import jax
import numpy as np
from scipy.optimize import differential_evolution

from benchmarks.common import row, time_first_and_warm, wall
from jaxfit.core.download import data_home
from jaxfit.gravity import clusters as cl
from jaxfit.gravity import fit as gf
from jaxfit.gravity.data import load_sparc
from jaxfit.gravity.model import THEORY_DEFAULTS, THEORY_PARAMS

SHARED_SPARC = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "sparc"
LAM = np.geomspace(0.1, 500.0, 400)


def _sparc_folder() -> Path | None:
    for folder in (SHARED_SPARC, data_home() / "sparc"):
        if folder.is_dir():
            return folder
    return None


def numpy_kernel(R, sigma_v, p):
    """Research-style kernel of one galaxy: trapezoid in lambda of f / lambda, max over R."""
    lam, Rm = LAM[None, :], R[:, None]
    lam_m = 2 * np.pi * Rm
    Q = 200.0 / sigma_v / p["Q_ref"]
    f = ((0.1 / lam) ** p["alpha"] * np.exp(-lam / p["lam_cut"])
         * Q**2 / (Q**2 + (lam / lam_m - lam_m / lam) ** 2)
         * np.exp(-((lam / p["lam_coh"]) ** 2)) * np.minimum(1.0, (Rm / lam) ** 2))
    K0 = np.trapezoid(f / lam, LAM, axis=1)
    burr = 1.0 - (1.0 + (R / p["burr_ell0"]) ** 0.757) ** -0.5
    return p["A_global"] * K0 / np.max(np.abs(K0)) * burr


def numpy_sparc_loss(p, galaxies):
    """L_SPARC with a Python loop over galaxies."""
    num = den = 0.0
    for g in galaxies:
        K = numpy_kernel(g["R"], g["sigma_v"], p)
        v_bar2 = g["Vgas"] * abs(g["Vgas"]) + g["Vdisk"] * abs(g["Vdisk"]) + g["Vbul"] * abs(
            g["Vbul"])
        v_mod = np.sqrt(np.maximum(v_bar2 * (1 + K), 0.0))
        num += np.mean((g["Vobs"] - v_mod) ** 2)
        den += np.mean((g["Vobs"] - np.sqrt(np.maximum(v_bar2, 0.0))) ** 2)
    return num / den


def numpy_value_and_grad(p, galaxies, h=1e-6):
    value = numpy_sparc_loss(p, galaxies)
    grad = {}
    for name in THEORY_PARAMS:
        step = h * max(1.0, abs(p[name]))
        up, down = dict(p), dict(p)
        up[name] += step
        down[name] -= step
        grad[name] = (numpy_sparc_loss(up, galaxies) - numpy_sparc_loss(down, galaxies)) / (
            2 * step)
    return value, grad


def _l_sparc(params, points):
    """L_SPARC of the theory parameters, the points an argument (not a baked constant)."""
    return gf.sparc_metrics(params, points, config=gf.FIT_CONFIG)["L_SPARC"]


def _sparc_rows(size, batch) -> list[dict]:
    points = gf.sparc_points(batch)
    params = dict(THEORY_DEFAULTS)
    value_and_grad = jax.jit(jax.value_and_grad(_l_sparc))
    _, timings = time_first_and_warm(lambda: value_and_grad(params, points), repeats=5)
    galaxies = [batch.galaxy(n) for n in batch.names]
    ref_s = wall(lambda: numpy_value_and_grad(params, galaxies))
    return [row(f"gravity: SPARC L_SPARC + gradient, {batch.n_galaxies} galaxies", size,
                timings, ref_s, "numpy loop over galaxies + finite differences",
                notes=f"{batch.n_total} points; reference: research trapezoid kernel per "
                "galaxy, normalised over its own radii; jaxfit: Gauss-Legendre panels, "
                "reference-grid normalisation, gradient summed in the same pass over the "
                "nodes as the value (custom JVP)")]


def _joint_rows(size, batch) -> list[dict]:
    full = size == "full"
    n_starts, maxiter = (4, 100) if full else (2, 10)
    clusters = cl.load_clusters()
    start = time.perf_counter()
    first = gf.joint_fit(batch, clusters, n_starts=n_starts, maxiter=maxiter, progress=False)
    first_s = time.perf_counter() - start
    start = time.perf_counter()
    fit = gf.joint_fit(batch, clusters, n_starts=n_starts, maxiter=maxiter, progress=False)
    warm_s = time.perf_counter() - start
    n_fev = int(fit.fit.n_fev)
    data = gf.joint_data(batch, clusters, radii=gf.mw_band_radii())
    spec = gf.theory_spec()
    names = spec.free_names
    jitted = jax.jit(gf.joint_loss)

    def f(x):
        return float(jitted(dict(zip(names, x, strict=True)), data))

    bounds = [(spec[n].lower, spec[n].upper) for n in names]
    popsize = 15
    generations = max(1, math.ceil(n_fev / (popsize * len(names))) - 1)
    start = time.perf_counter()
    de = differential_evolution(f, bounds, popsize=popsize, maxiter=generations, seed=42,
                                polish=False, tol=0.0)
    de_s = time.perf_counter() - start
    timings = {"first_call_s": first_s, "warm_s": warm_s}
    return [row(f"gravity: joint fit MW + SPARC + clusters, {n_starts} starts", size, timings,
                de_s, "scipy DE, same loss, same evaluation budget",
                notes=f"{batch.n_galaxies} galaxies; jaxfit n_fev {n_fev}, DE nfev {de.nfev}; "
                f"final loss jaxfit {fit.losses['total']:.6g} (first run "
                f"{first.losses['total']:.6g}) vs DE {de.fun:.6g}",
                loss_jaxfit=fit.losses["total"], loss_de=float(de.fun))]


def run(size: str = "full") -> list[dict]:
    folder = _sparc_folder()
    if folder is None:
        print("gravity benchmark skipped: no SPARC folder (run `jaxfit data sparc`)")
        return []
    batch = load_sparc(folder, max_galaxies=None if size == "full" else 20)
    return _sparc_rows(size, batch) + _joint_rows(size, batch)
