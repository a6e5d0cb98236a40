"""Cosmo: CMB + DESI DR2 BAO chi2 over a batch of parameter points, and a full LCDM fit.

jaxfit evaluates the chi2 of N parameter points (N = 10^6 full, 2000 small; H0 and Om0
drawn uniformly around the Planck values) as one vmapped program, chunked (from free
memory) through core.parallel, with the data passed once as a shared argument
(``chi2(params, data)``). The reference is the research approach: a
numpy/scipy.integrate.quad implementation of the same chi2 (flat LCDM, photons + massless
neutrinos, Hu-Sugiyama z*, r_s(z*) by quad, Aubourg r_d, BAO D_M/D_H/D_V over r_d) called
point by point; it is timed on a subset and scaled linearly, and its chi2 values are
compared with jaxfit's on that
subset (the max relative difference is reported).
"""

from __future__ import annotations

import time

import jax
import numpy as np
from scipy import integrate

from benchmarks.common import row, time_first_and_warm, wall
from jaxfit.core.parallel import map_batched
from jaxfit.cosmo.data import load_bao, load_cmb_priors
from jaxfit.cosmo.fit import optimize_parameters
from jaxfit.cosmo.model import C_KM_S, get_model, omega_gamma_h2
from jaxfit.cosmo.objective import as_data, chi2
from jaxfit.cosmo.store import OptimizedParameterStore

NU = 7.0 / 8.0 * (4.0 / 11.0) ** (4.0 / 3.0)


def reference_chi2(p, cmb, bao):
    """The research-style scalar chi2: scipy.integrate.quad for every integral."""
    h = p["H0"] / 100.0
    og = omega_gamma_h2(p["Tcmb"]) / h**2
    orad = og * (1.0 + NU * p["Neff"])
    ol = 1.0 - p["Om0"] - orad

    def E(z):
        return np.sqrt(p["Om0"] * (1 + z) ** 3 + orad * (1 + z) ** 4 + ol)

    def dm(z):
        return C_KM_S / p["H0"] * integrate.quad(lambda x: 1.0 / E(x), 0.0, z, epsrel=1e-10)[0]

    wb, wm = p["Obh2"], p["Om0"] * h**2
    g1 = 0.0783 * wb**-0.238 / (1.0 + 39.5 * wb**0.763)
    g2 = 0.560 / (1.0 + 21.1 * wb**1.81)
    zs = 1048.0 * (1.0 + 0.00124 * wb**-0.738) * (1.0 + g1 * wm**g2)

    def cs_over_H(z):
        rb = 3.0 * wb / (4.0 * og * h**2 * (1.0 + z))
        return C_KM_S / np.sqrt(3.0 * (1.0 + rb)) / (p["H0"] * E(z))

    rs = integrate.quad(cs_over_H, zs, np.inf, epsrel=1e-10, limit=200)[0]
    dms = dm(zs)
    obs = np.array([np.sqrt(p["Om0"]) * p["H0"] * dms / C_KM_S, np.pi * dms / rs, wb, p["ns"]])
    r = obs - np.asarray(cmb.mean)
    chi2 = r @ np.linalg.solve(np.asarray(cmb.cov), r)
    rd = 55.154 * np.exp(-72.3 * 0.0006**2) / (wm**0.25351 * wb**0.12807)
    model = []
    for z, q in zip(np.asarray(bao.z), bao.quantity, strict=True):
        d_m, d_h = dm(z), C_KM_S / (p["H0"] * E(z))
        value = {"DM_over_rs": d_m, "DH_over_rs": d_h,
                 "DV_over_rs": np.cbrt(z * d_m**2 * d_h)}[q]
        model.append(value / rd)
    r = np.asarray(bao.value) - np.array(model)
    return chi2 + r @ np.linalg.solve(np.asarray(bao.cov), r)


def run(size: str = "full") -> list[dict]:
    n = 1_000_000 if size == "full" else 2000
    n_ref = 20 if size == "full" else 5
    cmb, bao = load_cmb_priors(), load_bao("desi_dr2")
    data = as_data("lcdm", {"cmb:planck2018": cmb, "bao:desi_dr2": bao})
    base = dict(get_model("lcdm").spec.defaults)
    rng = np.random.default_rng(0)
    batch = {k: np.full(n, v) for k, v in base.items()}
    batch["H0"] = rng.uniform(64.0, 72.0, n)
    batch["Om0"] = rng.uniform(0.27, 0.35, n)
    values, timings = time_first_and_warm(
        lambda: map_batched(chi2, batch, shared=data, progress=False), repeats=2
    )
    points = [{k: float(v[i]) for k, v in batch.items()} for i in range(n_ref)]
    reference = []
    ref_s = wall(lambda: reference.extend(reference_chi2(p, cmb, bao) for p in points))
    diff = np.max(np.abs(np.array(reference) / np.asarray(values)[:n_ref] - 1.0))
    rows = [
        row("cosmo: CMB+BAO chi2, vmapped parameter batch", f"{n} points", timings,
            ref_s * n / n_ref, "scipy.integrate.quad, point by point",
            notes=f"reference timed on {n_ref} points and scaled to {n}; max relative chi2 "
            f"difference to the reference {diff:.1e}",
            throughput=f"{n / timings['warm_s']:.3g} points/s")
    ]
    # a full LCDM CMB+BAO fit (16 starts), into a throw-away store
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        store = OptimizedParameterStore(tmp)
        start = time.perf_counter()
        first = optimize_parameters("lcdm", "cmb,bao", store=store, progress=False, dry_run=True)
        first_s = time.perf_counter() - start
        start = time.perf_counter()
        optimize_parameters("lcdm", "cmb,bao", store=store, progress=False, dry_run=True)
        warm_s = time.perf_counter() - start
    spec = get_model("lcdm").spec.free_only(["H0", "Om0", "Obh2", "ns"])
    x0 = np.array([base[n] for n in spec.free_names])

    def scipy_fit():
        from scipy.optimize import minimize

        def f(x):
            return reference_chi2(base | dict(zip(spec.free_names, x, strict=True)), cmb, bao)

        return minimize(f, x0, method="Nelder-Mead", options={"maxfev": 400})

    res_holder = []
    ref_fit_s = wall(lambda: res_holder.append(scipy_fit()))
    rows.append(row("cosmo: LCDM CMB+BAO fit (16 starts + Hessian)", "4 params",
                    {"first_call_s": first_s, "warm_s": warm_s}, ref_fit_s,
                    "scipy Nelder-Mead on the quad chi2 (1 start, <= 400 evaluations)",
                    notes=f"jaxfit chi2 {first.final_chi2:.4f}; scipy chi2 "
                    f"{res_holder[0].fun:.4f} after {res_holder[0].nfev} evaluations; device "
                    f"{jax.devices()[0].platform}"))
    return rows
