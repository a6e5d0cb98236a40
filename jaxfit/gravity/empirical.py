"""The empirical Sigma-Gravity kernels: the research multiplier and the published kernels.

Modified dynamics multiplies the baryonic acceleration by ``1 + K(R)``:
``g_eff = g_bar (1 + K)``. The theory kernel (:mod:`jaxfit.gravity.kernel`) is fitted to
reproduce these empirical ones:

- Research multiplier (:func:`empirical_multiplier`): ``f = 1 + A C(R) W(2 pi R)`` with the
  Burr-XII coherence ``C(R)`` (:func:`~jaxfit.gravity.kernel.burr_envelope`) and a
  log-normal window ``W`` around ``lam_peak``; ``K_emp = f - 1``. Its parameters are
  declared in :mod:`jaxfit.gravity.params` (:data:`EMPIRICAL_DEFAULTS`; the research MW
  fit :data:`RESEARCH_MW_EMPIRICAL`).
- Published Sigma-Gravity galaxy kernel (:func:`sigma_gravity_kernel`):
  ``K = A0 (g_dag / g_bar)^p C(R; ell0, p, n_coh)``. Its optional bulge, shear and bar gates
  are left out. Clusters (:func:`cluster_kernel`): ``K = A_c C(R)``.

Units: radii and wavelengths in kpc, speeds in km/s, accelerations in m/s^2. Every function
is pure JAX in float64 (``jit``, ``vmap``, ``grad``).
"""

from __future__ import annotations

import jax.numpy as jnp

from jaxfit.core.precision import require_float64
from jaxfit.gravity.kernel import burr_envelope
from jaxfit.gravity.params import EMPIRICAL_DEFAULTS, param_values
from jaxfit.gravity.units import KMS2_PER_KPC_TO_SI


def orbital_window(R, lam_peak, sigma_ln):
    """Log-normal window ``exp(-0.5 ((ln(2 pi R) - ln lam_peak) / sigma_ln)^2)``; kpc."""
    return jnp.exp(-0.5 * ((jnp.log(2.0 * jnp.pi * R / lam_peak)) / sigma_ln) ** 2)


def empirical_kernel(R, params=None, sigma=None):
    """Research empirical kernel ``K_emp = f - 1 = A_eff C(R) W(2 pi R)`` (dimensionless).

    Computed directly, not as ``f - 1``, which would lose digits where ``K_emp`` is small.

    Args:
        R: radii, kpc (> 0).
        params: ``{name: value}`` over :data:`EMPIRICAL_DEFAULTS` (``A``, ``ell0`` kpc,
            ``p``, ``n_coh``, ``lam_peak`` kpc, ``sigma_ln``); missing names take the
            defaults, ``None`` all of them. :data:`RESEARCH_MW_EMPIRICAL` is the MW fit.
        sigma: optional velocity dispersion, km/s, broadcasting with ``R``: gates the
            amplitude, ``A_eff = A min(1, (30 / sigma)^0.4)``; ``None`` keeps ``A``.

    Raises:
        ValueError: an unknown parameter name.
    """
    v = param_values(params, EMPIRICAL_DEFAULTS, "empirical")
    R = require_float64(R, "R")
    amplitude = v["A"]
    if sigma is not None:
        sigma = require_float64(sigma, "sigma")
        amplitude = amplitude * jnp.minimum(1.0, (30.0 / sigma) ** 0.4)
    coherence = burr_envelope(R, v["ell0"], v["p"], v["n_coh"])
    return amplitude * coherence * orbital_window(R, v["lam_peak"], v["sigma_ln"])


def empirical_multiplier(R, params=None, sigma=None):
    """Research multiplier ``f = 1 + A_eff C(R) W(2 pi R)``; arguments as
    :func:`empirical_kernel`."""
    return 1.0 + empirical_kernel(R, params, sigma)


def g_bar_si(v_bar_kms, R_kpc):
    """Baryonic acceleration ``v_bar^2 / R`` in m/s^2, from km/s and kpc."""
    v = require_float64(v_bar_kms, "v_bar_kms")
    return v**2 / require_float64(R_kpc, "R_kpc") * KMS2_PER_KPC_TO_SI


def sigma_gravity_kernel(R, g_bar, A0=0.591, ell0=4.993, p=0.757, n_coh=0.5, g_dag=1.2e-10):
    """Published Sigma-Gravity galaxy kernel ``K = A0 (g_dag/g_bar)^p C(R; ell0, p, n_coh)``.

    The optional bulge, shear and bar gates of the published kernel are left out.

    Args:
        R: radii, kpc.
        g_bar: baryonic acceleration, m/s^2 (> 0; :func:`g_bar_si`).
        A0: amplitude; ell0: coherence length, kpc; p, n_coh: exponents (``p`` is shared
            by the acceleration factor and the coherence ``C``, :func:`burr_envelope`).
        g_dag: acceleration scale, m/s^2.
    """
    R, g_bar = require_float64(R, "R"), require_float64(g_bar, "g_bar")
    return A0 * (g_dag / g_bar) ** p * burr_envelope(R, ell0, p, n_coh)


def cluster_kernel(R, A_c=4.6, ell0=200.0, p=0.757, n_coh=0.5):
    """Sigma-Gravity cluster kernel ``K = A_c C(R; ell0, p, n_coh)``; ``R``, ``ell0`` in kpc."""
    return A_c * burr_envelope(require_float64(R, "R"), ell0, p, n_coh)
