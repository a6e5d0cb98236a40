"""Strong-lensing geometry of a cluster in flat LCDM: distances, Sigma_crit, Einstein
radius and the mass the Einstein radius requires.

Flat LCDM with ``E(z) = sqrt(Om (1+z)^3 + 1 - Om)``; radiation is neglected (as
``astropy.cosmology.FlatLambdaCDM(..., Tcmb0=0)``). The comoving distance
``chi(z) = (c/H0) int_0^z dz'/E(z')`` is a 64-node Gauss-Legendre sum
(:func:`jaxfit.core.quadrature.gl_rule`), exact to ~1e-15 for this smooth integrand.
``D_l = chi_l/(1+z_l)``, ``D_s = chi_s/(1+z_s)``, ``D_ls = (chi_s - chi_l)/(1+z_s)`` (flat
space), ``Sigma_crit = c^2/(4 pi G) D_s/(D_l D_ls)``, ``R_E = theta_E D_l`` and
``M_required = pi R_E^2 Sigma_crit``: the projected mass inside the Einstein radius, for which
the mean convergence inside the (circularised) critical curve is one.

Units: distances in kpc, H0 in km/s/Mpc, angles in arcsec, surface densities in
Msun/kpc^2, masses in Msun. Pure JAX in float64 (``jit``/``vmap``/``grad``); host values
are checked first, traced ones taken on trust.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from jaxfit.constants import C_KM_S
from jaxfit.core import checks
from jaxfit.core.precision import require_float64
from jaxfit.core.quadrature import gl_rule
from jaxfit.gravity.units import ARCSEC_RAD, G_NEWTON

_GL_DIST = 64  # nodes of the comoving-distance rule (exact to ~1e-15 for 1/E(z))


def _check_cosmology(H0, Om) -> None:
    checks.satisfies(H0, "H0 [km/s/Mpc]", lambda v: v > 0, "> 0")
    checks.satisfies(Om, "Om", lambda v: v >= 0, ">= 0")


@jax.jit
def _comoving_core(z, H0, Om):
    t, w = gl_rule(0.0, 1.0, _GL_DIST)
    zt = z[..., None] * t
    inv_e = 1.0 / jnp.sqrt(Om[..., None] * (1.0 + zt) ** 3 + (1.0 - Om[..., None]))
    hubble_kpc = 1000.0 * C_KM_S / H0  # c/H0 in kpc
    return hubble_kpc * z * jnp.sum(w * inv_e, axis=-1)


@jax.jit
def _distances_core(z_l, z_s, H0, Om):
    chi_l = _comoving_core(z_l, H0, Om)
    chi_s = _comoving_core(z_s, H0, Om)
    return chi_l / (1.0 + z_l), chi_s / (1.0 + z_s), (chi_s - chi_l) / (1.0 + z_s)


@jax.jit
def _sigma_crit_core(z_l, z_s, H0, Om):
    d_l, d_s, d_ls = _distances_core(z_l, z_s, H0, Om)
    return C_KM_S**2 / (4.0 * math.pi * G_NEWTON) * d_s / (d_l * d_ls)


@jax.jit
def _einstein_radius_core(theta, z_l, H0, Om):
    return theta * ARCSEC_RAD * _comoving_core(z_l, H0, Om) / (1.0 + z_l)


def _f64_args(**values):
    """The values as float64 arrays (refused when float64 is off), in the order given."""
    return [require_float64(v, name) for name, v in values.items()]


def _check_lens_source(z_l, z_s) -> None:
    checks.satisfies(z_l, "z_lens", lambda v: v > 0, "> 0")
    zl_host, zs_host = checks.host_array(z_l), checks.host_array(z_s)
    if zl_host is not None and zs_host is not None:
        if not np.all(np.isfinite(zs_host)) or not np.all(zs_host > zl_host):
            raise ValueError(
                f"z_source must exceed z_lens, got z_source={zs_host.tolist()!r}, "
                f"z_lens={zl_host.tolist()!r}"
            )


def comoving_distance_kpc(z, H0=70.0, Om=0.3):
    """Line-of-sight comoving distance ``chi(z) = (c/H0) int_0^z dz'/E(z')`` [kpc].

    Flat LCDM, ``E(z) = sqrt(Om (1+z)^3 + 1 - Om)``, radiation neglected. The integral is
    ``z int_0^1 dt / E(z t)`` with a fixed 64-node Gauss-Legendre rule, so any array shape
    of ``z`` (and traced ``H0``, ``Om``) works under ``jit``/``vmap``/``grad``.

    Args:
        z: redshift(s) >= 0, any shape.
        H0: Hubble constant [km/s/Mpc].
        Om: matter density parameter (dark energy ``1 - Om``).

    Raises:
        ValueError: (host values) ``z < 0``, ``H0 <= 0`` or ``Om < 0``.
    """
    checks.satisfies(z, "z", lambda v: v >= 0, ">= 0")
    _check_cosmology(H0, Om)
    return _comoving_core(*_f64_args(z=z, H0=H0, Om=Om))


def lensing_distances(z_l, z_s, H0=70.0, Om=0.3):
    """Angular-diameter distances ``(D_l, D_s, D_ls)`` [kpc] of a lens and a source.

    Flat space: ``D_ls = (chi_s - chi_l)/(1 + z_s)``.

    Raises:
        ValueError: (host values) ``z_l <= 0``, ``z_s <= z_l``, ``H0 <= 0`` or ``Om < 0``.
    """
    _check_lens_source(z_l, z_s)
    _check_cosmology(H0, Om)
    return _distances_core(*_f64_args(z_l=z_l, z_s=z_s, H0=H0, Om=Om))


def sigma_crit(z_l, z_s, H0=70.0, Om=0.3):
    """Critical surface density ``Sigma_crit = c^2/(4 pi G) D_s/(D_l D_ls)`` [Msun/kpc^2].

    Args:
        z_l, z_s: lens and source redshifts (broadcastable arrays, ``z_s > z_l > 0``).
        H0: [km/s/Mpc]; Om: matter density (flat LCDM, no radiation).

    Raises:
        ValueError: host inputs out of range (the message names the input).
    """
    _check_lens_source(z_l, z_s)
    _check_cosmology(H0, Om)
    return _sigma_crit_core(*_f64_args(z_l=z_l, z_s=z_s, H0=H0, Om=Om))


def einstein_radius_kpc(theta_E_arcsec, z_l, H0=70.0, Om=0.3):
    """Physical Einstein radius ``R_E = theta_E D_l`` [kpc].

    Args:
        theta_E_arcsec: Einstein radius [arcsec] > 0.
        z_l: lens redshift > 0.

    Raises:
        ValueError: ``theta_E_arcsec <= 0``, ``z_l <= 0``, ``H0 <= 0`` or ``Om < 0``
            (host values).
    """
    checks.satisfies(theta_E_arcsec, "theta_E_arcsec", lambda v: v > 0, "> 0")
    checks.satisfies(z_l, "z_lens", lambda v: v > 0, "> 0")
    _check_cosmology(H0, Om)
    args = _f64_args(theta_E_arcsec=theta_E_arcsec, z_l=z_l, H0=H0, Om=Om)
    return _einstein_radius_core(*args)


def required_mass(theta_E_arcsec, z_l, z_s, H0=70.0, Om=0.3):
    """Projected mass inside the Einstein radius, ``pi R_E^2 Sigma_crit`` [Msun]."""
    r_e = einstein_radius_kpc(theta_E_arcsec, z_l, H0, Om)
    return math.pi * r_e**2 * sigma_crit(z_l, z_s, H0, Om)
