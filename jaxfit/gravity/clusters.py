"""Galaxy clusters: strong-lensing masses and baryon profiles for the Sigma-Gravity test.

The cluster test of the research code asks whether the modified dynamics
``g_eff = g_bar (1 + K)`` turns the baryons of a cluster into the mass its Einstein radius
requires. This module supplies both sides of that comparison; the kernel ``K`` itself is
computed by the caller (the theory kernel at ``R_E`` with ``sigma_v``).

Units: lengths in kpc, masses in Msun, velocities in km/s, accelerations in
km^2 s^-2 kpc^-1, surface densities in Msun/kpc^2, densities in Msun/kpc^3, electron
densities in cm^-3, angles in arcsec. Everything is float64 pure JAX (``jit``/``vmap``/``grad``)
except the readers and :func:`load_clusters`, which run once on the host.

Lensing geometry (:func:`sigma_crit`, :func:`einstein_radius_kpc`, :func:`required_mass`)
-----------------------------------------------------------------------------------------
Flat LCDM with ``E(z) = sqrt(Om (1+z)^3 + 1 - Om)``; radiation is neglected (as
``astropy.cosmology.FlatLambdaCDM(..., Tcmb0=0)``). The comoving distance
``chi(z) = (c/H0) int_0^z dz'/E(z')`` is a 64-node Gauss-Legendre sum
(:func:`jaxfit.core.quadrature.gl_rule`), exact to ~1e-15 for this smooth integrand.
``D_l = chi_l/(1+z_l)``, ``D_s = chi_s/(1+z_s)``, ``D_ls = (chi_s - chi_l)/(1+z_s)`` (flat
space), ``Sigma_crit = c^2/(4 pi G) D_s/(D_l D_ls)``, ``R_E = theta_E D_l`` and
``M_required = pi R_E^2 Sigma_crit``: the projected mass inside the Einstein radius, for which
the mean convergence inside the (circularised) critical curve is one.

Baryon profiles
---------------
Every component gives its enclosed mass either as ``"3d"`` (inside a sphere of radius r: the
research code's choice) or ``"projected"`` (inside a cylinder of radius R along the line of
sight: what lensing measures, and the default of :func:`load_clusters`); see
:data:`PROJECTIONS`.

- Gas, isothermal beta model (:class:`BetaGas`):
  ``n_e(r) = n_e0 (1 + (r/r_c)^2)^(-3 beta/2)``, ``rho_gas = mu_e m_p n_e``.
  ``mu_e`` is the mass per electron in units of m_p: 1.17 (= 2/(1+X) for a fully ionised
  H+He plasma with X ~ 0.71) by default. The research code used ``0.59 m_p n_e``: 0.59 is
  the mean molecular weight per *particle* (electrons and ions), not per electron, and
  gives half the gas mass (0.59/1.17 = 0.504); ``mu_e=0.59`` reproduces it
  (:data:`MU_E_RESEARCH`).
- Gas or stars, tabulated (:class:`TabulatedDensity`): ``n_e(r)`` from a CSV
  (``r_kpc, n_e_cm3``), from ACCEPT deprojected shells (Cavagnolo+2009;
  :func:`read_accept_profile`), or a stellar ``rho(r)`` CSV (``r_kpc, rho_Msun_kpc3``).
  ``interp="loglog"`` interpolates ``ln rho`` linearly in ``ln r`` between the nodes (ACCEPT:
  shell mid-points), constant inside the first node and from the last node to ``r_max``;
  ``interp="shells"`` (ACCEPT only) is piecewise constant on the shells, as the
  helper-derived ``derived_Mgas_profiles.json``. The density is zero beyond ``r_max`` (by
  default the table's outer edge: no extrapolation), so a projected mass misses the gas
  beyond the table along the line of sight and is a lower bound (at R_E it misses 9% for
  Abell 1689 and 14% for MACS J0717 if the tables' outer r^-1.9 power law went on to 5 Mpc).
- Gas, dPIE components (:class:`DPIEGas`, Bonamigo+2017 for MACS J0416): a *mass* density
  ``rho(r) = rho0 / ((1 + r^2/a^2)(1 + r^2/s^2))``, core ``a = R_C``, cut ``s = R_T``,
  ``rho0 = sigma0^2/(2 pi G) (a + s)/(a^2 s)``; closed-form 3-D and projected masses
  (:func:`dpie_mass_3d`, :func:`dpie_mass_projected`). ``mu_e`` does not apply (no ``n_e``).
  Components may sit at a projected offset ``d`` from the aperture centre
  (:func:`offset_mass_3d`, :func:`offset_mass_projected`; the 3-D case puts them in the sky
  plane).
- Stars: a Hernquist BCG (:class:`HernquistStars`; ``M(<r) = M r^2/(r+a)^2`` and the
  projected closed form of Hernquist 1990, :func:`hernquist_mass_projected`), a ``rho(r)``
  CSV (:class:`TabulatedDensity`), or projected aperture masses (DeMaio+2018;
  :class:`ApertureMasses`) used directly: ``ln M`` linear in ``ln R`` between apertures, the
  first segment's power law inside the first, constant beyond the last (a lower bound). An
  aperture mass has no 3-D counterpart without a deprojection; in ``"3d"`` it is used as
  is (an upper bound on the 3-D mass, since the cylinder contains the sphere).

Generic spherical profiles use :func:`enclosed_mass_3d` (Gauss-Legendre in ``ln r``) and
:func:`enclosed_mass_projected`:

    M_2D(R) = M_3d(<min(R, r_max)) + 4 pi int_R^r_max rho(r) r^2 [1 - sqrt(1 - R^2/r^2)] dr,

i.e. the mass of the sphere truncated at ``r_max`` inside the cylinder (equal to
``4 pi int_0^r_max rho r^2 [1 - sqrt(max(0, 1 - R^2/r^2))] dr``). With ``r = R cosh u`` the
outer integrand ``rho R^3 cosh^2 u sinh u (1 - tanh u)`` has no square-root kink at
``r = R`` and its nodes are spread evenly in ``u ~ ln(2 r/R)``, so a fixed Gauss-Legendre
rule converges exponentially for smooth profiles; tabulated profiles get one panel per
table interval (the interpolant is smooth inside each).

Clusters (:func:`load_clusters`, :class:`ClusterSet`)
-----------------------------------------------------
The packaged table ``data/gravity_clusters.json`` holds MACSJ0416, MACSJ0717 and
ABELL_1689 (the research code's names): z_lens, z_source, theta_E with its error and the
baryon profiles, each number with its citation (MACS J0416's theta_E is derived from the
published critical area; the JSON says so). Since the three clusters have different profile
types, :func:`load_clusters` evaluates each cluster's baryon mass once at its Einstein radius
(fixed by the geometry) and stores arrays of shape ``(C,)``; the fit then only needs
:func:`theory_mass` / :func:`mass_ratio`, which are batched array expressions.

Choices for the packaged clusters (see the JSON notes): Abell 1689 and MACS J0717 have ACCEPT
gas and no published stellar profile (M_bar is gas only, a lower bound); MACS J0416 has the
three Bonamigo+2017 dPIE gas components (their two R_T lower limits used as values, the
paper's 5.34 kpc/arcsec used for the conversion whatever H0/Om are chosen) plus the
DeMaio+2018 BCG+ICL aperture masses. By default the dPIE components are concentric (each
about its own centre, the spherical approximation); ``dpie_offsets=True`` places them at
their published offsets from the NE BCG G1, with the aperture centred on G1.
"""

from __future__ import annotations

import csv
import functools
import importlib.resources
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxfit.constants import C_KM_S, KPC_M
from jaxfit.core.precision import require_float64
from jaxfit.core.quadrature import gl_panels, gl_rule
from jaxfit.gravity.model import G_NEWTON

# --------------------------------------------------------------------------------------------
# constants
# --------------------------------------------------------------------------------------------

KPC_CM = 100.0 * KPC_M
"""Kiloparsec [cm]."""

G = G_NEWTON
"""Newton's constant [kpc km^2 s^-2 Msun^-1] (:data:`jaxfit.gravity.model.G_NEWTON`);
``G`` cancels in :func:`theory_mass`."""

M_SUN_G = 1.988409870698051e33
"""Solar mass [g] = GM_sun / G with G = 6.6743e-11 m^3 kg^-1 s^-2 (CODATA 2018/2022), as
``astropy.constants.M_sun``."""

M_P_G = 1.67262192595e-24
"""Proton mass [g] (CODATA 2022)."""

NE_TO_RHO = M_P_G * KPC_CM**3 / M_SUN_G
"""Mass density [Msun/kpc^3] of one proton mass per cm^3: ``rho = mu_e NE_TO_RHO n_e``
(about 2.4727e7)."""

ARCSEC_RAD = math.pi / 648000.0
"""One arcsecond in radians."""

MU_E_DEFAULT = 1.17
"""Mass per electron [m_p] of an ionised H+He plasma (2/(1+X), X ~ 0.71)."""

MU_E_RESEARCH = 0.59
"""The research code's factor (the mean molecular weight per particle): half the gas mass."""

SIGMA_V_DEFAULT = 1000.0
"""Default cluster velocity dispersion [km/s] passed to the theory kernel."""

R_MAX_DEFAULT = 5000.0
"""Default truncation radius [kpc] of analytic profiles in projected masses (5 Mpc)."""

PROJECTIONS = ("3d", "projected")
"""Enclosed-mass geometries: ``"3d"`` sphere of radius r, ``"projected"`` cylinder of radius R."""

INTERPOLATIONS = ("loglog", "shells")
"""Interpolation of tabulated densities (``"shells"`` only for shell tables such as ACCEPT)."""

CLUSTERS_FILE = "gravity_clusters.json"
DEFAULT_CLUSTERS = ("MACSJ0416", "MACSJ0717", "ABELL_1689")
"""The research code's three clusters, packaged in ``data/gravity_clusters.json``."""

ACCEPT_COLUMNS = (
    "Name", "Rin", "Rout", "nelec", "neerr", "Kitpl", "Kflat", "Kerr", "Pitpl", "Pflat",
    "Perr", "Mgrav", "Merr", "Tx", "Txerr", "Lambda", "tcool5/2", "t52err", "tcool3/2",
    "t32err",
)  # fmt: skip
"""Columns of the ACCEPT profile tables (``all_profiles.dat`` and per-cluster files)."""

TABLE_REQUIRED = ("name", "z_lens", "z_source", "theta_E_arcsec")
TABLE_OPTIONAL = (
    "sigma", "sigma_v_kms", "gas_csv", "stars_csv", "ne0_cm3", "rc_kpc", "beta",
    "bcg_mass_Msun", "bcg_a_kpc",
)  # fmt: skip
"""Columns of a user cluster table (see :func:`read_cluster_table`)."""

_GL_DIST = 64  # nodes of the comoving-distance rule (exact to ~1e-15 for 1/E(z))


# --------------------------------------------------------------------------------------------
# validation helpers
# --------------------------------------------------------------------------------------------


def _host(x):
    """``x`` as a float numpy array if it is concrete, else None (a tracer inside jit)."""
    try:
        return np.asarray(x, dtype=np.float64)
    except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
        return None
    except (TypeError, ValueError):
        raise ValueError(f"expected a number or an array of numbers, got {x!r}") from None


def _check(condition_fn, x, message: str) -> None:
    """Raise ``ValueError(message)`` if host value ``x`` fails ``condition_fn`` (or is NaN)."""
    value = _host(x)
    if value is None:
        return
    if not np.all(np.isfinite(value)) or not np.all(condition_fn(value)):
        raise ValueError(f"{message}, got {value.tolist()!r}")


def _check_projection(projection: str) -> str:
    if projection not in PROJECTIONS:
        raise ValueError(f"projection must be one of {PROJECTIONS}, got {projection!r}")
    return projection


def _check_positive_number(value, name: str) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}") from None
    if not math.isfinite(out) or out <= 0.0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return out


# --------------------------------------------------------------------------------------------
# lensing geometry (flat LCDM, radiation neglected)
# --------------------------------------------------------------------------------------------


def _check_cosmology(H0, Om) -> None:
    _check(lambda v: v > 0, H0, "H0 [km/s/Mpc] must be > 0")
    _check(lambda v: v >= 0, Om, "Om must be >= 0")


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
    return C_KM_S**2 / (4.0 * math.pi * G) * d_s / (d_l * d_ls)


@jax.jit
def _einstein_radius_core(theta, z_l, H0, Om):
    return theta * ARCSEC_RAD * _comoving_core(z_l, H0, Om) / (1.0 + z_l)


def _f64_args(**values):
    return [require_float64(v, name) for name, v in values.items()]


def _check_lens_source(z_l, z_s) -> None:
    _check(lambda v: v > 0, z_l, "z_lens must be > 0")
    zl_host, zs_host = _host(z_l), _host(z_s)
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
    _check(lambda v: v >= 0, z, "z must be >= 0")
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
    _check(lambda v: v > 0, theta_E_arcsec, "theta_E_arcsec must be > 0")
    _check(lambda v: v > 0, z_l, "z_lens must be > 0")
    _check_cosmology(H0, Om)
    args = _f64_args(theta_E_arcsec=theta_E_arcsec, z_l=z_l, H0=H0, Om=Om)
    return _einstein_radius_core(*args)


def required_mass(theta_E_arcsec, z_l, z_s, H0=70.0, Om=0.3):
    """Projected mass inside the Einstein radius, ``pi R_E^2 Sigma_crit`` [Msun]."""
    r_e = einstein_radius_kpc(theta_E_arcsec, z_l, H0, Om)
    return math.pi * r_e**2 * sigma_crit(z_l, z_s, H0, Om)


# --------------------------------------------------------------------------------------------
# densities and closed-form masses
# --------------------------------------------------------------------------------------------


def ne_to_rho(n_e, mu_e=MU_E_DEFAULT):
    """Gas mass density ``mu_e m_p n_e`` [Msun/kpc^3] of an electron density ``n_e`` [cm^-3]."""
    return mu_e * NE_TO_RHO * n_e


def beta_model_ne(r, n_e0, r_c, beta):
    """Isothermal beta model ``n_e = n_e0 (1 + (r/r_c)^2)^(-3 beta/2)`` [cm^-3] at r [kpc]."""
    return n_e0 * (1.0 + (r / r_c) ** 2) ** (-1.5 * beta)


def beta_model_density(r, n_e0, r_c, beta, mu_e=MU_E_DEFAULT):
    """Beta-model gas mass density [Msun/kpc^3] (``mu_e m_p n_e``)."""
    return ne_to_rho(beta_model_ne(r, n_e0, r_c, beta), mu_e)


def hernquist_density(r, mass, a):
    """Hernquist (1990) density ``M a / (2 pi r (r + a)^3)`` [Msun/kpc^3]; total mass M."""
    return mass * a / (2.0 * math.pi * r * (r + a) ** 3)


def hernquist_mass_3d(r, mass, a):
    """Hernquist mass inside a sphere of radius r: ``M r^2/(r + a)^2`` [Msun]."""
    return mass * r**2 / (r + a) ** 2


_HQ_SERIES = 10  # terms of h(q) = sum q^(k-1)/(2k+1) used for |q| < 0.05 (error < 1e-16)


def hernquist_mass_projected(R, mass, a):
    """Hernquist mass inside a cylinder of radius R [Msun] (Hernquist 1990, ApJ 356, 359).

    With ``s = R/a`` and ``q = 1 - s^2``: ``M_2D = M s^2 (X(s) - 1)/(1 - s^2)``, where
    ``X = arccosh(1/s)/sqrt(1 - s^2)`` for ``s < 1`` and ``arccos(1/s)/sqrt(s^2 - 1)`` for
    ``s > 1``. Both branches are ``g(q) = sum_k q^k/(2k+1)``, so near ``s = 1`` (``|q| <
    0.05``) the series ``(X - 1)/q = 1/3 + q/5 + q^2/7 + ...`` is used: ``M_2D(a) = M/3``,
    and values and gradients stay finite at ``s = 1`` and ``s = 0``.
    """
    s = R / a
    q = 1.0 - s * s
    small = jnp.abs(q) < 0.05
    inside = q >= 0.05
    # double-where: each branch sees only arguments where it is finite
    s_in = jnp.where(inside & (s > 0), s, 0.5)
    q_in = 1.0 - s_in * s_in
    root_in = jnp.sqrt(q_in)
    x_in = jnp.log((1.0 + root_in) / s_in) / root_in  # arccosh(1/s)/sqrt(1-s^2)
    s_out = jnp.where(q <= -0.05, s, 2.0)
    root_out = jnp.sqrt(s_out * s_out - 1.0)
    x_out = jnp.arctan(root_out) / root_out  # arccos(1/s)/sqrt(s^2-1)
    q_big = jnp.where(small, 0.5, q)
    h_big = (jnp.where(inside, x_in, x_out) - 1.0) / q_big
    q_sm = jnp.where(small, q, 0.0)
    h_small = sum(q_sm**k / (2 * k + 3) for k in range(_HQ_SERIES))
    h = jnp.where(small, h_small, h_big)
    return jnp.where(s > 0, mass * s * s * h, 0.0)


def dpie_rho0(sigma0, r_core, r_cut):
    """Central density [Msun/kpc^3] of a dPIE: ``sigma0^2/(2 pi G) (a + s)/(a^2 s)``.

    Args:
        sigma0: velocity-dispersion parameter [km/s]; r_core ``a``, r_cut ``s`` [kpc].
    """
    return sigma0**2 / (2.0 * math.pi * G) * (r_core + r_cut) / (r_core**2 * r_cut)


def dpie_density(r, rho0, r_core, r_cut):
    """dPIE density ``rho0 / ((1 + r^2/a^2)(1 + r^2/s^2))`` [Msun/kpc^3]."""
    return rho0 / ((1.0 + (r / r_core) ** 2) * (1.0 + (r / r_cut) ** 2))


def dpie_mass_3d(r, rho0, r_core, r_cut):
    """dPIE mass inside a sphere [Msun]:
    ``4 pi rho0 a^2 s^2/(s^2 - a^2) [s arctan(r/s) - a arctan(r/a)]``
    (total ``pi sigma0^2 s / G``). Needs ``r_cut != r_core``."""
    a, s = r_core, r_cut
    pref = 4.0 * math.pi * rho0 * a**2 * s**2 / (s**2 - a**2)
    return pref * (s * jnp.arctan(r / s) - a * jnp.arctan(r / a))


def dpie_surface_density(R, rho0, r_core, r_cut):
    """dPIE surface density [Msun/kpc^2]:
    ``pi rho0 a^2 s^2/(s^2 - a^2) [1/sqrt(a^2 + R^2) - 1/sqrt(s^2 + R^2)]``."""
    a, s = r_core, r_cut
    pref = math.pi * rho0 * a**2 * s**2 / (s**2 - a**2)
    return pref * (1.0 / jnp.sqrt(a**2 + R**2) - 1.0 / jnp.sqrt(s**2 + R**2))


def dpie_mass_projected(R, rho0, r_core, r_cut):
    """dPIE mass inside a cylinder [Msun], untruncated along the line of sight:
    ``2 pi^2 rho0 a^2 s^2/(s^2 - a^2) [sqrt(a^2+R^2) - a - sqrt(s^2+R^2) + s]``."""
    a, s = r_core, r_cut
    pref = 2.0 * math.pi**2 * rho0 * a**2 * s**2 / (s**2 - a**2)
    # sqrt(a^2+R^2) - a = R^2/(sqrt(a^2+R^2) + a): no cancellation at small R
    return pref * (R**2 / (jnp.sqrt(a**2 + R**2) + a) - R**2 / (jnp.sqrt(s**2 + R**2) + s))


def aperture_mass(R, radii, masses):
    """Projected mass [Msun] at R from aperture masses ``masses`` within ``radii`` [kpc].

    ``ln M`` is linear in ``ln R`` between apertures; inside the first aperture the first
    segment's power law continues (one aperture: ``M (R/r0)^2``, uniform surface density);
    beyond the last aperture the mass stays at the last value (a lower bound).
    """
    R = jnp.asarray(R, jnp.float64)
    lr, lm = jnp.log(radii), jnp.log(masses)
    if radii.shape[0] > 1:
        slope0 = (lm[1] - lm[0]) / (lr[1] - lr[0])
    else:
        slope0 = 2.0
    safe = jnp.where(R > 0, R, radii[0])
    lx = jnp.log(safe)
    inner = lm[0] + slope0 * (lx - lr[0])
    value = jnp.exp(jnp.where(lx < lr[0], inner, jnp.interp(lx, lr, lm)))
    return jnp.where(R > 0, value, 0.0)


# --------------------------------------------------------------------------------------------
# generic enclosed masses of spherical profiles
# --------------------------------------------------------------------------------------------


def enclosed_mass_3d(rho_fn: Callable, r, *, n: int = 16, panels: int = 8, eps: float = 1e-6):
    """``M(<r) = 4 pi int_0^r rho(s) s^2 ds`` [Msun] for a smooth density.

    Gauss-Legendre in ``ln s`` on ``[eps r, r]`` (``panels`` x ``n`` nodes, static), plus
    ``4 pi/3 (eps r)^3 rho(eps r)`` for the inner ball. Converges exponentially for densities
    analytic in ``r`` (beta models: ~1e-14 relative at the defaults); for cusps steeper than
    ``r^-2`` or tabulated profiles use the closed forms / :func:`tabulated_mass_3d`.

    Args:
        rho_fn: vectorised density [Msun/kpc^3] of radius [kpc].
        r: radius [kpc], any shape.
    """
    r = jnp.asarray(r, jnp.float64)
    x, w = gl_rule(eps, 1.0, n, log=True, panels=panels)
    s = r[..., None] * x
    inner = 4.0 * math.pi / 3.0 * (eps * r) ** 3 * rho_fn(eps * r)
    return inner + 4.0 * math.pi * r**3 * jnp.sum(w * x**2 * rho_fn(s), axis=-1)


def _safe_acosh_ratio(num, R):
    """``arccosh(max(num/R, 1))`` with finite gradients where the ratio is clipped to 1."""
    ratio = num / R
    big = ratio > 1.0
    return jnp.where(big, jnp.arccosh(jnp.where(big, ratio, 2.0)), 0.0)


def _outer_shell_integrand(rho_fn, R, u):
    """``4 pi rho(R cosh u) R^3 cosh^2 u sinh u (1 - tanh u)``, with
    ``1 - tanh u = 2/(1 + e^{2u})`` (no cancellation at large u)."""
    ch, sh = jnp.cosh(u), jnp.sinh(u)
    return 4.0 * math.pi * rho_fn(R * ch) * R**3 * ch**2 * sh * 2.0 / (1.0 + jnp.exp(2.0 * u))


def enclosed_mass_projected(
    rho_fn: Callable,
    R,
    r_max=R_MAX_DEFAULT,
    *,
    mass_3d_fn: Callable | None = None,
    n: int = 16,
    panels: int = 8,
):
    """Mass [Msun] inside a cylinder of radius R of a sphere truncated at ``r_max``.

    ``M_2D(R) = M_3d(<min(R, r_max)) + 4 pi int_R^r_max rho r^2 [1 - sqrt(1 - R^2/r^2)] dr``,
    the outer integral over ``u = arccosh(r/R)`` (see the module doc), ``panels`` equal
    panels of ``n`` Gauss-Legendre nodes.

    Args:
        rho_fn: vectorised density [Msun/kpc^3].
        R: cylinder radius [kpc] > 0, any shape.
        r_max: truncation radius [kpc] (broadcastable with R); density beyond is ignored.
        mass_3d_fn: ``M_3d(<r)`` of the same density (default :func:`enclosed_mass_3d`).
    """
    R = jnp.asarray(R, jnp.float64)
    r_max = jnp.asarray(r_max, jnp.float64)
    m3 = mass_3d_fn if mass_3d_fn is not None else (lambda r: enclosed_mass_3d(rho_fn, r))
    inner = m3(jnp.minimum(R, r_max))
    u_max = _safe_acosh_ratio(r_max, R)
    t, w = gl_rule(0.0, 1.0, n, panels=panels)
    u = u_max[..., None] * t
    outer = u_max * jnp.sum(w * _outer_shell_integrand(rho_fn, R[..., None], u), axis=-1)
    return inner + outer


def offset_mass_3d(rho_fn: Callable, mass_3d_fn: Callable, r, d, *, n: int = 64):
    """Mass [Msun] inside a sphere of radius r centred at distance d from a spherical profile.

    A shell of radius ``p`` about the profile centre lies inside the sphere for
    ``p <= r - d``, outside for ``p < d - r`` or ``p > r + d``, and in between the fraction
    ``(r^2 - (p - d)^2)/(4 p d)`` of it does, so
    ``M = M_3d(max(r - d, 0)) + int_|r-d|^(r+d) pi p rho(p) (r^2 - (p - d)^2)/d dp``
    (``n`` Gauss-Legendre nodes). ``d = 0`` returns ``M_3d(r)``.
    """
    r = jnp.asarray(r, jnp.float64)
    d = jnp.asarray(d, jnp.float64)
    pos = d > 0
    ds = jnp.where(pos, d, 1.0)
    lo, hi = jnp.abs(r - ds), r + ds
    x, w = gl_rule(0.0, 1.0, n)
    p = lo[..., None] + (hi - lo)[..., None] * x
    rr, dd = r[..., None], ds[..., None]
    f = math.pi * p * rho_fn(p) * (rr - p + dd) * (rr + p - dd) / dd
    partial = (hi - lo) * jnp.sum(w * f, axis=-1)
    shifted = mass_3d_fn(jnp.maximum(r - ds, 0.0)) + partial
    return jnp.where(pos, shifted, mass_3d_fn(r))


def offset_mass_projected(sigma_fn: Callable, mass_2d_fn: Callable, R, d, *, n: int = 64):
    """Mass [Msun] inside a cylinder of radius R whose axis is at projected distance d.

    A ring of radius ``p`` about the profile centre has the fraction
    ``arccos((p^2 + d^2 - R^2)/(2 p d))/pi`` inside the aperture, so
    ``M = M_2D(max(R - d, 0)) + int_|R-d|^(R+d) 2 p Sigma(p) arccos(...) dp``; the
    substitution ``p = lo + (hi - lo)(1 - cos t)/2`` removes the square-root end points of
    ``arccos``. ``d = 0`` returns ``M_2D(R)``.
    """
    R = jnp.asarray(R, jnp.float64)
    d = jnp.asarray(d, jnp.float64)
    pos = d > 0
    ds = jnp.where(pos, d, 1.0)
    lo, hi = jnp.abs(R - ds), R + ds
    t, w = gl_rule(0.0, math.pi, n)
    half = 0.5 * (hi - lo)[..., None]
    p = lo[..., None] + half * (1.0 - jnp.cos(t))
    RR, dd = R[..., None], ds[..., None]
    c = ((p - RR) * (p + RR) + dd * dd) / (2.0 * p * dd)
    angle = jnp.arccos(jnp.clip(c, -1.0 + 1e-15, 1.0 - 1e-15))
    f = 2.0 * p * sigma_fn(p) * angle * half * jnp.sin(t)
    shifted = mass_2d_fn(jnp.maximum(R - ds, 0.0)) + jnp.sum(w * f, axis=-1)
    return jnp.where(pos, shifted, mass_2d_fn(R))


# --------------------------------------------------------------------------------------------
# tabulated densities
# --------------------------------------------------------------------------------------------


def tabulated_density(r, r_nodes, rho_nodes, r_max, interp: str = "loglog"):
    """Density [Msun/kpc^3] at r [kpc] from a table; zero beyond ``r_max``.

    Args:
        r_nodes: ``"loglog"``: node radii (N,), increasing, > 0; ``"shells"``: shell edges
            (N+1,), increasing from the inner edge.
        rho_nodes: densities (N,) > 0 at the nodes / in the shells.
        r_max: outer truncation radius [kpc].
        interp: ``"loglog"`` (``ln rho`` linear in ``ln r``, constant outside the nodes) or
            ``"shells"`` (piecewise constant).
    """
    r = jnp.asarray(r, jnp.float64)
    if interp == "loglog":
        lr = jnp.log(jnp.maximum(r, r_nodes[0]))
        value = jnp.exp(jnp.interp(lr, jnp.log(r_nodes), jnp.log(rho_nodes)))
    elif interp == "shells":
        k = jnp.clip(jnp.searchsorted(r_nodes, r, side="right") - 1, 0, rho_nodes.shape[0] - 1)
        value = rho_nodes[k]
    else:
        raise ValueError(f"interp must be one of {INTERPOLATIONS}, got {interp!r}")
    return jnp.where(r <= r_max, value, 0.0)


def _table_breaks(r_nodes, r_max, interp: str):
    """Radii where a tabulated density is not smooth (panel edges), ending with r_max."""
    inner = r_nodes[1:-1] if interp == "shells" else r_nodes
    return jnp.concatenate([inner, jnp.reshape(r_max, (1,))])


def tabulated_mass_3d(r, r_nodes, rho_nodes, r_max, interp: str = "loglog", *, n: int = 8):
    """``M(<r)`` [Msun] of a tabulated density: one Gauss-Legendre panel (``n`` nodes) per
    table interval inside r (the interpolant is a power law or constant in each), so the
    result is exact for ``"shells"`` and to ~1e-12 for ``"loglog"``."""
    breaks = _table_breaks(r_nodes, r_max, interp)

    def one(radius):
        edges = jnp.concatenate([jnp.zeros(1), jnp.clip(breaks, 0.0, radius), radius[None]])
        x, w = gl_panels(edges, n)
        rho = tabulated_density(x, r_nodes, rho_nodes, r_max, interp)
        return 4.0 * math.pi * jnp.sum(w * x**2 * rho)

    return jnp.vectorize(one)(jnp.asarray(r, jnp.float64))


def tabulated_mass_projected(R, r_nodes, rho_nodes, r_max, interp: str = "loglog", *, n=8):
    """Cylinder mass [Msun] of a tabulated density truncated at ``r_max``
    (:func:`enclosed_mass_projected` with one panel in ``u`` per table interval)."""
    breaks = _table_breaks(r_nodes, r_max, interp)

    def rho_fn(x):
        return tabulated_density(x, r_nodes, rho_nodes, r_max, interp)

    def one(radius):
        inner = tabulated_mass_3d(jnp.minimum(radius, r_max), r_nodes, rho_nodes, r_max, interp)
        u_edges = _safe_acosh_ratio(jnp.clip(breaks, radius, r_max), radius)
        edges = jnp.concatenate([jnp.zeros(1), u_edges])
        u, w = gl_panels(edges, n)
        return inner + jnp.sum(w * _outer_shell_integrand(rho_fn, radius, u))

    return jnp.vectorize(one)(jnp.asarray(R, jnp.float64))


# --------------------------------------------------------------------------------------------
# profile containers (pytrees)
# --------------------------------------------------------------------------------------------


def _pytree(data: Sequence[str], meta: Sequence[str] = ()):
    def wrap(cls):
        return jax.tree_util.register_dataclass(
            cls, data_fields=list(data), meta_fields=list(meta)
        )

    return wrap


@functools.partial(jax.jit, static_argnames="projection")
def _component_mass(component, R, projection: str):
    return component._mass(R, projection)


class _Component:
    """Shared ``mass`` of the profile containers: validates ``projection`` and runs the
    component's ``_mass`` under one ``jit`` (compiled once per component type and shape)."""

    def mass(self, R, projection: str = "projected"):
        """Enclosed mass [Msun] within radius r (``"3d"``) or R (``"projected"``) [kpc]."""
        projection = _check_projection(projection)
        return _component_mass(self, jnp.asarray(R, jnp.float64), projection)


@_pytree(["n_e0", "r_c", "beta", "mu_e", "r_max"])
@dataclass(frozen=True, eq=False)
class BetaGas(_Component):
    """Isothermal beta-model gas: ``n_e0`` [cm^-3], ``r_c`` [kpc], ``beta``, ``mu_e`` [m_p],
    truncated at ``r_max`` [kpc] in projected masses (the 3-D mass is untruncated)."""

    n_e0: jax.Array
    r_c: jax.Array
    beta: jax.Array
    mu_e: jax.Array
    r_max: jax.Array

    def density(self, r):
        return beta_model_density(r, self.n_e0, self.r_c, self.beta, self.mu_e)

    def _mass(self, R, projection: str):
        if projection == "3d":
            return enclosed_mass_3d(self.density, R)
        return enclosed_mass_projected(self.density, R, self.r_max)


@_pytree(["r_nodes", "rho_nodes", "r_max"], ["interp"])
@dataclass(frozen=True, eq=False)
class TabulatedDensity(_Component):
    """Tabulated density (gas ``mu_e m_p n_e`` or stars), see :func:`tabulated_density`.

    Attributes:
        r_nodes: node radii (``"loglog"``) or shell edges (``"shells"``) [kpc].
        rho_nodes: densities [Msun/kpc^3].
        r_max: truncation radius [kpc] (the table's outer edge by default).
        interp: ``"loglog"`` or ``"shells"``.
    """

    r_nodes: jax.Array
    rho_nodes: jax.Array
    r_max: jax.Array
    interp: str = "loglog"

    def density(self, r):
        return tabulated_density(r, self.r_nodes, self.rho_nodes, self.r_max, self.interp)

    def _mass(self, R, projection: str):
        args = (self.r_nodes, self.rho_nodes, self.r_max, self.interp)
        if projection == "3d":
            return tabulated_mass_3d(R, *args)
        return tabulated_mass_projected(R, *args)


@_pytree(["rho0", "r_core", "r_cut", "offset"])
@dataclass(frozen=True, eq=False)
class DPIEGas(_Component):
    """Sum of spherical dPIE gas components, arrays of shape (K,): ``rho0`` [Msun/kpc^3],
    ``r_core``, ``r_cut`` [kpc], ``offset`` = projected distance of each centre from the
    aperture centre [kpc] (0: concentric)."""

    rho0: jax.Array
    r_core: jax.Array
    r_cut: jax.Array
    offset: jax.Array

    def _mass(self, R, projection: str):
        # closed forms; offset components by quadrature
        projected = projection == "projected"

        def component(rho0, a, s, d):
            if projected:
                return offset_mass_projected(
                    lambda p: dpie_surface_density(p, rho0, a, s),
                    lambda x: dpie_mass_projected(x, rho0, a, s),
                    R,
                    d,
                )
            return offset_mass_3d(
                lambda p: dpie_density(p, rho0, a, s),
                lambda x: dpie_mass_3d(x, rho0, a, s),
                R,
                d,
            )

        masses = jax.vmap(component)(self.rho0, self.r_core, self.r_cut, self.offset)
        return jnp.sum(masses, axis=0)


@_pytree(["total_mass", "a"])
@dataclass(frozen=True, eq=False)
class HernquistStars(_Component):
    """Hernquist BCG: total stellar mass ``total_mass`` [Msun], scale radius ``a`` [kpc]."""

    total_mass: jax.Array
    a: jax.Array

    def _mass(self, R, projection: str):
        if projection == "3d":
            return hernquist_mass_3d(R, self.total_mass, self.a)
        return hernquist_mass_projected(R, self.total_mass, self.a)


@_pytree(["radii", "masses"])
@dataclass(frozen=True, eq=False)
class ApertureMasses(_Component):
    """Projected stellar masses ``masses`` [Msun] within apertures ``radii`` [kpc]
    (:func:`aperture_mass`); the same values are used for ``"3d"`` (see the module doc)."""

    radii: jax.Array
    masses: jax.Array

    def _mass(self, R, projection: str):
        return aperture_mass(R, self.radii, self.masses)


@_pytree(["components"], ["labels"])
@dataclass(frozen=True, eq=False)
class BaryonModel:
    """A cluster's baryons: a tuple of components (gas and stars) and their labels."""

    components: tuple
    labels: tuple[str, ...] = ()

    def mass(self, R, projection: str = "projected"):
        """Total baryon mass [Msun] within r (``"3d"``) or R (``"projected"``)."""
        _check_projection(projection)
        R = jnp.asarray(R, jnp.float64)
        total = jnp.zeros_like(R)
        for component in self.components:  # a few components of different types
            total = total + component.mass(R, projection)
        return total

    def component_masses(self, R, projection: str = "projected") -> dict[str, jax.Array]:
        """``{label: mass}`` of each component at R."""
        return {
            label: c.mass(R, projection)
            for label, c in zip(self.labels, self.components, strict=True)
        }


def _f64(x):
    return jnp.asarray(np.asarray(x, dtype=np.float64))


def beta_gas(n_e0, r_c, beta, *, mu_e=MU_E_DEFAULT, r_max=R_MAX_DEFAULT) -> BetaGas:
    """A :class:`BetaGas` after checking the parameters (each must be finite and > 0)."""
    values = {"n_e0": n_e0, "r_c": r_c, "beta": beta, "mu_e": mu_e, "r_max": r_max}
    for name, value in values.items():
        _check_positive_number(value, name)
    return BetaGas(*(_f64(v) for v in values.values()))


def gas_from_ne_table(r_kpc, n_e_cm3, *, mu_e=MU_E_DEFAULT, r_max=None) -> TabulatedDensity:
    """Log-log tabulated gas from node radii [kpc] and ``n_e`` [cm^-3]; ``r_max`` defaults to
    the last node (no extrapolation)."""
    r = np.asarray(r_kpc, dtype=np.float64)
    ne = np.asarray(n_e_cm3, dtype=np.float64)
    _check_table(r, ne, "r_kpc", "n_e_cm3")
    _check_positive_number(mu_e, "mu_e")
    r_max = r[-1] if r_max is None else _check_positive_number(r_max, "r_max")
    return TabulatedDensity(_f64(r), _f64(ne_to_rho(ne, mu_e)), _f64(r_max), "loglog")


def stars_from_rho_table(r_kpc, rho_Msun_kpc3, *, r_max=None) -> TabulatedDensity:
    """Log-log tabulated stellar density [Msun/kpc^3] at radii [kpc]."""
    r = np.asarray(r_kpc, dtype=np.float64)
    rho = np.asarray(rho_Msun_kpc3, dtype=np.float64)
    _check_table(r, rho, "r_kpc", "rho_Msun_kpc3")
    r_max = r[-1] if r_max is None else _check_positive_number(r_max, "r_max")
    return TabulatedDensity(_f64(r), _f64(rho), _f64(r_max), "loglog")


def gas_from_shells(r_in_kpc, r_out_kpc, n_e_cm3, *, mu_e=MU_E_DEFAULT, interp="loglog"):
    """Tabulated gas from deprojected shells (ACCEPT): ``"loglog"`` puts nodes at the shell
    mid-points ``(r_in + r_out)/2``, ``"shells"`` keeps the density constant in each shell;
    ``r_max`` is the outer edge of the last shell."""
    r_in = np.asarray(r_in_kpc, dtype=np.float64)
    r_out = np.asarray(r_out_kpc, dtype=np.float64)
    ne = np.asarray(n_e_cm3, dtype=np.float64)
    _check_positive_number(mu_e, "mu_e")
    if interp not in INTERPOLATIONS:
        raise ValueError(f"interp must be one of {INTERPOLATIONS}, got {interp!r}")
    rho = ne_to_rho(ne, mu_e)
    if interp == "shells":
        edges = np.concatenate([r_in[:1], r_out])
        return TabulatedDensity(_f64(edges), _f64(rho), _f64(r_out[-1]), "shells")
    mid = 0.5 * (r_in + r_out)
    return TabulatedDensity(_f64(mid), _f64(rho), _f64(r_out[-1]), "loglog")


def _check_table(r, values, r_name: str, v_name: str, where: str = "table") -> None:
    if r.ndim != 1 or r.shape != values.shape or r.size < 2:
        raise ValueError(
            f"{where}: {r_name} and {v_name} must be 1-D of equal length >= 2, got shapes "
            f"{r.shape} and {values.shape}"
        )
    if not (np.all(np.isfinite(r)) and np.all(np.isfinite(values))):
        raise ValueError(f"{where}: non-finite values in {r_name} or {v_name}")
    if not (np.all(r > 0) and np.all(np.diff(r) > 0)):
        raise ValueError(f"{where}: {r_name} must be > 0 and strictly increasing")
    if not np.all(values > 0):
        raise ValueError(f"{where}: {v_name} must be > 0 (log-log interpolation)")


# --------------------------------------------------------------------------------------------
# readers
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class AcceptProfile:
    """Deprojected electron density of one cluster from ACCEPT (Cavagnolo+2009),
    shells in increasing radius: ``r_in_kpc``, ``r_out_kpc`` [kpc], ``n_e``, ``n_e_err``
    [cm^-3]; ``name`` as in ACCEPT; ``source`` the file read."""

    name: str
    r_in_kpc: np.ndarray
    r_out_kpc: np.ndarray
    n_e: np.ndarray
    n_e_err: np.ndarray
    source: str = ""

    def __len__(self) -> int:
        return len(self.n_e)

    def gas(self, *, mu_e=MU_E_DEFAULT, interp="loglog") -> TabulatedDensity:
        """The gas density model of these shells (:func:`gas_from_shells`)."""
        return gas_from_shells(self.r_in_kpc, self.r_out_kpc, self.n_e, mu_e=mu_e, interp=interp)


def _require_file(path, what: str) -> Path:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}")
    return path


def read_accept_profile(path, name: str | None = None) -> AcceptProfile:
    """Read ACCEPT deprojected shells (a per-cluster ``*_profiles.dat`` or ``all_profiles.dat``,
    whitespace- or tab-separated, header lines optional, rows in any order).

    Args:
        path: the file.
        name: ACCEPT cluster name (e.g. ``"ABELL_1689"``); required when the file holds
            several clusters.

    Raises:
        FileNotFoundError: missing file.
        ValueError: a row with too few or non-numeric columns, ``n_e <= 0``, ``r_out <= r_in``,
            overlapping shells, an unknown ``name`` or several clusters without ``name``
            (the message names the file and line).
    """
    path = _require_file(path, "ACCEPT profile file")
    columns = list(ACCEPT_COLUMNS)
    rows: dict[str, list] = {}
    with open(path, encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, start=1):
            text = line.strip()
            if not text:
                continue
            tokens = text.lstrip("#").split()
            if text.startswith("#") or tokens[0] == "Name":
                if tokens and tokens[0] == "Name":
                    columns = tokens
                continue
            where = f"{path}, line {lineno}"
            try:
                idx = [columns.index(c) for c in ("Name", "Rin", "Rout", "nelec", "neerr")]
            except ValueError:
                raise ValueError(
                    f"{path}: header lacks one of the columns Name, Rin, Rout, nelec, neerr "
                    f"(found {columns})"
                ) from None
            if len(tokens) < max(idx) + 1:
                raise ValueError(f"{where}: expected >= {max(idx) + 1} columns, got {len(tokens)}")
            try:
                values = [float(tokens[i]) for i in idx[1:]]
            except ValueError:
                raise ValueError(f"{where}: non-numeric Rin/Rout/nelec/neerr in {text!r}") from None
            if not all(math.isfinite(v) for v in values):
                raise ValueError(f"{where}: non-finite value in {text!r}")
            rin, rout, ne, neerr = values
            if ne <= 0:
                raise ValueError(f"{where}: column nelec must be > 0, got {ne}")
            if not (0 <= rin < rout):
                raise ValueError(f"{where}: need 0 <= Rin < Rout, got Rin={rin}, Rout={rout}")
            rows.setdefault(tokens[idx[0]], []).append(values)
    if not rows:
        raise ValueError(f"{path}: no ACCEPT data rows")
    if name is None:
        if len(rows) > 1:
            raise ValueError(f"{path}: holds several clusters, pass name= one of {sorted(rows)}")
        name = next(iter(rows))
    if name not in rows:
        raise ValueError(f"{path}: no rows for cluster {name!r}; found {sorted(rows)}")
    table = np.asarray(sorted(rows[name]), dtype=np.float64)  # increasing Rin
    if np.any(table[1:, 0] < table[:-1, 1] * (1 - 1e-9)):
        raise ValueError(f"{path}: shells of {name!r} overlap (Rin < previous Rout)")
    return AcceptProfile(
        name=name,
        r_in_kpc=1000.0 * table[:, 0],
        r_out_kpc=1000.0 * table[:, 1],
        n_e=table[:, 2],
        n_e_err=table[:, 3],
        source=str(path),
    )


def _csv_reader(path, required: Sequence[str], what: str) -> tuple[Path, csv.DictReader]:
    """``(path, rows)`` of a CSV file without blank and ``#`` comment lines, after checking
    that the header has the ``required`` columns (the error names file, columns and
    ``what`` the file should be)."""
    path = _require_file(path, what)
    with open(path, encoding="utf-8", newline="") as handle:
        lines = [line for line in handle if line.strip() and not line.lstrip().startswith("#")]
    reader = csv.DictReader(lines, skipinitialspace=True)
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in required if c not in header]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing} ({what}); found columns {header}")
    return path, reader


def _read_csv_columns(path, columns: Sequence[str], what: str) -> dict[str, np.ndarray]:
    path, reader = _csv_reader(path, columns, what)
    out: dict[str, list[float]] = {c: [] for c in columns}
    for lineno, row in enumerate(reader, start=2):
        row = {(k or "").strip(): v for k, v in row.items()}
        for c in columns:
            try:
                value = float(row[c])
            except (TypeError, ValueError):
                raise ValueError(
                    f"{path}, data row {lineno - 1}: column {c!r} is not a number: {row[c]!r}"
                ) from None
            out[c].append(value)
    return {c: np.asarray(v, dtype=np.float64) for c, v in out.items()}


def read_gas_csv(path, *, mu_e=MU_E_DEFAULT) -> TabulatedDensity:
    """Gas from a CSV with columns ``r_kpc, n_e_cm3`` (log-log, truncated at the last row),
    or from an ACCEPT file (recognised by its ``Rin``/``nelec`` header)."""
    path = _require_file(path, "gas profile file")
    with open(path, encoding="utf-8") as handle:
        head = handle.read(4096)
    if "nelec" in head and "Rin" in head:
        return read_accept_profile(path).gas(mu_e=mu_e)
    cols = _read_csv_columns(path, ("r_kpc", "n_e_cm3"), "gas profile: r_kpc, n_e_cm3")
    r, ne = cols["r_kpc"], cols["n_e_cm3"]
    _check_table(r, ne, "r_kpc", "n_e_cm3", where=str(path))
    return gas_from_ne_table(r, ne, mu_e=mu_e)


def read_stars_csv(path) -> TabulatedDensity:
    """Stellar density from a CSV with columns ``r_kpc, rho_Msun_kpc3``."""
    cols = _read_csv_columns(path, ("r_kpc", "rho_Msun_kpc3"), "stellar profile")
    r, rho = cols["r_kpc"], cols["rho_Msun_kpc3"]
    _check_table(r, rho, "r_kpc", "rho_Msun_kpc3", where=str(path))
    return stars_from_rho_table(r, rho)


def read_cluster_table(path) -> list[dict]:
    """Read a cluster table CSV.

    Required columns: ``name, z_lens, z_source, theta_E_arcsec``. Optional: ``sigma``
    (1-sigma error of theta_E [arcsec]), ``sigma_v_kms`` (velocity dispersion for the
    kernel), ``gas_csv`` / ``stars_csv`` (profile files, relative to the table's folder;
    see :func:`read_gas_csv`, :func:`read_stars_csv`), ``ne0_cm3, rc_kpc, beta`` (a beta-model
    gas, all three), ``bcg_mass_Msun, bcg_a_kpc`` (a Hernquist BCG). Empty cells are missing.

    Returns:
        One dict per row with floats, ``Path`` objects for the files, None for missing cells.

    Raises:
        ValueError: missing required column, non-numeric or missing required cell, duplicate
            name, no rows (the message names the file, row and column).
    """
    path, reader = _csv_reader(path, TABLE_REQUIRED, f"cluster table; required "
                               f"{list(TABLE_REQUIRED)}, optional {list(TABLE_OPTIONAL)}")
    rows = []
    for number, raw in enumerate(reader, start=1):
        raw = {(k or "").strip(): (v.strip() if isinstance(v, str) else v) for k, v in raw.items()}
        where = f"{path}, row {number}"
        row: dict = {"name": raw["name"]}
        if not row["name"]:
            raise ValueError(f"{where}: column 'name' is empty")
        for c in TABLE_REQUIRED[1:] + ("sigma", "sigma_v_kms", "ne0_cm3", "rc_kpc", "beta",
                                        "bcg_mass_Msun", "bcg_a_kpc"):  # fmt: skip
            cell = raw.get(c)
            if cell in (None, ""):
                if c in TABLE_REQUIRED:
                    raise ValueError(f"{where} ({row['name']!r}): column {c!r} is empty")
                row[c] = None
                continue
            try:
                row[c] = float(cell)
            except ValueError:
                raise ValueError(f"{where}: column {c!r} is not a number: {cell!r}") from None
        for c in ("gas_csv", "stars_csv"):
            cell = raw.get(c)
            row[c] = (path.parent / cell) if cell else None
        beta_cells = [row[c] is None for c in ("ne0_cm3", "rc_kpc", "beta")]
        if any(beta_cells) and not all(beta_cells):
            raise ValueError(f"{where}: give all of ne0_cm3, rc_kpc, beta for a beta-model gas")
        if (row["bcg_mass_Msun"] is None) != (row["bcg_a_kpc"] is None):
            raise ValueError(f"{where}: give both bcg_mass_Msun and bcg_a_kpc for a Hernquist BCG")
        if row["gas_csv"] is not None and row["ne0_cm3"] is not None:
            raise ValueError(f"{where}: give either gas_csv or a beta model, not both")
        rows.append(row)
    if not rows:
        raise ValueError(f"{path}: no data rows")
    names = [r["name"] for r in rows]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"{path}: duplicate cluster name(s) {duplicates}")
    return rows


# --------------------------------------------------------------------------------------------
# packaged clusters
# --------------------------------------------------------------------------------------------


@functools.cache
def _packaged_text() -> str:
    return importlib.resources.files("jaxfit.data").joinpath(CLUSTERS_FILE).read_text("utf-8")


def packaged_clusters() -> dict:
    """The parsed ``data/gravity_clusters.json`` (a fresh copy)."""
    return json.loads(_packaged_text())


def _unknown_cluster(name, valid) -> ValueError:
    return ValueError(f"unknown cluster {name!r}; valid names: {', '.join(valid)}")


def cluster_baryons(
    name: str,
    *,
    mu_e=MU_E_DEFAULT,
    gas_interp: str = "loglog",
    dpie_offsets: bool = False,
    stars: bool = True,
) -> BaryonModel:
    """The baryon model of a packaged cluster (see the module doc for the choices).

    Args:
        name: one of :data:`DEFAULT_CLUSTERS`.
        mu_e: mass per electron [m_p] for n_e-based gas (1.17; research code 0.59).
        gas_interp: ``"loglog"`` or ``"shells"`` for ACCEPT tables.
        dpie_offsets: place the MACS J0416 dPIE components at their published offsets from
            BCG G1 (aperture centred on G1) instead of concentric.
        stars: include the stellar component where one is packaged.

    Raises:
        ValueError: unknown name, ``mu_e`` not > 0, unknown ``gas_interp``.
    """
    clusters = packaged_clusters()["clusters"]
    if name not in clusters:
        raise _unknown_cluster(name, list(clusters))
    _check_positive_number(mu_e, "mu_e")
    entry = clusters[name]
    gas_entry = entry["gas"]
    labels, components = [], []
    if gas_entry["form"] == "accept_shells":
        gas = gas_from_shells(
            1000.0 * np.asarray(gas_entry["r_in_Mpc"]),
            1000.0 * np.asarray(gas_entry["r_out_Mpc"]),
            np.asarray(gas_entry["n_e_cm3"]),
            mu_e=mu_e,
            interp=gas_interp,
        )
    elif gas_entry["form"] == "dpie":
        scale = gas_entry["kpc_per_arcsec"]["value"]
        comps = gas_entry["components"]
        sigma0 = np.array([c["sigma0_km_s"] for c in comps])
        a = scale * np.array([c["R_C_arcsec"] for c in comps])
        s = scale * np.array([c["R_T_arcsec"] for c in comps])
        x0 = np.array([c["x0_arcsec"] for c in comps])
        y0 = np.array([c["y0_arcsec"] for c in comps])
        offset = scale * np.hypot(x0, y0) if dpie_offsets else np.zeros_like(x0)
        gas = DPIEGas(_f64(dpie_rho0(sigma0, a, s)), _f64(a), _f64(s), _f64(offset))
    else:  # pragma: no cover - the packaged file has only these forms
        raise ValueError(f"{CLUSTERS_FILE}: unknown gas form {gas_entry['form']!r} for {name}")
    labels.append("gas")
    components.append(gas)
    star_entry = entry["stars"]
    if stars and star_entry["form"] == "aperture":
        labels.append("stars")
        components.append(
            ApertureMasses(_f64(star_entry["R_kpc"]), _f64(star_entry["M_Msun"]))
        )
    return BaryonModel(tuple(components), tuple(labels))


# --------------------------------------------------------------------------------------------
# the cluster set
# --------------------------------------------------------------------------------------------


@_pytree(
    ["z_l", "z_s", "theta_E", "theta_E_err", "D_l", "R_E_kpc", "Sigma_crit", "M_required",
     "M_required_err", "M_bar", "g_bar_RE", "sigma_v"],
    ["names", "projection", "mu_e", "H0", "Om"],
)  # fmt: skip
@dataclass(frozen=True, eq=False)
class ClusterSet:
    """A batch of C clusters with everything the amplitude fit needs, arrays of shape (C,).

    Attributes:
        z_l, z_s: lens and source redshifts.
        theta_E, theta_E_err: Einstein radius and its 1-sigma error [arcsec] (NaN: none).
        D_l: lens angular-diameter distance [kpc].
        R_E_kpc: Einstein radius ``theta_E D_l`` [kpc].
        Sigma_crit: critical surface density [Msun/kpc^2].
        M_required: ``pi R_E^2 Sigma_crit`` [Msun]; M_required_err: from theta_E_err
            (``2 M sigma_theta/theta``).
        M_bar: baryon mass enclosed at R_E [Msun] (``projection``).
        g_bar_RE: ``G M_bar / R_E^2`` [km^2 s^-2 kpc^-1].
        sigma_v: velocity dispersion for the theory kernel [km/s].
        names: cluster names (static); projection, mu_e, H0, Om: how the set was built.
    """

    z_l: jax.Array
    z_s: jax.Array
    theta_E: jax.Array
    theta_E_err: jax.Array
    D_l: jax.Array
    R_E_kpc: jax.Array
    Sigma_crit: jax.Array
    M_required: jax.Array
    M_required_err: jax.Array
    M_bar: jax.Array
    g_bar_RE: jax.Array
    sigma_v: jax.Array
    names: tuple[str, ...]
    projection: str = "projected"
    mu_e: float = MU_E_DEFAULT
    H0: float = 70.0
    Om: float = 0.3

    def __len__(self) -> int:
        return len(self.names)

    def rows(self) -> list[dict]:
        """One plain dict per cluster (for JSON/CSV reports)."""
        fields = ("z_l", "z_s", "theta_E", "theta_E_err", "D_l", "R_E_kpc", "Sigma_crit",
                  "M_required", "M_required_err", "M_bar", "g_bar_RE", "sigma_v")  # fmt: skip
        arrays = {f: np.asarray(getattr(self, f)) for f in fields}
        out = []
        for i, name in enumerate(self.names):
            row = {"name": name}
            row.update({f: float(arrays[f][i]) for f in fields})
            row["M_bar_over_M_required"] = row["M_bar"] / row["M_required"]
            out.append(row)
        return out


def _parse_names(names, valid: Sequence[str]) -> list[str]:
    if names is None:
        return list(valid)
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    names = list(names)
    if not names:
        raise ValueError("names must name at least one cluster")
    for n in names:
        if n not in valid:
            raise _unknown_cluster(n, valid)
    if len(set(names)) != len(names):
        raise ValueError(f"names has duplicates: {names}")
    return names


def _table_baryons(row: dict, *, mu_e, gas_interp, dpie_offsets) -> BaryonModel:
    labels, components = [], []
    if row["gas_csv"] is not None:
        labels.append("gas")
        components.append(read_gas_csv(row["gas_csv"], mu_e=mu_e))
    elif row["ne0_cm3"] is not None:
        labels.append("gas")
        components.append(beta_gas(row["ne0_cm3"], row["rc_kpc"], row["beta"], mu_e=mu_e))
    if row["stars_csv"] is not None:
        labels.append("stars")
        components.append(read_stars_csv(row["stars_csv"]))
    if row["bcg_mass_Msun"] is not None:
        labels.append("bcg")
        components.append(
            HernquistStars(_f64(row["bcg_mass_Msun"]), _f64(row["bcg_a_kpc"]))
        )
    if components:
        return BaryonModel(tuple(components), tuple(labels))
    if row["name"] in DEFAULT_CLUSTERS:
        return cluster_baryons(
            row["name"], mu_e=mu_e, gas_interp=gas_interp, dpie_offsets=dpie_offsets
        )
    raise ValueError(
        f"cluster {row['name']!r}: no baryon profile (give gas_csv, stars_csv, a beta model "
        f"or a Hernquist BCG in the table; packaged profiles exist for {list(DEFAULT_CLUSTERS)})"
    )


def load_clusters(
    names=None,
    table=None,
    projection: str = "projected",
    mu_e=MU_E_DEFAULT,
    H0=70.0,
    Om=0.3,
    *,
    sigma_v=SIGMA_V_DEFAULT,
    gas_interp: str = "loglog",
    dpie_offsets: bool = False,
) -> ClusterSet:
    """Load clusters and evaluate their lensing geometry and baryon mass at R_E.

    Args:
        names: cluster names (a sequence or a comma-separated string); default all (the
            packaged :data:`DEFAULT_CLUSTERS`, or every row of ``table``).
        table: optional cluster table CSV (:func:`read_cluster_table`) instead of the
            packaged JSON; rows without baryon columns use the packaged profile of the same
            name.
        projection: ``"projected"`` (cylinder, correct for lensing) or ``"3d"`` (sphere, the
            research code).
        mu_e: mass per electron [m_p] for n_e-based gas (1.17; 0.59 = research code).
        H0, Om: flat LCDM for the lensing distances.
        sigma_v: velocity dispersion [km/s] of clusters without a ``sigma_v_kms`` column.
        gas_interp, dpie_offsets: see :func:`cluster_baryons`.

    Returns:
        :class:`ClusterSet` in the order of ``names``.

    Raises:
        ValueError: unknown cluster name (listing the valid ones), ``z_source <= z_lens``,
            ``theta_E <= 0``, bad ``projection``/``mu_e``/``H0``/``Om``/``sigma_v``, or a
            malformed table or profile file (naming the file and column).
    """
    _check_projection(projection)
    mu_e = _check_positive_number(mu_e, "mu_e")
    H0 = _check_positive_number(H0, "H0")
    sigma_v = _check_positive_number(sigma_v, "sigma_v")
    try:
        Om = float(Om)
    except (TypeError, ValueError):
        raise ValueError(f"Om must be a finite number >= 0, got {Om!r}") from None
    if not math.isfinite(Om) or Om < 0:
        raise ValueError(f"Om must be a finite number >= 0, got {Om!r}")

    entries = []
    if table is None:
        packaged = packaged_clusters()["clusters"]
        for name in _parse_names(names, list(packaged)):
            e = packaged[name]
            entries.append(
                {
                    "name": name,
                    "z_lens": e["z_lens"]["value"],
                    "z_source": e["z_source"]["value"],
                    "theta_E_arcsec": e["theta_E_arcsec"]["value"],
                    "sigma": e["theta_E_arcsec"].get("err"),
                    "sigma_v_kms": None,
                    "baryons": cluster_baryons(
                        name, mu_e=mu_e, gas_interp=gas_interp, dpie_offsets=dpie_offsets
                    ),
                }
            )
    else:
        rows = read_cluster_table(table)
        by_name = {r["name"]: r for r in rows}
        for name in _parse_names(names, list(by_name)):
            row = dict(by_name[name])
            row["baryons"] = _table_baryons(
                row, mu_e=mu_e, gas_interp=gas_interp, dpie_offsets=dpie_offsets
            )
            entries.append(row)

    for e in entries:
        where = f"cluster {e['name']!r}"
        if not (math.isfinite(e["z_lens"]) and e["z_lens"] > 0):
            raise ValueError(f"{where}: z_lens must be > 0, got {e['z_lens']}")
        if not (math.isfinite(e["z_source"]) and e["z_source"] > e["z_lens"]):
            raise ValueError(
                f"{where}: z_source ({e['z_source']}) must exceed z_lens ({e['z_lens']})"
            )
        if not (math.isfinite(e["theta_E_arcsec"]) and e["theta_E_arcsec"] > 0):
            raise ValueError(f"{where}: theta_E_arcsec must be > 0, got {e['theta_E_arcsec']}")
        if e["sigma"] is not None and not (math.isfinite(e["sigma"]) and e["sigma"] >= 0):
            raise ValueError(f"{where}: sigma (theta_E error) must be >= 0, got {e['sigma']}")
        if e["sigma_v_kms"] is not None and not (
            math.isfinite(e["sigma_v_kms"]) and e["sigma_v_kms"] > 0
        ):
            raise ValueError(f"{where}: sigma_v_kms must be > 0, got {e['sigma_v_kms']}")

    z_l = np.array([e["z_lens"] for e in entries], dtype=np.float64)
    z_s = np.array([e["z_source"] for e in entries], dtype=np.float64)
    theta = np.array([e["theta_E_arcsec"] for e in entries], dtype=np.float64)
    theta_err = np.array(
        [np.nan if e["sigma"] is None else e["sigma"] for e in entries], dtype=np.float64
    )
    sig_v = np.array(
        [sigma_v if e["sigma_v_kms"] is None else e["sigma_v_kms"] for e in entries],
        dtype=np.float64,
    )
    d_l, _, _ = lensing_distances(z_l, z_s, H0, Om)
    r_e = einstein_radius_kpc(theta, z_l, H0, Om)
    s_crit = sigma_crit(z_l, z_s, H0, Om)
    m_req = math.pi * r_e**2 * s_crit
    # one evaluation per cluster at load: the profiles differ in type, R_E is fixed
    m_bar = jnp.stack([e["baryons"].mass(r_e[i], projection) for i, e in enumerate(entries)])
    return ClusterSet(
        z_l=_f64(z_l),
        z_s=_f64(z_s),
        theta_E=_f64(theta),
        theta_E_err=_f64(theta_err),
        D_l=d_l,
        R_E_kpc=r_e,
        Sigma_crit=s_crit,
        M_required=m_req,
        M_required_err=2.0 * m_req * _f64(theta_err) / _f64(theta),
        M_bar=m_bar,
        g_bar_RE=G * m_bar / r_e**2,
        sigma_v=_f64(sig_v),
        names=tuple(e["name"] for e in entries),
        projection=projection,
        mu_e=mu_e,
        H0=H0,
        Om=Om,
    )


def theory_mass(clusters: ClusterSet, K_at_RE):
    """Dynamical mass the modified gravity assigns inside R_E [Msun]:
    ``g_eff R_E^2 / G`` with ``g_eff = g_bar (1 + K)`` (= ``M_bar (1 + K)``).

    Args:
        clusters: :class:`ClusterSet`.
        K_at_RE: kernel value(s) at each cluster's R_E (shape (C,) or broadcastable; the
            caller includes A_cluster and the phase sign).
    """
    g_eff = clusters.g_bar_RE * (1.0 + jnp.asarray(K_at_RE))
    return g_eff * clusters.R_E_kpc**2 / G


def mass_ratio(clusters: ClusterSet, K_at_RE):
    """``M_theory / M_required`` per cluster (1 = the lensing mass is reproduced)."""
    return theory_mass(clusters, K_at_RE) / clusters.M_required


__all__ = [
    "ACCEPT_COLUMNS", "ARCSEC_RAD", "AcceptProfile", "ApertureMasses", "BaryonModel",
    "BetaGas", "CLUSTERS_FILE", "C_KM_S", "ClusterSet", "DEFAULT_CLUSTERS", "DPIEGas", "G",
    "HernquistStars", "INTERPOLATIONS", "KPC_CM", "MU_E_DEFAULT", "MU_E_RESEARCH", "M_P_G",
    "M_SUN_G", "NE_TO_RHO", "PROJECTIONS", "R_MAX_DEFAULT", "SIGMA_V_DEFAULT",
    "TabulatedDensity", "aperture_mass", "beta_gas", "beta_model_density", "beta_model_ne",
    "cluster_baryons", "comoving_distance_kpc", "dpie_density", "dpie_mass_3d",
    "dpie_mass_projected", "dpie_rho0", "dpie_surface_density", "einstein_radius_kpc",
    "enclosed_mass_3d", "enclosed_mass_projected", "gas_from_ne_table", "gas_from_shells",
    "hernquist_density", "hernquist_mass_3d", "hernquist_mass_projected", "lensing_distances",
    "load_clusters", "mass_ratio", "ne_to_rho", "offset_mass_3d", "offset_mass_projected",
    "packaged_clusters", "read_accept_profile", "read_cluster_table", "read_gas_csv",
    "read_stars_csv", "required_mass", "sigma_crit", "stars_from_rho_table",
    "tabulated_density", "tabulated_mass_3d", "tabulated_mass_projected", "theory_mass",
]  # fmt: skip
