"""Ray tracing of a two-channel (flux, velocity) source through an SIS macro lens, with an
optional subhalo (SIS or truncated NFW) and external shear, then PSF, noise and clipping.

Geometry and units
------------------
Angles are in *image units*: the image is the square ``[-1, 1]^2`` sampled by ``n_pix`` x
``n_pix`` pixels, and the source occupies the same square in the source plane (so a source
of ``M`` x ``M`` pixels has pixel size ``2/M``). :attr:`LensSimConfig.pixel_scale` (arcsec
per image unit) is reported only (:attr:`LensSimConfig.pixel_size_arcsec`); no physics
depends on it. Deflections, Einstein radii, ``r_s`` and ``r_t`` are in image units;
convergence ``kappa`` and shear ``gamma`` are dimensionless; masses are in units of
``Sigma_crit`` x (image unit)^2, so a circularly symmetric lens deflects by
``alpha(R) = M_2D(<R) / (pi R)``.

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
elsewhere (0.79 ``theta_E_sub`` at ``R = r_t``, 0.2 at ``R = 1``).

Image formation (:func:`lens_image`, :func:`simulate`)
-----------------------------------------------------
Both source channels are sampled at ``beta`` by bilinear interpolation
(``jax.scipy.ndimage.map_coordinates``, order 1, ``mode="constant"``: outside the source is
0, and the half pixel beyond the outermost pixel centres blends towards 0, as scipy's
``mode="grid-constant"``). Lensing conserves surface brightness: a pixel's value is the
source's value at ``beta`` (no magnification factor). The velocity is set to 0 where the
lensed flux (before PSF and noise) is below ``flux_mask_threshold``. Then a Gaussian PSF of
``psf_sigma`` pixels blurs both channels (:func:`gaussian_blur`, equal to
``scipy.ndimage.gaussian_filter(..., mode="reflect", truncate=4.0)``, or zero padding), and
:func:`add_noise_and_clip` adds Gaussian noise (``flux_noise_sigma``, ``vel_noise_sigma``),
clips flux to ``flux_clip`` and velocity to ``vel_clip``, and, if ``remask_after_noise``,
zeroes the velocity again on the same (pre-PSF) mask.

Experiments (:data:`EXPERIMENTS`; the macro lens is the SIS at the origin plus shear)

- ``"lensed"``: label 1 = the source lensed by the macro lens; label 0 = the unlensed source
  (sampled on the image grid); same PSF, mask and noise rules.
- ``"subhalo"``: label 0 = macro lens; label 1 = macro lens + subhalo.
- ``"kinematic"`` (the research "kinematic advantage" design): both classes share the flux
  channel of the macro-lens image; label 1 takes its velocity from the macro + subhalo image.
  Both classes mask the velocity with that shared flux, and the noise realisation depends
  only on the key, so for one source and key only the velocity channel differs.

The subhalo sits at radius ``theta_E_main (1 + U[lo, hi])`` (``sub_radius_range``) and a
uniform angle in ``[0, 2 pi)``.

Precision and batching: every function computes in the floating dtype of its image-like
input (the source; the CNN passes float32, the tests float64). Everything is pure JAX with no
Python loop over images: :func:`simulate_batch` draws per-image source indices, labels,
subhalo positions and noise from split keys and runs under ``jit`` (``n``, ``experiment``
static) and ``vmap`` (e.g. over keys).

Configuration as data: a :class:`LensSimConfig` reaches the compiled simulators as a
:class:`SimParams` pytree (:func:`sim_params`) whose numbers are arrays; only the image size,
the subhalo kind and the PSF / noise / re-mask switches are static. Another configuration of
the same size and kind (a sweep over ``theta_E_sub_factor``, ``psf_sigma``, noise levels...)
reuses the compiled programs. Images equal those of the former constant-folded programs to
rounding (float64: a few 1e-15; float32: a few 1e-7, up to ~4e-6 where a bilinear sample sits
on a sharp source edge), since XLA no longer rewrites arithmetic on the constants.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import numbers

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.ndimage import map_coordinates

from jaxfit.core.parallel import constrain_batch, map_batched

EXPERIMENTS = ("lensed", "subhalo", "kinematic")
"""Classification experiments of :func:`simulate` (see the module doc)."""

SUBHALO_KINDS = ("sis", "tnfw", "none")
"""Subhalo profiles of :class:`LensSimConfig`."""

PSF_EDGES = ("reflect", "zero")
"""Edge handling of :func:`gaussian_blur`: scipy.ndimage's ``reflect`` or zero padding."""

METADATA_KEYS = ("source_index", "label", "has_subhalo", "subhalo_x", "subhalo_y")
"""Keys of the metadata dict of :func:`simulate_batch` (each an ``(n,)`` array)."""


def _is_real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def _pair(name, value):
    try:
        lo, hi = (float(v) if _is_real(v) else v for v in value)
    except (TypeError, ValueError):
        raise ValueError(
            f"{name} must be a pair (lo, hi) of finite numbers, got {value!r}"
        ) from None
    if not (_is_real(lo) and _is_real(hi)):
        raise ValueError(f"{name} must be a pair (lo, hi) of finite numbers, got {value!r}")
    return lo, hi


@dataclasses.dataclass(frozen=True)
class LensSimConfig:
    """Settings of the lens simulation (frozen, hashable; the simulators take them as a
    :class:`SimParams` argument, :func:`sim_params`).

    Attributes:
        n_pix: image size N (int >= 4); the image is N x N over ``[-1, 1]^2``.
        theta_E_main: Einstein radius of the macro SIS at the origin (image units, > 0).
        theta_E_sub_factor: ``theta_E_sub = theta_E_sub_factor * theta_E_main`` (>= 0); sets
            the SIS subhalo, and the tNFW mass ``pi theta_E_sub r_t`` (module doc).
        subhalo: one of :data:`SUBHALO_KINDS`.
        sub_radius_range: ``(lo, hi)``, ``0 <= lo <= hi``: the subhalo sits at radius
            ``theta_E_main (1 + U[lo, hi])``.
        tnfw_r_s, tnfw_r_t: tNFW scale and truncation radii (image units, > 0).
        shear_gamma1, shear_gamma2: external shear of the macro lens (finite).
        psf_sigma: Gaussian PSF sigma in pixels (>= 0; 0 = no PSF).
        psf_edge: one of :data:`PSF_EDGES`.
        flux_noise_sigma, vel_noise_sigma: Gaussian noise sigmas (>= 0).
        flux_mask_threshold: velocity is zeroed where the lensed flux is below it (finite;
            <= 0 masks nothing for non-negative flux).
        remask_after_noise: zero the velocity on the same mask again after noise.
        flux_clip, vel_clip: ``(lo, hi)`` clip ranges, ``lo < hi``.
        pixel_scale: arcsec per image unit (> 0; reported only).
        sis_softening: ``alpha = theta_E d/(|d| + sis_softening)`` for both SIS (>= 0;
            0 = exact SIS with a double-where at the centre, 1e-6 = the research code).

    Raises:
        ValueError: naming the field, for an unknown kind, a non-finite or out-of-range
            number, or an ``n_pix`` that is not an int >= 4.
    """

    n_pix: int = 64
    theta_E_main: float = 0.5
    theta_E_sub_factor: float = 0.1
    subhalo: str = "sis"
    sub_radius_range: tuple = (0.1, 0.3)
    tnfw_r_s: float = 0.05
    tnfw_r_t: float = 0.2
    shear_gamma1: float = 0.0
    shear_gamma2: float = 0.0
    psf_sigma: float = 1.0
    psf_edge: str = "reflect"
    flux_noise_sigma: float = 0.08
    vel_noise_sigma: float = 0.03
    flux_mask_threshold: float = 0.1
    remask_after_noise: bool = False
    flux_clip: tuple = (0.0, 1.5)
    vel_clip: tuple = (-1.5, 1.5)
    pixel_scale: float = 1.0
    sis_softening: float = 0.0

    def __post_init__(self):
        n = self.n_pix
        if not isinstance(n, numbers.Integral) or isinstance(n, bool) or n < 4:
            raise ValueError(f"n_pix must be an int >= 4, got {n!r}")
        object.__setattr__(self, "n_pix", int(n))
        if self.subhalo not in SUBHALO_KINDS:
            raise ValueError(
                f"subhalo must be one of {', '.join(SUBHALO_KINDS)}; got {self.subhalo!r}"
            )
        if self.psf_edge not in PSF_EDGES:
            raise ValueError(
                f"psf_edge must be one of {', '.join(PSF_EDGES)}; got {self.psf_edge!r}"
            )
        if not isinstance(self.remask_after_noise, bool):
            raise ValueError(f"remask_after_noise must be a bool, got {self.remask_after_noise!r}")
        real = (
            "theta_E_main", "theta_E_sub_factor", "tnfw_r_s", "tnfw_r_t", "shear_gamma1",
            "shear_gamma2", "psf_sigma", "flux_noise_sigma", "vel_noise_sigma",
            "flux_mask_threshold", "pixel_scale", "sis_softening",
        )  # fmt: skip
        for name in real:
            value = getattr(self, name)
            if not _is_real(value):
                raise ValueError(f"{name} must be a finite real number, got {value!r}")
            object.__setattr__(self, name, float(value))
        for name in ("theta_E_main", "tnfw_r_s", "tnfw_r_t", "pixel_scale"):
            if getattr(self, name) <= 0.0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")
        nonneg = (
            "theta_E_sub_factor", "psf_sigma", "flux_noise_sigma", "vel_noise_sigma",
            "sis_softening",
        )  # fmt: skip
        for name in nonneg:
            if getattr(self, name) < 0.0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)!r}")
        lo, hi = _pair("sub_radius_range", self.sub_radius_range)
        if not 0.0 <= lo <= hi:
            raise ValueError(f"sub_radius_range must satisfy 0 <= lo <= hi, got {(lo, hi)!r}")
        object.__setattr__(self, "sub_radius_range", (lo, hi))
        for name in ("flux_clip", "vel_clip"):
            lo, hi = _pair(name, getattr(self, name))
            if not lo < hi:
                raise ValueError(f"{name} must satisfy lo < hi, got {(lo, hi)!r}")
            object.__setattr__(self, name, (lo, hi))

    @property
    def theta_E_sub(self) -> float:
        """Einstein radius of the SIS subhalo, ``theta_E_sub_factor * theta_E_main``."""
        return self.theta_E_sub_factor * self.theta_E_main

    @property
    def tnfw_mass(self) -> float:
        """Total tNFW subhalo mass ``pi theta_E_sub r_t`` (Sigma_crit x image units^2)."""
        return math.pi * self.theta_E_sub * self.tnfw_r_t

    @property
    def tnfw_kappa_s(self) -> float:
        """``kappa_s`` of the tNFW subhalo with mass :attr:`tnfw_mass` (as
        :func:`tnfw_kappa_s`, in Python floats)."""
        tau = self.tnfw_r_t / self.tnfw_r_s
        t2 = tau * tau
        g_inf = t2 / (t2 + 1.0) ** 2 * ((t2 - 1.0) * math.log(tau) + math.pi * tau - (t2 + 1.0))
        return self.tnfw_mass / (4.0 * math.pi * self.tnfw_r_s**2 * g_inf)

    @property
    def pixel_size(self) -> float:
        """Pixel size in image units, ``2 / n_pix``."""
        return 2.0 / self.n_pix

    @property
    def pixel_size_arcsec(self) -> float:
        """Pixel size in arcsec, ``2 pixel_scale / n_pix``."""
        return self.pixel_scale * self.pixel_size


DEFAULT_CONFIG = LensSimConfig()


_SIM_NUMBERS = (
    "theta_E_main", "theta_E_sub", "radius_offset", "radius_width", "tnfw_kappa_s",
    "tnfw_r_s", "tnfw_r_t", "shear_gamma1", "shear_gamma2", "sis_softening",
    "flux_noise_sigma", "vel_noise_sigma", "flux_mask_threshold", "flux_clip", "vel_clip",
    "psf",
)  # fmt: skip


@functools.partial(jax.tree_util.register_dataclass, data_fields=list(_SIM_NUMBERS),
                   meta_fields=["n_pix", "subhalo", "blur", "noisy", "remask_after_noise"])
@dataclasses.dataclass(frozen=True, eq=False)
class SimParams:
    """A :class:`LensSimConfig` as the simulator's argument (a pytree; :func:`sim_params`).

    The numbers are arrays, so compiled simulators and training steps are reused by every
    configuration of the same image size and kind; only what changes shapes or which code
    runs is static. Quantities the simulator derives from several fields are computed here
    once, on the host in float64, exactly as the simulator computed them from Python floats
    (so images do not change).

    Attributes (arrays, float64 until :meth:`astype`; image units unless noted):
        theta_E_main, theta_E_sub: Einstein radii of the macro SIS and the SIS subhalo.
        radius_offset, radius_width: ``1 + lo`` and ``hi - lo`` of ``sub_radius_range``
            (the subhalo radius is ``theta_E_main (radius_offset + radius_width U)``).
        tnfw_kappa_s, tnfw_r_s, tnfw_r_t: the tNFW subhalo (``kappa_s`` dimensionless).
        shear_gamma1, shear_gamma2, sis_softening: as in :class:`LensSimConfig`.
        flux_noise_sigma, vel_noise_sigma, flux_mask_threshold: as in the config.
        flux_clip, vel_clip: ``(lo, hi)``, shape (2,).
        psf: ``(n_pix, n_pix)`` Gaussian blur matrix of ``psf_sigma`` and ``psf_edge``
            (:func:`blur_matrix`; the identity without a PSF).

    Static: ``n_pix``, ``subhalo`` (kind), ``blur`` (``psf_sigma > 0``), ``noisy`` (a noise
    sigma > 0) and ``remask_after_noise``.
    """

    theta_E_main: jax.Array
    theta_E_sub: jax.Array
    radius_offset: jax.Array
    radius_width: jax.Array
    tnfw_kappa_s: jax.Array
    tnfw_r_s: jax.Array
    tnfw_r_t: jax.Array
    shear_gamma1: jax.Array
    shear_gamma2: jax.Array
    sis_softening: jax.Array
    flux_noise_sigma: jax.Array
    vel_noise_sigma: jax.Array
    flux_mask_threshold: jax.Array
    flux_clip: jax.Array
    vel_clip: jax.Array
    psf: jax.Array
    n_pix: int = 64
    subhalo: str = "sis"
    blur: bool = True
    noisy: bool = True
    remask_after_noise: bool = False

    def astype(self, dtype) -> SimParams:
        """The numbers in ``dtype`` (the image's), as the simulator's Python floats were
        rounded to it, so a float32 image is computed in float32."""
        return dataclasses.replace(
            self, **{k: jnp.asarray(getattr(self, k), dtype) for k in _SIM_NUMBERS})


def sim_params(config: LensSimConfig | SimParams) -> SimParams:
    """The :class:`SimParams` of a configuration (a :class:`SimParams` is returned as is)."""
    if isinstance(config, SimParams):
        return config
    if not isinstance(config, LensSimConfig):
        raise ValueError(f"config: expected a LensSimConfig, got {type(config).__name__}")
    lo, hi = config.sub_radius_range
    blur = config.psf_sigma > 0
    psf = (blur_matrix(config.n_pix, config.psf_sigma, config.psf_edge) if blur
           else np.eye(config.n_pix))
    numbers = {
        "theta_E_main": config.theta_E_main,
        "theta_E_sub": config.theta_E_sub,
        "radius_offset": 1.0 + lo,
        "radius_width": hi - lo,
        "tnfw_kappa_s": config.tnfw_kappa_s,
        "tnfw_r_s": config.tnfw_r_s,
        "tnfw_r_t": config.tnfw_r_t,
        "shear_gamma1": config.shear_gamma1,
        "shear_gamma2": config.shear_gamma2,
        "sis_softening": config.sis_softening,
        "flux_noise_sigma": config.flux_noise_sigma,
        "vel_noise_sigma": config.vel_noise_sigma,
        "flux_mask_threshold": config.flux_mask_threshold,
        "flux_clip": config.flux_clip,
        "vel_clip": config.vel_clip,
        "psf": psf,
    }
    return SimParams(
        **{k: np.asarray(v, dtype=np.float64) for k, v in numbers.items()},
        n_pix=config.n_pix,
        subhalo=config.subhalo,
        blur=bool(blur),
        noisy=bool(config.flux_noise_sigma > 0 or config.vel_noise_sigma > 0),
        remask_after_noise=config.remask_after_noise,
    )


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
    if not isinstance(n_pix, numbers.Integral) or isinstance(n_pix, bool) or n_pix < 1:
        raise ValueError(f"n_pix must be a positive int, got {n_pix!r}")
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


def sample_source(source, beta):
    """Bilinear samples of every source channel at source-plane angles ``beta``.

    Args:
        source: ``(C, H, W)`` maps over ``[-1, 1]^2`` with :func:`image_grid`'s convention
            (pixel ``[i, j]`` at ``x_j = -1 + (2j+1)/W``, ``y_i = -1 + (2i+1)/H``).
        beta: ``(2, ...)`` angles (x, y) in image units.

    Returns:
        ``(C, ...)``: ``map_coordinates(order=1, mode="constant", cval=0)`` at the fractional
        pixel indices ``col = (x + 1) W/2 - 1/2``, ``row = (y + 1) H/2 - 1/2``; 0 outside.
    """
    source = jnp.asarray(source)
    beta = jnp.asarray(beta, dtype=source.dtype)
    h, w = source.shape[-2:]
    coords = [(beta[1] + 1.0) * (h / 2.0) - 0.5, (beta[0] + 1.0) * (w / 2.0) - 0.5]
    sample = functools.partial(map_coordinates, order=1, mode="constant", cval=0.0)
    return jax.vmap(lambda channel: sample(channel, coords))(source)


# ------------------------------------------------------------------------------- PSF
def gaussian_kernel1d(sigma: float, truncate: float = 4.0) -> np.ndarray:
    """Normalised Gaussian taps of ``scipy.ndimage.gaussian_filter1d``: radius
    ``int(truncate * sigma + 0.5)``, weights ``exp(-x^2 / (2 sigma^2))`` / sum."""
    radius = int(truncate * float(sigma) + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    w = np.exp(-0.5 * (x / float(sigma)) ** 2)
    return w / w.sum()


def blur_matrix(n: int, sigma: float, edge: str = "reflect", truncate: float = 4.0):
    """``(n, n)`` matrix ``B`` with ``B @ v`` = the 1-D Gaussian filter of ``v`` (numpy).

    The taps of :func:`gaussian_kernel1d` are folded onto the ``n`` samples by the edge
    rule: ``"reflect"`` maps index ``j`` to ``j mod 2n`` mirrored (``d c b a | a b c d |
    d c b a``, scipy's ``reflect`` at any distance), ``"zero"`` drops indices outside.
    """
    taps = gaussian_kernel1d(sigma, truncate)
    radius = (len(taps) - 1) // 2
    rows = np.repeat(np.arange(n), len(taps))
    cols = (np.arange(n)[:, None] + np.arange(-radius, radius + 1)[None, :]).ravel()
    weights = np.tile(taps, n)
    if edge == "reflect":
        cols = np.mod(cols, 2 * n)
        cols = np.where(cols >= n, 2 * n - 1 - cols, cols)
    else:
        keep = (cols >= 0) & (cols < n)
        rows, cols, weights = rows[keep], cols[keep], weights[keep]
    matrix = np.zeros((n, n))
    np.add.at(matrix, (rows, cols), weights)
    return matrix


def gaussian_blur(image, sigma: float, edge: str = "reflect", truncate: float = 4.0):
    """Separable Gaussian blur of the last two axes of ``image`` (sigma in pixels), as two
    products with the banded matrices of :func:`blur_matrix` (``B_y image B_x^T``).

    Equals ``scipy.ndimage.gaussian_filter(image, (0,..., sigma, sigma), truncate=truncate,
    mode="reflect")`` for ``edge="reflect"`` (half-sample symmetric, ``d c b a | a b c d``)
    and ``mode="constant", cval=0`` for ``edge="zero"``. ``sigma`` and ``truncate`` are
    static Python numbers; ``sigma = 0`` returns the image unchanged.
    """
    if not _is_real(sigma) or sigma < 0:
        raise ValueError(f"sigma must be a finite number >= 0, got {sigma!r}")
    if edge not in PSF_EDGES:
        raise ValueError(f"edge must be one of {', '.join(PSF_EDGES)}; got {edge!r}")
    image = jnp.asarray(image)
    if sigma == 0:
        return image
    h, w = image.shape[-2:]
    return _blur_with(image, blur_matrix(h, sigma, edge, truncate),
                      blur_matrix(w, sigma, edge, truncate))


def _blur_with(image, b_rows, b_cols):
    """``B_rows image B_cols^T`` over the last two axes, the matrices in the image's dtype."""
    b_rows, b_cols = (jnp.asarray(b, image.dtype) for b in (b_rows, b_cols))
    highest = jax.lax.Precision.HIGHEST  # no TF32/bf16 shortcuts on GPUs
    out = jnp.einsum("ij,...jk->...ik", b_rows, image, precision=highest)
    return jnp.einsum("...ik,lk->...il", out, b_cols, precision=highest)


# ------------------------------------------------------------------- image formation
def _render(source, beta_flux, beta_vel, p: SimParams):
    """Sample flux at ``beta_flux`` and velocity at ``beta_vel``; zero the velocity where
    the flux is below the threshold. Returns (image (2, N, N), velocity mask)."""
    if beta_vel is beta_flux:
        image = sample_source(source[:2], beta_flux)
        flux, vel = image[0], image[1]
    else:
        flux = sample_source(source[:1], beta_flux)[0]
        vel = sample_source(source[1:2], beta_vel)[0]
    mask = flux < p.flux_mask_threshold
    return jnp.stack([flux, jnp.where(mask, 0.0, vel)]), mask


def add_noise_and_clip(image, key, config: LensSimConfig | SimParams, vel_mask=None):
    """Gaussian noise (``flux_noise_sigma``, ``vel_noise_sigma``), clip flux to
    ``flux_clip`` and velocity to ``vel_clip``; with ``remask_after_noise`` the velocity is
    zeroed again where ``vel_mask`` (the pre-PSF flux mask) is true.

    Args:
        image: ``(..., 2, N, N)`` flux and velocity.
        key: PRNG key (may be None when both sigmas are 0).
        vel_mask: boolean ``(..., N, N)``; required if ``config.remask_after_noise``.
    """
    image = jnp.asarray(image)
    dtype = _float_dtype(image)
    image = image.astype(dtype)
    p = sim_params(config).astype(dtype)
    flux, vel = image[..., 0, :, :], image[..., 1, :, :]
    if p.noisy:
        if key is None:
            raise ValueError("key is required when a noise sigma is > 0")
        noise = jax.random.normal(key, image.shape, dtype)  # one draw for both channels
        flux = flux + p.flux_noise_sigma * noise[..., 0, :, :]
        vel = vel + p.vel_noise_sigma * noise[..., 1, :, :]
    flux = jnp.clip(flux, p.flux_clip[0], p.flux_clip[1])
    vel = jnp.clip(vel, p.vel_clip[0], p.vel_clip[1])
    if p.remask_after_noise:
        if vel_mask is None:
            raise ValueError("vel_mask is required when config.remask_after_noise is True")
        vel = jnp.where(vel_mask, 0.0, vel)
    return jnp.stack([flux, vel], axis=-3)


def _check_source(source, name="source"):
    shape = getattr(source, "shape", None)
    if shape is None or len(shape) != 3 or shape[0] != 2 or shape[1] < 2 or shape[2] < 2:
        raise ValueError(f"{name} must have shape (2, H, W) with H, W >= 2, got {shape}")
    if not jnp.issubdtype(source.dtype, jnp.floating):
        raise ValueError(f"{name} must be a floating array, got dtype {source.dtype}")


def lens_image(
    source,
    config: LensSimConfig | SimParams,
    key=None,
    subhalo_position=None,
    with_subhalo: bool = True,
    apply_psf: bool = True,
    return_mask: bool = False,
):
    """Noise-free lensed image of one source: macro lens (+ subhalo), velocity mask, PSF.

    Args:
        source: ``(2, H, W)`` flux and velocity over ``[-1, 1]^2`` (floating; sets dtype).
        config: :class:`LensSimConfig` (or its :class:`SimParams`; the numbers are traced,
            so other configurations of the same size reuse the compiled program).
        key: PRNG key for the subhalo position (used only if ``subhalo_position`` is None).
        subhalo_position: (2,) subhalo centre (image units).
        with_subhalo: include the configured subhalo (ignored for ``subhalo="none"``).
        apply_psf: blur with ``config.psf_sigma``.
        return_mask: also return the boolean velocity mask (N, N).

    Returns:
        ``(2, n_pix, n_pix)`` image (and the mask).
    """
    _check_source(source)
    return _lens_image(source, sim_params(config), key, subhalo_position,
                       with_subhalo=with_subhalo, apply_psf=apply_psf, return_mask=return_mask)


@functools.partial(jax.jit, static_argnames=("with_subhalo", "apply_psf", "return_mask"))
def _lens_image(source, sim: SimParams, key, subhalo_position, with_subhalo, apply_psf,
                return_mask):
    dtype = source.dtype
    p = sim.astype(dtype)
    theta = image_grid(p.n_pix, dtype)
    alphas = [macro_deflection(theta, p)]
    if with_subhalo and p.subhalo != "none":
        if subhalo_position is None:
            if key is None:
                raise ValueError("lens_image needs a key or a subhalo_position")
            subhalo_position = draw_subhalo_position(key, p, dtype)
        alphas.append(subhalo_deflection(theta, subhalo_position, p))
    beta = ray_trace(theta, *alphas)
    image, mask = _render(source, beta, beta, p)
    if apply_psf and p.blur:
        image = _blur_with(image, p.psf, p.psf)
    return (image, mask) if return_mask else image


def _check_experiment(experiment):
    if experiment not in EXPERIMENTS:
        raise ValueError(f"experiment must be one of {', '.join(EXPERIMENTS)}; got {experiment!r}")


def _simulate(key, source, sim: SimParams, label, experiment: str):
    """One image of ``experiment`` for a (traced) ``label`` in {0, 1}; see :func:`simulate`."""
    dtype = source.dtype
    p = sim.astype(dtype)
    k_pos, k_noise = jax.random.split(key)
    theta = image_grid(p.n_pix, dtype)
    lab = jnp.asarray(label).astype(dtype)
    use_sub = experiment != "lensed" and p.subhalo != "none"
    position = draw_subhalo_position(k_pos, p, dtype)
    if experiment == "lensed":
        beta_flux = beta_vel = ray_trace(theta, lab * macro_deflection(theta, p))
    else:
        beta_flux = ray_trace(theta, macro_deflection(theta, p))
        beta_sub = beta_flux
        if use_sub:
            beta_sub = ray_trace(beta_flux, lab * subhalo_deflection(theta, position, p))
        if experiment == "subhalo":
            beta_flux = beta_vel = beta_sub
        else:
            beta_vel = beta_sub
    image, mask = _render(source, beta_flux, beta_vel, p)
    if p.blur:
        image = _blur_with(image, p.psf, p.psf)
    image = add_noise_and_clip(image, k_noise, p, mask)
    has_sub = jnp.logical_and(use_sub, jnp.asarray(label) == 1)
    nan = jnp.asarray(jnp.nan, dtype)
    meta = {
        "has_subhalo": has_sub,
        "subhalo_x": jnp.where(has_sub, position[0], nan),
        "subhalo_y": jnp.where(has_sub, position[1], nan),
    }
    return image, meta


def simulate(key, source, config: LensSimConfig | SimParams, label,
             experiment: str = "lensed"):
    """One simulated image with the given label (see the module doc for the experiments).

    Args:
        key: PRNG key; split into the subhalo position and the noise (the same key gives
            the same position and noise for either label).
        source: ``(2, H, W)`` floating source (its dtype is the computation's dtype).
        config: :class:`LensSimConfig` (or :class:`SimParams`): an argument of the compiled
            program, whose size, subhalo kind and flags (:class:`SimParams`) are static.
        label: int 0 or 1 (may be traced).
        experiment: one of :data:`EXPERIMENTS` (static).

    Returns:
        ``(image (2, n_pix, n_pix), metadata)`` with scalar ``has_subhalo``, ``subhalo_x``,
        ``subhalo_y`` (NaN without a subhalo).
    """
    _check_source(source)
    _check_experiment(experiment)
    return _simulate_jit(key, source, sim_params(config), label, experiment)


_simulate_jit = jax.jit(_simulate, static_argnames="experiment")


def _check_batch(sources, n, experiment):
    shape = getattr(sources, "shape", None)
    if shape is None or len(shape) != 4 or shape[0] < 1 or shape[1] != 2 or min(shape[2:]) < 2:
        raise ValueError(f"sources must have shape (S, 2, H, W) with S >= 1, got {shape}")
    if not jnp.issubdtype(sources.dtype, jnp.floating):
        raise ValueError(f"sources must be a floating array, got dtype {sources.dtype}")
    if not isinstance(n, numbers.Integral) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be an int >= 1, got {n!r}")
    _check_experiment(experiment)


def _draws(key, n_sources: int, n: int):
    """Per-image keys, source indices and labels of a batch of ``n`` (one rule for
    :func:`simulate_batch` and :func:`simulate_many`, so the same key gives the same images)."""
    k_src, k_lab, k_img = jax.random.split(key, 3)
    index = jax.random.randint(k_src, (n,), 0, n_sources, dtype=jnp.int32)
    labels = jax.random.randint(k_lab, (n,), 0, 2, dtype=jnp.int32)
    return jax.random.split(k_img, n), index, labels


def simulate_batch(key, sources, config: LensSimConfig | SimParams, n: int,
                   experiment: str = "lensed"):
    """A batch of ``n`` labelled images, generated on the device without host round trips.

    Each image draws a source index uniformly from ``range(S)``, a label uniformly from
    {0, 1} and its own key (subhalo position, noise). Augmentation (rot90, flips) is left to
    the CNN. For more images than fit in memory at once use :func:`simulate_many`.

    Args:
        key: PRNG key.
        sources: ``(S, 2, H, W)`` floating sources (their dtype is the output dtype).
        config: :class:`LensSimConfig` (or :class:`SimParams`), an argument of the compiled
            program: another configuration of the same size and kind compiles nothing new.
        n: static batch size (int >= 1).
        experiment: one of :data:`EXPERIMENTS` (static).

    Returns:
        ``(images (n, 2, n_pix, n_pix), labels (n,) int32, metadata)``; metadata holds the
        ``(n,)`` arrays of :data:`METADATA_KEYS` (``subhalo_x``/``_y`` NaN without one).

    Raises:
        ValueError: naming ``sources``, ``n`` or ``experiment`` when malformed.
    """
    _check_batch(sources, n, experiment)
    return _simulate_batch(key, sources, sim_params(config), n=n, experiment=experiment)


@functools.partial(jax.jit, static_argnames=("n", "experiment"))
def _simulate_batch(key, sources, sim: SimParams, n: int, experiment: str):
    # the images are independent: spread them over the local devices (no-op on one)
    keys, index, labels = constrain_batch(_draws(key, sources.shape[0], n))

    def one(k, i, label):
        return _simulate(k, sources[i], sim, label, experiment)

    images, meta = jax.vmap(one)(keys, index, labels)
    return images, labels, {"source_index": index, "label": labels, **meta}


def _simulate_item(item, shared, experiment: str):
    """``((key data, source index, label), (sources, sim)) -> (image, metadata)`` for
    :func:`~jaxfit.core.parallel.map_batched`."""
    key_data, i, label = item
    sources, sim = shared
    return _simulate(jax.random.wrap_key_data(key_data), sources[i], sim, label, experiment)


# one function object per experiment, built once: map_batched caches compiled programs on it
_SIMULATE_ITEM = {e: functools.partial(_simulate_item, experiment=e) for e in EXPERIMENTS}


def simulate_many(key, sources, config: LensSimConfig, n: int, experiment: str = "lensed", *,
                  chunk_size: int | None = None, devices=None, progress: bool = True):
    """The images of :func:`simulate_batch` with the same ``key`` (equal to float32
    rounding), computed in chunks over all local devices and returned on the host: for
    research-scale sets (10^5 images of 64x64x2 are 3.3 GB in float32).

    Args:
        key, sources, config, n, experiment: as :func:`simulate_batch`.
        chunk_size: images per compiled call; default from the device's free memory
            (:func:`~jaxfit.core.parallel.map_batched`).
        devices: devices to shard over (default: all local devices).
        progress: progress bar over the chunks.

    Returns:
        ``(images (n, 2, n_pix, n_pix), labels (n,), metadata)`` as numpy arrays.
    """
    _check_batch(sources, n, experiment)
    keys, index, labels = _draws(key, sources.shape[0], n)
    # the sources and the configuration's numbers are arguments of the compiled program, so
    # another configuration of the same size and kind compiles nothing new
    images, meta = map_batched(
        _SIMULATE_ITEM[experiment], (jax.random.key_data(keys), index, labels),
        shared=(jnp.asarray(sources), sim_params(config)), chunk_size=chunk_size,
        devices=devices, description="simulating images", progress=progress)
    labels = np.asarray(labels)
    return images, labels, {"source_index": np.asarray(index), "label": labels, **meta}
