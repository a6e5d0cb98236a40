"""Lens physics: the deflection fields of an SIS macro lens, its subhalo (SIS or truncated
NFW) and external shear, and the lens equation that maps image-plane angles to the source.

Geometry and units
------------------
Angles are in *image units*: the image is the square ``[-1, 1]^2`` sampled by ``n_pix`` x
``n_pix`` pixels, and the source occupies the same square in the source plane (so a source
of ``M`` x ``M`` pixels has pixel size ``2/M``). Deflections, Einstein radii, ``r_s`` and
``r_t`` are in image units; convergence ``kappa`` and shear ``gamma`` are dimensionless;
masses are in units of ``Sigma_crit`` x (image unit)^2, so a circularly symmetric lens
deflects by ``alpha(R) = M_2D(<R) / (pi R)``. The parameters, their units and bounds are
declared in :mod:`jaxfit.lensing.params`.

Pixel convention (:func:`image_grid`): ``theta[0]`` is x, ``theta[1]`` is y; array element
``[i, j]`` is the pixel centre ``x_j = -1 + (2 j + 1)/N``, ``y_i = -1 + (2 i + 1)/N``, i.e.
rows run along y from ``y = -1`` at row 0 (``imshow(..., origin="lower")`` shows it the right
way up). Every field of shape ``(2, ...)`` stores (x, y) in its first axis.

Lens equation and profiles
--------------------------
``beta = theta - sum_k alpha_k(theta)`` (:func:`ray_trace`), with

- SIS (:func:`sis_deflection`): ``alpha = theta_E (theta - c)/|theta - c|``. The direction is
  undefined at the centre: a double ``where`` evaluates ``sqrt`` only at ``|theta - c|^2 > 0``
  and returns 0 at the centre, so values *and* gradients are finite everywhere (the
  Jacobian is 0 at the exact centre, ``theta_E (I - n n^T)/r`` elsewhere). The research code
  instead divided by ``|theta - c| + 1e-6``; ``LensSimConfig.sis_softening = 1e-6``
  reproduces that (default 0: exact SIS).
- truncated NFW of Baltz, Marshall & Oguri 2009 (JCAP 01, 015; their ``n = 1`` truncation,
  Appendix A) (:func:`tnfw_deflection`):
  ``rho(r) = rho_s / [(r/r_s)(1 + r/r_s)^2] * tau^2 / (tau^2 + (r/r_s)^2)``, ``tau = r_t/r_s``,
  ``kappa_s = rho_s r_s / Sigma_crit``, ``x = R/r_s``. Its deflection is
  ``alpha(R) = 4 kappa_s r_s g(x)/x`` with
  ``g(x) = tau^2/(tau^2+1)^2 [ (tau^2 + 1 + 2(x^2-1)) F(x) + pi tau + (tau^2-1) ln tau
  + sqrt(tau^2+x^2) (-pi + (tau^2-1) L(x)/tau) ]``, ``L = ln(x/(tau + sqrt(tau^2+x^2)))``,
  ``F(x) = arccosh(1/x)/sqrt(1-x^2)`` (x < 1), ``arccos(1/x)/sqrt(x^2-1)`` (x > 1), 1 at
  x = 1. Its total mass is finite:
  ``M_tot = 4 pi kappa_s r_s^2 tau^2/(tau^2+1)^2 [(tau^2-1) ln tau + pi tau - (tau^2+1)]``.
  For ``x < 1`` the bracket is a sum of O(1) terms that cancel to O(x^2 ln x); the code uses
  the algebraically identical, cancellation-free form of :func:`_tnfw_g_over_x2` (float64:
  ~1e-15 relative at every x; float32: ~1e-7 near the centre, ~1e-6 out to x ~ 10 and
  ~eps * x beyond, where O(x) terms of the printed form cancel). The convergence is
  :func:`tnfw_convergence`.
- external shear (:func:`shear_deflection`), potential ``(g1/2)(x^2 - y^2) + g2 x y`` about
  the origin: ``alpha = (g1 x + g2 y, g2 x - g1 y)``.

Subhalo normalisation: an SIS subhalo has ``theta_E_sub = theta_E_sub_factor *
theta_E_main``. It is untruncated, so it deflects by ``theta_E_sub`` *everywhere* and shifts
the whole image. The tNFW subhalo is given the same mass as that SIS *inside the cylinder of
radius r_t*, ``M_tot = pi theta_E_sub r_t`` (:func:`tnfw_kappa_s`), i.e. far from it the
tNFW deflects by ``theta_E_sub r_t / R``, the SIS deflection scaled down by ``r_t/R``.
Defaults ``r_s = 0.05``, ``r_t = 0.2`` (``tau = 4``) give ``kappa_s = 1.104`` for
``theta_E_sub = 0.05``; the tNFW deflection then peaks at ``1.23 theta_E_sub`` near
``R = r_s``, exceeds the SIS's between ``R ~ 0.4 r_s`` and ``2.6 r_s`` and is smaller
elsewhere (0.79 ``theta_E_sub`` at ``R = r_t``, 0.2 at ``R = 1``). The subhalo sits at
radius ``theta_E_main (1 + U[lo, hi])`` (``sub_radius_range``) and a uniform angle in
``[0, 2 pi)`` (:func:`draw_subhalo_position`).

Every function is pure JAX and computes in the floating dtype of its input. Image formation
(sampling the source, PSF, noise) and the batched simulators are in
:mod:`jaxfit.lensing.simulate`; their names stay importable from here.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxfit.core import checks
from jaxfit.lensing import forward_moved_names
from jaxfit.lensing.params import (
    DEFAULT_CONFIG,
    EXPERIMENTS,
    SUBHALO_KINDS,
    LensSimConfig,
    SimParams,
    sim_params,
)
from jaxfit.lensing.psf import PSF_EDGES, blur_matrix, gaussian_blur, gaussian_kernel1d

__all__ = [
    # defined here
    "draw_subhalo_position", "image_grid", "macro_deflection", "ray_trace", "shear_deflection",
    "sis_deflection", "subhalo_deflection", "tnfw_convergence", "tnfw_deflection",
    "tnfw_kappa_s", "tnfw_total_mass",
    # moved to jaxfit.lensing.params and jaxfit.lensing.psf, re-exported
    "DEFAULT_CONFIG", "EXPERIMENTS", "LensSimConfig", "PSF_EDGES", "SUBHALO_KINDS", "SimParams",
    "blur_matrix", "gaussian_blur", "gaussian_kernel1d", "sim_params",
]  # fmt: skip

# moved to jaxfit.lensing.simulate, which imports this module: forwarded on first use
__getattr__ = forward_moved_names(__name__, {"jaxfit.lensing.simulate": (
    "METADATA_KEYS", "add_noise_and_clip", "lens_image", "sample_source", "simulate",
    "simulate_batch", "simulate_many",
)})


# ------------------------------------------------------------------------------ geometry
def _float_dtype(x):
    """The floating dtype of ``x`` (default float for non-float input)."""
    dtype = jnp.result_type(x)
    return dtype if jnp.issubdtype(dtype, jnp.floating) else jnp.result_type(float)


def image_grid(n_pix: int, dtype=None):
    """Pixel-centre angles of an ``n_pix`` x ``n_pix`` image over ``[-1, 1]^2``.

    Returns:
        ``theta`` of shape ``(2, n_pix, n_pix)``: ``theta[0, i, j] = x_j``,
        ``theta[1, i, j] = y_i`` with ``x_j = -1 + (2 j + 1)/n_pix`` (image units; rows
        run along y). ``dtype`` defaults to JAX's default float.
    """
    n_pix = checks.count(n_pix, "n_pix")
    dtype = jnp.result_type(float) if dtype is None else dtype
    c = -1.0 + (2.0 * jnp.arange(n_pix, dtype=dtype) + 1.0) / n_pix
    x, y = jnp.meshgrid(c, c, indexing="xy")
    return jnp.stack([x, y])


def _offset(theta, center):
    """``theta - center`` with ``center`` of shape (2,) broadcast over theta's grid axes."""
    theta = jnp.asarray(theta)
    center = jnp.asarray(center, dtype=theta.dtype)
    return theta - center.reshape((2,) + (1,) * (theta.ndim - 1))


def _safe_radius(d):
    """``(r, inside)``: ``|d|`` over the first axis where ``|d|^2 > 0`` (1 elsewhere, so that
    ``sqrt`` and its gradient stay finite) and that mask."""
    r2 = d[0] ** 2 + d[1] ** 2
    inside = r2 > 0
    return jnp.sqrt(jnp.where(inside, r2, 1.0)), inside


def sis_deflection(theta, center, theta_E, softening=0.0):
    """Deflection of a singular isothermal sphere, ``theta_E (theta - c)/|theta - c|``.

    Args:
        theta: angles, shape ``(2, ...)`` (image units).
        center: lens centre, shape (2,).
        theta_E: Einstein radius (image units).
        softening: ``alpha = theta_E d/(|d| + softening)`` (research code: 1e-6).

    Returns:
        ``alpha`` of theta's shape (image units). 0 at the exact centre, with a finite
        gradient there (double ``where``).
    """
    d = _offset(theta, center)
    r, inside = _safe_radius(d)
    return jnp.where(inside, theta_E * d / (r + softening), 0.0)


def shear_deflection(theta, gamma1, gamma2):
    """External shear about the origin: ``alpha = (g1 x + g2 y, g2 x - g1 y)``."""
    theta = jnp.asarray(theta)
    x, y = theta[0], theta[1]
    return jnp.stack([gamma1 * x + gamma2 * y, gamma2 * x - gamma1 * y])


# ---------------------------------------------------------------------- truncated NFW
_U_SERIES = 1e-3  # |1 - x^2| below which F uses its series (both branches share it)


def _nfw_F_parts(x):
    """``(F, s, lq, near)`` for x > 0: ``F(x) = arccosh(1/x)/sqrt(1-x^2)`` (x < 1),
    ``arccos(1/x)/sqrt(x^2-1)`` (x > 1), and near x = 1 (``|u| < 1e-3``, ``u = 1 - x^2``)
    the series ``sum_k u^k/(2k+1)`` shared by both; ``s = sqrt(|u|)`` and
    ``lq = ln((1 + s)/x)`` (``= arccosh(1/x)`` for x < 1), guarded near x = 1."""
    u = 1.0 - x * x
    near = jnp.abs(u) < _U_SERIES
    us = jnp.where(near, 0.5, u)
    s = jnp.sqrt(jnp.abs(us))
    lq = jnp.log1p(s) - jnp.log(x)
    series = 1.0 + u * (1.0 / 3 + u * (1.0 / 5 + u * (1.0 / 7 + u / 9)))
    F = jnp.where(near, series, jnp.where(us > 0, lq, jnp.arctan(s)) / s)
    return F, s, lq, near


def _nfw_F(x):
    """The NFW function ``F(x)`` of :func:`_nfw_F_parts` (x > 0)."""
    return _nfw_F_parts(x)[0]


def _log1p_ratio(y):
    """``log1p(y)/y`` (1 at y = 0; series ``1 - y/2 + y^2/3`` for ``|y| < 1e-5``)."""
    tiny = jnp.abs(y) < 1e-5
    ys = jnp.where(tiny, 1.0, y)
    return jnp.where(tiny, 1.0 - y / 2.0 + y * y / 3.0, jnp.log1p(ys) / ys)


def _tnfw_g_over_x2(x, tau):
    """``g(x)/x^2`` of the BMO09 deflection ``alpha = 4 kappa_s r_s g(x)/x`` (x > 0).

    For ``x < 1`` (away from 1) with ``s = sqrt(1-x^2)``, ``S = sqrt(tau^2+x^2)`` the
    bracket of ``g`` is rewritten without cancellation:
    ``bracket/x^2 = T Q/x^2 + T L/(tau (tau+S)) + 2F - pi/(tau+S)``, ``T = tau^2 - 1``,
    ``Q/x^2 = ln((1+s)/x)/(s(1+s)) + log1p(-x^2 k)/x^2`` (the last term as ``-k log1p(y)/y``),
    ``k = (tau^2+1)/((s tau + S)(tau + S))``, using ``F + L + ln tau = Q``,
    ``1 - s = x^2/(1+s)``, ``S - tau = x^2/(S + tau)``. Elsewhere the closed form is used
    directly. Seven transcendental calls per point; every unused branch stays finite, so
    gradients are too.
    """
    t2 = tau * tau
    T = t2 - 1.0
    a = t2 / (t2 + 1.0) ** 2
    x2 = x * x
    F, s, lq, _ = _nfw_F_parts(x)
    S = jnp.sqrt(t2 + x2)
    L = jnp.log(x) - jnp.log(tau + S)
    small = x2 < 1.0 - _U_SERIES
    closed = (
        (T + 2.0 * x2) * F + tau * jnp.pi + T * jnp.log(tau) + S * (-jnp.pi + L * T / tau)
    ) / jnp.where(small, 1.0, x2)
    k = (t2 + 1.0) / ((s * tau + S) * (tau + S))
    q = lq / (s * (1.0 + s)) - k * _log1p_ratio(jnp.where(small, -x2 * k, 0.0))
    stable = T * q + T * L / (tau * (tau + S)) + 2.0 * F - jnp.pi / (tau + S)
    return a * jnp.where(small, stable, closed)


def tnfw_total_mass(kappa_s, r_s, r_t):
    """Total mass of the BMO09 tNFW (Sigma_crit x image units^2):
    ``4 pi kappa_s r_s^2 tau^2/(tau^2+1)^2 [(tau^2-1) ln tau + pi tau - (tau^2+1)]``."""
    tau = r_t / r_s
    t2 = tau * tau
    g_inf = t2 / (t2 + 1.0) ** 2 * ((t2 - 1.0) * jnp.log(tau) + jnp.pi * tau - (t2 + 1.0))
    return 4.0 * jnp.pi * kappa_s * r_s**2 * g_inf


def tnfw_kappa_s(mass, r_s, r_t):
    """``kappa_s`` of a BMO09 tNFW of total mass ``mass`` (inverse of
    :func:`tnfw_total_mass`)."""
    return mass / tnfw_total_mass(1.0, r_s, r_t)


def tnfw_deflection(theta, center, kappa_s, r_s, r_t):
    """Deflection of the truncated NFW of Baltz, Marshall & Oguri 2009 (n = 1).

    Args:
        theta: angles, shape ``(2, ...)`` (image units).
        center: halo centre, shape (2,).
        kappa_s: ``rho_s r_s / Sigma_crit`` (dimensionless; :func:`tnfw_kappa_s` converts a
            total mass).
        r_s, r_t: scale and truncation radii (image units), ``tau = r_t / r_s``.

    Returns:
        ``alpha = 4 kappa_s (g(x)/x^2) (theta - c)``, magnitude ``4 kappa_s r_s g(x)/x``,
        ``x = |theta - c|/r_s`` (module doc). 0 at the exact centre with a finite gradient
        there (the true convergence diverges logarithmically at the centre).
    """
    d = _offset(theta, center)
    r, inside = _safe_radius(d)
    h = _tnfw_g_over_x2(r / r_s, r_t / r_s)
    return jnp.where(inside, 4.0 * kappa_s * h * d, 0.0)


def tnfw_convergence(theta, center, kappa_s, r_s, r_t):
    """Convergence of the BMO09 tNFW (dimensionless):
    ``kappa = 2 kappa_s tau^2/(tau^2+1)^2 [(tau^2+1)(1-F)/(x^2-1) + 2F - pi/S
    + (tau^2-1) L/(tau S)]``, ``S = sqrt(tau^2+x^2)``; ``+inf`` at the exact centre."""
    d = _offset(theta, center)
    r, inside = _safe_radius(d)
    x = r / r_s
    tau = r_t / r_s
    t2 = tau * tau
    u = 1.0 - x * x
    near = jnp.abs(u) < _U_SERIES
    us = jnp.where(near, 0.5, u)
    # (1 - F)/(x^2 - 1) = (F - 1)/u = sum_{k>=1} u^(k-1)/(2k+1)
    ratio = jnp.where(
        near,
        1.0 / 3 + u * (1.0 / 5 + u * (1.0 / 7 + u * (1.0 / 9 + u / 11))),
        (_nfw_F(jnp.where(near, 0.5, x)) - 1.0) / us,
    )
    S = jnp.sqrt(t2 + x * x)
    L = jnp.log(x) - jnp.log(tau + S)
    bracket = (t2 + 1.0) * ratio + 2.0 * _nfw_F(x) - jnp.pi / S + (t2 - 1.0) * L / (tau * S)
    kappa = 2.0 * kappa_s * t2 / (t2 + 1.0) ** 2 * bracket
    return jnp.where(inside, kappa, jnp.inf)


# ------------------------------------------------------------------------- ray tracing
def ray_trace(theta, *alphas):
    """Lens equation ``beta = theta - sum(alphas)`` (all of shape ``(2, ...)``)."""
    beta = jnp.asarray(theta)
    for alpha in alphas:
        beta = beta - alpha
    return beta


def macro_deflection(theta, config: LensSimConfig | SimParams):
    """Deflection of the macro lens: SIS of ``theta_E_main`` at the origin plus shear.

    The shear is always added (exactly zero without one), so configurations with and
    without shear share one compiled simulator."""
    p = sim_params(config).astype(_float_dtype(theta))
    alpha = sis_deflection(theta, (0.0, 0.0), p.theta_E_main, p.sis_softening)
    return alpha + shear_deflection(theta, p.shear_gamma1, p.shear_gamma2)


def subhalo_deflection(theta, position, config: LensSimConfig | SimParams):
    """Deflection of the configured subhalo at ``position`` (2,); zeros for ``"none"``."""
    p = sim_params(config).astype(_float_dtype(theta))
    if p.subhalo == "sis":
        return sis_deflection(theta, position, p.theta_E_sub, p.sis_softening)
    if p.subhalo == "tnfw":
        return tnfw_deflection(theta, position, p.tnfw_kappa_s, p.tnfw_r_s, p.tnfw_r_t)
    return jnp.zeros_like(jnp.asarray(theta))


def draw_subhalo_position(key, config: LensSimConfig | SimParams, dtype=None):
    """Random subhalo position (2,): radius ``theta_E_main (1 + U[lo, hi])``, angle
    ``U[0, 2 pi)``."""
    dtype = jnp.result_type(float) if dtype is None else dtype
    p = sim_params(config).astype(dtype)
    u = jax.random.uniform(key, (2,), dtype)
    radius = p.theta_E_main * (p.radius_offset + p.radius_width * u[0])
    phi = 2.0 * jnp.pi * u[1]
    return jnp.stack([radius * jnp.cos(phi), radius * jnp.sin(phi)])
