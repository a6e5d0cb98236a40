"""Leptons: the research (beta, w) profile scan, and the mass chi2 per parameter point.

0. One point (beta_ref, w = 0.02) with 64-start quality: ``fit_fixed``'s defaults against
   the smart baseline, scipy L-BFGS-B from the same 64 starts with the jitted exact
   gradient (8 timed and scaled for ``small``), and whether both reach the same chi2.
1. The ``default-16x10`` preset with the scan defaults (full; a 2x2 grid for ``small``):
   ``SCAN_STARTS`` drawn starts per point in one batched L-BFGS program, then continuation
   from the neighbours' optima and the global fit (:func:`jaxfit.leptons.scan.scan_beta_w`).
   The smart baseline: scipy L-BFGS-B with exact gradients from 64 starts per point, timed
   on the DE points and scaled to the grid. The research reference:
   ``scipy.optimize.differential_evolution`` (maxiter 1000, seed 42, polish) on a numpy
   chi2, one grid point at a time. DE is timed on a few points (2 full, 1 small with
   maxiter 30) and scaled to the whole grid; at those points the chi2 of both is reported,
   DE's optimum re-evaluated with jaxfit's objective so both are judged on one function.
2. The mass chi2 of N parameter points (10^5 full, 10^3 small), vmapped, against the
   numpy chi2 called point by point.

The numpy chi2 is written the way the research scripts work: a Python loop over the three
leptons, each energy by numpy Gauss-Legendre on [r_min, R_c] and [R_c, R] (16 nodes each,
exact for these polynomial integrands), the exterior in closed form, the density slope
written out by hand. (The research code itself is not available; this reconstruction is
faster than its reported 3-4 hours per 9x6 scan, so the DE ratio here is conservative.)
"""

from __future__ import annotations

import math
import time

import jax
import numpy as np
from scipy.optimize import differential_evolution

from benchmarks.common import (
    numpy_value_and_grad,
    row,
    same_answer,
    scipy_multistart,
    time_first_and_warm,
    wall,
)
from jaxfit.core.optimize import value_and_grad_x
from jaxfit.core.parallel import map_batched
from jaxfit.leptons import fit as lf
from jaxfit.leptons.data import LEPTONS, load_targets
from jaxfit.leptons.model import DEFAULT_CONFIG, gradient_coupling

_X, _WT = np.polynomial.legendre.leggauss(16)
BOUNDS = [lf.LEPTON_BOUNDS[lep][q] for lep in LEPTONS for q in ("R_c", "U", "A")]


def numpy_energy(R_c, U, A, beta, w, cfg=DEFAULT_CONFIG):
    """E_total of one lepton, "vortex" flow, numpy (module doc)."""
    R = R_c + w
    cm = math.cos(cfg.theta_min)
    c, s = 2.0 / 3.0 * cm**3, 2.0 * cm - 2.0 / 3.0 * cm**3
    e_in = e_stab = e_grad = 0.0
    for a, b in ((cfg.r_min, R_c), (R_c, R)):
        a, b = min(max(a, cfg.r_min), cfg.r_max), min(max(b, cfg.r_min), cfg.r_max)
        half = 0.5 * (b - a)
        r, wt = a + half * (_X + 1.0), half * _WT
        q = (r / R) ** 2
        x = np.clip((r - R_c) / w, 0.0, 1.0)
        taper = 1.0 - (6 * x**5 - 15 * x**4 + 10 * x**3)
        dtaper = np.where((r > R_c) & (r < R), -30 * x**2 * (1 - x) ** 2 / w, 0.0)
        P, dP = (1.0 - q) ** 2, -4.0 * (1.0 - q) * r / R**2
        drho, slope = -A * P * taper, -A * (dP * taper + P * dtaper)
        f, g = -1.5 * U * (1.0 - q), 1.5 * U * (1.0 - 2.0 * q)
        e_in += np.pi * np.sum(wt * r**2 * (1 + drho) * (c * f**2 + s * g**2))
        e_stab += 4 * np.pi * np.sum(wt * r**2 * drho**2)
        e_grad += 4 * np.pi * np.sum(wt * r**2 * slope**2)
    R3, top = R**3, cfg.r_max
    e_ext = np.pi * U**2 * ((c + s) * (top**3 - R3) / 3.0 + (s - 2 * c) * R3 * np.log(top / R)
                            + (c + s / 4) * R3**2 * (1 / R3 - 1 / top**3) / 3.0)
    return e_in + e_ext - beta * e_stab + gradient_coupling(beta, cfg) * e_grad


def numpy_chi2(x, beta, w, masses, sigma_model=1e-4):
    """Mass chi2 with S profiled, of x = (R_c, U, A) for e, mu, tau (flat, 9 values)."""
    E = np.array([numpy_energy(*x[3 * i:3 * i + 3], beta, w) for i in range(3)])
    sigma = sigma_model * masses
    S = np.sum(masses * E / sigma**2) / np.sum(E**2 / sigma**2)
    return float(np.sum(((S * E - masses) / sigma) ** 2))


SMART_STARTS = 64
"""Starts of the careful user's scipy L-BFGS-B per point: what 64-start quality costs them."""


def _smart_point(beta: float, w: float, starts) -> object:
    """The careful user's fit at one (beta, w): scipy L-BFGS-B from each of ``starts`` with
    the jitted exact gradient of jaxfit's own mass chi2 (compiled before it is timed)."""
    fun, data = lf.make_objective("mass")
    spec = lf.lepton_spec(beta, w).freeze(["beta", "w"], {"beta": beta, "w": w})
    fixed = np.asarray(spec.fixed_vector())
    vg = value_and_grad_x(fun, spec.skeleton())
    exact = numpy_value_and_grad(jax.jit(lambda x: vg(x, fixed, data)))
    exact(np.asarray(starts[0]))
    return scipy_multistart(exact, starts, (spec.lower, spec.upper))


def _point_rows(size: str) -> list[dict]:
    """One lepton point at (beta_ref, 0.02) with 64-start quality: fit_fixed's defaults
    against scipy L-BFGS-B from the same 64 starts (all of them for full, 8 timed and
    scaled for small)."""
    beta, w = lf.BETA_REF, lf.DEFAULT_W
    fit, timings = time_first_and_warm(
        lambda: lf.fit_fixed(beta, w, n_starts=SMART_STARTS, progress=False), repeats=3)
    table = fit.fit.starts
    starts = table[[f"start_{n}" for n in fit.fit.free_names]].to_numpy()
    n_timed = SMART_STARTS if size == "full" else 8
    smart = _smart_point(beta, w, starts[:n_timed])
    smart_s = smart.seconds * SMART_STARTS / n_timed
    reached = int(np.sum(table["fun"] <= fit.chi2 * (1 + 1e-9)))
    return [row(
        "leptons: mass fit at one point, 64-start quality", f"{SMART_STARTS} starts", timings,
        None, None, smart_s=smart_s,
        smart=f"scipy L-BFGS-B with the jitted exact gradient from the same starts "
        f"({n_timed} timed" + ("" if n_timed == SMART_STARTS else f", scaled to {SMART_STARTS}")
        + f"; {smart.seconds_to_best:.2f} s until its running best reached its best); best "
        f"chi2 {smart.best_f:.10g} (jaxfit {fit.chi2:.10g}, same answer: "
        f"{same_answer(fit.chi2, smart.best_f)}); {smart.n_fev / n_timed:.0f} evaluations "
        "per start",
        notes=f"jaxfit: fit_fixed defaults (SCAN_OPTIONS), one batched program; "
        f"{reached} of {SMART_STARTS} starts end at the best chi2; max evaluations of one "
        f"start {int(table['n_fev'].max())} (the batch's wall time), "
        f"{int(table['n_fev'].sum())} in all",
        best_chi2=fit.chi2, smart_best_chi2=smart.best_f)]


def _scan_rows(size: str, masses) -> list[dict]:
    full = size == "full"
    if full:
        beta_grid, w_grid = lf.PRESETS["default-16x10"]
        name = "default-16x10"
    else:
        beta_grid, w_grid = np.array([3.0, 3.1]), np.array([0.01, 0.02])
        name = "2x2"
    # the defaults: SCAN_STARTS drawn starts per point, then continuation from the
    # neighbours' optima and the global fit
    result, timings = time_first_and_warm(
        lambda: lf.scan_beta_w(beta_grid, w_grid, progress=False), repeats=1)
    n_starts = result.scan.n_starts
    n_points = beta_grid.size * w_grid.size
    de_points = [(0, 0), (beta_grid.size - 1, w_grid.size - 1)] if full else [(0, 0)]
    de_maxiter = 1000 if full else 30
    chi2, data = lf.make_objective("mass")
    chi2_fn = jax.jit(chi2)
    compare, de_seconds = [], 0.0
    for i, j in de_points:
        beta, w = float(beta_grid[i]), float(w_grid[j])
        start = time.perf_counter()
        de = differential_evolution(numpy_chi2, BOUNDS, args=(beta, w, masses),
                                    maxiter=de_maxiter, seed=42, polish=True)
        de_seconds += time.perf_counter() - start
        point = dict(zip(lf.LEPTON_PARAMS, de.x, strict=True)) | {"beta": beta, "w": w}
        compare.append({"beta": beta, "w": w, "chi2_jaxfit": float(result.scan.chi2[i, j]),
                        "chi2_de": float(chi2_fn(point, data)), "de_nfev": int(de.nfev)})
    per_point_de = de_seconds / len(de_points)
    # the careful user: scipy L-BFGS-B with exact gradients from 64 starts per point (8
    # timed and scaled for small), timed on the DE points and scaled to the grid
    n_timed = SMART_STARTS if full else 8
    smart_s, smart_same = 0.0, []
    starts = np.concatenate([np.asarray(lf.lepton_spec().free_only(lf.LEPTON_PARAMS).pack())
                             [None], _sobol(SMART_STARTS - 1)])[:n_timed]
    for c in compare:
        smart = _smart_point(c["beta"], c["w"], starts)
        smart_s += smart.seconds * SMART_STARTS / n_timed
        c["chi2_smart"] = smart.best_f
        smart_same.append(same_answer(c["chi2_jaxfit"], smart.best_f))
    smart_s = smart_s / len(compare) * n_points
    worse = [c for c in compare if c["chi2_jaxfit"] > c["chi2_de"] * (1 + 1e-9)]
    notes = (
        f"DE timed on {len(de_points)} point(s) (maxiter {de_maxiter}) and scaled to "
        f"{n_points}: {per_point_de:.1f} s per point; jaxfit {timings['warm_s'] / n_points:.2f} "
        f"s per point warm ({per_point_de * n_points / timings['warm_s']:.0f}x per point); "
        "chi2 jaxfit vs DE: " + "; ".join(
            f"(beta {c['beta']:.3f}, w {c['w']:.3g}) {c['chi2_jaxfit']:.10g} vs "
            f"{c['chi2_de']:.10g}" for c in compare)
        + ("; jaxfit worse at " + str(len(worse)) + " point(s)" if worse else
           "; jaxfit never worse")
    )
    notes += (f"; smart baseline timed on {len(compare)} point(s) ({n_timed} starts"
              + ("" if n_timed == SMART_STARTS else f" scaled to {SMART_STARTS}")
              + f") and scaled to {n_points}; jaxfit at least as good as it there: "
              f"{all(smart_same)}")
    return [row(f"leptons: (beta, w) profile scan, {n_starts} starts/point + continuation",
                name, timings,
                per_point_de * n_points, "scipy DE per point (numpy chi2)", notes=notes,
                smart_s=smart_s, smart=f"scipy L-BFGS-B, exact jitted gradient, "
                f"{SMART_STARTS} starts per point",
                throughput=f"{n_points * n_starts / timings['warm_s']:.3g} fits/s",
                chi2_grid=result.scan.chi2.tolist(), de_comparison=compare)]


def _chi2_rows(size: str, masses) -> list[dict]:
    n = 100_000 if size == "full" else 1000
    n_ref = 200 if size == "full" else 50
    rng = np.random.default_rng(0)
    lows, highs = np.array(BOUNDS).T
    x = rng.uniform(lows, highs, (n, 9))
    batch = {name: x[:, k] for k, name in enumerate(lf.LEPTON_PARAMS)}
    batch |= {"beta": np.full(n, lf.BETA_REF), "w": np.full(n, lf.DEFAULT_W)}
    # mass_chi2_of(params, data): the targets travel as the shared data of the batch
    chi2, data = lf.make_objective("mass")
    values, timings = time_first_and_warm(
        lambda: map_batched(chi2, batch, shared=data, progress=False),
        repeats=2,
    )
    reference = []
    ref_s = wall(lambda: reference.extend(
        numpy_chi2(x[i], lf.BETA_REF, lf.DEFAULT_W, masses) for i in range(n_ref)))
    diff = np.max(np.abs(np.array(reference) / np.asarray(values)[:n_ref] - 1.0))
    return [row("leptons: mass chi2, vmapped parameter batch", f"{n} points", timings,
                ref_s * n / n_ref, "numpy, point by point",
                notes=f"reference timed on {n_ref} points and scaled; max relative chi2 "
                f"difference {diff:.1e}", throughput=f"{n / timings['warm_s']:.3g} points/s")]


def _sobol(n: int) -> np.ndarray:
    from jaxfit.core.optimize import sample_starts

    return sample_starts(lf.lepton_spec().free_only(lf.LEPTON_PARAMS), n, seed=0)


def run(size: str = "full") -> list[dict]:
    masses = np.asarray(load_targets().masses)
    return _chi2_rows(size, masses) + _point_rows(size) + _scan_rows(size, masses)
