"""Reading SDSS-IV MaNGA DAP ``MAPS`` files (``.fits`` and ``.fits.gz``) into :class:`MapsData`.

Everything here runs once, on the host, when data are loaded (numpy, astropy).

The extensions read are :data:`REQUIRED_EXTENSIONS`: ``EMLINE_GFLUX`` (+ ``_IVAR``,
``_MASK``; Gaussian-fitted line flux, 1e-17 erg/s/cm^2/spaxel), ``EMLINE_GVEL`` (+ ``_IVAR``,
``_MASK``; line-of-sight velocity of the line, km/s, relative to the systemic redshift),
``STELLAR_VEL`` (+ ``_IVAR``, ``_MASK``; km/s), ``SPX_ELLCOO`` (elliptical polar
coordinates; the ``R/Re`` channel) and the primary header (``PLATEIFU``, ``MANGAID``,
``REFF``, DAP versions, ...).

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

Writing such files is :mod:`jaxfit.lensing.fits_io`.
"""

from __future__ import annotations

import dataclasses
import gzip
import io
import math
import re
import warnings
import zlib
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from jaxfit.core import checks

__all__ = [
    "DR15_EMLINE_CHANNELS",
    "DR17_EMLINE_CHANNELS",
    "HALPHA",
    "MapsData",
    "MapsFormatError",
    "REQUIRED_EXTENSIONS",
    "SENTINEL",
    "VELOCITY_KINDS",
    "WAVELENGTH_TOLERANCE",
    "channel_index",
    "channel_names",
    "maps_files",
    "read_maps",
    "valid_pixels",
]

HALPHA = "Ha-6564"
"""Default emission line: H-alpha, as the DAP names it (vacuum rest wavelength in Angstrom)."""

WAVELENGTH_TOLERANCE = 2.0
"""Angstrom: a requested ``species-wavelength`` matches a channel of the same species this
close (DAP line names carry rounded vacuum wavelengths; other tools write 'Ha-6565')."""

SENTINEL = -999.0
"""Placeholder value of missing measurements in some MaNGA products; always invalid."""

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

VELOCITY_KINDS = ("stellar", "gas")
"""Velocity maps a :class:`MapsData` holds: the stars' or the emission line's (gas)."""


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
        kind = checks.one_of(kind, "velocity", VELOCITY_KINDS)
        if kind == "stellar":
            return self.stellar_vel, self.stellar_vel_valid
        return self.gas_vel, self.gas_vel_valid


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



_GZIP_MAGIC = b"\x1f\x8b"
_FITS_BLOCK = 2880  # bytes; every header and data unit is padded to whole blocks


def _fits_bytes(path: Path) -> bytes:
    """The FITS bytes of ``path``, gunzipped when it is gzip (by its magic bytes, not its
    name). Read whole: gzip's end-of-stream check is what tells a truncated ``.fits.gz``
    from a file that merely lacks extensions (astropy reads the HDUs before the cut and
    stops quietly)."""
    payload = path.read_bytes()
    if not payload.startswith(_GZIP_MAGIC):
        return payload
    try:
        return gzip.decompress(payload)
    except (OSError, EOFError, zlib.error) as exc:
        raise MapsFormatError(f"{path}: corrupt file, truncated or damaged gzip stream "
                              f"({type(exc).__name__}: {exc})") from None


def _check_complete(hdul, payload: bytes, path: Path) -> None:
    """Every extension's data must lie inside ``payload``, and only blank padding may follow
    the last one: astropy opens a cut file without complaint (a header cut short is
    dropped, cut data are noticed only when read)."""
    end = 0
    for k, hdu in enumerate(hdul):
        start = hdul.fileinfo(k)["datLoc"]
        if start + hdu.size > len(payload):
            raise MapsFormatError(
                f"{path}: corrupt file, truncated: extension {k} ({hdu.name}) needs "
                f"{start + hdu.size} bytes, the file has {len(payload)}")
        end = start + -(-hdu.size // _FITS_BLOCK) * _FITS_BLOCK
    if payload[end:].strip(b"\0 "):
        raise MapsFormatError(
            f"{path}: corrupt file, truncated or damaged: {len(payload) - end} bytes after "
            f"the last complete extension ({hdul[-1].name}) are not a FITS extension")


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
        OSError: the file cannot be read (permissions, I/O).
        MapsFormatError: naming the file: a corrupt file (not FITS, a truncated or damaged
            gzip stream, an extension cut short by the end of the file), a missing extension
            (listing those present), an unknown channel (listing those available), maps of
            the wrong dimensionality or of inconsistent shapes.
    """
    from astropy.io import fits

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"MaNGA MAPS file not found: {path}")
    payload = _fits_bytes(path)
    # astropy's warnings ("file may have been truncated", unprintable header cards) would
    # print beside the one error line; _check_complete and the checks below decide instead
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            hdul = fits.open(io.BytesIO(payload), memmap=False)
            names = [hdu.name.upper() for hdu in hdul]  # reads every header (lazy otherwise)
            _check_complete(hdul, payload, path)
        except MapsFormatError:
            raise
        except Exception as exc:
            raise MapsFormatError(
                f"{path}: corrupt file, not a readable FITS file ({type(exc).__name__}: {exc})"
            ) from exc
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


def maps_files(folder) -> list[Path]:
    """The MAPS files (``*.fits``, ``*.fits.gz``) of an existing folder, sorted by name."""
    folder = checks.existing_folder(folder, "MAPS folder")
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and (p.name.endswith(".fits") or p.name.endswith(".fits.gz")))
