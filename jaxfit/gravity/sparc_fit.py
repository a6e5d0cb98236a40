"""One theta applied to every SPARC galaxy at once (research
``run_theory_kernel_sparc_batch.py``): per galaxy ``delta_rms = rms(Vobs - V_model) -
rms(Vobs - V_bar)`` in km/s, optionally with each galaxy's disc mass-to-light ratio fitted
(:func:`fit_upsilon`). Units: kpc, km/s, Msun/Lsun.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping

import jax
import jax.numpy as jnp
import numpy as np

from jaxfit.core import checks
from jaxfit.gravity.kernel import KernelConfig, theory_kernel_points
from jaxfit.gravity.limits import UPSILON_MAX
from jaxfit.gravity.objective import FIT_CONFIG, sparc_metrics
from jaxfit.gravity.params import BULGE_TO_DISC_UPSILON
from jaxfit.gravity.results import SparcResult
from jaxfit.gravity.rotation import v_model
from jaxfit.gravity.sparc import SparcBatch
from jaxfit.gravity.sparc_points import SparcPoints, sparc_points

UPSILON_GRID = np.round(np.arange(0.10, 2.0001, 0.01), 2)
"""Disc mass-to-light ratios tried per galaxy by :func:`fit_upsilon` (Msun/Lsun at 3.6 um)."""


def fit_upsilon(params, points: SparcPoints, *, phase_sign=1.0,
                config: KernelConfig = FIT_CONFIG, grid=UPSILON_GRID):
    """Per-galaxy disc M/L ``Y_d`` (``Y_b = 1.4 Y_d``) minimising that galaxy's
    ``chi2 = sum(((Vobs - V_model) / errV)^2)`` at fixed theory parameters.

    The kernel does not depend on M/L, so every galaxy x every grid value is one array
    (P x M) and the best grid value per galaxy is exact to the grid step (0.01), refined by
    a parabola through it and its neighbours (clipped to the grid). Sigma gates, if any, keep
    the values computed with the M/L of :func:`sparc_points`. Returns ``Y_d``, shape (G,).
    """
    points = points.spread()
    K = points.gate * theory_kernel_points(points.R, points.sigma_index, points.sigma_values,
                                           params, config, phase_sign)
    Y = jnp.asarray(grid, dtype=jnp.float64)
    v_bar2 = (points.gas2[:, None]
              + Y * (points.disk2[:, None] + BULGE_TO_DISC_UPSILON * points.bulge2[:, None]))
    residual = (points.Vobs[:, None] - v_model(v_bar2, K[:, None])) / points.errV[:, None]
    chi2 = jax.ops.segment_sum(residual**2, points.galaxy, points.n_galaxies)  # (G, M)
    best = jnp.clip(jnp.argmin(chi2, axis=1), 1, len(grid) - 2)
    rows = jnp.arange(chi2.shape[0])
    left, mid, right = chi2[rows, best - 1], chi2[rows, best], chi2[rows, best + 1]
    curvature = left - 2.0 * mid + right
    shift = jnp.where(curvature > 0, 0.5 * (left - right) / jnp.where(curvature > 0,
                                                                      curvature, 1.0), 0.0)
    step = Y[1] - Y[0]
    return jnp.clip(Y[best] + jnp.clip(shift, -1.0, 1.0) * step, Y[0], Y[-1])


@functools.partial(jax.jit, static_argnames="config")
def _fit_upsilon_jit(params, points, phase_sign, config):
    return fit_upsilon(params, points, phase_sign=phase_sign, config=config)


# One compiled program per shape of the points (and config), not one small program per
# array operation as an eager call would compile on its first run.
@functools.partial(jax.jit, static_argnames="config")
def _sparc_metrics_jit(params, points, phase_sign, config):
    return sparc_metrics(params, points, phase_sign=phase_sign, config=config)



def sparc_batch(
    params: Mapping[str, float],
    batch: SparcBatch,
    *,
    phase_sign: float = 1.0,
    config: KernelConfig = FIT_CONFIG,
    Y_d: float = 1.0,
    Y_b: float = 1.0,
    signed: bool = True,
    use_sigma_gating: bool = False,
    beta_sigma: float = 1.0,
    fit_upsilon_per_galaxy: bool = False,
) -> SparcResult:
    """Apply one theta to every SPARC galaxy at once (research
    ``run_theory_kernel_sparc_batch.py``); ``Y_d, Y_b = 1`` and signed squares by default
    (the research used plain squares: ``signed=False``); see :func:`sparc_points`. With
    ``fit_upsilon_per_galaxy`` each galaxy's M/L is fitted (:func:`fit_upsilon`) and both
    its model and its baryons-only curve use it, so delta_rms isolates the kernel."""
    for name, value in (("Y_d", Y_d), ("Y_b", Y_b)):
        checks.real(value, f"{name} [Msun/Lsun]", nonnegative=True, high=UPSILON_MAX)
    checks.real(beta_sigma, "beta_sigma")
    options = dict(
        Y_d=Y_d, Y_b=Y_b, signed=signed, use_sigma_gating=use_sigma_gating, beta_sigma=beta_sigma
    )
    points = sparc_points(batch, **options)
    params = {k: float(v) for k, v in params.items()}
    Y_fit = None
    if fit_upsilon_per_galaxy:
        Y_fit = np.asarray(_fit_upsilon_jit(params, points, phase_sign, config))
        # padding points belong to galaxy G: give them a valid M/L too (they are dropped)
        Y_point = jnp.asarray(np.append(Y_fit, Y_fit[-1]))[points.galaxy]
        points = dataclasses.replace(points, v_bar2=points.gas2 + Y_point * (
            points.disk2 + BULGE_TO_DISC_UPSILON * points.bulge2))
    metrics = _sparc_metrics_jit(params, points, phase_sign, config)
    settings = {
        "fit_upsilon_per_galaxy": fit_upsilon_per_galaxy,
        "theory_params": dict(params),
        "phase_sign": phase_sign,
        **options,
        "config": dataclasses.asdict(config),
    }
    return SparcResult.from_metrics(batch, points, metrics, settings, Y_fit)
