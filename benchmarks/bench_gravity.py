"""Gravity: the 175-galaxy SPARC kernel evaluation with its gradient, and the joint fit.

1. SPARC (real files from ../shared/data/sparc or the `jaxfit data sparc` cache; 175
   galaxies full, 20 small; skipped when absent): jaxfit evaluates ``L_SPARC`` and its
   gradient in the 6 theory parameters for all galaxies in one jitted call
   (:func:`jaxfit.gravity.fit.sparc_metrics`, the points an argument of the program; the
   kernel's derivatives are summed in the same pass over the wavelength nodes as its
   value). Two baselines:

   - smart: the careful numpy user: the same quadrature (Gauss-Legendre panels, reference
     normalisation) vectorised over all points at once (a (points x panels x nodes)
     array, per-galaxy sums by ``np.bincount``, no Python loop over galaxies), the
     gradient by central differences (13 vectorised evaluations); its value equals
     jaxfit's to 1e-9 relative (checked, ``smart_value_rel_diff``).
   - research: a numpy loop over galaxies, each galaxy's kernel by ``np.trapezoid`` over
     400 log-spaced wavelengths normalised over its own radii, the gradient by central
     finite differences (13 loop evaluations).

2. Joint fit (MW kernel + SPARC + clusters): jaxfit multi-start L-BFGS
   (:func:`jaxfit.gravity.fit.joint_fit`: the objective
   :func:`~jaxfit.gravity.fit.joint_loss` with its data as an argument). Two baselines:

   - smart: scipy L-BFGS-B from the same starts, one after the other, with the exact
     gradient of the same jitted JAX loss (:func:`benchmarks.common.scipy_multistart`):
     the time until it holds jaxfit's best loss (1e-9 relative); when it never does, its
     whole run (``smart_same_answer`` False: a lower bound of the ratio) and its best loss.
   - research: ``scipy.optimize.differential_evolution`` calling the same jitted loss one
     point at a time, with the same number of loss evaluations (DE's ``maxiter`` set from
     jaxfit's ``n_fev``); the final losses of both are reported.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from scipy.optimize import differential_evolution

from benchmarks.common import numpy_value_and_grad as jitted_to_numpy
from benchmarks.common import row, same_answer, scipy_multistart, time_first_and_warm, wall
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


# ------------------------------------------------------------ the careful numpy user
GL_X, GL_W = np.polynomial.legendre.leggauss(40)  # FIT_CONFIG: 200 nodes = 5 panels x 40
BURR_P, BURR_N = 0.757, 0.5


def numpy_gl_K0(R, sigma_v, p):
    """K0 at radii ``R`` (any shape, ``sigma_v`` broadcasting), vectorised: the five
    Gauss-Legendre panels in ln(lambda) of :mod:`jaxfit.gravity.kernel` (edges at ln R and
    the resonance ln(2 pi R) + (-Q, 0, Q), clipped to [0.1, 500] kpc), 40 nodes each, as
    one (radii x 5 x 40) array."""
    a, b = math.log(0.1), math.log(500.0)
    R = np.asarray(R, dtype=np.float64)
    Q = np.broadcast_to(200.0 / np.asarray(sigma_v) / p["Q_ref"], R.shape)
    ln_R, ln_m = np.log(R), np.log(2.0 * np.pi * R)
    edges = np.stack([np.full_like(R, a), np.minimum(ln_R, ln_m - Q),
                      np.maximum(ln_R, ln_m - Q), ln_m, ln_m + Q, np.full_like(R, b)], -1)
    edges = np.clip(edges, a, b)
    mid, half = 0.5 * (edges[..., 1:] + edges[..., :-1]), 0.5 * (edges[..., 1:] - edges[..., :-1])
    t = mid[..., None] + half[..., None] * GL_X
    lam, Rn, Qn = np.exp(t), R[..., None, None], Q[..., None, None]
    lam_m = 2.0 * np.pi * Rn
    f = (np.exp(p["alpha"] * (math.log(0.1) - t) - lam / p["lam_cut"]
                - (lam / p["lam_coh"]) ** 2 + 2.0 * np.minimum(0.0, np.log(Rn) - t))
         * Qn**2 / (Qn**2 + (lam / lam_m - lam_m / lam) ** 2))
    return np.einsum("...pk,...p,k->...", f, half, GL_W)


REF_RADII = np.geomspace(0.1, 50.0, 256)  # KernelConfig's reference normalisation grid


def numpy_sparc_vectorised(p, flat):
    """L_SPARC of all galaxies at once (``flat``: :func:`_flat_points`), jaxfit's kernel."""
    sigma = flat["sigma_values"]
    norm = np.max(np.abs(numpy_gl_K0(REF_RADII[None, :], sigma[:, None], p)), axis=1)
    K = (p["A_global"] * numpy_gl_K0(flat["R"], flat["sigma"], p) / norm[flat["sigma_index"]]
         * (1.0 - (1.0 + (flat["R"] / p["burr_ell0"]) ** BURR_P) ** -BURR_N))
    boosted = flat["v_bar2"] * (1.0 + K)
    v_mod = np.sqrt(np.maximum(boosted, 0.0))
    v_bar = np.sqrt(np.maximum(flat["v_bar2"], 0.0))
    count, g = flat["n_points"], flat["galaxy"]
    rms2_mod = np.bincount(g, (flat["Vobs"] - v_mod) ** 2, len(count)) / count
    rms2_bar = np.bincount(g, (flat["Vobs"] - v_bar) ** 2, len(count)) / count
    return float(np.mean(rms2_mod) / np.mean(rms2_bar))


def _flat_points(points) -> dict:
    """The real SPARC points as numpy arrays (host-side preparation, not timed)."""
    n = points.n_real
    flat = {k: np.asarray(getattr(points, k))[:n]
            for k in ("R", "Vobs", "v_bar2", "galaxy", "sigma_index")}
    flat["sigma_values"] = np.asarray(points.sigma_values)
    flat["sigma"] = flat["sigma_values"][flat["sigma_index"]]
    flat["n_points"] = np.asarray(points.n_points, dtype=np.float64)
    return flat


def central_differences(loss, p, h=1e-6):
    """``(value, {name: d loss / d name})`` by central differences (13 evaluations)."""
    value, grad = loss(p), {}
    for name in THEORY_PARAMS:
        step = h * max(1.0, abs(p[name]))
        grad[name] = (loss(p | {name: p[name] + step}) - loss(p | {name: p[name] - step})) / (
            2 * step)
    return value, grad


def _l_sparc(params, points):
    """L_SPARC of the theory parameters, the points an argument (not a baked constant)."""
    return gf.sparc_metrics(params, points, config=gf.FIT_CONFIG)["L_SPARC"]


def _interleaved(fns: dict, repeats: int = 7) -> dict:
    """Best wall time of each jitted ``fn()`` (seconds), the functions called in turn."""
    best = dict.fromkeys(fns, math.inf)
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            jax.block_until_ready(fn())
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def _sparc_rows(size, batch) -> list[dict]:
    points = gf.sparc_points(batch)
    params = dict(THEORY_DEFAULTS)
    value = jax.jit(_l_sparc)
    value_and_grad = jax.jit(jax.value_and_grad(_l_sparc))
    _, timings = time_first_and_warm(lambda: value_and_grad(params, points), repeats=1)
    _, value_timings = time_first_and_warm(lambda: value(params, points), repeats=1)
    # value and value + gradient timed in turn (best of 7 each), so their ratio holds on a
    # busy machine
    best = _interleaved({"value": lambda: value(params, points),
                         "value_and_grad": lambda: value_and_grad(params, points)})
    timings["warm_s"], value_timings["warm_s"] = best["value_and_grad"], best["value"]
    flat = _flat_points(points)
    smart_value = numpy_sparc_vectorised(params, flat)
    jax_value = float(value(params, points))
    rel_diff = abs(smart_value - jax_value) / abs(jax_value)
    smart_value_s = wall(lambda: numpy_sparc_vectorised(params, flat), repeats=3)
    smart_s = wall(lambda: central_differences(lambda p: numpy_sparc_vectorised(p, flat),
                                               params), repeats=1)
    galaxies = [batch.galaxy(n) for n in batch.names]
    ref_s = wall(lambda: numpy_value_and_grad(params, galaxies))
    ratio = timings["warm_s"] / value_timings["warm_s"]
    return [row(f"gravity: SPARC L_SPARC + gradient, {batch.n_galaxies} galaxies", size,
                timings, ref_s, "numpy loop over galaxies + finite differences",
                smart_s=smart_s,
                smart="vectorised numpy (same quadrature, all points at once) + central "
                "differences",
                notes=f"{batch.n_total} points; jaxfit value alone "
                f"{value_timings['warm_s'] * 1e3:.1f} ms (value + gradient = {ratio:.1f}x "
                f"the value); vectorised numpy value {smart_value_s * 1e3:.0f} ms, equal to "
                f"jaxfit's to {rel_diff:.1e}; research: trapezoid kernel per galaxy, "
                "normalised over its own radii; jaxfit: Gauss-Legendre panels, "
                "reference-grid normalisation, gradient summed in the same pass over the "
                "nodes as the value (custom JVP)",
                value_warm_s=value_timings["warm_s"], grad_over_value=ratio,
                smart_value_s=smart_value_s, smart_value_rel_diff=rel_diff)]


def _smart_joint(data, spec, starts):
    """scipy L-BFGS-B from ``starts`` with the exact gradient of the jitted joint loss
    (compiled before timing)."""
    names = spec.free_names

    def loss_x(x, data):
        return gf.joint_loss(dict(zip(names, x, strict=True)), data)

    jitted = jax.jit(jax.value_and_grad(loss_x))
    jax.block_until_ready(jitted(jnp.asarray(starts[0]), data))
    value_and_grad = jitted_to_numpy(lambda x: jitted(jnp.asarray(x), data))
    bounds = (np.array([spec[n].lower for n in names]), np.array([spec[n].upper for n in names]))
    return scipy_multistart(value_and_grad, starts, bounds)


def _joint_rows(size, batch) -> list[dict]:
    # full: the CLI's 4 starts (as the earlier tables), and the default start alone, which
    # is the one that finds the best loss (the Sobol starts end at other minima)
    settings = ((4, 100), (1, 200)) if size == "full" else ((2, 10),)
    clusters = cl.load_clusters()
    return [r for n_starts, maxiter in settings
            for r in _joint_row(size, batch, clusters, n_starts, maxiter)]


def _joint_row(size, batch, clusters, n_starts, maxiter) -> list[dict]:
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
    # the starts joint_fit used (the defaults, then Sobol draws)
    if fit.fit.starts is None:  # one start: the defaults
        starts = np.asarray(spec.pack({}), dtype=np.float64)[None, :]
    else:
        starts = fit.fit.starts[[f"start_{n}" for n in names]].to_numpy(dtype=np.float64)
    smart = _smart_joint(data, spec, starts)
    jaxfit_loss = fit.losses["total"]
    reached = same_answer(smart.best_f, jaxfit_loss)
    smart_s = smart.seconds_to_best if reached else smart.seconds
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
    if not reached:
        smart_note = (f"never reaches jaxfit's loss: best {smart.best_f:.6g} after "
                      f"{smart.seconds:.1f} s (ratio a lower bound)")
    elif not same_answer(jaxfit_loss, smart.best_f):
        smart_note = (f"goes lower ({smart.best_f:.6g}, jaxfit stopped at maxiter): time to "
                      "its own best, so the ratio is an upper bound")
    else:
        smart_note = "reaches jaxfit's loss"
    return [row(f"gravity: joint fit MW + SPARC + clusters, {n_starts} start"
                f"{'s' if n_starts > 1 else ''}, maxiter {maxiter}", size, timings,
                de_s, "scipy DE, same loss, same evaluation budget",
                smart_s=smart_s,
                smart=f"scipy L-BFGS-B, same {n_starts} starts, exact JAX gradient",
                notes=f"{batch.n_galaxies} galaxies; jaxfit n_fev {n_fev}, status "
                f"{fit.fit.status}, loss "
                f"{jaxfit_loss:.8g} (first run {first.losses['total']:.8g}); smart: "
                f"{smart.n_fev} evaluations, per start {np.array2string(smart.f, precision=6)}"
                f", {smart_note}; DE nfev {de.nfev}, loss {de.fun:.6g}",
                loss_jaxfit=jaxfit_loss, loss_de=float(de.fun), loss_smart=smart.best_f,
                smart_same_answer=reached, smart_n_fev=smart.n_fev)]


def run(size: str = "full") -> list[dict]:
    folder = _sparc_folder()
    if folder is None:
        print("gravity benchmark skipped: no SPARC folder (run `jaxfit data sparc`)")
        return []
    batch = load_sparc(folder, max_galaxies=None if size == "full" else 20)
    return _sparc_rows(size, batch) + _joint_rows(size, batch)
