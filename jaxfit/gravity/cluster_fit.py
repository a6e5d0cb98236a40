"""The cluster amplitude for the Einstein masses at the MW theta (research
``fit_theory_kernel_clusters_amp.py``): ``M_th = M_bar (1 + A_cluster k)``, the amplitude
profiled analytically and clipped to its bounds
(:func:`~jaxfit.gravity.objective.profile_a_cluster`), which is the exact constrained
optimum. Units: kpc, Msun.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

import jax

from jaxfit.gravity.arrays import f64
from jaxfit.gravity.cluster_set import ClusterSet, load_clusters
from jaxfit.gravity.kernel import KernelConfig
from jaxfit.gravity.objective import (
    FIT_CONFIG,
    cluster_data,
    cluster_unit_kernel,
    profile_a_cluster,
)
from jaxfit.gravity.params import A_CLUSTER_BOUNDS
from jaxfit.gravity.results import ClusterFit


def cluster_amplitude(
    params: Mapping[str, float],
    clusters: ClusterSet | None = None,
    *,
    phase_sign: float = 1.0,
    bounds=A_CLUSTER_BOUNDS,
    config: KernelConfig = FIT_CONFIG,
) -> ClusterFit:
    """Fit A_cluster to the Einstein masses with the MW theta (research
    ``fit_theory_kernel_clusters_amp.py``); ``clusters`` default: the packaged three."""
    low, high = (float(b) for b in bounds)
    if not 0.0 < low < high:
        raise ValueError(f"A_cluster bounds need 0 < min < max, got {bounds}")
    clusters = clusters if clusters is not None else load_clusters()
    params = {k: float(v) for k, v in params.items()}
    k, A, loss = _cluster_profile_jit(params, cluster_data(clusters), f64([low, high]),
                                      phase_sign, config)
    return ClusterFit.from_profile(params, clusters, k, A, loss, phase_sign, (low, high))


@functools.partial(jax.jit, static_argnames="config")
def _cluster_profile_jit(params, clusters, bounds, phase_sign, config):
    k = cluster_unit_kernel(params, clusters, phase_sign=phase_sign, config=config)
    return (k, *profile_a_cluster(k, clusters, bounds))
