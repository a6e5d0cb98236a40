"""Lensing data: SDSS-IV MaNGA DAP ``MAPS`` files, quality metrics, source tensors, synthetics.

Everything here runs once, on the host, when data are loaded (numpy, scipy, pandas, astropy,
matplotlib); the ray tracing (:mod:`jaxfit.lensing.model`) and the CNN take the resulting
``(2, N, N)`` source tensors as plain arrays.

**Reading MAPS files** (:func:`read_maps`; ``.fits`` and ``.fits.gz``). The extensions read are
:data:`REQUIRED_EXTENSIONS`: ``EMLINE_GFLUX`` (+ ``_IVAR``, ``_MASK``; Gaussian-fitted line
flux, 1e-17 erg/s/cm^2/spaxel), ``EMLINE_GVEL`` (+ ``_IVAR``, ``_MASK``; line-of-sight velocity
of the line, km/s, relative to the systemic redshift), ``STELLAR_VEL`` (+ ``_IVAR``, ``_MASK``;
km/s), ``SPX_ELLCOO`` (elliptical polar coordinates; the ``R/Re`` channel) and the primary
header (``PLATEIFU``, ``MANGAID``, ``REFF``, DAP versions, ...).

- Emission-line channels are found **by name** in the extension header (keys ``C1..Cn``,
  zero-padded to the width of ``n`` by the DAP: ``C01..C22``), never by a fixed index, because
  the index of H-alpha differs between releases (:func:`channel_index`; the ``R/Re`` channel of
  ``SPX_ELLCOO`` likewise). Matching, in order: the exact name (case and blanks ignored); the
  same species within :data:`WAVELENGTH_TOLERANCE` Angstrom (``'Ha-6565'`` finds
  ``'Ha-6564'``); a unique prefix (``'Ha-65'``); a bare species (``'Ha'``, ``'Halpha'``,
  ``'H-alpha'``). An unknown or ambiguous name raises :class:`MapsFormatError` listing every
  channel of the extension.
- Layouts: DR17 (DAP 3.1.0, MPL-11 line list, 35 channels, H-alpha ``C24`` = index 23;
  :data:`DR17_EMLINE_CHANNELS`, from the DAP data model, github.com/sdss/mangadap
  ``docs/datamodel.rst``: "The emission-line measurements for MPL-11") and DR15 (DAP 2.2.x,
  MPL-7 line list, 22 channels, H-alpha ``C19`` = index 18; :data:`DR15_EMLINE_CHANNELS`,
  exactly the ``C01..C22`` cards of a real DAP 2.2 MAPS file, manga-7815-3702, ``VERSDRP3``
  v2_4_3). ``SPX_ELLCOO`` has 3 channels in DR15 (``Elliptical radius``, ``R/Re``,
  ``Elliptical azimuth``) and 4 in DR17 (``R h/kpc`` inserted third; mangadap
  ``dapfits.py``). Files without an ``R/Re`` channel fall back to
  ``Elliptical radius / REFF``.
- **Validity**: a pixel is valid when its mask is 0, its value is finite and it is not the
  ``-999`` sentinel (:func:`valid_pixels`). Flux, gas velocity and stellar velocity each carry
  their own mask.

**Quality metrics** (:func:`quality_metrics`, research definitions; ``velocity="stellar"``,
the research choice, or ``"gas"`` for the H-alpha velocity). Pixel coordinates are array
indices, ``x`` = column, ``y`` = row:

- ``vel_grad``: ``hypot(a, b)`` of the least-squares plane ``v = a x + b y + c`` over the valid
  velocity pixels (km/s per spaxel); NaN when fewer than :data:`MIN_PLANE_PIXELS` (30).
- ``frac_valid_in_1.5Re``: among pixels with finite ``r/R_e <= 1.5``, the fraction that is
  valid in flux *and* velocity.
- ``mask_fraction``: fraction of all pixels not valid in flux and velocity (~0.5 for a good
  galaxy: the corners outside the hexagonal IFU are masked).
- ``vel_std``: standard deviation (ddof 0) of the valid velocities, km/s.
- ``flux_max``, ``flux_mean``: over valid flux pixels, 1e-17 erg/s/cm^2/spaxel.
- ``flux_vel_corr``: Pearson correlation of flux and velocity over pixels valid in both (near
  0 for a symmetric rotating disc; NaN below 3 pixels or without variance).
- Flags, the thresholds of the hard cuts of :func:`lensibility_score`
  (:data:`HARD_CUTS`): ``flag_low_rotation`` = ``vel_grad < 2.5`` or NaN,
  ``flag_heavily_masked`` = ``mask_fraction > 0.70``, ``flag_low_flux`` = ``flux_max < 50``;
  ``flag_low_coverage`` = ``frac_valid_in_1.5Re < 0.60``; ``usable`` = no flag raised.

**Lensibility** (:func:`lensibility_score`): hard reject if ``frac_valid_in_1.5Re < 0.60``,
``vel_grad < 2.5``, ``mask_fraction > 0.70`` or ``flux_max < 50`` (a NaN in any of them
rejects too; score 0). Otherwise points: vel_grad >= 5 -> 30, >= 3 -> 22, else 12;
frac >= 0.9 -> 30, >= 0.8 -> 24, else 16; vel_std >= 120 -> 20, >= 70 -> 14, else 8;
mask_fraction <= 0.4 -> 10, <= 0.6 -> 6, else (<= 0.7) 2; flux_max >= 200 -> 5, >= 100 -> 3,
else 1; |flux_vel_corr| <= 0.2 -> +3, > 0.4 -> -5 (in between, or NaN, 0). Tiers
(:data:`TIERS`): elite >= 80, good >= 60, borderline >= 40, else reject. The research warns
that the point system is arbitrary; the hard cuts are the robust part.
:func:`inspect_folder` writes ``maps_quality_summary.csv``, ``maps_lensability_scored.csv``
and the usable index ``usable_maps.txt`` (file names with tier != reject, best first).

**Source tensors** (:func:`source_tensor`, float32, shape ``(2, N, N)``): channel 0 flux
``(f - p5) / (p99.5 - p5)`` clipped to [0, 1]; channel 1 velocity ``(v - median) /
p95(|v - median|)`` clipped to [-1, 1]; percentiles (numpy's default linear interpolation)
and the median over the channel's valid pixels only; invalid pixels 0. Then resampled to
``N x N`` by bilinear interpolation with pixel-area alignment: output pixel centre ``j`` reads
the input at ``(j + 1/2) H / N - 1/2`` (``scipy.ndimage.map_coordinates``, order 1, edges
``'nearest'``; identical to ``scipy.ndimage.zoom(order=1, grid_mode=True, mode='nearest')``).
Linear interpolation keeps both channels inside their ranges. :func:`prep_folder` writes
``<plateifu>.npy`` and ``<plateifu>.png`` per file; :func:`load_sources` stacks them.

**Synthetic sources** (no download needed; :func:`synthetic_maps`, :func:`synthetic_source`,
:func:`synthetic_sources`, :func:`write_maps_fits`). Geometry in units of the field half-width
(the field spans [-1, 1]^2, like the image plane of the ray tracer). With the position angle
``pa`` (counter-clockwise from +x to the receding major axis) and the inclination ``i``, the
disc-plane coordinates are ``x_d = x cos(pa) + y sin(pa)``,
``y_d = (-x sin(pa) + y cos(pa)) / cos(i)``, ``r = hypot(x_d, y_d)``, ``cos(phi) = x_d / r``.
Flux: ``flux_peak exp(-r / r_d)`` plus ``n_clumps`` circular Gaussian clumps placed in the disc
plane; velocity: the arctan rotation curve ``v(r) = (2/pi) v_max arctan(r / r_turn)`` projected,
``v_los = v(r) sin(i) cos(phi)`` (gas; stars rotate at ``stellar_fraction`` of it); ``r/R_e``
with ``R_e = 1.678 r_d`` (half-light radius of an exponential disc). Values are rounded to
float32 like a DAP file, so a write/read round trip is exact.
"""

from __future__ import annotations

import dataclasses
import gzip
import io
import math
import os
import re
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from jaxfit.core.io import atomic_write_bytes, save_figure, write_csv
from jaxfit.core.progress import progress_bar

__all__ = [
    "DR15_EMLINE_CHANNELS",
    "DR17_EMLINE_CHANNELS",
    "HALPHA",
    "HARD_CUTS",
    "MapsData",
    "METRIC_KEYS",
    "MapsFormatError",
    "REQUIRED_EXTENSIONS",
    "SYNTHETIC_RANGES",
    "TIERS",
    "channel_index",
    "channel_names",
    "inspect_folder",
    "lensibility_score",
    "load_sources",
    "prep_folder",
    "preview_figure",
    "quality_metrics",
    "read_maps",
    "source_tensor",
    "synthetic_maps",
    "synthetic_source",
    "synthetic_sources",
    "valid_pixels",
    "write_maps_fits",
]

HALPHA = "Ha-6564"
"""Default emission line: H-alpha, as the DAP names it (vacuum rest wavelength in Angstrom)."""

WAVELENGTH_TOLERANCE = 2.0
"""Angstrom: a requested ``species-wavelength`` matches a channel of the same species this
close (DAP line names carry rounded vacuum wavelengths; other tools write 'Ha-6565')."""

SENTINEL = -999.0
"""Placeholder value of missing measurements in some MaNGA products; always invalid."""

MIN_PLANE_PIXELS = 30
"""Fewer valid velocity pixels than this: ``vel_grad`` is NaN (research definition)."""

REQUIRED_EXTENSIONS = (
    "SPX_ELLCOO",
    "EMLINE_GFLUX", "EMLINE_GFLUX_IVAR", "EMLINE_GFLUX_MASK",
    "EMLINE_GVEL", "EMLINE_GVEL_IVAR", "EMLINE_GVEL_MASK",
    "STELLAR_VEL", "STELLAR_VEL_IVAR", "STELLAR_VEL_MASK",
)
"""Extensions :func:`read_maps` needs (besides the primary header)."""

DR17_EMLINE_CHANNELS = (
    "OII-3727", "OII-3729", "H12-3751", "H11-3771", "Hthe-3798", "Heta-3836", "NeIII-3869",
    "HeI-3889", "Hzet-3890", "NeIII-3968", "Heps-3971", "Hdel-4102", "Hgam-4341", "HeII-4687",
    "Hb-4862", "OIII-4960", "OIII-5008", "NI-5199", "NI-5201", "HeI-5877", "OI-6302",
    "OI-6365", "NII-6549", "Ha-6564", "NII-6585", "SII-6718", "SII-6732", "HeI-7067",
    "ArIII-7137", "ArIII-7753", "Peta-9017", "SIII-9071", "Pzet-9231", "SIII-9533",
    "Peps-9548",
)
"""DR17 (DAP 3.1.0, MPL-11) emission-line channels C01..C35; H-alpha is C24 (index 23).
Source: the MaNGA DAP data model, github.com/sdss/mangadap docs/datamodel.rst."""

DR15_EMLINE_CHANNELS = (
    "OII-3727", "OII-3729", "Hthe-3798", "Heta-3836", "NeIII-3869", "Hzet-3890", "NeIII-3968",
    "Heps-3971", "Hdel-4102", "Hgam-4341", "HeII-4687", "Hb-4862", "OIII-4960", "OIII-5008",
    "HeI-5877", "OI-6302", "OI-6365", "NII-6549", "Ha-6564", "NII-6585", "SII-6718",
    "SII-6732",
)
"""DR15 (DAP 2.2.x, MPL-7) emission-line channels C01..C22; H-alpha is C19 (index 18).
Source: the header of a real DAP 2.2 MAPS file (manga-7815-3702-MAPS-HYB10-GAU-MILESHC,
VERSDRP3 v2_4_3), which matches the DR15 data model."""

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

HARD_CUTS = {
    "frac_valid_in_1.5Re": 0.60,  # reject below
    "vel_grad": 2.5,  # km/s per spaxel; reject below
    "mask_fraction": 0.70,  # reject above
    "flux_max": 50.0,  # 1e-17 erg/s/cm^2/spaxel; reject below
}
"""Hard-reject thresholds of :func:`lensibility_score` (also the quality flags)."""

TIERS = (("elite", 80), ("good", 60), ("borderline", 40))
"""Tier thresholds on the lensibility score (>=); below the last one: ``reject``."""

METRIC_KEYS = ("vel_grad", "frac_valid_in_1.5Re", "vel_std", "mask_fraction", "flux_max",
               "flux_vel_corr")
"""Metrics :func:`lensibility_score` needs."""

QUALITY_FILE = "maps_quality_summary.csv"
SCORED_FILE = "maps_lensability_scored.csv"
USABLE_INDEX_FILE = "usable_maps.txt"

_VELOCITY_KINDS = ("stellar", "gas")
_STRUCTURAL_KEY = re.compile(
    r"^(SIMPLE|BITPIX|NAXIS\d*|EXTEND|XTENSION|PCOUNT|GCOUNT|CHECKSUM|DATASUM|EXTNAME|END)$")
_NOCOV_DONOTUSE = (1 << 0) | (1 << 30)  # MANGA_DAPPIXMASK: NOCOV + DONOTUSE
_R_E_OVER_R_D = 1.678  # half-light radius of an exponential disc, in scale lengths

_QUALITY_COLUMNS = (
    "file", "plateifu", "velocity", "n_pix", "n_valid_flux", "n_valid_vel", "n_valid",
    "vel_grad", "frac_valid_in_1.5Re", "vel_std", "mask_fraction", "flux_max", "flux_mean",
    "flux_vel_corr", "flag_low_rotation", "flag_heavily_masked", "flag_low_flux",
    "flag_low_coverage", "usable", "error",
)


class MapsFormatError(ValueError):
    """A MAPS file (or MAPS-like input) that does not have the expected content."""


# --------------------------------------------------------------------------------------------
# container
# --------------------------------------------------------------------------------------------


_FLOAT_FIELDS = ("flux", "flux_ivar", "gas_vel", "gas_vel_ivar", "stellar_vel",
                 "stellar_vel_ivar", "r_re")
_MASK_FIELDS = ("flux_mask", "gas_vel_mask", "stellar_vel_mask")


@dataclasses.dataclass(frozen=True, eq=False)
class MapsData:
    """One galaxy's maps (2-D, ``(ny, nx)`` spaxels), as read from a MaNGA DAP MAPS file.

    Attributes:
        plateifu: ``PLATE-IFUDESIGN`` (primary header ``PLATEIFU``).
        flux, flux_ivar, flux_mask: the emission line's Gaussian flux
            (1e-17 erg/s/cm^2/spaxel), inverse variance and DAP bit mask.
        gas_vel, gas_vel_ivar, gas_vel_mask: the line's velocity (km/s), ivar, mask.
        stellar_vel, stellar_vel_ivar, stellar_vel_mask: stellar velocity (km/s), ivar, mask.
        r_re: elliptical radius in units of the effective radius (``SPX_ELLCOO`` ``R/Re``).
        header: the primary header as a dict (COMMENT/HISTORY dropped).
        line: the channel name read (e.g. ``'Ha-6564'``).
        line_index: its 0-based index in the ``EMLINE_*`` cubes (-1: not read from a file).
        emline_channels: all channel names of the file's ``EMLINE_*`` cubes.
        path: the file read (None for synthetic maps).

    Float maps are float64, masks int64; all maps must have one shape (checked).
    """

    plateifu: str
    flux: np.ndarray
    flux_ivar: np.ndarray
    flux_mask: np.ndarray
    gas_vel: np.ndarray
    gas_vel_ivar: np.ndarray
    gas_vel_mask: np.ndarray
    stellar_vel: np.ndarray
    stellar_vel_ivar: np.ndarray
    stellar_vel_mask: np.ndarray
    r_re: np.ndarray
    header: dict = dataclasses.field(default_factory=dict)
    line: str = HALPHA
    line_index: int = -1
    emline_channels: tuple = ()
    path: Path | None = None

    def __post_init__(self):
        where = f"MapsData({self.plateifu!r})"
        shape = None
        for name in _FLOAT_FIELDS + _MASK_FIELDS:
            value = np.asarray(getattr(self, name))
            if value.ndim != 2:
                raise MapsFormatError(
                    f"{where}: {name} must be a 2-D map (ny, nx), got shape {value.shape}")
            if shape is None:
                shape = value.shape
            elif value.shape != shape:
                raise MapsFormatError(
                    f"{where}: {name} has shape {value.shape}, expected {shape} like flux")
            if name in _MASK_FIELDS:
                if value.dtype.kind not in "iub":
                    if not np.all(np.isfinite(value)) or np.any(value != np.round(value)):
                        raise MapsFormatError(f"{where}: {name} must hold integer mask bits")
                value = value.astype(np.int64)
            else:
                value = value.astype(np.float64)
            object.__setattr__(self, name, value)
        object.__setattr__(self, "emline_channels", tuple(self.emline_channels))
        object.__setattr__(self, "header", dict(self.header))

    @property
    def shape(self) -> tuple[int, int]:
        return self.flux.shape

    @property
    def flux_valid(self) -> np.ndarray:
        return valid_pixels(self.flux, self.flux_mask)

    @property
    def gas_vel_valid(self) -> np.ndarray:
        return valid_pixels(self.gas_vel, self.gas_vel_mask)

    @property
    def stellar_vel_valid(self) -> np.ndarray:
        return valid_pixels(self.stellar_vel, self.stellar_vel_mask)

    def velocity(self, kind: str = "stellar") -> tuple[np.ndarray, np.ndarray]:
        """``(velocity map km/s, valid mask)`` for ``kind`` ``"stellar"`` or ``"gas"``."""
        kind = _check_velocity_kind(kind)
        if kind == "stellar":
            return self.stellar_vel, self.stellar_vel_valid
        return self.gas_vel, self.gas_vel_valid


def _check_velocity_kind(kind) -> str:
    if kind not in _VELOCITY_KINDS:
        raise ValueError(f"velocity must be one of {_VELOCITY_KINDS}, got {kind!r}")
    return kind


def valid_pixels(data, mask) -> np.ndarray:
    """Valid = ``mask == 0``, finite, and not the ``-999`` sentinel (boolean array)."""
    data = np.asarray(data, dtype=np.float64)
    mask = np.asarray(mask)
    with np.errstate(invalid="ignore"):
        return (mask == 0) & np.isfinite(data) & (np.abs(data - SENTINEL) > 1e-3)


# --------------------------------------------------------------------------------------------
# channels
# --------------------------------------------------------------------------------------------

_CHANNEL_KEY = re.compile(r"^C(\d+)$")
_LINE_NAME = re.compile(r"^(?P<species>.+?)-(?P<wave>\d+(?:\.\d+)?)$")
_SPECIES_ALIASES = {"halpha": "ha", "h-alpha": "ha", "hα": "ha", "hbeta": "hb",
                    "h-beta": "hb"}


def _norm(name) -> str:
    return re.sub(r"\s+", "", str(name)).lower()


def _where(header, source) -> str:
    ext = header.get("EXTNAME", "") if hasattr(header, "get") else ""
    parts = [str(p) for p in (source, ext) if p]
    return ", ".join(parts) if parts else "header"


def channel_names(header, *, source=None) -> tuple[str, ...]:
    """The channel names ``C1..Cn`` (any zero padding) of an extension header, in order.

    Raises:
        MapsFormatError: no ``C<n>`` keys, or the numbers are not exactly 1..n.
    """
    found = {}
    for key in header.keys():
        match = _CHANNEL_KEY.match(str(key).strip().upper())
        if match:
            number = int(match.group(1))
            if number in found:
                raise MapsFormatError(
                    f"{_where(header, source)}: channel {number} is defined twice ({key})")
            found[number] = str(header[key]).strip()
    if not found:
        raise MapsFormatError(
            f"{_where(header, source)}: no channel keys C1..Cn in the extension header")
    if sorted(found) != list(range(1, len(found) + 1)):
        raise MapsFormatError(
            f"{_where(header, source)}: channel keys must be C1..C{len(found)} without gaps, "
            f"got numbers {sorted(found)}")
    return tuple(found[n] for n in range(1, len(found) + 1))


def _split_line(name: str):
    match = _LINE_NAME.match(_norm(name))
    if not match:
        return None, None
    return match.group("species"), float(match.group("wave"))


def channel_index(header, name: str, *, source=None) -> int:
    """0-based index of channel ``name`` in an extension header with ``C1..Cn`` keys.

    Matching (first rule that gives exactly one channel wins): exact name (case and blanks
    ignored); same species within :data:`WAVELENGTH_TOLERANCE` Angstrom ('Ha-6565' finds
    'Ha-6564'); unique prefix ('Ha-65'); bare species or alias ('Ha', 'Halpha', 'H-alpha').

    Args:
        header: an astropy Header or any mapping with ``C<n>`` keys (and maybe ``EXTNAME``).
        name: the channel wanted.
        source: the file, for the error message.

    Raises:
        MapsFormatError: naming the file, the extension and ``name`` and listing every
            available channel, when nothing matches or the match is ambiguous.
    """
    names = channel_names(header, source=source)
    wanted = _norm(name)
    if not wanted:
        raise MapsFormatError(f"{_where(header, source)}: empty channel name")
    norm = [_norm(n) for n in names]

    def unique(candidates):
        return candidates[0] if len(candidates) == 1 else None

    rules = []
    rules.append([i for i, n in enumerate(norm) if n == wanted])
    species, wave = _split_line(wanted)
    if species is not None:
        species = _SPECIES_ALIASES.get(species, species)
        close = []
        for i, n in enumerate(norm):
            s, w = _split_line(n)
            if s == species and abs(w - wave) <= WAVELENGTH_TOLERANCE:
                close.append(i)
        rules.append(close)
    rules.append([i for i, n in enumerate(norm) if n.startswith(wanted)])
    bare = _SPECIES_ALIASES.get(wanted, wanted)
    rules.append([i for i, n in enumerate(norm) if _split_line(n)[0] == bare])
    ambiguous = None
    for candidates in rules:
        hit = unique(candidates)
        if hit is not None:
            return hit
        if len(candidates) > 1 and ambiguous is None:
            ambiguous = candidates
    available = ", ".join(f"C{i + 1}={n!r}" for i, n in enumerate(names))
    if ambiguous is not None:
        options = ", ".join(repr(names[i]) for i in ambiguous)
        raise MapsFormatError(
            f"{_where(header, source)}: channel name {name!r} is ambiguous ({options}); "
            f"available channels: {available}")
    raise MapsFormatError(
        f"{_where(header, source)}: no channel {name!r}; available channels: {available}")


# --------------------------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------------------------


def _plateifu(header: Mapping, path: Path) -> str:
    value = str(header.get("PLATEIFU", "")).strip()
    if value:
        return value
    if "PLATEID" in header and "IFUDSGN" in header:
        return f"{header['PLATEID']}-{header['IFUDSGN']}"
    match = re.search(r"(\d+-\d+)", path.name)
    return match.group(1) if match else path.name.split(".")[0]


def read_maps(path, *, line: str = HALPHA) -> MapsData:
    """Read one MaNGA DAP MAPS file (``.fits`` or ``.fits.gz``).

    Args:
        path: the file.
        line: emission-line channel to read from the ``EMLINE_*`` cubes, by name (default
            H-alpha, ``'Ha-6564'``; see :func:`channel_index` for the matching rules).

    Returns:
        :class:`MapsData` with the line's flux/velocity maps, the stellar velocity, ``R/Re``
        and the primary header.

    Raises:
        FileNotFoundError: no such file.
        MapsFormatError: naming the file: not a readable FITS file, a missing extension
            (listing those present), an unknown channel (listing those available), maps of
            the wrong dimensionality or of inconsistent shapes.
    """
    from astropy.io import fits

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"MaNGA MAPS file not found: {path}")
    try:
        hdul = fits.open(path, memmap=False)
        names = [hdu.name.upper() for hdu in hdul]  # reads every header (lazy otherwise)
    except Exception as exc:
        raise MapsFormatError(
            f"{path}: not a readable FITS file ({type(exc).__name__}: {exc})") from exc
    try:
        with hdul:
            return _read_open_maps(hdul, names, path, line)
    except MapsFormatError:
        raise
    except Exception as exc:
        raise MapsFormatError(
            f"{path}: could not read the MAPS data ({type(exc).__name__}: {exc})") from exc


def _read_open_maps(hdul, names, path: Path, line: str) -> MapsData:
    missing = [ext for ext in REQUIRED_EXTENSIONS if ext not in names]
    if missing:
        raise MapsFormatError(
            f"{path}: missing extension(s) {', '.join(missing)} (a MaNGA DAP MAPS file has "
            f"them); extensions in the file: {', '.join(names)}")

    def array(ext: str, ndim: int) -> np.ndarray:
        data = hdul[ext].data
        if data is None:
            raise MapsFormatError(f"{path}, extension {ext}: no data")
        data = np.asarray(data)
        if data.ndim != ndim:
            what = "(channels, ny, nx)" if ndim == 3 else "(ny, nx)"
            raise MapsFormatError(
                f"{path}, extension {ext}: expected a {ndim}-D array {what}, got shape "
                f"{data.shape}")
        return data

    primary = {k: v for k, v in hdul[0].header.items() if k not in ("COMMENT", "HISTORY", "")}

    # emission line cubes: the line's channel, by name, in each extension's own header
    emline = {}
    index = None
    channels = ()
    for ext in ("EMLINE_GFLUX", "EMLINE_GFLUX_IVAR", "EMLINE_GFLUX_MASK",
                "EMLINE_GVEL", "EMLINE_GVEL_IVAR", "EMLINE_GVEL_MASK"):
        cube = array(ext, 3)
        header = hdul[ext].header
        ext_channels = channel_names(header, source=path)
        if len(ext_channels) != cube.shape[0]:
            raise MapsFormatError(
                f"{path}, extension {ext}: {cube.shape[0]} channels in the data but "
                f"{len(ext_channels)} channel names C1..Cn in the header")
        i = channel_index(header, line, source=path)
        if index is None:
            index, channels = i, ext_channels
        elif ext_channels != channels:
            raise MapsFormatError(
                f"{path}, extension {ext}: channel names differ from EMLINE_GFLUX's")
        emline[ext] = cube[i]

    ellcoo = array("SPX_ELLCOO", 3)
    ell_header = hdul["SPX_ELLCOO"].header
    ell_names = channel_names(ell_header, source=path)
    if len(ell_names) != ellcoo.shape[0]:
        raise MapsFormatError(
            f"{path}, extension SPX_ELLCOO: {ellcoo.shape[0]} channels in the data but "
            f"{len(ell_names)} channel names in the header")
    try:
        r_re = ellcoo[channel_index(ell_header, "R/Re", source=path)]
    except MapsFormatError as exc:
        reff = primary.get("REFF")
        try:
            reff = float(reff)
        except (TypeError, ValueError):
            reff = float("nan")
        if not (math.isfinite(reff) and reff > 0):
            raise MapsFormatError(
                f"{exc}; and no positive primary-header REFF to scale 'Elliptical radius'"
            ) from None
        radius = ellcoo[channel_index(ell_header, "Elliptical radius", source=path)]
        r_re = np.asarray(radius, dtype=np.float64) / reff

    maps = {
        "flux": emline["EMLINE_GFLUX"], "flux_ivar": emline["EMLINE_GFLUX_IVAR"],
        "flux_mask": emline["EMLINE_GFLUX_MASK"], "gas_vel": emline["EMLINE_GVEL"],
        "gas_vel_ivar": emline["EMLINE_GVEL_IVAR"], "gas_vel_mask": emline["EMLINE_GVEL_MASK"],
        "stellar_vel": array("STELLAR_VEL", 2), "stellar_vel_ivar": array("STELLAR_VEL_IVAR", 2),
        "stellar_vel_mask": array("STELLAR_VEL_MASK", 2), "r_re": r_re,
    }
    shape = maps["flux"].shape
    for key, value in maps.items():
        if value.shape != shape:
            ext = {"r_re": "SPX_ELLCOO"}.get(key, key.upper())
            raise MapsFormatError(
                f"{path}, {ext}: map shape {value.shape} differs from EMLINE_GFLUX's {shape}")
    return MapsData(
        plateifu=_plateifu(primary, path), header=primary, line=channels[index],
        line_index=index, emline_channels=channels, path=path,
        **{k: np.array(v, dtype=np.int64 if k.endswith("mask") else np.float64)
           for k, v in maps.items()},
    )


# --------------------------------------------------------------------------------------------
# metrics and lensibility
# --------------------------------------------------------------------------------------------


def _plane_gradient(v: np.ndarray, valid: np.ndarray, min_pixels: int) -> float:
    rows, cols = np.nonzero(valid)
    if rows.size < min_pixels:
        return float("nan")
    design = np.column_stack([cols.astype(np.float64), rows.astype(np.float64),
                              np.ones(rows.size)])
    coef, *_ = np.linalg.lstsq(design, v[rows, cols], rcond=None)
    return float(math.hypot(coef[0], coef[1]))


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    if a.size < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def quality_metrics(maps: MapsData, *, velocity: str = "stellar",
                    min_pixels: int = MIN_PLANE_PIXELS) -> dict:
    """Research quality metrics of one galaxy (definitions in the module docstring).

    Args:
        maps: from :func:`read_maps` or :func:`synthetic_maps`.
        velocity: ``"stellar"`` (the research choice) or ``"gas"`` (the line's velocity).
        min_pixels: below this many valid velocity pixels ``vel_grad`` is NaN.

    Returns:
        dict with ``plateifu``, ``velocity``, pixel counts (``n_pix``, ``n_valid_flux``,
        ``n_valid_vel``, ``n_valid``), ``vel_grad`` (km/s/spaxel), ``frac_valid_in_1.5Re``,
        ``vel_std`` (km/s), ``mask_fraction``, ``flux_max``, ``flux_mean``
        (1e-17 erg/s/cm^2/spaxel), ``flux_vel_corr`` and the flags ``flag_low_rotation``,
        ``flag_heavily_masked``, ``flag_low_flux``, ``flag_low_coverage`` and ``usable``.
    """
    vel, vel_valid = maps.velocity(velocity)
    flux, flux_valid = maps.flux, maps.flux_valid
    valid = vel_valid & flux_valid
    n_pix = valid.size
    vel_grad = _plane_gradient(vel, vel_valid, int(min_pixels))
    vel_std = float(np.std(vel[vel_valid])) if vel_valid.any() else float("nan")
    flux_max = float(np.max(flux[flux_valid])) if flux_valid.any() else float("nan")
    flux_mean = float(np.mean(flux[flux_valid])) if flux_valid.any() else float("nan")
    with np.errstate(invalid="ignore"):
        inner = np.isfinite(maps.r_re) & (maps.r_re <= 1.5)
    frac_in = float(valid[inner].mean()) if inner.any() else float("nan")
    mask_fraction = float(1.0 - valid.mean())
    corr = _corr(flux[valid], vel[valid])
    metrics = {
        "plateifu": maps.plateifu, "velocity": velocity, "n_pix": int(n_pix),
        "n_valid_flux": int(flux_valid.sum()), "n_valid_vel": int(vel_valid.sum()),
        "n_valid": int(valid.sum()), "vel_grad": vel_grad, "frac_valid_in_1.5Re": frac_in,
        "vel_std": vel_std, "mask_fraction": mask_fraction, "flux_max": flux_max,
        "flux_mean": flux_mean, "flux_vel_corr": corr,
    }
    metrics.update(_flags(metrics))
    return metrics


def _flags(m: Mapping) -> dict:
    def below(value, cut):  # NaN counts as failing the cut
        return not (value >= cut)

    flags = {
        "flag_low_rotation": below(m["vel_grad"], HARD_CUTS["vel_grad"]),
        "flag_heavily_masked": not (m["mask_fraction"] <= HARD_CUTS["mask_fraction"]),
        "flag_low_flux": below(m["flux_max"], HARD_CUTS["flux_max"]),
        "flag_low_coverage": below(m["frac_valid_in_1.5Re"],
                                   HARD_CUTS["frac_valid_in_1.5Re"]),
    }
    flags["usable"] = not any(flags.values())
    return flags


def _tier(score: float) -> str:
    for name, threshold in TIERS:
        if score >= threshold:
            return name
    return "reject"


def lensibility_score(metrics: Mapping) -> tuple[int, str, list[str]]:
    """Score a galaxy for use as a lensed source (research rules; module docstring).

    Args:
        metrics: a mapping (dict, pandas row) with the keys :data:`METRIC_KEYS`.

    Returns:
        ``(score, tier, reasons)``: integer points (0 for a hard reject), ``'elite'``,
        ``'good'``, ``'borderline'`` or ``'reject'``, and one line per cut or point award.

    Raises:
        ValueError: a key is missing or a value is not a number.
    """
    values = {}
    for key in METRIC_KEYS:
        if key not in metrics:
            raise ValueError(
                f"lensibility_score: metric {key!r} missing; needed: {', '.join(METRIC_KEYS)}")
        try:
            values[key] = float(metrics[key])
        except (TypeError, ValueError):
            raise ValueError(
                f"lensibility_score: metric {key!r} must be a number, got {metrics[key]!r}"
            ) from None
    g, f, s = values["vel_grad"], values["frac_valid_in_1.5Re"], values["vel_std"]
    m, fx, c = values["mask_fraction"], values["flux_max"], values["flux_vel_corr"]

    rejects = []
    if not f >= HARD_CUTS["frac_valid_in_1.5Re"]:
        rejects.append(f"frac_valid_in_1.5Re = {f:.3g} < {HARD_CUTS['frac_valid_in_1.5Re']}")
    if not g >= HARD_CUTS["vel_grad"]:
        rejects.append(f"vel_grad = {g:.3g} < {HARD_CUTS['vel_grad']} km/s/spaxel")
    if not m <= HARD_CUTS["mask_fraction"]:
        rejects.append(f"mask_fraction = {m:.3g} > {HARD_CUTS['mask_fraction']}")
    if not fx >= HARD_CUTS["flux_max"]:
        rejects.append(f"flux_max = {fx:.3g} < {HARD_CUTS['flux_max']}")
    if rejects:
        return 0, "reject", ["hard reject: " + r for r in rejects]

    reasons = []

    def award(label, points):
        reasons.append(f"{label}: {points:+d}")
        return points

    score = 0
    score += award(f"vel_grad {g:.3g}", 30 if g >= 5 else 22 if g >= 3 else 12)
    score += award(f"frac_valid_in_1.5Re {f:.3g}", 30 if f >= 0.9 else 24 if f >= 0.8 else 16)
    score += award(f"vel_std {s:.3g}", 20 if s >= 120 else 14 if s >= 70 else 8)
    score += award(f"mask_fraction {m:.3g}", 10 if m <= 0.4 else 6 if m <= 0.6 else 2)
    score += award(f"flux_max {fx:.3g}", 5 if fx >= 200 else 3 if fx >= 100 else 1)
    if abs(c) <= 0.2:
        score += award(f"|flux_vel_corr| {abs(c):.3g}", 3)
    elif abs(c) > 0.4:
        score += award(f"|flux_vel_corr| {abs(c):.3g}", -5)
    else:
        reasons.append(f"|flux_vel_corr| {abs(c):.3g}: +0")
    return score, _tier(score), reasons


def _maps_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and (p.name.endswith(".fits") or p.name.endswith(".fits.gz")))


def _require_folder(folder) -> Path:
    folder = Path(folder)
    if not folder.is_dir():
        raise NotADirectoryError(f"MAPS folder not found (or not a folder): {folder}")
    return folder


def inspect_folder(folder, out_dir, *, velocity: str = "stellar", line: str = HALPHA,
                   progress: bool = True):
    """Quality metrics and lensibility of every MAPS file (``*.fits``, ``*.fits.gz``) of a folder.

    A file that cannot be read gets a row with the ``error`` column filled (tier ``reject``)
    instead of stopping the folder.

    Args:
        folder: the MAPS files.
        out_dir: where ``maps_quality_summary.csv``, ``maps_lensability_scored.csv`` and
            ``usable_maps.txt`` are written (atomically).
        velocity: ``"stellar"`` or ``"gas"`` (see :func:`quality_metrics`).
        line: emission line read (default H-alpha).
        progress: show a progress bar (one step per file; silenced by ``--quiet``).

    Returns:
        ``(quality, scored, index_path)``: the quality DataFrame (file order), the scored
        DataFrame (quality + ``score``, ``tier``, ``reasons``; best first) and the path of the
        usable index (one file name per line, tier != reject, best first).

    Raises:
        NotADirectoryError: ``folder`` is not a folder.
        FileNotFoundError: it holds no MAPS files.
    """
    import pandas as pd

    _check_velocity_kind(velocity)
    folder = _require_folder(folder)
    out_dir = Path(out_dir)
    files = _maps_files(folder)
    if not files:
        raise FileNotFoundError(f"{folder}: no MAPS files (*.fits, *.fits.gz)")
    rows = []
    with progress_bar(len(files), "inspect MAPS", enabled=progress) as advance:
        for path in files:
            row = dict.fromkeys(_QUALITY_COLUMNS)
            row.update(file=path.name, velocity=velocity, error="")
            try:
                row.update(quality_metrics(read_maps(path, line=line), velocity=velocity))
            except Exception as exc:  # one bad file fails alone
                row.update(error=f"{type(exc).__name__}: {exc}", usable=False)
            rows.append(row)
            advance()
    quality = pd.DataFrame(rows, columns=list(_QUALITY_COLUMNS))
    scores, tiers, reasons = [], [], []
    for row in rows:
        if row["error"]:
            scores.append(0)
            tiers.append("reject")
            reasons.append("error: " + row["error"])
            continue
        score, tier, why = lensibility_score(row)
        scores.append(score)
        tiers.append(tier)
        reasons.append("; ".join(why))
    scored = quality.assign(score=scores, tier=tiers, reasons=reasons)
    scored = scored.sort_values(["score", "file"], ascending=[False, True], kind="stable")
    scored = scored.reset_index(drop=True)
    write_csv(out_dir / QUALITY_FILE, quality)
    write_csv(out_dir / SCORED_FILE, scored)
    usable = scored.loc[scored["tier"] != "reject", "file"].tolist()
    text = "".join(f"{name}\n" for name in usable)
    index_path = atomic_write_bytes(out_dir / USABLE_INDEX_FILE, text.encode())
    return quality, scored, index_path


# --------------------------------------------------------------------------------------------
# source tensors
# --------------------------------------------------------------------------------------------


def _normalise_flux(flux, valid, where: str) -> np.ndarray:
    if not valid.any():
        raise ValueError(f"{where}: no valid flux pixels")
    p5, p995 = np.percentile(flux[valid], [5.0, 99.5])
    if not p995 > p5:
        raise ValueError(f"{where}: flux has no dynamic range (p99.5 = p5 = {p5:.6g})")
    out = np.clip((flux - p5) / (p995 - p5), 0.0, 1.0)
    return np.where(valid, out, 0.0)


def _normalise_velocity(vel, valid) -> np.ndarray:
    if not valid.any():
        return np.zeros(vel.shape)
    med = np.median(vel[valid])
    scale = np.percentile(np.abs(vel[valid] - med), 95.0)
    if not scale > 0:  # no velocity structure: the channel is 0
        return np.zeros(vel.shape)
    out = np.clip((vel - med) / scale, -1.0, 1.0)
    return np.where(valid, out, 0.0)


def _resample(image: np.ndarray, n_pix: int) -> np.ndarray:
    from scipy.ndimage import map_coordinates

    ny, nx = image.shape
    if (ny, nx) == (n_pix, n_pix):
        return image
    rows = (np.arange(n_pix) + 0.5) * (ny / n_pix) - 0.5
    cols = (np.arange(n_pix) + 0.5) * (nx / n_pix) - 0.5
    rr, cc = np.meshgrid(rows, cols, indexing="ij")
    return map_coordinates(image, [rr, cc], order=1, mode="nearest")


def _check_n_pix(n_pix) -> int | None:
    if n_pix is None:
        return None
    if isinstance(n_pix, bool) or not isinstance(n_pix, (int, np.integer)) or n_pix < 2:
        raise ValueError(f"n_pix must be an integer >= 2 (or None), got {n_pix!r}")
    return int(n_pix)


def source_tensor(maps: MapsData, n_pix: int | None = 64, *, velocity: str = "stellar",
                  dtype=np.float32) -> np.ndarray:
    """The ``(2, N, N)`` source tensor of one galaxy: normalised flux and velocity.

    Args:
        maps: from :func:`read_maps` or :func:`synthetic_maps`.
        n_pix: output size ``N`` (None: keep the native spaxel grid).
        velocity: ``"stellar"`` (the research choice) or ``"gas"``.
        dtype: output dtype (float32: the tensors feed the float32 CNN).

    Returns:
        channel 0 flux in [0, 1], channel 1 velocity in [-1, 1]; invalid pixels 0
        (normalisation and resampling in the module docstring).

    Raises:
        ValueError: no valid flux pixel, or a flux map without dynamic range.
    """
    n_pix = _check_n_pix(n_pix)
    where = f"source_tensor({maps.plateifu})"
    flux = _normalise_flux(maps.flux, maps.flux_valid, where)
    vel = _normalise_velocity(*maps.velocity(velocity))
    if n_pix is not None:
        flux = np.clip(_resample(flux, n_pix), 0.0, 1.0)
        vel = np.clip(_resample(vel, n_pix), -1.0, 1.0)
    return np.stack([flux, vel]).astype(dtype)


def _save_npy(path: Path, array: np.ndarray) -> Path:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return atomic_write_bytes(path, buffer.getvalue())


def preview_figure(tensor: np.ndarray, title: str = ""):
    """A matplotlib figure of both channels of a ``(2, N, N)`` source tensor."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(8, 3.6))
    panels = ((tensor[0], "flux (normalised)", "inferno", 0.0, 1.0),
              (tensor[1], "velocity (normalised)", "RdBu_r", -1.0, 1.0))
    for ax, (image, label, cmap, lo, hi) in zip(axes, panels, strict=True):
        im = ax.imshow(image, origin="lower", cmap=cmap, vmin=lo, vmax=hi)
        ax.set_title(label)
        ax.set_xticks([])
        ax.set_yticks([])
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    if title:
        fig.suptitle(title)
    return fig


def _read_index(index, folder: Path) -> list[Path]:
    if isinstance(index, (str, os.PathLike)):
        index_path = Path(index)
        if not index_path.is_file():
            raise FileNotFoundError(f"usable index file not found: {index_path}")
        names = [line.strip() for line in index_path.read_text().splitlines()]
        names = [n for n in names if n and not n.startswith("#")]
    else:
        names = [str(n) for n in index]
    return [Path(n) if Path(n).is_absolute() else folder / n for n in names]


def prep_folder(folder, out_dir, n_pix: int = 64, *, index=None, velocity: str = "stellar",
                line: str = HALPHA, preview: bool = True, progress: bool = True) -> list[Path]:
    """Write ``<plateifu>.npy`` source tensors (and ``<plateifu>.png`` previews).

    Args:
        folder: the MAPS files.
        out_dir: output folder.
        n_pix: tensor size ``N``.
        index: which files: None (every MAPS file of ``folder``), the path of a usable index
            (:func:`inspect_folder`'s ``usable_maps.txt``: one name per line, relative to
            ``folder``; ``#`` comments) or a sequence of names/paths.
        velocity: ``"stellar"`` or ``"gas"``.
        line: emission line (default H-alpha).
        preview: also write the PNG of both channels.
        progress: show a progress bar.

    Returns:
        the ``.npy`` paths written, in input order. A file that cannot be read or normalised
        is skipped with a warning naming it (as is a second file of an already written
        plateifu).
    """
    _check_velocity_kind(velocity)
    n_pix = _check_n_pix(n_pix)
    folder = _require_folder(folder)
    out_dir = Path(out_dir)
    files = _maps_files(folder) if index is None else _read_index(index, folder)
    if not files:
        raise FileNotFoundError(f"{folder}: no MAPS files to prepare")
    written: list[Path] = []
    seen: dict[str, Path] = {}
    with progress_bar(len(files), "prep sources", enabled=progress) as advance:
        for path in files:
            try:
                maps = read_maps(path, line=line)
                tensor = source_tensor(maps, n_pix, velocity=velocity)
            except Exception as exc:
                warnings.warn(f"prep_folder: skipping {path} ({type(exc).__name__}: {exc})",
                              stacklevel=2)
                advance()
                continue
            name = re.sub(r"[^A-Za-z0-9._-]", "_", maps.plateifu)
            if name in seen:
                warnings.warn(f"prep_folder: skipping {path}: plateifu {maps.plateifu} already "
                              f"written from {seen[name]}", stacklevel=2)
                advance()
                continue
            seen[name] = path
            written.append(_save_npy(out_dir / f"{name}.npy", tensor))
            if preview:
                save_figure(preview_figure(tensor, f"{maps.plateifu} ({velocity} velocity)"),
                            out_dir / f"{name}.png")
            advance()
    return written


def load_sources(folder_or_files) -> tuple[np.ndarray, list[str]]:
    """Stack saved source tensors.

    Args:
        folder_or_files: a folder (every ``*.npy``, sorted by name) or a sequence of files.

    Returns:
        ``(sources, plateifus)``: float32 array ``(S, 2, N, N)`` and the file stems (the
        plateifus written by :func:`prep_folder`), for splitting by galaxy.

    Raises:
        FileNotFoundError: a missing file or folder, or no ``.npy`` in the folder.
        ValueError: naming the file: not ``(2, N, N)``, sizes that differ between files,
            non-finite values, flux outside [0, 1] or velocity outside [-1, 1].
    """
    if isinstance(folder_or_files, (str, os.PathLike)) and Path(folder_or_files).is_dir():
        files = sorted(Path(folder_or_files).glob("*.npy"))
        if not files:
            raise FileNotFoundError(f"{folder_or_files}: no source tensors (*.npy)")
    elif isinstance(folder_or_files, (str, os.PathLike)):
        raise FileNotFoundError(f"source tensor folder not found: {folder_or_files}")
    else:
        files = [Path(p) for p in folder_or_files]
        if not files:
            raise ValueError("load_sources: no files given")
    arrays, names = [], []
    for path in files:
        if not path.is_file():
            raise FileNotFoundError(f"source tensor not found: {path}")
        try:
            array = np.load(path, allow_pickle=False)
        except Exception as exc:
            raise ValueError(f"{path}: not a numpy .npy file ({exc})") from exc
        if array.ndim != 3 or array.shape[0] != 2 or array.shape[1] != array.shape[2]:
            raise ValueError(f"{path}: expected a (2, N, N) source tensor, got {array.shape}")
        if arrays and array.shape != arrays[0].shape:
            raise ValueError(
                f"{path}: shape {array.shape} differs from {files[0]}'s {arrays[0].shape}")
        if not np.all(np.isfinite(array)):
            raise ValueError(f"{path}: non-finite values in the source tensor")
        tol = 1e-6
        if array[0].min() < -tol or array[0].max() > 1 + tol:
            raise ValueError(f"{path}: flux channel outside [0, 1]")
        if np.abs(array[1]).max() > 1 + tol:
            raise ValueError(f"{path}: velocity channel outside [-1, 1]")
        arrays.append(array.astype(np.float32))
        names.append(path.name[: -len(".npy")])
    return np.stack(arrays), names


# --------------------------------------------------------------------------------------------
# synthetic galaxies
# --------------------------------------------------------------------------------------------

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
    n_spaxel = _check_n_pix(n_spaxel)
    inc = _draw(rng, "inclination", inclination)
    pa = _draw(rng, "position_angle", position_angle)
    r_d = _draw(rng, "r_d", r_d)
    v_max = _draw(rng, "v_max", v_max)
    r_turn = _draw(rng, "r_turn", r_turn)
    n_clumps = _draw(rng, "n_clumps", n_clumps)
    if not 0.0 <= inc <= 85.0:
        raise ValueError(f"inclination must be in [0, 85] degrees, got {inc!r}")
    for label, value in (("r_d", r_d), ("r_turn", r_turn), ("flux_peak", flux_peak)):
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"{label} must be a finite number > 0, got {value!r}")
    if not (math.isfinite(v_max) and v_max >= 0):
        raise ValueError(f"v_max must be a finite number >= 0, got {v_max!r}")
    if int(n_clumps) != n_clumps or n_clumps < 0:
        raise ValueError(f"n_clumps must be an integer >= 0, got {n_clumps!r}")
    if flux_noise < 0 or vel_noise < 0:
        raise ValueError("flux_noise and vel_noise must be >= 0")

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
    for _ in range(int(n_clumps)):
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
        "INCL": inc, "RD": r_d, "VMAX": v_max, "RTURN": r_turn, "NCLUMPS": int(n_clumps),
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
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be an integer >= 1, got {n!r}")
    rng = np.random.default_rng(seed)
    return np.stack([synthetic_source(rng, n_pix, **kwargs) for _ in range(int(n))])


# --------------------------------------------------------------------------------------------
# writing MAPS-format files
# --------------------------------------------------------------------------------------------


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
    if layout not in _LAYOUT_CHANNELS:
        raise ValueError(f"layout must be one of {sorted(_LAYOUT_CHANNELS)}, got {layout!r}")
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
