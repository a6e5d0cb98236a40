"""The lens simulator's parameters: declared once, then seen in two forms.

- :data:`SIM_PARAMS`, a :class:`~jaxfit.core.params.ParamSpec`: every physical number of the
  simulation with its default, bounds, unit and meaning. Nothing else states them.
- :class:`LensSimConfig`: what a user writes, frozen and hashable. Its number fields take
  their defaults from :data:`SIM_PARAMS` and are checked against its bounds; the other
  fields say which code runs (image size, subhalo kind, PSF edge rule, re-masking) or are
  ``(lo, hi)`` ranges.
- :class:`SimParams`: the same configuration as the argument of the compiled simulators, a
  pytree built by :func:`sim_params`.

Units: angles, Einstein radii and the tNFW radii are in *image units* (the image spans
``[-1, 1]^2``; :mod:`jaxfit.lensing.model`), the PSF sigma in pixels, the noise sigmas,
mask threshold and clip ranges in the units of the normalised source channels (flux in
[0, 1], velocity in [-1, 1]; :mod:`jaxfit.lensing.sources`); convergence and shear are
dimensionless. ``pixel_scale`` (arcsec per image unit) is reported only: no physics
depends on it.

Configuration as data: the numbers of :class:`SimParams` are arrays, only the image size,
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

import jax
import jax.numpy as jnp
import numpy as np

from jaxfit.core import checks
from jaxfit.core.params import Param, ParamSpec
from jaxfit.lensing.psf import PSF_EDGES, blur_matrix

__all__ = [
    "DEFAULT_CONFIG",
    "EXPERIMENTS",
    "LensSimConfig",
    "PSF_EDGES",
    "SIM_PARAMS",
    "SUBHALO_KINDS",
    "SimParams",
    "sim_params",
]

EXPERIMENTS = ("lensed", "subhalo", "kinematic")
"""Classification experiments of :func:`jaxfit.lensing.simulate.simulate`."""

SUBHALO_KINDS = ("sis", "tnfw", "none")
"""Subhalo profiles of :class:`LensSimConfig`."""

_INF = math.inf
SIM_PARAMS = ParamSpec([
    Param("theta_E_main", 0.5, 0.0, _INF, unit="image units",
          doc="Einstein radius of the macro SIS at the origin (> 0)"),
    Param("theta_E_sub_factor", 0.1, 0.0, _INF, unit="",
          doc="theta_E_sub / theta_E_main: the SIS subhalo, and the tNFW mass "
              "pi theta_E_sub r_t"),
    Param("tnfw_r_s", 0.05, 0.0, _INF, unit="image units",
          doc="scale radius of the truncated-NFW subhalo (> 0)"),
    Param("tnfw_r_t", 0.2, 0.0, _INF, unit="image units",
          doc="truncation radius of the truncated-NFW subhalo (> 0)"),
    Param("shear_gamma1", 0.0, unit="", doc="external shear of the macro lens, gamma_1"),
    Param("shear_gamma2", 0.0, unit="", doc="external shear of the macro lens, gamma_2"),
    Param("psf_sigma", 1.0, 0.0, _INF, unit="pixels",
          doc="Gaussian PSF sigma (0: no PSF)"),
    Param("flux_noise_sigma", 0.08, 0.0, _INF, unit="normalised flux",
          doc="Gaussian noise sigma of the flux channel"),
    Param("vel_noise_sigma", 0.03, 0.0, _INF, unit="normalised velocity",
          doc="Gaussian noise sigma of the velocity channel"),
    Param("flux_mask_threshold", 0.1, unit="normalised flux",
          doc="the velocity is zeroed where the lensed flux is below it (<= 0: no mask)"),
    Param("pixel_scale", 1.0, 0.0, _INF, unit="arcsec / image unit",
          doc="angular scale of the image (> 0; reported only)"),
    Param("sis_softening", 0.0, 0.0, _INF, unit="image units",
          doc="alpha = theta_E d / (|d| + softening) for both SIS (0: exact; research "
              "code: 1e-6)"),
])
"""The simulator's physical numbers (bounds closed, except the lengths that say ``> 0``)."""

_POSITIVE = ("theta_E_main", "tnfw_r_s", "tnfw_r_t", "pixel_scale")
"""Parameters whose lower bound 0 is excluded: a lens or a scale of zero size."""


def _default(name: str) -> float:
    return SIM_PARAMS[name].default


def _checked(p: Param, value) -> float:
    """``value`` of parameter ``p`` as a float inside its bounds (ValueError naming it)."""
    if p.name in _POSITIVE:
        return checks.real(value, p.name, positive=True)
    return checks.real(value, p.name, low=None if math.isinf(p.lower) else p.lower,
                       high=None if math.isinf(p.upper) else p.upper)


def _pair(name: str, value) -> tuple[float, float]:
    """``(lo, hi)`` of two finite numbers."""
    message = f"{name} must be a pair (lo, hi) of finite numbers, got {value!r}"
    try:
        lo, hi = value
        return checks.real(lo, name), checks.real(hi, name)
    except (TypeError, ValueError):
        raise ValueError(message) from None


@dataclasses.dataclass(frozen=True)
class LensSimConfig:
    """Settings of the lens simulation (frozen, hashable; the simulators take them as a
    :class:`SimParams` argument, :func:`sim_params`).

    The number fields are the parameters of :data:`SIM_PARAMS` (defaults, bounds, units and
    meaning there): ``theta_E_main``, ``theta_E_sub_factor``, ``tnfw_r_s``, ``tnfw_r_t``,
    ``shear_gamma1``, ``shear_gamma2``, ``psf_sigma``, ``flux_noise_sigma``,
    ``vel_noise_sigma``, ``flux_mask_threshold``, ``pixel_scale``, ``sis_softening``.
    The others:

    Attributes:
        n_pix: image size N (int >= 4); the image is N x N over ``[-1, 1]^2``.
        subhalo: one of :data:`SUBHALO_KINDS`.
        sub_radius_range: ``(lo, hi)``, ``0 <= lo <= hi``: the subhalo sits at radius
            ``theta_E_main (1 + U[lo, hi])``.
        psf_edge: one of :data:`PSF_EDGES`.
        remask_after_noise: zero the velocity on the same mask again after noise.
        flux_clip, vel_clip: ``(lo, hi)`` clip ranges, ``lo < hi``.

    Raises:
        ValueError: naming the field, for an unknown kind, a non-finite or out-of-range
            number, or an ``n_pix`` that is not an int >= 4.
    """

    n_pix: int = 64
    theta_E_main: float = _default("theta_E_main")
    theta_E_sub_factor: float = _default("theta_E_sub_factor")
    subhalo: str = "sis"
    sub_radius_range: tuple = (0.1, 0.3)
    tnfw_r_s: float = _default("tnfw_r_s")
    tnfw_r_t: float = _default("tnfw_r_t")
    shear_gamma1: float = _default("shear_gamma1")
    shear_gamma2: float = _default("shear_gamma2")
    psf_sigma: float = _default("psf_sigma")
    psf_edge: str = "reflect"
    flux_noise_sigma: float = _default("flux_noise_sigma")
    vel_noise_sigma: float = _default("vel_noise_sigma")
    flux_mask_threshold: float = _default("flux_mask_threshold")
    remask_after_noise: bool = False
    flux_clip: tuple = (0.0, 1.5)
    vel_clip: tuple = (-1.5, 1.5)
    pixel_scale: float = _default("pixel_scale")
    sis_softening: float = _default("sis_softening")

    def __post_init__(self):
        object.__setattr__(self, "n_pix", checks.count(self.n_pix, "n_pix", minimum=4))
        checks.one_of(self.subhalo, "subhalo", SUBHALO_KINDS)
        checks.one_of(self.psf_edge, "psf_edge", PSF_EDGES)
        if not isinstance(self.remask_after_noise, bool):  # 1 for True is a typo, not a flag
            raise ValueError(f"remask_after_noise must be a bool, got {self.remask_after_noise!r}")
        for p in SIM_PARAMS.params:
            object.__setattr__(self, p.name, _checked(p, getattr(self, p.name)))
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
        :func:`jaxfit.lensing.model.tnfw_kappa_s`, in Python floats)."""
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
        shear_gamma1, shear_gamma2, sis_softening: as in :data:`SIM_PARAMS`.
        flux_noise_sigma, vel_noise_sigma, flux_mask_threshold: as in :data:`SIM_PARAMS`.
        flux_clip, vel_clip: ``(lo, hi)``, shape (2,).
        psf: ``(n_pix, n_pix)`` Gaussian blur matrix of ``psf_sigma`` and ``psf_edge``
            (:func:`~jaxfit.lensing.psf.blur_matrix`; the identity without a PSF).

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
    checks.instance(config, "config", LensSimConfig)
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
