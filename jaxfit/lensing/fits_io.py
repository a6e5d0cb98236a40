"""Writing MaNGA DAP ``MAPS``-format FITS files (:func:`write_maps_fits`), for synthetic
galaxies and tests of the reader (:mod:`jaxfit.lensing.manga`).
"""

from __future__ import annotations

import gzip
import io
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from jaxfit.core import checks
from jaxfit.core.io import atomic_write_bytes
from jaxfit.lensing.manga import (
    _MASK_FIELDS,
    DR15_EMLINE_CHANNELS,
    DR17_EMLINE_CHANNELS,
    MapsData,
    channel_index,
)

__all__ = ["LAYOUTS", "write_maps_fits"]

_ELLCOO_CHANNELS = {
    "DR15": (("Elliptical radius", "arcsec"), ("R/Re", ""), ("Elliptical azimuth", "degrees")),
    "DR17": (("Elliptical radius", "arcsec"), ("R/Re", ""), ("R h/kpc", "kpc/h"),
             ("Elliptical azimuth", "degrees")),
}
_LAYOUT_HEADER = {
    "DR15": {"VERSDRP3": "v2_4_3", "VERSDAP": "2.2.1", "DAPTYPE": "HYB10-GAU-MILESHC"},
    "DR17": {"VERSDRP3": "v3_1_1", "VERSDAP": "3.1.0", "DAPTYPE": "HYB10-MILESHC-MASTARSSP"},
}
_LAYOUT_CHANNELS = {"DR15": DR15_EMLINE_CHANNELS, "DR17": DR17_EMLINE_CHANNELS}
LAYOUTS = tuple(_LAYOUT_CHANNELS)
"""Channel layouts :func:`write_maps_fits` writes (DR15: DAP 2.2.x, DR17: DAP 3.1.0)."""

_STRUCTURAL_KEY = re.compile(
    r"^(SIMPLE|BITPIX|NAXIS\d*|EXTEND|XTENSION|PCOUNT|GCOUNT|CHECKSUM|DATASUM|EXTNAME|END)$")


def _channel_cards(header, names: Sequence[str], units: Sequence[str] | None = None) -> None:
    width = len(str(len(names)))  # the DAP pads to the width of n: C1..C4, C01..C35
    for k, name in enumerate(names, start=1):
        header[f"C{k:0{width}d}"] = (name, f"Data in channel {k}")
        if units is not None:
            header[f"U{k:0{width}d}"] = (units[k - 1], f"Units of data in channel {k}")


def write_maps_fits(path, maps: MapsData, layout: str = "DR17") -> Path:
    """Write ``maps`` as a small MaNGA DAP MAPS-format FITS file (``.fits`` or ``.fits.gz``).

    The primary header carries ``maps.header`` (FITS-compatible scalar cards) plus
    ``PLATEIFU``, ``DAPFRMT = 'MAPS'`` and the layout's ``VERSDRP3``/``VERSDAP``/``DAPTYPE``.
    Extensions: :data:`REQUIRED_EXTENSIONS`, with DAP-style ``C<n>`` channel cards. The
    ``EMLINE_*`` cubes have the layout's channels (:data:`DR17_EMLINE_CHANNELS`, H-alpha at
    index 23, or :data:`DR15_EMLINE_CHANNELS`, index 18); ``maps`` goes into the channel of
    ``maps.line`` and every other channel gets a distinct, recognisable copy (flux times
    ``0.01 (k + 1)``, velocity plus ``5 (k + 1)`` km/s) so that reading the wrong channel
    shows. ``SPX_ELLCOO``: ``R/Re`` from ``maps``; ``Elliptical radius = R/Re * REFF``
    (REFF from the header, else 1); the other channels 0. Data float32, masks int32, as the
    DAP writes them; the file is replaced atomically.

    Raises:
        ValueError: unknown layout, or a mask that does not fit in int32.
    """
    from astropy.io import fits

    layout = str(layout).upper()
    checks.one_of(layout, "layout", LAYOUTS)
    channels = _LAYOUT_CHANNELS[layout]
    header_like = {f"C{k + 1}": n for k, n in enumerate(channels)}
    line_index = channel_index(header_like, maps.line, source=f"layout {layout}")
    for name in _MASK_FIELDS:
        mask = getattr(maps, name)
        if mask.min() < np.iinfo(np.int32).min or mask.max() > np.iinfo(np.int32).max:
            raise ValueError(f"write_maps_fits: {name} does not fit in int32")

    primary = fits.PrimaryHDU()
    for key, value in maps.header.items():
        if (len(key) <= 8 and re.fullmatch(r"[A-Z0-9_-]+", key)
                and not _STRUCTURAL_KEY.match(key)
                and isinstance(value, (str, bool, int, float, np.number, np.bool_))):
            primary.header[key] = value.item() if hasattr(value, "item") else value
    primary.header["PLATEIFU"] = (maps.plateifu, "PLATEID-ifuDesign")
    primary.header["DAPFRMT"] = ("MAPS", "DAP data file format")
    for key, value in _LAYOUT_HEADER[layout].items():
        primary.header[key] = value
    primary.header["JXLAYOUT"] = (layout, "jaxfit write_maps_fits channel layout")

    def image(name, data, dtype, *, names=None, units=None, bunit=None):
        hdu = fits.ImageHDU(np.asarray(data).astype(dtype), name=name)
        if names is not None:
            _channel_cards(hdu.header, names, units)
        if bunit:
            hdu.header["BUNIT"] = bunit
        return hdu

    n_ch = len(channels)
    factor = np.array([1.0 if k == line_index else 0.01 * (k + 1) for k in range(n_ch)])
    offset = np.array([0.0 if k == line_index else 5.0 * (k + 1) for k in range(n_ch)])

    def cube(a, *, scale=None, shift=None):
        stack = np.repeat(a[None], n_ch, axis=0).astype(np.float64)
        if scale is not None:
            stack = stack * scale[:, None, None]
        if shift is not None:
            stack = stack + shift[:, None, None]
        return stack

    reff = maps.header.get("REFF", 1.0)
    try:
        reff = float(reff) if float(reff) > 0 else 1.0
    except (TypeError, ValueError):
        reff = 1.0
    ell_spec = _ELLCOO_CHANNELS[layout]
    ell = np.zeros((len(ell_spec),) + maps.shape)
    ell[0] = maps.r_re * reff
    ell[1] = maps.r_re
    flux_unit = "1E-17 erg/s/cm^2/spaxel"
    masks = {"flux": np.repeat(maps.flux_mask[None], n_ch, axis=0),
             "gas": np.repeat(maps.gas_vel_mask[None], n_ch, axis=0)}
    hdus = [
        primary,
        image("SPX_ELLCOO", ell, np.float32, names=[n for n, _ in ell_spec],
              units=[u for _, u in ell_spec]),
        image("EMLINE_GFLUX", cube(maps.flux, scale=factor), np.float32, names=channels,
              bunit=flux_unit),
        image("EMLINE_GFLUX_IVAR", cube(maps.flux_ivar, scale=1 / factor**2), np.float32,
              names=channels, bunit=f"({flux_unit})^{{-2}}"),
        image("EMLINE_GFLUX_MASK", masks["flux"], np.int32, names=channels),
        image("EMLINE_GVEL", cube(maps.gas_vel, shift=offset), np.float32, names=channels,
              bunit="km/s"),
        image("EMLINE_GVEL_IVAR", cube(maps.gas_vel_ivar), np.float32, names=channels,
              bunit="(km/s)^{-2}"),
        image("EMLINE_GVEL_MASK", masks["gas"], np.int32, names=channels),
        image("STELLAR_VEL", maps.stellar_vel, np.float32, bunit="km/s"),
        image("STELLAR_VEL_IVAR", maps.stellar_vel_ivar, np.float32, bunit="(km/s)^{-2}"),
        image("STELLAR_VEL_MASK", maps.stellar_vel_mask, np.int32),
    ]
    buffer = io.BytesIO()
    fits.HDUList(hdus).writeto(buffer)
    payload = buffer.getvalue()
    path = Path(path)
    if path.name.endswith(".gz"):
        payload = gzip.compress(payload, mtime=0)
    return atomic_write_bytes(path, payload)
