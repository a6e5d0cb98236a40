"""Cosmo: CMB + DESI DR2 BAO chi2 over a batch of parameter points, and a full LCDM fit.

jaxfit evaluates the chi2 of N parameter points (N = 10^6 full, 20000 small; H0 and Om0
drawn uniformly around the Planck values) as one vmapped program, chunked (from free
memory) through core.parallel, with the data passed once as a shared argument
(``chi2(params, data)``); every distance of a point comes from one merged Gauss-Legendre
node set (74 integrand evaluations for the 13 BAO entries and z*, 24 for r_s(z*)).

Two baselines for each row (issue 14):

- *smart*, the careful user without jaxfit: for the batch, the same chi2 (flat LCDM, photons
  + massless neutrinos, Hu-Sugiyama z*, Aubourg r_d) vectorised in numpy over the points
  with fixed Gauss-Legendre nodes broadcast over the batch (12 per distinct BAO redshift in
  ln(1+z), 32 for D_M(z*), 16 for r_s in the scale factor: the fewest that give jaxfit's
  chi2 to 1e-9; the z^3, z^4 powers at the BAO nodes computed once), in chunks of 20000
  points; for the fit, scipy L-BFGS-B from the same 16 starts with the jitted exact JAX
  gradient of jaxfit's chi2 (:func:`benchmarks.common.scipy_multistart`), timed until its
  running best reaches its best chi2, which must equal jaxfit's to 1e-9 relative;
- *research*: scipy.integrate.quad point by point (timed on a subset and scaled), and scipy
  Nelder-Mead on that quad chi2 from one start.
"""

from __future__ import annotations

import time

import jax
import numpy as np
from scipy import integrate

from benchmarks.common import (
    numpy_value_and_grad,
    row,
    same_answer,
    scipy_multistart,
    time_first_and_warm,
    wall,
)
from jaxfit.core.optimize import sample_starts, value_and_grad_x
from jaxfit.core.parallel import map_batched
from jaxfit.cosmo.data import load_bao, load_cmb_priors
from jaxfit.cosmo.fit import optimize_parameters
from jaxfit.cosmo.model import C_KM_S, get_model, omega_gamma_h2
from jaxfit.cosmo.objective import as_data, chi2, cosmo_data
from jaxfit.cosmo.store import OptimizedParameterStore

NU = 7.0 / 8.0 * (4.0 / 11.0) ** (4.0 / 3.0)
OG_H2_PER_K4 = float(omega_gamma_h2(1.0))
SMART_NODES = {"bao": 12, "z_star": 32, "r_s": 16}
"""Gauss-Legendre nodes of the smart numpy chi2: per distinct BAO redshift, for D_M(z*), for
r_s(z*); the fewest round numbers with which it equals jaxfit's chi2 to 1e-9 relative over
the batch (8/24/16 are 8e-9 off, 10/20/12 4e-7)."""
FIT_PARAMS = ["H0", "Om0", "Obh2", "ns"]
FIT_STARTS = 16


def _unit_rule(n: int):
    x, w = np.polynomial.legendre.leggauss(n)
    return 0.5 * (x + 1.0), 0.5 * w


def smart_chi2(batch, cmb, bao, nodes=None, chunk: int = 20000) -> np.ndarray:
    """The careful user's vectorised numpy chi2 of a parameter batch (flat LCDM, massless
    neutrinos): fixed Gauss-Legendre nodes broadcast over the points, no per-point quad."""
    nodes = SMART_NODES if nodes is None else nodes
    z_bao = np.asarray(bao.z)
    zu, inverse = np.unique(z_bao, return_inverse=True)
    t, w = _unit_rule(nodes["bao"])
    ts, ws = _unit_rule(nodes["z_star"])
    tr, wr = _unit_rule(nodes["r_s"])
    uz = np.log1p(zu)
    x_bao = np.exp(uz[:, None] * t).ravel()  # 1 + z at the BAO nodes, the same for every point
    x3, x4, w_bao = x_bao**3, x_bao**4, (uz[:, None] * w).ravel()
    cmb_inv, bao_inv = np.linalg.inv(np.asarray(cmb.cov)), np.linalg.inv(np.asarray(bao.cov))
    out = []
    for s in range(0, len(batch["H0"]), chunk):
        b = {k: np.asarray(v[s:s + chunk]) for k, v in batch.items()}
        h0, om, wb = b["H0"], b["Om0"], b["Obh2"]
        h = h0 / 100.0
        og_h2 = OG_H2_PER_K4 * b["Tcmb"] ** 4
        orad = (og_h2 / h**2 * (1.0 + NU * b["Neff"]))[:, None]
        ol = 1.0 - om[:, None] - orad
        om_ = om[:, None]
        dh0 = C_KM_S / h0
        f = x_bao / np.sqrt(om_ * x3 + orad * x4 + ol)
        dm = dh0[:, None] * (f * w_bao).reshape(len(h0), zu.size, -1).sum(-1)
        dh = dh0[:, None] / np.sqrt(om_ * (1 + zu) ** 3 + orad * (1 + zu) ** 4 + ol)
        wm = om * h**2
        g1 = 0.0783 * wb**-0.238 / (1.0 + 39.5 * wb**0.763)
        g2 = 0.560 / (1.0 + 21.1 * wb**1.81)
        zs = 1048.0 * (1.0 + 0.00124 * wb**-0.738) * (1.0 + g1 * wm**g2)
        us = np.log1p(zs)
        x = np.exp(us[:, None] * ts)
        dms = dh0 * us * np.sum(ws * x / np.sqrt(om_ * x**3 + orad * x**4 + ol), -1)
        a = tr / (1.0 + zs[:, None])  # r_s = int_0^a* c_s da / (a^2 H)
        cs = C_KM_S / np.sqrt(3.0 * (1.0 + 0.75 * (wb / og_h2)[:, None] * a))
        rs = np.sum(wr * cs / np.sqrt(om_ * a + orad + ol * a**4), -1) / (h0 * (1.0 + zs))
        obs = np.stack([np.sqrt(om) * h0 * dms / C_KM_S, np.pi * dms / rs, wb, b["ns"]], -1)
        r = obs - np.asarray(cmb.mean)
        total = np.einsum("ni,ij,nj->n", r, cmb_inv, r)
        rd = 55.154 * np.exp(-72.3 * 0.0006**2) / (wm**0.25351 * wb**0.12807)
        dm, dh = dm[:, inverse], dh[:, inverse]
        model = {"DM_over_rs": dm, "DH_over_rs": dh, "DV_over_rs": np.cbrt(z_bao * dm**2 * dh)}
        vector = np.stack([model[q][:, i] for i, q in enumerate(bao.quantity)], -1)
        r = np.asarray(bao.value) - vector / rd[:, None]
        out.append(total + np.einsum("ni,ij,nj->n", r, bao_inv, r))
    return np.concatenate(out)


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


def _batch_rows(size: str, cmb, bao, data, base) -> list[dict]:
    n = 1_000_000 if size == "full" else 20_000
    n_ref = 20 if size == "full" else 5
    rng = np.random.default_rng(0)
    batch = {k: np.full(n, v) for k, v in base.items()}
    batch["H0"] = rng.uniform(64.0, 72.0, n)
    batch["Om0"] = rng.uniform(0.27, 0.35, n)
    values, timings = time_first_and_warm(
        lambda: map_batched(chi2, batch, shared=data, progress=False), repeats=3
    )
    values = np.asarray(values)
    smart_values = []
    smart_s = wall(lambda: smart_values.append(smart_chi2(batch, cmb, bao)), repeats=2)
    smart_diff = np.max(np.abs(smart_values[-1] / values - 1.0))
    points = [{k: float(v[i]) for k, v in batch.items()} for i in range(n_ref)]
    reference = []
    ref_s = wall(lambda: reference.extend(reference_chi2(p, cmb, bao) for p in points))
    diff = np.max(np.abs(np.array(reference) / values[:n_ref] - 1.0))
    per_point = timings["warm_s"] / n * 1e6
    return [
        row("cosmo: CMB+BAO chi2, vmapped parameter batch", f"{n} points", timings,
            ref_s * n / n_ref, "scipy.integrate.quad, point by point",
            smart_s=smart_s,
            smart=f"numpy vectorised over the batch, fixed Gauss-Legendre nodes "
            f"({SMART_NODES['bao']} per BAO redshift, {SMART_NODES['z_star']} for D_M(z*), "
            f"{SMART_NODES['r_s']} for r_s), chunks of 20000; max relative chi2 difference "
            f"to jaxfit {smart_diff:.1e}",
            notes=f"{per_point:.2f} us per point; reference timed on {n_ref} points and "
            f"scaled to {n}; max relative chi2 difference to the reference {diff:.1e}",
            throughput=f"{n / timings['warm_s']:.3g} points/s",
            us_per_point=per_point, smart_max_rel_diff=float(smart_diff),
            reference_max_rel_diff=float(diff))
    ]


def _fit_rows(cmb, bao, base) -> list[dict]:
    """The LCDM CMB+BAO fit: jaxfit's optimize_parameters (16 starts + Hessian errors), the
    careful user's scipy L-BFGS-B from the same 16 starts with the jitted exact gradient,
    and the research script's Nelder-Mead on the quad chi2."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        store = OptimizedParameterStore(tmp)
        start = time.perf_counter()
        first = optimize_parameters("lcdm", "cmb,bao", store=store, progress=False, dry_run=True)
        first_s = time.perf_counter() - start
        warm = []
        for _ in range(2):
            start = time.perf_counter()
            optimize_parameters("lcdm", "cmb,bao", store=store, progress=False, dry_run=True)
            warm.append(time.perf_counter() - start)
    # the same starts as minimize's: the defaults, then 15 Sobol points (seed 0)
    spec = get_model("lcdm").spec.free_only(FIT_PARAMS)
    starts = np.concatenate([np.asarray(spec.pack())[None],
                             sample_starts(spec, FIT_STARTS - 1, seed=0)])
    data = cosmo_data("lcdm", "cmb,bao")
    fixed = spec.fixed_vector()
    jitted = value_and_grad_x(chi2, spec.skeleton())
    exact = numpy_value_and_grad(lambda x: jitted(x, fixed, data))
    compile_s = wall(lambda: exact(starts[0]))
    smart = scipy_multistart(exact, starts, (spec.lower, spec.upper))
    x0 = np.array([base[n] for n in spec.free_names])

    def scipy_fit():
        from scipy.optimize import minimize

        def f(x):
            return reference_chi2(base | dict(zip(spec.free_names, x, strict=True)), cmb, bao)

        return minimize(f, x0, method="Nelder-Mead", options={"maxfev": 400})

    res_holder = []
    ref_fit_s = wall(lambda: res_holder.append(scipy_fit()))
    same = same_answer(first.final_chi2, smart.best_f)
    return [row(
        "cosmo: LCDM CMB+BAO fit (16 starts + Hessian)", "4 params",
        {"first_call_s": first_s, "warm_s": min(warm)}, ref_fit_s,
        "scipy Nelder-Mead on the quad chi2 (1 start, <= 400 evaluations)",
        smart_s=smart.seconds,  # a careful user runs all the starts
        smart=f"scipy L-BFGS-B from the same {FIT_STARTS} starts, jitted exact JAX gradient "
        f"(compiled first: {compile_s:.2f} s, not counted); {smart.seconds:.2f} s for all "
        f"starts, {smart.seconds_to_best:.2f} s until its running best reached its best chi2 "
        f"{smart.best_f:.12g} (jaxfit {first.final_chi2:.12g}, same answer to 1e-9: {same}); "
        f"{smart.n_fev} evaluations; no Hessian errors",
        notes=f"jaxfit chi2 {first.final_chi2:.12g} with Hessian errors; research chi2 "
        f"{res_holder[0].fun:.6f} after {res_holder[0].nfev} evaluations; device "
        f"{jax.devices()[0].platform}",
        best_chi2=first.final_chi2, smart_best_chi2=smart.best_f, same_answer=same,
        smart_compile_s=compile_s, smart_all_starts_s=smart.seconds)]


def run(size: str = "full") -> list[dict]:
    cmb, bao = load_cmb_priors(), load_bao("desi_dr2")
    data = as_data("lcdm", {"cmb:planck2018": cmb, "bao:desi_dr2": bao})
    base = dict(get_model("lcdm").spec.defaults)
    return _batch_rows(size, cmb, bao, data, base) + _fit_rows(cmb, bao, base)
