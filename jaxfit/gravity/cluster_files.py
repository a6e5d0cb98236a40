"""Readers of cluster files: ACCEPT deprojected gas shells (Cavagnolo+2009), gas and
stellar profile CSVs, and user cluster tables. They run once on the host and name the
file, line and column of anything malformed. Units: kpc, cm^-3, Msun/kpc^3, arcsec.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from jaxfit.core import checks
from jaxfit.gravity.cluster_baryons import (
    TabulatedDensity,
    check_table,
    gas_from_ne_table,
    gas_from_shells,
    stars_from_rho_table,
)
from jaxfit.gravity.cluster_profiles import MU_E_DEFAULT
from jaxfit.gravity.limits import R_MAX_KPC, V_MAX_KMS

ACCEPT_COLUMNS = (
    "Name", "Rin", "Rout", "nelec", "neerr", "Kitpl", "Kflat", "Kerr", "Pitpl", "Pflat",
    "Perr", "Mgrav", "Merr", "Tx", "Txerr", "Lambda", "tcool5/2", "t52err", "tcool3/2",
    "t32err",
)  # fmt: skip
"""Columns of the ACCEPT profile tables (``all_profiles.dat`` and per-cluster files)."""

TABLE_REQUIRED = ("name", "z_lens", "z_source", "theta_E_arcsec")
TABLE_OPTIONAL = (
    "sigma", "sigma_v_kms", "gas_csv", "stars_csv", "ne0_cm3", "rc_kpc", "beta",
    "bcg_mass_Msun", "bcg_a_kpc",
)  # fmt: skip
"""Columns of a user cluster table (see :func:`read_cluster_table`)."""


@dataclass(frozen=True, eq=False)
class AcceptProfile:
    """Deprojected electron density of one cluster from ACCEPT (Cavagnolo+2009),
    shells in increasing radius: ``r_in_kpc``, ``r_out_kpc`` [kpc], ``n_e``, ``n_e_err``
    [cm^-3]; ``name`` as in ACCEPT; ``source`` the file read."""

    name: str
    r_in_kpc: np.ndarray
    r_out_kpc: np.ndarray
    n_e: np.ndarray
    n_e_err: np.ndarray
    source: str = ""

    def __len__(self) -> int:
        return len(self.n_e)

    def gas(self, *, mu_e=MU_E_DEFAULT, interp="loglog") -> TabulatedDensity:
        """The gas density model of these shells (:func:`gas_from_shells`)."""
        return gas_from_shells(self.r_in_kpc, self.r_out_kpc, self.n_e, mu_e=mu_e, interp=interp)


def read_accept_profile(path, name: str | None = None) -> AcceptProfile:
    """Read ACCEPT deprojected shells (a per-cluster ``*_profiles.dat`` or ``all_profiles.dat``,
    whitespace- or tab-separated, header lines optional, rows in any order).

    Args:
        path: the file.
        name: ACCEPT cluster name (e.g. ``"ABELL_1689"``); required when the file holds
            several clusters.

    Raises:
        FileNotFoundError: missing file.
        ValueError: a file that is not UTF-8 text, a row with too few or non-numeric
            columns, ``n_e <= 0``, ``neerr < 0``, ``r_out <= r_in`` or ``r_out`` beyond
            :data:`~jaxfit.gravity.limits.R_MAX_KPC`, overlapping shells, an unknown
            ``name`` or several clusters without ``name`` (the message names the file and
            line).
    """
    path = checks.existing_file(path, "ACCEPT profile file")
    columns = list(ACCEPT_COLUMNS)
    rows: dict[str, list] = {}
    for lineno, line in enumerate(_text_lines(path), start=1):
        text = line.strip()
        if not text:
            continue
        tokens = text.lstrip("#").split()
        if text.startswith("#") or tokens[0] == "Name":
            if tokens and tokens[0] == "Name":
                columns = tokens
            continue
        where = f"{path}, line {lineno}"
        try:
            idx = [columns.index(c) for c in ("Name", "Rin", "Rout", "nelec", "neerr")]
        except ValueError:
            raise ValueError(
                f"{path}: header lacks one of the columns Name, Rin, Rout, nelec, neerr "
                f"(found {columns})"
            ) from None
        if len(tokens) < max(idx) + 1:
            raise ValueError(f"{where}: expected >= {max(idx) + 1} columns, got {len(tokens)}")
        try:
            values = [float(tokens[i]) for i in idx[1:]]
        except ValueError:
            raise ValueError(f"{where}: non-numeric Rin/Rout/nelec/neerr in {text!r}") from None
        if not all(math.isfinite(v) for v in values):
            raise ValueError(f"{where}: non-finite value in {text!r}")
        rin, rout, ne, neerr = values
        if ne <= 0:
            raise ValueError(f"{where}: column nelec must be > 0, got {ne}")
        if neerr < 0:
            raise ValueError(f"{where}: column neerr must be >= 0, got {neerr}")
        if not (0 <= rin < rout <= R_MAX_KPC / 1000.0):
            raise ValueError(
                f"{where}: need 0 <= Rin < Rout <= {R_MAX_KPC / 1000.0:g} Mpc, got Rin={rin}, "
                f"Rout={rout}"
            )
        rows.setdefault(tokens[idx[0]], []).append(values)
    if not rows:
        raise ValueError(f"{path}: no ACCEPT data rows")
    if name is None:
        if len(rows) > 1:
            raise ValueError(f"{path}: holds several clusters, pass name= one of {sorted(rows)}")
        name = next(iter(rows))
    if name not in rows:
        raise ValueError(f"{path}: no rows for cluster {name!r}; found {sorted(rows)}")
    table = np.asarray(sorted(rows[name]), dtype=np.float64)  # increasing Rin
    if np.any(table[1:, 0] < table[:-1, 1] * (1 - 1e-9)):
        raise ValueError(f"{path}: shells of {name!r} overlap (Rin < previous Rout)")
    return AcceptProfile(
        name=name,
        r_in_kpc=1000.0 * table[:, 0],
        r_out_kpc=1000.0 * table[:, 1],
        n_e=table[:, 2],
        n_e_err=table[:, 3],
        source=str(path),
    )


def _text_lines(path: Path) -> list[str]:
    """The lines of a UTF-8 text file (ValueError naming the file otherwise)."""
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: not a UTF-8 text file ({err})") from None


def _csv_rows(path, required: Sequence[str], what: str) -> tuple[Path, list[dict]]:
    """``(path, rows)`` of a CSV file without blank and ``#`` comment lines, each row a dict
    with stripped column names, after checking that the header has the ``required`` columns
    (the error names file, columns and ``what`` the file should be)."""
    path = checks.existing_file(path, what)
    lines = [line for line in _text_lines(path)
             if line.strip() and not line.lstrip().startswith("#")]
    reader = csv.DictReader(lines, skipinitialspace=True)
    try:
        header = [h.strip() for h in (reader.fieldnames or [])]
        missing = [c for c in required if c not in header]
        if missing:
            raise ValueError(
                f"{path}: missing column(s) {missing} ({what}); found columns {header}"
            )
        rows = [{(k or "").strip(): v for k, v in row.items()} for row in reader]
    except csv.Error as err:
        raise ValueError(f"{path}: not a readable CSV table ({what}; {err})") from None
    return path, rows


def _read_csv_columns(path, columns: Sequence[str], what: str) -> dict[str, np.ndarray]:
    path, rows = _csv_rows(path, columns, what)
    out: dict[str, list[float]] = {c: [] for c in columns}
    for lineno, row in enumerate(rows, start=2):
        for c in columns:
            try:
                value = float(row[c])
            except (TypeError, ValueError):
                raise ValueError(
                    f"{path}, data row {lineno - 1}: column {c!r} is not a number: {row[c]!r}"
                ) from None
            out[c].append(value)
    return {c: np.asarray(v, dtype=np.float64) for c, v in out.items()}


def read_gas_csv(path, *, mu_e=MU_E_DEFAULT) -> TabulatedDensity:
    """Gas from a CSV with columns ``r_kpc, n_e_cm3`` (log-log, truncated at the last row),
    or from an ACCEPT file (recognised by its ``Rin``/``nelec`` header)."""
    path = checks.existing_file(path, "gas profile file")
    head = "\n".join(_text_lines(path)[:50])
    if "nelec" in head and "Rin" in head:
        return read_accept_profile(path).gas(mu_e=mu_e)
    cols = _read_csv_columns(path, ("r_kpc", "n_e_cm3"), "gas profile: r_kpc, n_e_cm3")
    r, ne = cols["r_kpc"], cols["n_e_cm3"]
    check_table(r, ne, "r_kpc", "n_e_cm3", where=str(path))
    return gas_from_ne_table(r, ne, mu_e=mu_e)


def read_stars_csv(path) -> TabulatedDensity:
    """Stellar density from a CSV with columns ``r_kpc, rho_Msun_kpc3``."""
    cols = _read_csv_columns(path, ("r_kpc", "rho_Msun_kpc3"), "stellar profile")
    r, rho = cols["r_kpc"], cols["rho_Msun_kpc3"]
    check_table(r, rho, "r_kpc", "rho_Msun_kpc3", where=str(path))
    return stars_from_rho_table(r, rho)


def read_cluster_table(path) -> list[dict]:
    """Read a cluster table CSV.

    Required columns: ``name, z_lens, z_source, theta_E_arcsec``. Optional: ``sigma``
    (1-sigma error of theta_E [arcsec]), ``sigma_v_kms`` (velocity dispersion for the
    kernel), ``gas_csv`` / ``stars_csv`` (profile files, relative to the table's folder;
    see :func:`read_gas_csv`, :func:`read_stars_csv`), ``ne0_cm3, rc_kpc, beta`` (a beta-model
    gas, all three), ``bcg_mass_Msun, bcg_a_kpc`` (a Hernquist BCG). Empty cells are missing.

    Returns:
        One dict per row with floats, ``Path`` objects for the files, None for missing cells.

    Raises:
        ValueError: not UTF-8 CSV, missing required column, non-numeric, NaN/inf or missing
            required cell, a negative theta_E error or another optional number <= 0, a
            sigma_v_kms
            above :data:`~jaxfit.gravity.limits.V_MAX_KMS`, duplicate name, no rows (the
            message names the file, row and column).
    """
    path, table = _csv_rows(path, TABLE_REQUIRED, f"cluster table; required "
                            f"{list(TABLE_REQUIRED)}, optional {list(TABLE_OPTIONAL)}")
    rows = []
    for number, raw in enumerate(table, start=1):
        raw = {k: (v.strip() if isinstance(v, str) else v) for k, v in raw.items()}
        where = f"{path}, row {number}"
        row: dict = {"name": raw["name"]}
        if not row["name"]:
            raise ValueError(f"{where}: column 'name' is empty")
        for c in TABLE_REQUIRED[1:] + ("sigma", "sigma_v_kms", "ne0_cm3", "rc_kpc", "beta",
                                        "bcg_mass_Msun", "bcg_a_kpc"):  # fmt: skip
            cell = raw.get(c)
            if cell in (None, ""):
                if c in TABLE_REQUIRED:
                    raise ValueError(f"{where} ({row['name']!r}): column {c!r} is empty")
                row[c] = None
                continue
            try:
                row[c] = float(cell)
            except (TypeError, ValueError):
                raise ValueError(f"{where}: column {c!r} is not a number: {cell!r}") from None
            if not math.isfinite(row[c]):
                raise ValueError(f"{where}: column {c!r} must be finite, got {cell!r}")
            # the required columns are checked per cluster by load_clusters; of the optional
            # ones a theta_E error may be 0, radii, masses, dispersions, beta are positive
            if c in TABLE_OPTIONAL and not (row[c] >= 0 if c == "sigma" else row[c] > 0):
                sign = ">= 0" if c == "sigma" else "> 0"
                raise ValueError(f"{where}: column {c!r} must be {sign}, got {cell!r}")
            if c == "sigma_v_kms" and row[c] > V_MAX_KMS:
                raise ValueError(
                    f"{where}: column {c!r} must be a speed <= {V_MAX_KMS:g} km/s, got {cell!r}"
                )
        for c in ("gas_csv", "stars_csv"):
            cell = raw.get(c)
            row[c] = (path.parent / cell) if cell else None
        beta_cells = [row[c] is None for c in ("ne0_cm3", "rc_kpc", "beta")]
        if any(beta_cells) and not all(beta_cells):
            raise ValueError(f"{where}: give all of ne0_cm3, rc_kpc, beta for a beta-model gas")
        if (row["bcg_mass_Msun"] is None) != (row["bcg_a_kpc"] is None):
            raise ValueError(f"{where}: give both bcg_mass_Msun and bcg_a_kpc for a Hernquist BCG")
        if row["gas_csv"] is not None and row["ne0_cm3"] is not None:
            raise ValueError(f"{where}: give either gas_csv or a beta model, not both")
        rows.append(row)
    if not rows:
        raise ValueError(f"{path}: no data rows")
    names = [r["name"] for r in rows]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"{path}: duplicate cluster name(s) {duplicates}")
    return rows
