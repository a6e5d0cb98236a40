"""Gravity data: SPARC rotation curves, the Milky Way curve and its baryonic model.

Everything here runs once, on the host, when data are loaded (numpy, pandas and scipy);
the results are float64 JAX arrays in pytree containers that the fitted, jitted code takes
as arguments. Units: kpc, km/s, Msun; ``G`` = :data:`G_KPC`
= :data:`jaxfit.gravity.model.G_NEWTON` (4.30091727e-6 kpc km^2 s^-2 Msun^-1).

**SPARC** (Lelli, McGaugh & Schombert 2016, AJ 152, 157; http://astroweb.case.edu/SPARC/):

- :func:`read_rotmod` reads one ``Rotmod_LTG/<name>_rotmod.dat`` file: a header
  ``# Distance = D Mpc`` and the 8 columns of :data:`ROTMOD_COLUMNS` (``Rad`` kpc; ``Vobs``,
  ``errV``, ``Vgas``, ``Vdisk``, ``Vbul`` km/s; ``SBdisk``, ``SBbul`` Lsun/pc^2 at 3.6 um).
  Vdisk and Vbul are for a mass-to-light ratio of 1 Msun/Lsun; Vgas includes the 1.33
  helium factor; Vgas (rarely Vdisk) can be negative, meaning a net outward force, so
  ``v_bar^2 = Vgas|Vgas| + Y_d Vdisk|Vdisk| + Y_b Vbul|Vbul|`` (the model's business).
- :func:`read_sparc_master` reads the galaxy table ``SPARC_Lelli2016c.mrt`` (175 rows,
  columns :data:`SPARC_MASTER_COLUMNS`). Its data lines are 131 characters wide although its
  byte-by-byte header describes 113, so fixed-width MRT readers (astropy's included) fail on
  the official file; the rows are whitespace-separated (18 fields, then the reference list
  ``Ref``, which holds no spaces in the real file and is re-joined if it does).
- :func:`load_sparc` reads every ``*_rotmod.dat`` of a folder into one padded, masked
  :class:`SparcBatch` (galaxies sorted by name), with per-galaxy velocity dispersions from an
  optional summary CSV (:func:`read_sparc_summary`; missing galaxies get ``default_sigma_v``
  = 25 km/s, the research default).
- :func:`download_sparc` (``jaxfit data sparc``) fetches ``Rotmod_LTG.zip`` and the master
  table from :data:`SPARC_URLS` into ``data_home()/sparc`` (:func:`default_sparc_dir`).

Padding convention of :class:`SparcBatch` (fixed shapes ``(G, N_max)``, nothing NaN): at
padded points ``mask`` is False, ``R`` repeats the galaxy's last radius (so ``R > 0``
everywhere and logs/divisions stay finite), ``errV`` is 1, and ``Vobs``, ``Vgas``,
``Vdisk``, ``Vbul``, ``SBdisk``, ``SBbul`` are 0. Reductions must use ``mask``.

**Milky Way**:

- Eilers, Hogg, Rix & Ness 2019 (ApJ 871, 120) Table 1: v_c(R) in 38 bins from 5.27 to
  24.82 kpc with asymmetric errors, packaged as ``data/gravity_mw_eilers2019.csv`` (citation
  in ``data/gravity_mw_mcmillan2017.json`` under ``"sources"``).
- McMillan 2017 (MNRAS 465, 76) best-fitting mass model (:class:`McMillan2017`,
  :func:`load_mcmillan2017`, packaged as ``data/gravity_mw_mcmillan2017.json``): thin and
  thick exponential stellar discs, HI and H2 discs with central holes and sech^2 vertical
  profiles, an oblate bulge, and an NFW halo. ``v_bar`` is the baryonic part (discs and
  bulge, not the halo). :func:`load_milky_way` evaluates it at the Eilers radii once.
- :func:`load_baseline_parquet` reads the research code's star-level Gaia table (columns
  ``R``, ``v_phi``, ``v_phi_GR``) in a radial band.

**How the McMillan circular speeds are computed** (host-side, scipy; accuracy verified in
tests/gravity/test_data.py):

- Discs (:func:`disc_vc2`): ``rho(R, z) = Sigma(R) zeta(z)`` with ``zeta`` normalised to 1.
  The mid-plane radial force is the superposition of thin rings: a ring of radius ``a`` at
  height ``z`` pulls a unit mass at ``(R, 0)`` with
  ``dPhi/dR = G M / (pi R) [K(m) - (a^2 - R^2 + z^2) / ((a - R)^2 + z^2) E(m)] /
  sqrt((R + a)^2 + z^2)``, ``m = 4 a R / ((R + a)^2 + z^2)`` (complete elliptic integrals,
  the kernel of Casertano 1983, MNRAS 203, 735), so
  ``v_c^2(R) = 2 G int_0^inf a Sigma(a) H(R, a) da`` with ``H`` the kernel integrated over
  ``zeta``. Both integrals use fixed Gauss-Legendre panels that grade geometrically towards
  ``a = R`` (mirrored, so the principal-value part cancels node by node) and towards
  ``z = 0``; ``a - R`` is carried separately to avoid cancellation. ``vertical="thin"``
  gives the razor-thin disc. Accuracy: the razor-thin exponential disc equals Freeman's
  (1970) Bessel-function formula to 1e-8, thick discs equal an independent Hankel-transform
  evaluation (Binney & Tremaine 2008, section 2.6) to 1e-8, both in v_c^2.
- Bulge (:func:`spheroid_vc2`): for a density stratified on similar oblate spheroids
  ``m^2 = R^2 + z^2/q^2``, ``v_c^2(R) = 4 pi G q int_0^R rho(m) m^2 / sqrt(R^2 - e^2 m^2) dm``
  with ``e^2 = 1 - q^2`` (Binney & Tremaine 2008, eq. 2.132), by adaptive quadrature.
- Halo (:func:`nfw_vc2`): the NFW closed form ``G M(<r) / r``.
With these, McMillan's total circular speed at R0 = 8.21 kpc is 233.22 km/s (published
233.1) and ``v_bar(R0)`` = 176.8 km/s.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import importlib.resources
import io
import json
import math
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxfit.core.precision import require_float64
from jaxfit.gravity.model import G_NEWTON

G_KPC = G_NEWTON
"""Newton's constant in kpc km^2 s^-2 Msun^-1."""

ROTMOD_COLUMNS = ("Rad", "Vobs", "errV", "Vgas", "Vdisk", "Vbul", "SBdisk", "SBbul")
"""Columns of a SPARC ``*_rotmod.dat`` file, in file order."""

SPARC_MASTER_COLUMNS = (
    "Galaxy", "T", "D", "e_D", "f_D", "Inc", "e_Inc", "L36", "e_L36", "Reff", "SBeff",
    "Rdisk", "SBdisk", "MHI", "RHI", "Vflat", "e_Vflat", "Q", "Ref",
)
"""Columns of :func:`read_sparc_master` (``L36`` is the MRT label ``L[3.6]``)."""

_MASTER_INT_COLUMNS = ("T", "f_D", "Q")
_MASTER_LABELS = {"L[3.6]": "L36", "e_L[3.6]": "e_L36", "Ref.": "Ref"}

SPARC_CITATION = (
    "Lelli F., McGaugh S. S. & Schombert J. M. 2016, 'SPARC: Mass Models for 175 Disk "
    "Galaxies with Spitzer Photometry and Accurate Rotation Curves', AJ 152, 157"
)

SPARC_ZIP = "Rotmod_LTG.zip"
SPARC_MASTER_FILE = "SPARC_Lelli2016c.mrt"
SPARC_ROTMOD_DIR = "Rotmod_LTG"
SPARC_URLS = {
    SPARC_ZIP: "https://astroweb.case.edu/SPARC/Rotmod_LTG.zip",
    SPARC_MASTER_FILE: "https://astroweb.case.edu/SPARC/SPARC_Lelli2016c.mrt",
}
"""Official SPARC files fetched by :func:`download_sparc` (``jaxfit data sparc``)."""

EILERS_FILE = "gravity_mw_eilers2019.csv"
MCMILLAN_FILE = "gravity_mw_mcmillan2017.json"
EILERS_COLUMNS = ("R_kpc", "vc_kms", "sigma_vc_minus_kms", "sigma_vc_plus_kms")
"""Columns of the Milky Way curve CSV (Eilers+2019 Table 1)."""

BASELINE_COLUMNS = ("R", "v_phi", "v_phi_GR")
"""Columns the research star-level parquet must have (kpc, km/s, km/s)."""

_ROTMOD_SUFFIX = "_rotmod.dat"
_DISTANCE_RE = re.compile(r"Distance\s*=\s*(\S+)\s*Mpc", re.IGNORECASE)
_MAX_ZIP_MEMBER = 16 * 2**20  # bytes; a rotmod file is a few kB
_MAX_ZIP_TOTAL = 256 * 2**20


def _how_to_get_sparc() -> str:
    from jaxfit.core.download import data_home

    return (
        f"download SPARC with `jaxfit data sparc` (into {data_home() / 'sparc'}) or pass the "
        f"folder holding the *_rotmod.dat files (Rotmod_LTG.zip from "
        f"{SPARC_URLS[SPARC_ZIP].rsplit('/', 1)[0]}/)"
    )


def _as_f64(values, name: str) -> jax.Array:
    return require_float64(np.asarray(values, dtype=np.float64), name)


def _parse_finite(token: str, at: str) -> float:
    """``float(token)``, or a ValueError naming the place ``at`` (file, line, column)."""
    try:
        value = float(token)
    except ValueError:
        raise ValueError(f"{at}: not a number: {token!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"{at}: non-finite value {token!r}")
    return value


def _positive_finite(value, name: str) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}") from None
    if not (math.isfinite(value) and value > 0.0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return value


# --------------------------------------------------------------------------------------------
# SPARC: single files
# --------------------------------------------------------------------------------------------


def read_rotmod(path) -> dict:
    """Read one SPARC ``<name>_rotmod.dat`` file.

    Args:
        path: the file: ``# Distance = D Mpc``, optional ``#`` column and unit lines, then
            whitespace-separated rows of the 8 columns :data:`ROTMOD_COLUMNS`.

    Returns:
        dict with ``name`` (file name without ``_rotmod.dat``), ``path``, ``distance_Mpc``
        (float) and one float64 numpy array per column (``Rad`` kpc; velocities km/s;
        surface brightnesses Lsun/pc^2).

    Raises:
        FileNotFoundError: no such file (the message says how to get SPARC).
        ValueError: naming the file and line: empty file, missing or malformed distance
            header, a column header that does not list the 8 columns, a row with the wrong
            number of columns, a non-numeric or NaN/inf entry (and its column), errV <= 0,
            Rad <= 0 or radii that do not increase, no data rows.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"SPARC rotation-curve file not found: {path}; {_how_to_get_sparc()}"
        )
    name = path.name[: -len(_ROTMOD_SUFFIX)] if path.name.endswith(_ROTMOD_SUFFIX) else path.stem
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: not a UTF-8 text file ({err})") from None
    if not any(line.strip() for line in lines):
        raise ValueError(
            f"{path}, line 1: empty file; expected a '# Distance = D Mpc' header and rows of "
            f"{' '.join(ROTMOD_COLUMNS)}"
        )
    distance = None
    rows: list[list[float]] = []
    last = 0
    for lineno, raw in enumerate(lines, start=1):
        text = raw.strip()
        if not text:
            continue
        last = lineno
        where = f"{path}, line {lineno}"
        if text.startswith("#"):
            body = text[1:].strip()
            if body.lower().startswith("distance"):
                match = _DISTANCE_RE.fullmatch(body)
                if match is None:
                    raise ValueError(
                        f"{where}: malformed distance header {text!r}; expected "
                        "'# Distance = D Mpc'"
                    )
                if rows or distance is not None:
                    raise ValueError(f"{where}: a second or late distance header {text!r}")
                try:
                    distance = float(match.group(1))
                except ValueError:
                    distance = float("nan")
                if not (math.isfinite(distance) and distance > 0):
                    raise ValueError(
                        f"{where}: the distance must be a finite number > 0 (Mpc), got "
                        f"{match.group(1)!r}"
                    )
            elif body.split() and body.split()[0] == ROTMOD_COLUMNS[0]:
                if tuple(body.split()) != ROTMOD_COLUMNS:
                    raise ValueError(
                        f"{where}: the column header lists {body.split()}; expected the 8 "
                        f"columns {' '.join(ROTMOD_COLUMNS)}"
                    )
            continue
        if distance is None:
            raise ValueError(
                f"{where}: data row before a '# Distance = D Mpc' header (the header is missing)"
            )
        fields = text.split()
        if len(fields) != len(ROTMOD_COLUMNS):
            raise ValueError(
                f"{where}: expected {len(ROTMOD_COLUMNS)} columns ({' '.join(ROTMOD_COLUMNS)}), "
                f"got {len(fields)}: {text!r}"
            )
        row = []
        for column, token in zip(ROTMOD_COLUMNS, fields, strict=True):
            row.append(_parse_finite(token, f"{where}, column {column}"))
        rad, err_v = row[0], row[2]
        if err_v <= 0.0:
            raise ValueError(f"{where}, column errV: velocity error must be > 0, got {err_v}")
        if rad <= 0.0:
            raise ValueError(f"{where}, column Rad: radius must be > 0, got {rad}")
        if rows and rad <= rows[-1][0]:
            raise ValueError(
                f"{where}, column Rad: radii must increase, got {rad} after {rows[-1][0]}"
            )
        rows.append(row)
    if distance is None:
        raise ValueError(f"{path}, line 1: missing '# Distance = D Mpc' header")
    if not rows:
        raise ValueError(
            f"{path}, line {last}: no data rows after the header (expected rows of "
            f"{' '.join(ROTMOD_COLUMNS)})"
        )
    table = np.asarray(rows, dtype=np.float64)
    out = {"name": name, "path": str(path), "distance_Mpc": distance}
    out.update({column: table[:, j].copy() for j, column in enumerate(ROTMOD_COLUMNS)})
    return out


def _mrt_labels(lines: list[str], path: Path) -> tuple[list[str], int]:
    """Labels of the byte-by-byte description and the index of the first data line."""
    start = next((i for i, line in enumerate(lines) if line.startswith("Byte-by-byte")), None)
    if start is None:
        raise ValueError(f"{path}, line 1: not an MRT table (no 'Byte-by-byte Description')")
    dashes = [i for i, line in enumerate(lines) if i > start and set(line.strip()) == {"-"}
              and len(line.strip()) >= 10]
    if len(dashes) < 3:
        raise ValueError(
            f"{path}, line {start + 1}: malformed MRT header (expected dashed lines around "
            "the byte-by-byte column list and before the data)"
        )
    labels = []
    pattern = re.compile(r"^\s*\d+(?:\s*-\s*\d+)?\s+[AIFE]\S*\s+\S+\s+(\S+)")
    for line in lines[dashes[1] + 1 : dashes[2]]:
        match = pattern.match(line)
        if match:
            labels.append(_MASTER_LABELS.get(match.group(1), match.group(1)))
    return labels, dashes[-1] + 1


def read_sparc_master(path):
    """Read the SPARC galaxy table ``SPARC_Lelli2016c.mrt`` (Lelli+2016 Table 1).

    The byte-by-byte header is checked to describe :data:`SPARC_MASTER_COLUMNS`; the data
    rows (everything after the last dashed line) are split on whitespace, because the
    official file's rows are wider than its header says.

    Args:
        path: the MRT file.

    Returns:
        pandas DataFrame, one row per galaxy in file order, columns
        :data:`SPARC_MASTER_COLUMNS` (T, f_D, Q integers; Galaxy, Ref strings; the rest
        float64). Units: D Mpc, Inc deg, L36 1e9 Lsun, Reff/Rdisk/RHI kpc, SBeff/SBdisk
        Lsun/pc^2, MHI 1e9 Msun, Vflat km/s (0 where not measured).

    Raises:
        FileNotFoundError: no such file (the message says how to get SPARC).
        ValueError: naming the file and line: not an MRT table, header columns that are not
            the SPARC ones, a row with fewer than 18 fields, a non-numeric or NaN/inf entry
            (and its column), a duplicated galaxy, no rows.
    """
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"SPARC master table not found: {path}; {_how_to_get_sparc()}")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: not a UTF-8 text file ({err})") from None
    if not any(line.strip() for line in lines):
        raise ValueError(f"{path}, line 1: empty file; expected the SPARC MRT table")
    labels, first = _mrt_labels(lines, path)
    if tuple(labels) != SPARC_MASTER_COLUMNS:
        raise ValueError(
            f"{path}: the byte-by-byte header describes columns {labels}; expected the SPARC "
            f"galaxy table {list(SPARC_MASTER_COLUMNS)}"
        )
    numeric = SPARC_MASTER_COLUMNS[1:-1]
    records: dict[str, list] = {c: [] for c in SPARC_MASTER_COLUMNS}
    seen: dict[str, int] = {}
    for lineno, raw in enumerate(lines[first:], start=first + 1):
        fields = raw.split()
        if not fields:
            continue
        where = f"{path}, line {lineno}"
        if len(fields) < 1 + len(numeric):
            raise ValueError(
                f"{where}: expected {len(SPARC_MASTER_COLUMNS)} whitespace-separated fields "
                f"({' '.join(SPARC_MASTER_COLUMNS)}), got {len(fields)}"
            )
        galaxy = fields[0]
        if galaxy in seen:
            raise ValueError(f"{where}: galaxy {galaxy} repeated (first on line {seen[galaxy]})")
        seen[galaxy] = lineno
        records["Galaxy"].append(galaxy)
        for column, token in zip(numeric, fields[1 : 1 + len(numeric)], strict=True):
            value = _parse_finite(token, f"{where}, column {column}")
            if column in _MASTER_INT_COLUMNS:
                if value != int(value):
                    raise ValueError(
                        f"{where}, column {column}: expected an integer, got {token!r}"
                    )
                value = int(value)
            records[column].append(value)
        records["Ref"].append(" ".join(fields[1 + len(numeric) :]))
    if not records["Galaxy"]:
        raise ValueError(f"{path}, line {first}: no data rows after the header")
    frame = pd.DataFrame(records, columns=list(SPARC_MASTER_COLUMNS))
    for column in numeric:
        frame[column] = frame[column].astype(
            np.int64 if column in _MASTER_INT_COLUMNS else np.float64
        )
    return frame


def read_sparc_summary(path, galaxy_col: str = "galaxy_name",
                       sigma_col: str = "sigma_velocity") -> dict[str, float]:
    """Per-galaxy velocity dispersions from a summary CSV (the research ``--sparc-summary``).

    Args:
        path: CSV with a header row.
        galaxy_col: column of galaxy names (matched to the SPARC names after stripping
            blanks).
        sigma_col: column of sigma_v in km/s. A blank cell means "no value" (the galaxy
            gets the default of :func:`load_sparc`).

    Returns:
        ``{galaxy: sigma_v}`` for the rows that have a value.

    Raises:
        FileNotFoundError: no such file.
        ValueError: a missing column (naming it, the file and the columns there), a sigma_v
            that is not a number, inf or <= 0, or a galaxy listed twice with different
            values (naming the file and line).
    """
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"SPARC summary CSV not found: {path} (the per-galaxy sigma_v table, "
            "--sparc-summary; leave it out to give every galaxy default_sigma_v)"
        )
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not a readable CSV table ({err})") from None
    for option, column in (("galaxy_col", galaxy_col), ("sigma_col", sigma_col)):
        if column not in frame.columns:
            raise ValueError(
                f"{path}: column {column!r} ({option}) not found; columns there: "
                f"{', '.join(map(str, frame.columns))}"
            )
    out: dict[str, float] = {}
    first_line: dict[str, int] = {}
    for index, (galaxy, token) in enumerate(zip(frame[galaxy_col], frame[sigma_col],
                                                strict=True)):
        lineno = index + 2  # header is line 1
        galaxy, token = str(galaxy).strip(), str(token).strip()
        if not galaxy or not token or token.lower() == "nan":
            continue
        where = f"{path}, line {lineno}, column {sigma_col}"
        try:
            value = float(token)
        except ValueError:
            raise ValueError(f"{where}: sigma_v of {galaxy} is not a number: {token!r}") from None
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"{where}: sigma_v of {galaxy} must be finite and > 0, got {token!r}")
        if galaxy in out and out[galaxy] != value:
            raise ValueError(
                f"{where}: {galaxy} has sigma_v {value} here and {out[galaxy]} on line "
                f"{first_line[galaxy]}"
            )
        out.setdefault(galaxy, value)
        first_line.setdefault(galaxy, lineno)
    return out


# --------------------------------------------------------------------------------------------
# SPARC: the padded batch
# --------------------------------------------------------------------------------------------

_BATCH_ARRAYS = ("R", "Vobs", "errV", "Vgas", "Vdisk", "Vbul", "SBdisk", "SBbul", "mask",
                 "n_points", "distance", "sigma_v")


@functools.partial(jax.tree_util.register_dataclass, data_fields=list(_BATCH_ARRAYS),
                   meta_fields=["names"])
@dataclasses.dataclass(frozen=True, eq=False)
class SparcBatch:
    """All galaxies in one padded, masked batch (a JAX pytree; ``names`` is static).

    Attributes:
        names: galaxy names, one per row.
        R: radii [kpc], shape ``(G, N_max)``.
        Vobs, errV: observed rotation velocity and its error [km/s].
        Vgas, Vdisk, Vbul: baryonic contributions [km/s] (disc and bulge for M/L = 1).
        SBdisk, SBbul: surface brightnesses [Lsun/pc^2].
        mask: True at real points, shape ``(G, N_max)``.
        n_points: real points per galaxy, int32, shape ``(G,)``.
        distance: distance [Mpc], shape ``(G,)``.
        sigma_v: velocity dispersion [km/s] for the resonance kernel, shape ``(G,)``.

    Padded points (``mask`` False) hold finite values: ``R`` = the galaxy's last radius,
    ``errV`` = 1, all velocities and surface brightnesses 0.
    """

    names: tuple[str, ...]
    R: jax.Array
    Vobs: jax.Array
    errV: jax.Array
    Vgas: jax.Array
    Vdisk: jax.Array
    Vbul: jax.Array
    SBdisk: jax.Array
    SBbul: jax.Array
    mask: jax.Array
    n_points: jax.Array
    distance: jax.Array
    sigma_v: jax.Array

    @property
    def n_galaxies(self) -> int:
        """Number of galaxies ``G``."""
        return len(self.names)

    @property
    def n_max(self) -> int:
        """Padded length ``N_max``."""
        return int(self.R.shape[-1])

    @property
    def n_total(self) -> int:
        """Number of real points (host-side; not inside jit)."""
        return int(np.asarray(self.n_points).sum())

    def index(self, name: str) -> int:
        """Row of galaxy ``name``."""
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(f"galaxy {name!r} is not in this batch ({self.n_galaxies} galaxies)")\
                from None

    def galaxy(self, name: str) -> dict:
        """The real (unpadded) points of galaxy ``name`` as numpy arrays, with
        ``distance`` and ``sigma_v`` (host-side)."""
        i = self.index(name)
        n = int(self.n_points[i])
        out = {c: np.asarray(getattr(self, c)[i, :n]) for c in ROTMOD_COLUMNS[1:]}
        out["R"] = np.asarray(self.R[i, :n])
        out["distance"] = float(self.distance[i])
        out["sigma_v"] = float(self.sigma_v[i])
        return out


def make_sparc_batch(curves: Sequence[Mapping], sigma_v=None, *,
                     default_sigma_v: float = 25.0) -> SparcBatch:
    """Pad rotation curves into a :class:`SparcBatch` (in the given order).

    Args:
        curves: dicts as returned by :func:`read_rotmod` (``name``, ``distance_Mpc`` and the
            :data:`ROTMOD_COLUMNS` arrays of equal length >= 1).
        sigma_v: None, a ``{name: km/s}`` mapping (missing names get the default) or one
            value per curve.
        default_sigma_v: sigma_v [km/s] for galaxies without one.

    Raises:
        ValueError: no curves, repeated names, arrays of unequal length or non-finite,
            a sigma_v that is not finite and > 0.
    """
    if not curves:
        raise ValueError("no rotation curves given")
    default = _positive_finite(default_sigma_v, "default_sigma_v")
    names = tuple(str(c["name"]) for c in curves)
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"galaxy names repeated: {repeated}")
    if sigma_v is None:
        sigmas = [default] * len(names)
    elif isinstance(sigma_v, Mapping):
        sigmas = [sigma_v.get(n, default) for n in names]
    else:
        sigmas = list(sigma_v)
        if len(sigmas) != len(names):
            raise ValueError(f"sigma_v has {len(sigmas)} values for {len(names)} galaxies")
    sigmas = [_positive_finite(s, f"sigma_v of {n}") for s, n in zip(sigmas, names, strict=True)]
    lengths = []
    for curve, name in zip(curves, names, strict=True):
        columns = [np.asarray(curve[c], dtype=np.float64) for c in ROTMOD_COLUMNS]
        n = columns[0].shape
        if len(n) != 1 or n[0] < 1 or any(c.shape != n for c in columns):
            raise ValueError(f"{name}: columns must be 1-D arrays of one common length >= 1")
        if not all(np.all(np.isfinite(c)) for c in columns):
            raise ValueError(f"{name}: rotation-curve values must be finite")
        lengths.append(n[0])
    n_max = max(lengths)
    shape = (len(names), n_max)
    pad_value = {"errV": 1.0}
    arrays = {c: np.full(shape, pad_value.get(c, 0.0)) for c in ROTMOD_COLUMNS}
    mask = np.zeros(shape, dtype=bool)
    for i, (curve, n) in enumerate(zip(curves, lengths, strict=True)):
        for c in ROTMOD_COLUMNS:
            arrays[c][i, :n] = np.asarray(curve[c], dtype=np.float64)
        arrays["Rad"][i, n:] = arrays["Rad"][i, n - 1]
        mask[i, :n] = True
    distance = [_positive_finite(c["distance_Mpc"], f"distance of {n}")
                for c, n in zip(curves, names, strict=True)]
    return SparcBatch(
        names=names,
        R=_as_f64(arrays["Rad"], "SPARC R"),
        **{c: _as_f64(arrays[c], f"SPARC {c}") for c in ROTMOD_COLUMNS[1:]},
        mask=jnp.asarray(mask),
        n_points=jnp.asarray(lengths, dtype=jnp.int32),
        distance=_as_f64(distance, "SPARC distance"),
        sigma_v=_as_f64(sigmas, "SPARC sigma_v"),
    )


def default_sparc_dir() -> Path:
    """``data_home()/"sparc"``, where ``jaxfit data sparc`` puts SPARC.

    Raises:
        FileNotFoundError: nothing downloaded there yet (the message says to run
            ``jaxfit data sparc`` or pass a path).
    """
    from jaxfit.core.download import data_home

    folder = data_home() / "sparc"
    rotmod = folder / SPARC_ROTMOD_DIR
    if not (rotmod.is_dir() and any(rotmod.glob(f"*{_ROTMOD_SUFFIX}"))):
        raise FileNotFoundError(
            f"no SPARC download in {folder}: run `jaxfit data sparc` (fetches {SPARC_ZIP} and "
            f"{SPARC_MASTER_FILE} from {SPARC_URLS[SPARC_ZIP].rsplit('/', 1)[0]}/) or pass the "
            "folder holding the *_rotmod.dat files"
        )
    return folder


def _rotmod_files(folder) -> list[Path]:
    folder = Path(folder)
    if not folder.exists():
        raise FileNotFoundError(f"SPARC folder not found: {folder}; {_how_to_get_sparc()}")
    if not folder.is_dir():
        raise NotADirectoryError(
            f"SPARC rotmod_dir must be a folder of *_rotmod.dat files, got the file {folder}"
        )
    for candidate in (folder, folder / SPARC_ROTMOD_DIR):
        files = sorted(candidate.glob(f"*{_ROTMOD_SUFFIX}")) if candidate.is_dir() else []
        if files:
            return files
    raise FileNotFoundError(
        f"no *_rotmod.dat files in {folder} (nor in {folder / SPARC_ROTMOD_DIR}); "
        f"{_how_to_get_sparc()}"
    )


def load_sparc(rotmod_dir=None, master=None, *, summary=None, galaxy_col: str = "galaxy_name",
               sigma_col: str = "sigma_velocity", default_sigma_v: float = 25.0,
               max_galaxies: int | None = None,
               galaxies: Iterable[str] | None = None) -> SparcBatch:
    """Load SPARC rotation curves into one padded :class:`SparcBatch`, sorted by name.

    Args:
        rotmod_dir: folder of ``*_rotmod.dat`` files, or the SPARC folder holding
            ``Rotmod_LTG/``; None: :func:`default_sparc_dir` (the ``jaxfit data sparc``
            download).
        master: optional path of ``SPARC_Lelli2016c.mrt``; when given, the galaxy set of the
            folder must equal the table's.
        summary: optional CSV of per-galaxy sigma_v (:func:`read_sparc_summary`).
        galaxy_col, sigma_col: its columns (``--summary-galaxy-col``, ``--summary-sigma-col``).
        default_sigma_v: sigma_v [km/s] of galaxies without a summary value (research: 25).
        max_galaxies: keep only the first N galaxies in name order (``--max-sparc-galaxies``).
        galaxies: keep only these galaxies (applied before ``max_galaxies``).

    Raises:
        FileNotFoundError: a path that does not exist, or no rotmod files (the message says
            how to get SPARC).
        ValueError: a malformed file (naming file and line), a master table whose galaxies
            differ from the folder's (listing both differences), unknown names in
            ``galaxies``, a bad summary column or value, ``max_galaxies`` < 1.
    """
    folder = default_sparc_dir() if rotmod_dir is None else rotmod_dir
    files = _rotmod_files(folder)
    by_name = {f.name[: -len(_ROTMOD_SUFFIX)]: f for f in files}
    if master is not None:
        table = read_sparc_master(master)
        listed = set(table["Galaxy"])
        only_files = sorted(set(by_name) - listed)
        only_master = sorted(listed - set(by_name))
        if only_files or only_master:
            raise ValueError(
                f"SPARC galaxies in {folder} differ from the master table {master}: "
                f"only in the folder: {only_files}; only in the master table: {only_master}"
            )
    names = sorted(by_name)
    if galaxies is not None:
        wanted = [galaxies] if isinstance(galaxies, str) else list(galaxies)
        unknown = [g for g in wanted if g not in by_name]
        if unknown:
            raise ValueError(
                f"galaxies not in {folder}: {unknown} ({len(by_name)} galaxies there, e.g. "
                f"{', '.join(names[:3])})"
            )
        if not wanted:
            raise ValueError("galaxies is empty; give at least one name or None for all")
        names = sorted(set(wanted))
    if max_galaxies is not None:
        if isinstance(max_galaxies, bool) or int(max_galaxies) != max_galaxies \
                or max_galaxies < 1:
            raise ValueError(f"max_galaxies must be an integer >= 1 or None, got {max_galaxies!r}")
        names = names[: int(max_galaxies)]
    sigma = {} if summary is None else read_sparc_summary(summary, galaxy_col, sigma_col)
    curves = [read_rotmod(by_name[n]) for n in names]
    return make_sparc_batch(curves, sigma, default_sigma_v=default_sigma_v)


# --------------------------------------------------------------------------------------------
# SPARC: download (jaxfit data sparc)
# --------------------------------------------------------------------------------------------


def _extract_rotmod_zip(zip_path: Path, target: Path) -> int:
    """Extract the ``*_rotmod.dat`` members of ``zip_path`` into ``target`` (replaced).

    Only regular-file members whose base name ends in ``_rotmod.dat`` are written,
    flattened to that base name (``Rotmod_LTG/NGC3198_rotmod.dat`` -> ``NGC3198_rotmod.dat``);
    ``__MACOSX`` entries and hidden files are skipped; an absolute path, a ``..`` component
    or a symbolic link anywhere in the archive rejects the whole archive; sizes are capped;
    the folder is built aside and moved into place, so a failure leaves the old one.
    """
    try:
        archive = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as err:
        raise RuntimeError(f"{zip_path} is not a valid zip archive ({err})") from None
    with archive:
        members = {}
        total = 0
        for info in archive.infolist():
            if info.is_dir():
                continue
            posix = PurePosixPath(info.filename.replace("\\", "/"))
            parts = posix.parts
            if posix.is_absolute() or ".." in parts or re.match(r"^[A-Za-z]:", info.filename):
                raise RuntimeError(f"{zip_path}: unsafe member path {info.filename!r}")
            if (info.external_attr >> 16) & 0o170000 == 0o120000:
                raise RuntimeError(f"{zip_path}: member {info.filename!r} is a symbolic link")
            base = parts[-1] if parts else ""
            if (not base.endswith(_ROTMOD_SUFFIX) or base.startswith(".")
                    or "__MACOSX" in parts):
                continue
            if base in members:
                raise RuntimeError(f"{zip_path}: {base} appears twice in the archive")
            if info.file_size > _MAX_ZIP_MEMBER or total + info.file_size > _MAX_ZIP_TOTAL:
                raise RuntimeError(f"{zip_path}: {info.filename} is implausibly large")
            total += info.file_size
            members[base] = info
        if not members:
            raise RuntimeError(f"{zip_path} holds no *_rotmod.dat files")
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            for base, info in members.items():
                with archive.open(info) as source:
                    data = source.read(_MAX_ZIP_MEMBER + 1)
                if len(data) > _MAX_ZIP_MEMBER:
                    raise RuntimeError(f"{zip_path}: {info.filename} is implausibly large")
                (staging / base).write_bytes(data)
            old = None
            if target.exists():
                old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.parent))
                os.replace(target, old / target.name)
            os.replace(staging, target)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return len(members)


def download_sparc(destination=None, *, force: bool = False, check: bool = True) -> Path:
    """Fetch SPARC (``jaxfit data sparc``): :data:`SPARC_URLS` into ``destination``
    (default ``data_home()/"sparc"``), then extract ``Rotmod_LTG.zip`` into
    ``destination/Rotmod_LTG`` and (``check``) read it all with :func:`load_sparc`, checked
    against the master table.

    Files already present are kept unless ``force``. Returns the folder, which
    :func:`load_sparc` and :func:`default_sparc_dir` then find.

    Raises:
        RuntimeError: a download failed (naming the URL) or the zip is not valid (the bad
            zip is removed, so a second run fetches it again).
        ValueError: the downloaded files are malformed (naming file and line).
    """
    from jaxfit.core.download import data_home, fetch

    folder = Path(destination) if destination is not None else data_home() / "sparc"
    fetch(dict(SPARC_URLS), folder, force=force)
    rotmod = folder / SPARC_ROTMOD_DIR
    if force or not (rotmod.is_dir() and any(rotmod.glob(f"*{_ROTMOD_SUFFIX}"))):
        try:
            _extract_rotmod_zip(folder / SPARC_ZIP, rotmod)
        except RuntimeError:
            (folder / SPARC_ZIP).unlink(missing_ok=True)
            raise
    if check:
        load_sparc(folder, master=folder / SPARC_MASTER_FILE)
    return folder


# --------------------------------------------------------------------------------------------
# Milky Way: circular speeds of axisymmetric mass components (host-side numpy/scipy)
# --------------------------------------------------------------------------------------------

_GL_NODES = 8          # Gauss-Legendre nodes per panel
_U_RATIO = 0.25        # geometric ratio of the panels towards a = R
_U_MIN_THIN = 1e-11    # innermost |a - R| / (R/2) for razor-thin discs
_U_MIN_THICK = 1e-3    # innermost |a - R| / z_d for thick discs
_Z_PANELS = 12         # geometric panels in z from 0.05 min(|a - R|, z_d) to 40 z_d
_TAIL = 36.0           # outer integration limit: 1.5 R + 36 scale lengths
_VERTICAL = ("thin", "exponential", "sech2")


def _gauss_panels(edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, w = np.polynomial.legendre.leggauss(_GL_NODES)
    edges = np.asarray(edges, dtype=np.float64)
    lo, hi = edges[..., :-1, None], edges[..., 1:, None]
    nodes = 0.5 * (hi - lo) * x + 0.5 * (hi + lo)
    weights = 0.5 * (hi - lo) * w
    return nodes.reshape(*edges.shape[:-1], -1), weights.reshape(*edges.shape[:-1], -1)


def _ring_kernel(R: float, u: np.ndarray, z: np.ndarray) -> np.ndarray:
    """``pi R dPhi/dR / (G M)`` of a ring of radius ``a = R + u`` at height ``z``, felt at
    ``(R, 0)``; ``u`` is passed instead of ``a`` so that ``a - R`` is exact."""
    from scipy import special

    d = (2.0 * R + u) ** 2 + z * z
    q = u * u + z * z
    ratio = q / d  # 1 - m
    return (special.ellipkm1(ratio) - (u * (2.0 * R + u) + z * z) / q
            * special.ellipe(1.0 - ratio)) / np.sqrt(d)


def _vertical_density(z: np.ndarray, z_d: float, vertical: str) -> np.ndarray:
    if vertical == "exponential":
        return np.exp(-z / z_d) / (2.0 * z_d)
    with np.errstate(over="ignore"):
        return 1.0 / (4.0 * z_d * np.cosh(z / (2.0 * z_d)) ** 2)


def _check_radii(R) -> np.ndarray:
    R = np.atleast_1d(np.asarray(R, dtype=np.float64))
    if R.ndim != 1 or not np.all(np.isfinite(R)) or np.any(R <= 0):
        raise ValueError(f"radii must be a 1-D array of finite values > 0 kpc, got {R!r}")
    return R


def disc_vc2(R, surface_density: Callable[[np.ndarray], np.ndarray], *, scale_length: float,
             z_d: float = 0.0, vertical: str = "thin", hole_radius: float = 0.0) -> np.ndarray:
    """Mid-plane ``v_c^2`` [km^2/s^2] of an axisymmetric disc ``Sigma(R) zeta(z)``
    (host-side numpy/scipy; see the module docstring for the method and its accuracy).

    Args:
        R: radii [kpc] (> 0).
        surface_density: ``Sigma(a)`` [Msun/kpc^2], vectorised over numpy arrays; it must
            be smooth and fall below 1e-15 of its peak within 36 ``scale_length`` beyond
            ``1.5 R``.
        scale_length: its exponential scale length [kpc] (sets panel widths and the tail).
        z_d: vertical scale [kpc] (> 0 unless ``vertical="thin"``).
        vertical: ``"thin"`` (razor-thin), ``"exponential"`` (``exp(-|z|/z_d) / (2 z_d)``)
            or ``"sech2"`` (``sech^2(z / (2 z_d)) / (4 z_d)``).
        hole_radius: ``R_m`` of a central hole ``exp(-R_m/R)`` (narrows the panels).
    """
    if vertical not in _VERTICAL:
        raise ValueError(f"vertical must be one of {_VERTICAL}, got {vertical!r}")
    scale = _positive_finite(scale_length, "scale_length")
    if vertical != "thin":
        z_d = _positive_finite(z_d, "z_d")
    width = scale if not hole_radius else 0.5 * min(scale, float(hole_radius))
    out = []
    for r in _check_radii(R):
        half = 0.5 * r
        u_min = _U_MIN_THIN * half if vertical == "thin" else min(_U_MIN_THICK * z_d,
                                                                   1e-3 * half)
        n_geo = int(math.ceil(math.log(u_min / half) / math.log(_U_RATIO)))
        u_edges = np.concatenate([[0.0], half * _U_RATIO ** np.arange(n_geo, -1, -1.0)])
        un, uw = _gauss_panels(u_edges)
        left_edges = np.linspace(0.0, r - half, int(math.ceil((r - half) / width)) + 1)
        al, wl = _gauss_panels(left_edges)
        right = [r + half]
        while right[-1] < r + half + _TAIL * scale:
            right.append(right[-1] + min(0.5 * right[-1], 2.0 * scale))
        ar, wr = _gauss_panels(np.asarray(right))
        u = np.concatenate([al - r, -un, un, ar - r])
        w = np.concatenate([wl, uw, uw, wr])
        a = r + u
        if vertical == "thin":
            H = _ring_kernel(r, u, np.zeros_like(u))
        else:
            z_lo = 0.05 * np.minimum(np.abs(u), z_d)
            steps = np.arange(_Z_PANELS + 1) / _Z_PANELS
            z_edges = z_lo[:, None] * (40.0 * z_d / z_lo[:, None]) ** steps
            z_edges = np.concatenate([np.zeros((len(u), 1)), z_edges], axis=1)
            zn, zw = _gauss_panels(z_edges)
            H = 2.0 * np.sum(zw * _vertical_density(zn, z_d, vertical)
                             * _ring_kernel(r, u[:, None], zn), axis=1)
        out.append(2.0 * G_KPC * np.sum(w * a * surface_density(a) * H))
    return np.asarray(out)


def freeman_vc2(R, sigma0: float, r_d: float) -> np.ndarray:
    """``v_c^2`` [km^2/s^2] of a razor-thin exponential disc (Freeman 1970):
    ``4 pi G Sigma0 R_d y^2 [I0(y) K0(y) - I1(y) K1(y)]``, ``y = R / (2 R_d)``.

    Args:
        R: radii [kpc]; sigma0: central surface density [Msun/kpc^2]; r_d: scale length [kpc].
    """
    from scipy import special

    R = _check_radii(R)
    y = R / (2.0 * r_d)
    bessel = (special.i0e(y) * special.k0e(y) - special.i1e(y) * special.k1e(y))
    return 4.0 * np.pi * G_KPC * sigma0 * r_d * y * y * bessel


def spheroid_vc2(R, density: Callable[[float], float], q: float = 1.0,
                 breakpoints: Sequence[float] = ()) -> np.ndarray:
    """Mid-plane ``v_c^2`` [km^2/s^2] of a density stratified on similar spheroids
    ``m^2 = R^2 + z^2/q^2`` (Binney & Tremaine 2008 eq. 2.132; ``q = 1``: ``G M(<R)/R``).

    Args:
        R: radii [kpc]; density: ``rho(m)`` [Msun/kpc^3] of one float; q: axis ratio in
        (0, 1]; breakpoints: radii where ``rho`` changes quickly (help the quadrature).
    """
    from scipy import integrate

    if not (0.0 < q <= 1.0):
        raise ValueError(f"q must be in (0, 1], got {q!r}")
    e2 = 1.0 - q * q
    out = []
    for r in _check_radii(R):
        points = [p for p in breakpoints if 0.0 < p < r] or None
        value, _ = integrate.quad(lambda m, r=r: density(m) * m * m / math.sqrt(r * r - e2 * m * m),
                                  0.0, r, points=points, limit=500, epsabs=0.0, epsrel=1e-12)
        out.append(4.0 * math.pi * G_KPC * q * value)
    return np.asarray(out)


def nfw_vc2(R, rho0: float, r_s: float) -> np.ndarray:
    """``v_c^2 = G M(<R) / R`` [km^2/s^2] of an NFW halo ``rho0 / ((r/r_s)(1 + r/r_s)^2)``,
    ``M(<r) = 4 pi rho0 r_s^3 [ln(1 + x) - x/(1 + x)]``; rho0 in Msun/kpc^3, lengths in kpc."""
    R = _check_radii(R)
    x = R / r_s
    return 4.0 * np.pi * G_KPC * rho0 * r_s**3 * (np.log1p(x) - x / (1.0 + x)) / R


# --------------------------------------------------------------------------------------------
# Milky Way: McMillan 2017
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ExponentialDisc:
    """``Sigma0 exp(-R_m/R - R/R_d) zeta(z)`` (``R_m = 0``: no hole).

    Attributes: sigma0 [Msun/kpc^2], r_d [kpc], z_d [kpc], r_m [kpc], vertical
    (``"exponential"``, ``"sech2"`` or ``"thin"``; see :func:`disc_vc2`).
    """

    sigma0: float
    r_d: float
    z_d: float
    r_m: float = 0.0
    vertical: str = "exponential"

    def surface_density(self, R: np.ndarray) -> np.ndarray:
        R = np.asarray(R, dtype=np.float64)
        if self.r_m:
            with np.errstate(divide="ignore", over="ignore"):
                return self.sigma0 * np.exp(-self.r_m / R - R / self.r_d)
        return self.sigma0 * np.exp(-R / self.r_d)

    def vc2(self, R) -> np.ndarray:
        """Mid-plane ``v_c^2`` [km^2/s^2] at ``R`` [kpc]."""
        return disc_vc2(R, self.surface_density, scale_length=self.r_d, z_d=self.z_d,
                        vertical=self.vertical, hole_radius=self.r_m)


@dataclasses.dataclass(frozen=True)
class SpheroidalBulge:
    """``rho0 (1 + m/r0)^-alpha exp(-(m/r_cut)^2)``, ``m = sqrt(R^2 + (z/q)^2)``
    (rho0 in Msun/kpc^3, lengths in kpc)."""

    rho0: float
    r0: float
    r_cut: float
    alpha: float
    q: float

    def density(self, m):
        return self.rho0 * (1.0 + m / self.r0) ** (-self.alpha) * np.exp(-((m / self.r_cut) ** 2))

    def vc2(self, R) -> np.ndarray:
        """Mid-plane ``v_c^2`` [km^2/s^2] at ``R`` [kpc]."""
        return spheroid_vc2(R, self.density, self.q, breakpoints=(self.r0, self.r_cut))


@dataclasses.dataclass(frozen=True)
class NFWHalo:
    """NFW halo (rho0 in Msun/kpc^3, r_s in kpc)."""

    rho0: float
    r_s: float

    def vc2(self, R) -> np.ndarray:
        """``v_c^2`` [km^2/s^2] at ``R`` [kpc]."""
        return nfw_vc2(R, self.rho0, self.r_s)


@dataclasses.dataclass(frozen=True)
class McMillan2017:
    """The McMillan 2017 Milky Way mass model (host-side numpy/scipy evaluation).

    Attributes:
        thin_disk, thick_disk: stellar exponential discs.
        hi_disk, h2_disk: gas discs with central holes, sech^2 vertical profiles.
        bulge: the oblate bulge (q = 0.5).
        halo: the NFW dark halo (not part of ``v_bar``).
        r0, v0: McMillan's solar radius [kpc] and circular speed there [km/s].
        citation: the paper.
    """

    thin_disk: ExponentialDisc
    thick_disk: ExponentialDisc
    hi_disk: ExponentialDisc
    h2_disk: ExponentialDisc
    bulge: SpheroidalBulge
    halo: NFWHalo
    r0: float = 8.21
    v0: float = 233.1
    citation: str = ""

    BARYONS = ("thin_disk", "thick_disk", "hi_disk", "h2_disk", "bulge")

    def vc2_components(self, R) -> dict[str, np.ndarray]:
        """``v_c^2`` [km^2/s^2] of each component (baryons and ``halo``) at ``R`` [kpc]."""
        return {name: getattr(self, name).vc2(R) for name in (*self.BARYONS, "halo")}

    def v_bar(self, R) -> np.ndarray:
        """Baryonic circular speed [km/s] (discs + bulge, no halo) at ``R`` [kpc]."""
        return np.sqrt(sum(getattr(self, name).vc2(R) for name in self.BARYONS))

    def v_halo(self, R) -> np.ndarray:
        """Circular speed of the NFW halo alone [km/s]."""
        return np.sqrt(self.halo.vc2(R))

    def v_c(self, R) -> np.ndarray:
        """Total circular speed [km/s] (baryons + halo)."""
        return np.sqrt(sum(self.vc2_components(R).values()))


def _packaged_text(filename: str) -> str:
    return importlib.resources.files("jaxfit.data").joinpath(filename).read_text(encoding="utf-8")


def load_mcmillan2017() -> McMillan2017:
    """The packaged McMillan 2017 model (``data/gravity_mw_mcmillan2017.json``), in
    Msun/kpc^2, Msun/kpc^3 and kpc."""
    raw = json.loads(_packaged_text(MCMILLAN_FILE))
    comps = raw["components"]

    def disc(key: str) -> ExponentialDisc:
        c = comps[key]
        return ExponentialDisc(sigma0=c["Sigma0"] * 1e6, r_d=c["Rd"], z_d=c["zd"],
                               r_m=c.get("Rm", 0.0), vertical=c["vertical"])

    b, h = comps["bulge"], comps["dm_halo"]
    return McMillan2017(
        thin_disk=disc("thin_disk"), thick_disk=disc("thick_disk"),
        hi_disk=disc("HI_disk"), h2_disk=disc("H2_disk"),
        bulge=SpheroidalBulge(rho0=b["rho0"] * 1e9, r0=b["r0"], r_cut=b["rcut"],
                              alpha=b["alpha"], q=b["q"]),
        halo=NFWHalo(rho0=h["rho0"] * 1e9, r_s=h["rs"]),
        r0=raw["solar"]["R0_kpc"], v0=raw["solar"]["vc_R0_kms"], citation=raw["citation"],
    )


# --------------------------------------------------------------------------------------------
# Milky Way: data
# --------------------------------------------------------------------------------------------


@functools.partial(jax.tree_util.register_dataclass,
                   data_fields=["R", "v_c", "err_minus", "err_plus", "sigma", "v_bar"],
                   meta_fields=["source", "citation"])
@dataclasses.dataclass(frozen=True, eq=False)
class MilkyWay:
    """The Milky Way rotation curve with its baryonic model (a JAX pytree).

    Attributes:
        R: Galactocentric radii [kpc], shape ``(n,)``.
        v_c: circular velocity [km/s].
        err_minus, err_plus: lower / upper 1-sigma errors [km/s].
        sigma: symmetric error ``(err_minus + err_plus) / 2`` [km/s].
        v_bar: McMillan 2017 baryonic circular speed at ``R`` [km/s].
        source: where the curve was read (static).
        citation: the papers (static).
    """

    R: jax.Array
    v_c: jax.Array
    err_minus: jax.Array
    err_plus: jax.Array
    sigma: jax.Array
    v_bar: jax.Array
    source: str = ""
    citation: str = ""

    def __len__(self) -> int:
        return int(self.R.shape[0])


def _read_mw_curve(text: str, where: str) -> dict[str, np.ndarray]:
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None:
        raise ValueError(
            f"{where}, line 1: empty file; expected the header {','.join(EILERS_COLUMNS)}"
        )
    header = [h.strip() for h in header]
    missing = [c for c in EILERS_COLUMNS if c not in header]
    if missing:
        raise ValueError(
            f"{where}, line 1: missing column(s) {missing}; expected {', '.join(EILERS_COLUMNS)} "
            f"(got {', '.join(header)})"
        )
    index = {c: header.index(c) for c in EILERS_COLUMNS}
    rows = []
    for lineno, record in enumerate(reader, start=2):
        if not record or not "".join(record).strip():
            continue
        if len(record) != len(header):
            raise ValueError(
                f"{where}, line {lineno}: {len(record)} fields, the header has {len(header)}"
            )
        row = []
        for column in EILERS_COLUMNS:
            token = record[index[column]].strip()
            at = f"{where}, line {lineno}, column {column}"
            value = _parse_finite(token, at)
            if value <= 0 and column != "vc_kms":
                raise ValueError(f"{at}: must be > 0, got {token}")
            row.append(value)
        if rows and row[0] <= rows[-1][0]:
            raise ValueError(f"{where}, line {lineno}, column R_kpc: radii must increase")
        rows.append(row)
    if not rows:
        raise ValueError(f"{where}, line 2: no data rows")
    table = np.asarray(rows)
    return {c: table[:, j] for j, c in enumerate(EILERS_COLUMNS)}


def read_mw_curve(path=None) -> dict[str, np.ndarray]:
    """The Milky Way curve CSV (columns :data:`EILERS_COLUMNS`) as numpy arrays; None: the
    packaged Eilers+2019 table.

    Raises:
        FileNotFoundError: no such file.
        ValueError: naming the file, line and column: missing column, non-numeric or
            NaN/inf values, non-positive radius or error, radii that do not increase.
    """
    if path is None:
        return _read_mw_curve(_packaged_text(EILERS_FILE), f"jaxfit.data/{EILERS_FILE}")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"Milky Way rotation-curve CSV not found: {path}; leave eilers_csv out to use the "
            f"packaged Eilers+2019 table (jaxfit.data/{EILERS_FILE}), or give a CSV with "
            f"columns {', '.join(EILERS_COLUMNS)}"
        )
    return _read_mw_curve(path.read_text(encoding="utf-8"), str(path))


def load_milky_way(eilers_csv=None, *, model: McMillan2017 | None = None) -> MilkyWay:
    """The Eilers+2019 Milky Way curve with McMillan 2017 ``v_bar`` at its radii.

    Args:
        eilers_csv: a CSV with columns :data:`EILERS_COLUMNS`; None: the packaged table
            (38 bins, 5.27-24.82 kpc).
        model: the baryonic model (default :func:`load_mcmillan2017`); ``v_bar`` is
            evaluated once here (host-side, about 1 s).
    """
    curve = read_mw_curve(eilers_csv)
    model = load_mcmillan2017() if model is None else model
    raw = json.loads(_packaged_text(MCMILLAN_FILE))
    eilers = raw["sources"][EILERS_FILE]["citation"]
    R = curve["R_kpc"]
    err_minus, err_plus = curve["sigma_vc_minus_kms"], curve["sigma_vc_plus_kms"]
    return MilkyWay(
        R=_as_f64(R, "MW R"),
        v_c=_as_f64(curve["vc_kms"], "MW v_c"),
        err_minus=_as_f64(err_minus, "MW err_minus"),
        err_plus=_as_f64(err_plus, "MW err_plus"),
        sigma=_as_f64(0.5 * (err_minus + err_plus), "MW sigma"),
        v_bar=_as_f64(model.v_bar(R), "MW v_bar"),
        source=f"jaxfit.data/{EILERS_FILE}" if eilers_csv is None else str(eilers_csv),
        citation=f"{eilers if eilers_csv is None else 'curve: ' + str(eilers_csv)}; "
                 f"baryons: {model.citation}",
    )


class BaselineStars(NamedTuple):
    """Stars of the research parquet inside the radial band (a pytree: a NamedTuple).

    Attributes: R [kpc], v_obs = ``v_phi`` [km/s], v_bar = ``v_phi_GR`` [km/s] (the
    research code's Newtonian baseline), each shape ``(n,)``.
    """

    R: jax.Array
    v_obs: jax.Array
    v_bar: jax.Array


def load_baseline_parquet(path, r_min: float = 12.0, r_max: float = 16.0, *,
                          drop_nonfinite: bool = False) -> BaselineStars:
    """The research star-level parquet (``--baseline-parquet``) in ``r_min <= R <= r_max``.

    Args:
        path: parquet with columns :data:`BASELINE_COLUMNS` (others are ignored).
        r_min, r_max: the radial band [kpc] (``--r-min``, ``--r-max``).
        drop_nonfinite: drop rows in the band with NaN/inf instead of raising.

    Raises:
        FileNotFoundError: no such file (the message says what it is and the alternative).
        ValueError: missing columns (naming them, the file and the columns there), NaN/inf
            values in the band (naming the column, the count and the first row), an empty
            band, ``r_min >= r_max``.
    """
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"baseline parquet not found: {path}; this is the research code's star-level Gaia "
            f"table (e.g. gaia_with_gr_baseline.parquet, columns {', '.join(BASELINE_COLUMNS)}), "
            "which jaxfit does not distribute; load_milky_way() gives the published Eilers+2019 "
            "curve instead"
        )
    lo, hi = float(r_min), float(r_max)
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"need finite r_min < r_max (kpc), got r_min={r_min!r}, r_max={r_max!r}")
    try:
        frame = pd.read_parquet(path)
    except Exception as err:  # pyarrow raises several types for a non-parquet file
        raise ValueError(f"{path}: not a readable parquet file ({err})") from None
    missing = [c for c in BASELINE_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{path}: missing column(s) {missing}; needs {', '.join(BASELINE_COLUMNS)} "
            f"(columns there: {', '.join(map(str, frame.columns))})"
        )
    values = {c: pd.to_numeric(frame[c], errors="coerce").to_numpy(np.float64)
              for c in BASELINE_COLUMNS}
    # stars with a non-finite R cannot be placed in or out of the band: they count as bad
    band = ~(values["R"] < lo) & ~(values["R"] > hi)
    finite = np.ones_like(band)
    for column in BASELINE_COLUMNS:
        finite &= np.isfinite(values[column])
    if (band & ~finite).any() and not drop_nonfinite:
        for column in BASELINE_COLUMNS:
            rows = np.flatnonzero(band & ~np.isfinite(values[column]))
            if rows.size:
                where = "" if column == "R" else f" in {lo} <= R <= {hi}"
                raise ValueError(
                    f"{path}, column {column}: {rows.size} NaN/inf or non-numeric value(s)"
                    f"{where} (first at row {rows[0]}); pass drop_nonfinite=True to drop those "
                    "stars"
                )
    keep = band & finite
    if not keep.any():
        raise ValueError(f"{path}: no stars with {lo} <= R <= {hi} kpc (R spans "
                         f"{np.nanmin(values['R']):.3g}-{np.nanmax(values['R']):.3g})")
    return BaselineStars(
        R=_as_f64(values["R"][keep], "baseline R"),
        v_obs=_as_f64(values["v_phi"][keep], "baseline v_phi"),
        v_bar=_as_f64(values["v_phi_GR"][keep], "baseline v_phi_GR"),
    )
