"""Synthetic MaNGA-like galaxies: rotating discs as raw maps and as source tensors.

No download needed (:func:`synthetic_maps`, :func:`synthetic_source`,
:func:`synthetic_sources`; :func:`jaxfit.lensing.fits_io.write_maps_fits` writes them as MAPS
files). Geometry in units of the field half-width (the field spans [-1, 1]^2, like the image
plane of the ray tracer). With the position angle ``pa`` (counter-clockwise from +x to the
receding major axis) and the inclination ``i``, the disc-plane coordinates are
``x_d = x cos(pa) + y sin(pa)``, ``y_d = (-x sin(pa) + y cos(pa)) / cos(i)``,
``r = hypot(x_d, y_d)``, ``cos(phi) = x_d / r``. Flux: ``flux_peak exp(-r / r_d)`` plus
``n_clumps`` circular Gaussian clumps placed in the disc plane; velocity: the arctan rotation
curve ``v(r) = (2/pi) v_max arctan(r / r_turn)`` projected, ``v_los = v(r) sin(i) cos(phi)``
(gas; stars rotate at ``stellar_fraction`` of it); ``r/R_e`` with ``R_e = 1.678 r_d``
(half-light radius of an exponential disc). Values are rounded to float32 like a DAP file, so
a write/read round trip is exact.
"""

from __future__ import annotations

import numpy as np

from jaxfit.core import checks
from jaxfit.lensing.manga import HALPHA, MapsData
from jaxfit.lensing.sources import source_tensor

__all__ = ["SYNTHETIC_RANGES", "synthetic_maps", "synthetic_source", "synthetic_sources"]

_NOCOV_DONOTUSE = (1 << 0) | (1 << 30)  # MANGA_DAPPIXMASK: NOCOV + DONOTUSE
_R_E_OVER_R_D = 1.678  # half-light radius of an exponential disc, in scale lengths

SYNTHETIC_RANGES = {
    "inclination": (30.0, 75.0),  # degrees
    "position_angle": (0.0, 360.0),  # degrees
    "r_d": (0.15, 0.35),  # field half-widths
    "v_max": (120.0, 280.0),  # km/s
    "r_turn": (0.04, 0.20),  # field half-widths
    "n_clumps": (0, 5),  # integers, inclusive
}
"""Uniform ranges of the geometry that :func:`synthetic_maps` draws when not given."""


def _draw(rng, name, value):
    if value is not None:
        return value
    lo, hi = SYNTHETIC_RANGES[name]
    if name == "n_clumps":
        return int(rng.integers(lo, hi + 1))
    return float(rng.uniform(lo, hi))


def _hexagon(x, y, radius):
    inside = np.ones(x.shape, dtype=bool)
    for angle in (np.pi / 6, np.pi / 2, 5 * np.pi / 6):
        inside &= np.abs(x * np.cos(angle) + y * np.sin(angle)) <= radius * np.cos(np.pi / 6)
    return inside


def synthetic_maps(rng_or_seed=0, n_spaxel: int = 42, *, inclination: float | None = None,
                   position_angle: float | None = None, r_d: float | None = None,
                   v_max: float | None = None, r_turn: float | None = None,
                   n_clumps: int | None = None, flux_peak: float = 300.0,
                   stellar_fraction: float = 0.8, flux_noise: float = 1.0,
                   vel_noise: float = 5.0, footprint: float | None = 0.95,
                   pixel_scale: float = 0.5, plateifu: str = "0-0") -> MapsData:
    """Raw maps of a synthetic rotating disc galaxy, in MaNGA-like units.

    Args:
        rng_or_seed: a ``numpy.random.Generator`` or a seed (geometry, clumps and noise).
        n_spaxel: map size (``n_spaxel x n_spaxel``; the real 7815-3702 file has 42).
        inclination: degrees, [0, 85] (None: drawn from :data:`SYNTHETIC_RANGES`).
        position_angle: degrees, counter-clockwise from +x to the receding major axis.
        r_d: exponential scale length, field half-widths (field = [-1, 1]^2).
        v_max: asymptotic rotation speed of ``(2/pi) v_max arctan(r / r_turn)``, km/s.
        r_turn: turnover radius, field half-widths.
        n_clumps: number of Gaussian star-forming clumps.
        flux_peak: central line flux, 1e-17 erg/s/cm^2/spaxel.
        stellar_fraction: stellar rotation as a fraction of the gas rotation.
        flux_noise, vel_noise: Gaussian noise sigmas (flux units, km/s); 0 = none.
        footprint: circumradius of the hexagonal IFU footprint in field half-widths (outside:
            value 0, mask NOCOV|DONOTUSE); None: the whole field is covered.
        pixel_scale: arcsec per spaxel (MaNGA: 0.5), for ``REFF`` in the header.
        plateifu: label written as ``PLATEIFU``.

    Returns:
        :class:`MapsData` (gas velocity = the projected rotation curve + noise; inverse
        variances ``1/sigma^2``, 1e30 for sigma 0); the header records the geometry.
    """
    rng = np.random.default_rng(rng_or_seed)
    n_spaxel = checks.count(n_spaxel, "n_spaxel", minimum=2)
    # drawn in this order whatever is given, so a seed gives one galaxy
    inc = checks.real(_draw(rng, "inclination", inclination), "inclination [degrees]",
                      low=0.0, high=85.0)
    pa = checks.real(_draw(rng, "position_angle", position_angle), "position_angle [degrees]")
    r_d = checks.real(_draw(rng, "r_d", r_d), "r_d", positive=True)
    v_max = checks.real(_draw(rng, "v_max", v_max), "v_max [km/s]", nonnegative=True)
    r_turn = checks.real(_draw(rng, "r_turn", r_turn), "r_turn", positive=True)
    n_clumps = checks.count(_draw(rng, "n_clumps", n_clumps), "n_clumps", minimum=0)
    flux_peak = checks.real(flux_peak, "flux_peak", positive=True)
    flux_noise = checks.real(flux_noise, "flux_noise", nonnegative=True)
    vel_noise = checks.real(vel_noise, "vel_noise [km/s]", nonnegative=True)

    centres = (np.arange(n_spaxel) + 0.5) * (2.0 / n_spaxel) - 1.0
    y, x = np.meshgrid(centres, centres, indexing="ij")  # y: row, x: column
    i, p = np.radians(inc), np.radians(pa)
    xd = x * np.cos(p) + y * np.sin(p)
    yd = (-x * np.sin(p) + y * np.cos(p)) / np.cos(i)
    r = np.hypot(xd, yd)
    cos_phi = np.where(r > 0, xd / np.where(r > 0, r, 1.0), 0.0)
    v_rot = (2.0 / np.pi) * v_max * np.arctan(r / r_turn)
    v_los = v_rot * np.sin(i) * cos_phi

    flux = flux_peak * np.exp(-r / r_d)
    for _ in range(n_clumps):
        radius = rng.uniform(0.5, 2.5) * r_d
        theta = rng.uniform(0.0, 2 * np.pi)
        amp = rng.uniform(0.15, 0.5) * flux_peak
        sigma = rng.uniform(0.03, 0.08)
        cx_d, cy_d = radius * np.cos(theta), radius * np.sin(theta) * np.cos(i)
        cx = cx_d * np.cos(p) - cy_d * np.sin(p)
        cy = cx_d * np.sin(p) + cy_d * np.cos(p)
        flux = flux + amp * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * sigma**2))

    shape = (n_spaxel, n_spaxel)
    gas = v_los + (rng.normal(0.0, vel_noise, shape) if vel_noise > 0 else 0.0)
    stars = stellar_fraction * v_los + (rng.normal(0.0, vel_noise, shape) if vel_noise > 0
                                        else 0.0)
    flux = flux + (rng.normal(0.0, flux_noise, shape) if flux_noise > 0 else 0.0)

    def ivar(sigma):
        return np.full(shape, 1.0 / sigma**2 if sigma > 0 else 1e30)

    inside = np.ones(shape, bool) if footprint is None else _hexagon(x, y, float(footprint))
    mask = np.where(inside, 0, _NOCOV_DONOTUSE).astype(np.int64)

    def cover(a):  # DAP: 0 outside the footprint; float32 values like a FITS file
        return np.where(inside, a, 0.0).astype(np.float32).astype(np.float64)

    r_e = _R_E_OVER_R_D * r_d
    header = {
        "PLATEIFU": plateifu, "MANGAID": "synthetic", "SYNTHET": True,
        "REFF": r_e * (n_spaxel / 2) * pixel_scale, "ECOOPA": pa, "ECOOELL": 1 - np.cos(i),
        "INCL": inc, "RD": r_d, "VMAX": v_max, "RTURN": r_turn, "NCLUMPS": n_clumps,
    }
    return MapsData(
        plateifu=plateifu, header=header, line=HALPHA,
        flux=cover(flux), flux_ivar=cover(ivar(flux_noise)), flux_mask=mask,
        gas_vel=cover(gas), gas_vel_ivar=cover(ivar(vel_noise)), gas_vel_mask=mask.copy(),
        stellar_vel=cover(stars), stellar_vel_ivar=cover(ivar(vel_noise)),
        stellar_vel_mask=mask.copy(),
        r_re=(r / r_e).astype(np.float32).astype(np.float64),
    )


def synthetic_source(rng_or_seed=0, n_pix: int = 64, *, inclination: float | None = None,
                     position_angle: float | None = None, r_d: float | None = None,
                     v_max: float | None = None, r_turn: float | None = None,
                     n_clumps: int | None = None, velocity: str = "stellar",
                     **maps_kwargs) -> np.ndarray:
    """A normalised ``(2, N, N)`` source tensor of a synthetic disc galaxy.

    :func:`synthetic_maps` on an ``N x N`` spaxel grid, noise-free unless ``flux_noise`` /
    ``vel_noise`` are passed, normalised by :func:`source_tensor` (so it is exactly what a
    MAPS file with these maps would give). Geometry arguments as :func:`synthetic_maps`
    (None: drawn at random); other keywords go to :func:`synthetic_maps`.
    """
    maps_kwargs.setdefault("flux_noise", 0.0)
    maps_kwargs.setdefault("vel_noise", 0.0)
    maps = synthetic_maps(rng_or_seed, n_pix, inclination=inclination,
                          position_angle=position_angle, r_d=r_d, v_max=v_max,
                          r_turn=r_turn, n_clumps=n_clumps, **maps_kwargs)
    return source_tensor(maps, n_pix, velocity=velocity)


def synthetic_sources(n: int, seed=0, n_pix: int = 64, **kwargs) -> np.ndarray:
    """``n`` synthetic source tensors with random geometry, float32 ``(n, 2, N, N)``.

    One generator seeded by ``seed`` draws every galaxy in turn (reproducible); keywords go to
    :func:`synthetic_source` (fixing a geometry argument fixes it for all galaxies).
    """
    n = checks.count(n, "n")
    rng = np.random.default_rng(seed)
    return np.stack([synthetic_source(rng, n_pix, **kwargs) for _ in range(n)])
