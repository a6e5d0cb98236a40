"""Mass profiles of cluster baryons: densities, closed-form masses, and the enclosed
masses of generic and tabulated spherical profiles, in a sphere or in a cylinder.

Units: lengths in kpc, masses in Msun, densities in Msun/kpc^3, surface densities in
Msun/kpc^2, electron densities in cm^-3, velocity dispersions in km/s. Everything is
float64 pure JAX (``jit``/``vmap``/``grad``). The containers that pick a profile per
component are :mod:`jaxfit.gravity.cluster_baryons`.

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
"""

from __future__ import annotations

import math
from collections.abc import Callable

import jax.numpy as jnp

from jaxfit.core.quadrature import gl_panels, gl_rule
from jaxfit.gravity.units import G_NEWTON, NE_TO_RHO

MU_E_DEFAULT = 1.17
"""Mass per electron [m_p] of an ionised H+He plasma (2/(1+X), X ~ 0.71)."""

MU_E_RESEARCH = 0.59
"""The research code's factor (the mean molecular weight per particle): half the gas mass."""

R_MAX_DEFAULT = 5000.0
"""Default truncation radius [kpc] of analytic profiles in projected masses (5 Mpc)."""

INTERPOLATIONS = ("loglog", "shells")
"""Interpolation of tabulated densities (``"shells"`` only for shell tables such as ACCEPT)."""


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
    return sigma0**2 / (2.0 * math.pi * G_NEWTON) * (r_core + r_cut) / (r_core**2 * r_cut)


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


# ------------------------------------------------- enclosed masses of spherical profiles


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


# ------------------------------------------------------------------- tabulated densities


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
