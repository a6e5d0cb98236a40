"""One theta for the Milky Way, SPARC and the clusters (research
``fit_theory_kernel_joint.py``): ``L = w_MW L_MW + w_SPARC L_SPARC + w_cl L_cl``
(:func:`~jaxfit.gravity.objective.joint_loss`), the cluster amplitude profiled.
Units: kpc, km/s, Msun.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from jaxfit.core import checks
from jaxfit.core.optimize import minimize
from jaxfit.gravity.cluster_set import ClusterSet, load_clusters
from jaxfit.gravity.kernel import KernelConfig
from jaxfit.gravity.limits import speed
from jaxfit.gravity.objective import (
    FIT_CONFIG,
    FIT_OPTIONS,
    JointData,
    joint_data,
    joint_kernels,
    joint_loss,
    mw_band_radii,
    mw_shape_loss,
    pearson,
    profile_a_cluster,
    sparc_from_kernel,
)
from jaxfit.gravity.params import A_CLUSTER_BOUNDS, SIGMA_V, signed_params, theory_spec
from jaxfit.gravity.results import ClusterFit, JointFit, SparcResult
from jaxfit.gravity.sparc import SparcBatch


@jax.jit
def _joint_report(params, data: JointData) -> dict:
    """Everything :func:`joint_fit` reports at the best fit, from one kernel evaluation
    (one compiled program instead of one per part)."""
    K_mw, K_sparc, k_cl = joint_kernels(params, data)
    A_cluster, L_cl = profile_a_cluster(k_cl, data.clusters, data.bounds)
    sparc = sparc_from_kernel(K_sparc, data.sparc)
    target = data.mw.target
    return {
        "L_MW": mw_shape_loss(K_mw, data.mw),
        "L_SPARC": sparc["L_SPARC"],
        "L_cluster": L_cl,
        "A_cluster": A_cluster,
        "k_cl": k_cl,
        "sparc": sparc,
        "mw": {"corr": pearson(K_mw, target), "chi2_K": jnp.mean((K_mw - target) ** 2)},
    }


def joint_fit(
    batch: SparcBatch,
    clusters: ClusterSet | None = None,
    *,
    r_min: float = 12.0,
    r_max: float = 16.0,
    stars=None,
    weights=(1.0, 1.0, 1.0),
    sigma_v_mw: float = SIGMA_V["mw"],
    fit_q_ref: bool = True,
    use_sigma_gating: bool = False,
    beta_sigma: float = 1.0,
    bounds=A_CLUSTER_BOUNDS,
    config: KernelConfig = FIT_CONFIG,
    n_points_total: int | None = None,
    n_dispersions: int | None = None,
    method: str = "lbfgs",
    n_starts: int = 4,
    seed: int = 0,
    progress: bool = True,
    **options,
) -> JointFit:
    """One theta for MW + SPARC + clusters (research ``fit_theory_kernel_joint.py``), the
    cluster amplitude profiled; gradient-based multi-start by default, ``method="de"``.

    The objective is :func:`joint_loss` with its :class:`JointData` as an argument, so a
    second fit of the same shapes (other galaxies padded with ``n_points_total`` and
    ``n_dispersions``, see :func:`sparc_points`; other clusters, weights, bounds) compiles
    nothing new."""
    sigma_v_mw = speed(sigma_v_mw, "sigma_v_mw [km/s]")
    checks.finite_array(weights, "weights", nonnegative=True, ndim=1)
    clusters = clusters if clusters is not None else load_clusters()
    radii = mw_band_radii(r_min, r_max, stars=stars)
    data = joint_data(
        batch,
        clusters,
        radii=radii,
        weights=weights,
        sigma_v_mw=sigma_v_mw,
        config=config,
        bounds=bounds,
        use_sigma_gating=use_sigma_gating,
        beta_sigma=beta_sigma,
        n_points_total=n_points_total,
        n_dispersions=n_dispersions,
    )
    spec = theory_spec(fit_q_ref)
    # one module-level objective and its data as an argument: the compiled fit is reused by
    # any other galaxies, clusters, weights or frozen values of the same shapes
    fit = minimize(
        joint_loss,
        spec,
        data=data,
        method=method,
        n_starts=1 if method == "de" else n_starts,
        seed=seed,
        progress=progress,
        **(FIT_OPTIONS | options),
    )
    report = jax.tree_util.tree_map(np.asarray, _joint_report(fit.x, data))
    params, sign = signed_params(fit.x)
    sparc = SparcResult.from_metrics(batch, data.sparc, report["sparc"], {})
    cluster = ClusterFit.from_profile(fit.x, clusters, report["k_cl"], report["A_cluster"],
                              report["L_cluster"], 1.0, bounds)
    metrics = {
        "mw": {k: float(v) for k, v in report["mw"].items()},
        "sparc": sparc.stats,
        "clusters": {
            "A_cluster": cluster.A_cluster_best,
            "A_cluster_A_gal_ratio": cluster.ratio,
            "chi2_norm": cluster.chi2_norm,
            "mass_ratio": dict(
                zip(cluster.table["cluster"], cluster.table["mass_ratio"].tolist(), strict=True)
            ),
        },
    }
    losses = {k: float(report[k]) for k in ("L_MW", "L_SPARC", "L_cluster")}
    losses["total"] = float(fit.fun)
    settings = {
        "weights": list(weights),
        "r_min": r_min,
        "r_max": r_max,
        "sigma_v_mw": sigma_v_mw,
        "n_galaxies": batch.n_galaxies,
        "clusters": list(clusters.names),
        "fit_q_ref": fit_q_ref,
        "use_sigma_gating": use_sigma_gating,
        "beta_sigma": beta_sigma,
        "method": method,
        "n_starts": fit.n_starts,
        "seed": seed,
        "config": dataclasses.asdict(config),
        "options": options,
    }
    return JointFit(
        params | {"A_cluster": cluster.A_cluster_best}, sign, losses, metrics, fit, settings
    )
