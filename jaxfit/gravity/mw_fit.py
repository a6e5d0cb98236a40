"""The Milky Way fit of the theory kernel (research ``run_theory_kernel_mw_fit.py``).

Two targets: the shape of the research empirical kernel in the band 12-16 kpc, with the
research correlation penalty (:func:`~jaxfit.gravity.objective.mw_kernel_loss`), or the
Eilers+2019 rotation curve over all its radii
(:func:`~jaxfit.gravity.objective.mw_vc_loss`). Multi-start L-BFGS by default,
differential evolution with ``method="de"``. Units: kpc, km/s.

Every fit carries its :class:`~jaxfit.core.diagnostics.FitStatus` (converged, agreement of
starts, Hessian errors, degenerate directions, parameters on a bound). The kernel-shape loss
is a mean square without errors, so one unit of chi2 is taken as the rise
``chi2_K / (n_radii - n_free)`` at the optimum: the residual rms there is taken as the error
of K at each radius (reduced chi2 = 1). The rotation curve's loss is a chi2 (scale 1).

The defaults are the one set of settings of the CLI (``jaxfit gravity mw-fit``) and the demo,
which both call :func:`mw_fit` with them, so they reach the same optimum.
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
import numpy as np

from jaxfit.core import checks
from jaxfit.core.diagnostics import fit_status
from jaxfit.core.optimize import minimize
from jaxfit.gravity.kernel import KernelConfig, theory_kernel
from jaxfit.gravity.limits import speed
from jaxfit.gravity.milky_way import MilkyWay, load_milky_way
from jaxfit.gravity.objective import (
    FIT_CONFIG,
    FIT_OPTIONS,
    mw_band_radii,
    mw_curve_data,
    mw_kernel_data,
    mw_kernel_loss,
    mw_vc_loss,
    pearson,
)
from jaxfit.gravity.params import RESEARCH_MW_EMPIRICAL, SIGMA_V, signed_params, theory_spec
from jaxfit.gravity.results import MWFit

MW_MAXITER = 1000
"""L-BFGS iterations of the MW fit. Measured (8 starts, seed 0, 2 shared CPU cores): at 200
the best start stops at maxiter (chi2_K 5.298e-5, 6 s); at 1000 two starts converge (ftol)
to the same optimum, chi2_K 5.290e-5, alpha, lam_cut and Q_ref on bounds (17 s)."""


def mw_fit(
    *,
    target: str = "kernel",
    mw: MilkyWay | None = None,
    stars=None,
    r_min: float = 12.0,
    r_max: float = 16.0,
    sigma_v: float = SIGMA_V["mw"],
    empirical=RESEARCH_MW_EMPIRICAL,
    fit_q_ref: bool = True,
    require_positive_corr: bool = True,
    config: KernelConfig = FIT_CONFIG,
    method: str = "lbfgs",
    n_starts: int = 8,
    seed: int = 0,
    maxiter: int | None = None,
    progress: bool = True,
    **options,
) -> MWFit:
    """Fit the theory kernel on the Milky Way (research ``run_theory_kernel_mw_fit.py``).

    Args:
        target: ``"kernel"`` (shape of the empirical kernel in the band, with the
            correlation penalty) or ``"vc"`` (the Eilers+2019 curve, all radii).
        mw: the MW data (default :func:`~jaxfit.gravity.data.load_milky_way`).
        stars: research parquet stars in the band (radii of the kernel fit).
        r_min, r_max: the band, kpc. sigma_v: MW dispersion, km/s, in (0, 1e4]
            (:data:`~jaxfit.gravity.limits.V_MAX_KMS`).
        empirical: parameters of the empirical kernel (research MW fit by default).
        fit_q_ref: fit ``Q_ref`` (else frozen at 1). require_positive_corr: the penalty.
        config: kernel quadrature and normalisation.
        method, n_starts, seed, maxiter, progress, **options:
            :func:`jaxfit.core.optimize.minimize` (``method="de"`` runs one population;
            ``maxiter`` counts its generations). ``maxiter=None``: :data:`MW_MAXITER` for
            L-BFGS, the gravity fits' 200 generations for DE.
    """
    checks.one_of(target, "target", ("kernel", "vc"))
    sigma_v = speed(sigma_v, "sigma_v [km/s]")
    radii = mw_band_radii(r_min, r_max, stars=stars)
    kernel = mw_kernel_data(radii, sigma_v=sigma_v, empirical=empirical, config=config,
                            require_positive_corr=require_positive_corr)
    if target == "kernel":
        objective, data = mw_kernel_loss, kernel
    else:
        mw = mw if mw is not None else load_milky_way()
        objective, data = mw_vc_loss, mw_curve_data(mw, sigma_v=sigma_v, config=config)
    spec = theory_spec(fit_q_ref)
    if maxiter is None:
        maxiter = FIT_OPTIONS["maxiter"] if method == "de" else MW_MAXITER
    # the data are an argument of the compiled fit: another band, target kernel, sigma_v or
    # frozen Q_ref of the same shapes reuses it
    fit = minimize(
        objective,
        spec,
        data=data,
        method=method,
        n_starts=1 if method == "de" else n_starts,
        seed=seed,
        progress=progress,
        **(FIT_OPTIONS | options | {"maxiter": maxiter}),
    )
    K_emp = np.asarray(kernel.target)
    K_th = np.asarray(theory_kernel(kernel.R, kernel.sigma_v, fit.x, config))
    corr = float(pearson(jnp.asarray(K_th), kernel.target))
    chi2_vc = None if target == "kernel" else float(fit.fun)
    chi2_K = float(np.mean((K_th - K_emp) ** 2))
    # one unit of chi2 for the kernel loss: the residual rms taken as the error of K
    loss_scale = 1.0 if target == "vc" else max(chi2_K, np.finfo(float).tiny) / max(
        len(radii) - spec.n_free, 1)
    status = fit_status(objective, spec, fit, data=data, loss_scale=loss_scale)
    params, sign = signed_params(fit.x)
    settings = {
        "target": target,
        "r_min": r_min,
        "r_max": r_max,
        "n_radii": len(radii),
        "sigma_v": sigma_v,
        "empirical": dict(empirical),
        "fit_q_ref": fit_q_ref,
        "require_positive_corr": require_positive_corr,
        "method": method,
        "n_starts": fit.n_starts,
        "seed": seed,
        "maxiter": maxiter,
        "config": dataclasses.asdict(config),
        "options": options,
    }
    return MWFit(
        target,
        params,
        sign,
        corr,
        chi2_K,
        chi2_vc,
        bool(fit.success),
        radii,
        K_th,
        K_emp,
        fit,
        settings,
        status,
    )
