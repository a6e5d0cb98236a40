"""The Milky Way fit of the theory kernel (research ``run_theory_kernel_mw_fit.py``).

Two targets: the shape of the research empirical kernel in the band 12-16 kpc, with the
research correlation penalty (:func:`~jaxfit.gravity.objective.mw_kernel_loss`), or the
Eilers+2019 rotation curve over all its radii
(:func:`~jaxfit.gravity.objective.mw_vc_loss`). Multi-start L-BFGS by default,
differential evolution with ``method="de"``. Units: kpc, km/s.
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
import numpy as np

from jaxfit.core import checks
from jaxfit.core.optimize import minimize
from jaxfit.gravity.kernel import KernelConfig, theory_kernel
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
    progress: bool = True,
    **options,
) -> MWFit:
    """Fit the theory kernel on the Milky Way (research ``run_theory_kernel_mw_fit.py``).

    Args:
        target: ``"kernel"`` (shape of the empirical kernel in the band, with the
            correlation penalty) or ``"vc"`` (the Eilers+2019 curve, all radii).
        mw: the MW data (default :func:`~jaxfit.gravity.data.load_milky_way`).
        stars: research parquet stars in the band (radii of the kernel fit).
        r_min, r_max: the band, kpc. sigma_v: MW dispersion, km/s.
        empirical: parameters of the empirical kernel (research MW fit by default).
        fit_q_ref: fit ``Q_ref`` (else frozen at 1). require_positive_corr: the penalty.
        config: kernel quadrature and normalisation.
        method, n_starts, seed, progress, **options: :func:`jaxfit.core.optimize.minimize`
            (``method="de"`` runs one population).
    """
    checks.one_of(target, "target", ("kernel", "vc"))
    radii = mw_band_radii(r_min, r_max, stars=stars)
    kernel = mw_kernel_data(radii, sigma_v=sigma_v, empirical=empirical, config=config,
                            require_positive_corr=require_positive_corr)
    if target == "kernel":
        objective, data = mw_kernel_loss, kernel
    else:
        mw = mw if mw is not None else load_milky_way()
        objective, data = mw_vc_loss, mw_curve_data(mw, sigma_v=sigma_v, config=config)
    spec = theory_spec(fit_q_ref)
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
        **(FIT_OPTIONS | options),
    )
    K_emp = np.asarray(kernel.target)
    K_th = np.asarray(theory_kernel(kernel.R, kernel.sigma_v, fit.x, config))
    corr = float(pearson(jnp.asarray(K_th), kernel.target))
    chi2_vc = None if target == "kernel" else float(fit.fun)
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
        "config": dataclasses.asdict(config),
        "options": options,
    }
    return MWFit(
        target,
        params,
        sign,
        corr,
        float(np.mean((K_th - K_emp) ** 2)),
        chi2_vc,
        bool(fit.success),
        radii,
        K_th,
        K_emp,
        fit,
        settings,
    )
