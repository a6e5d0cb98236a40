"""Readers of the SPARC files (Lelli, McGaugh & Schombert 2016, AJ 152, 157;
http://astroweb.case.edu/SPARC/), one file at a time, on the host.

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
- :func:`read_sparc_summary` reads the per-galaxy velocity dispersions of a summary CSV
  (the research ``--sparc-summary``).

All readers name the file, line and column of anything malformed. Loading a whole folder
into one batch is :mod:`jaxfit.gravity.sparc`.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from jaxfit.core import checks
from jaxfit.gravity.arrays import parse_finite
from jaxfit.gravity.limits import D_MAX_MPC, R_MAX_KPC, V_MAX_KMS

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
SPARC_CACHE_FOLDER = "sparc"
"""Sub-folder of ``data_home()`` for ``jaxfit data sparc``; registry keys start with it."""


def _registered(name: str):
    from jaxfit.core.download import REGISTRY

    return REGISTRY[f"{SPARC_CACHE_FOLDER}/{name}"]


SPARC_URLS = {name: _registered(name).url for name in (SPARC_ZIP, SPARC_MASTER_FILE)}
"""Official SPARC files fetched by :func:`~jaxfit.gravity.sparc.download_sparc`
(``jaxfit data sparc``): the Zenodo record 10.5281/zenodo.16284118 (immutable) of the files
on astroweb.case.edu/SPARC, as pinned in the download registry."""

SPARC_HASHES = {name: _registered(name).hashes for name in SPARC_URLS}
"""The hashes each file of :data:`SPARC_URLS` must have (download registry: sha256, or the
md5 Zenodo publishes); a download that differs is refused and not used."""

ROTMOD_SUFFIX = "_rotmod.dat"
"""Ending of a SPARC rotation-curve file name (``<galaxy>_rotmod.dat``)."""
_DISTANCE_RE = re.compile(r"Distance\s*=\s*(\S+)\s*Mpc", re.IGNORECASE)


def how_to_get_sparc() -> str:
    """The sentence every "SPARC not found" error ends with: how to get the files."""
    from jaxfit.core.download import data_home

    return (
        f"download SPARC with `jaxfit data sparc` (into {data_home() / 'sparc'}) or pass the "
        f"folder holding the *_rotmod.dat files (Rotmod_LTG.zip from "
        f"{SPARC_URLS[SPARC_ZIP].rsplit('/', 1)[0]}/)"
    )



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
            number of columns, a non-numeric or NaN/inf entry (and its column), a distance
            outside (0, D_MAX_MPC], Vobs or errV outside (0, V_MAX_KMS], |Vgas|, |Vdisk| or
            |Vbul| above V_MAX_KMS, a negative surface brightness, Rad outside
            (0, R_MAX_KPC] or radii that do not increase, no data rows
            (:mod:`jaxfit.gravity.limits`).
    """
    path = checks.existing_file(path, "SPARC rotation-curve file", how_to_get_sparc())
    name = path.name[: -len(ROTMOD_SUFFIX)] if path.name.endswith(ROTMOD_SUFFIX) else path.stem
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
                if not (math.isfinite(distance) and 0 < distance <= D_MAX_MPC):
                    raise ValueError(
                        f"{where}: the distance must be a finite number in (0, {D_MAX_MPC:g}] "
                        f"Mpc, got {match.group(1)!r}"
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
            row.append(parse_finite(token, f"{where}, column {column}"))
        rad, v_obs, err_v = row[0], row[1], row[2]
        if not 0.0 < err_v <= V_MAX_KMS:
            raise ValueError(
                f"{where}, column errV: velocity error must be > 0 and <= {V_MAX_KMS:g} km/s, "
                f"got {err_v}"
            )
        if not 0.0 < rad <= R_MAX_KPC:
            raise ValueError(
                f"{where}, column Rad: radius must be > 0 and <= {R_MAX_KPC:g} kpc, got {rad}"
            )
        if not 0.0 < v_obs <= V_MAX_KMS:
            raise ValueError(
                f"{where}, column Vobs: rotation speed must be > 0 and <= {V_MAX_KMS:g} km/s, "
                f"got {v_obs}"
            )
        # Vgas (rarely Vdisk) is negative for a net outward force: bound its size only
        for column, value in zip(ROTMOD_COLUMNS[3:6], row[3:6], strict=True):
            if abs(value) > V_MAX_KMS:
                raise ValueError(
                    f"{where}, column {column}: |{column}| must be <= {V_MAX_KMS:g} km/s, "
                    f"got {value}"
                )
        for column, value in zip(ROTMOD_COLUMNS[6:], row[6:], strict=True):
            if value < 0.0:
                raise ValueError(
                    f"{where}, column {column}: surface brightness must be >= 0 Lsun/pc^2, "
                    f"got {value}"
                )
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

    path = checks.existing_file(path, "SPARC master table", how_to_get_sparc())
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
            value = parse_finite(token, f"{where}, column {column}")
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

    path = checks.existing_file(
        path, "SPARC summary CSV", "the per-galaxy sigma_v table (--sparc-summary); leave it "
        "out to give every galaxy default_sigma_v")
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
        if not (math.isfinite(value) and 0 < value <= V_MAX_KMS):
            raise ValueError(
                f"{where}: sigma_v of {galaxy} must be a speed in (0, {V_MAX_KMS:g}] km/s, got "
                f"{token!r}"
            )
        if galaxy in out and out[galaxy] != value:
            raise ValueError(
                f"{where}: {galaxy} has sigma_v {value} here and {out[galaxy]} on line "
                f"{first_line[galaxy]}"
            )
        out.setdefault(galaxy, value)
        first_line.setdefault(galaxy, lineno)
    return out
