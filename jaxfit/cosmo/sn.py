"""SN Ia samples: Union3 (binned), Pantheon+ and DES-Y5 in the CobayaSampler/sn_data layout.

Each reader loads a sample once on the host into a frozen :class:`SNData` with a validated
Cholesky factor; :func:`sn_mu_model` and :func:`sn_chi2` are pure JAX. The absolute
magnitude (an additive offset common to all supernovae) is profiled analytically with
:func:`jaxfit.core.likelihood.profile_offset`. The named samples and where to find them are
in :mod:`jaxfit.cosmo.datasets`.

**SN conventions.** The model distance modulus at each supernova is
``mu = 5 log10((1 + z_hel) D_M(z_cosmo) / 10 pc)`` (:func:`sn_mu_model`; ``z_cosmo`` is zHD /
zcmb, the heliocentric factor converts to the luminosity distance, as cobaya does). Data are
``mu`` (Union3, DES-Y5; zero point arbitrary) or ``m_b`` (Pantheon+ corrected apparent
magnitudes); either way ``data = mu + offset`` and the offset (``M_B``, or the H0/M
degeneracy for ``mu`` data) is profiled out, so only the shape of ``mu(z)`` is constrained.

**Cuts.** Pantheon+: ``zHD > 0.01`` as cobaya's ``sn.pantheonplus`` (1590 of 1701 light
curves; the 10 Cepheid-calibrator rows above the cut are kept, as cobaya keeps them; the
absolute magnitude is free, so they carry no SH0ES calibration). DES-Y5 and Union3: no cut
(all 1829 supernovae, all 22 bins), as cobaya.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxfit.core import checks
from jaxfit.core.likelihood import cholesky_factor, profile_offset
from jaxfit.core.precision import require_float64
from jaxfit.cosmo.files import open_text

UNION3_CITATION = "D. Rubin et al., 'Union Through UNITY', arXiv:2311.12098"
PANTHEON_PLUS_CITATION = (
    "D. Brout et al., 'The Pantheon+ Analysis: Cosmological Constraints', ApJ 938 (2022) 110, "
    "arXiv:2202.04077"
)
DES_Y5_CITATION = (
    "DES Collaboration (T. M. C. Abbott et al.), ApJL 973 (2024) L14, arXiv:2401.02929"
)


class DiagonalCovarianceWarning(UserWarning):
    """An SN sample was loaded without its systematics covariance (diagonal errors only)."""


@dataclass(frozen=True, eq=False)
class SNData:
    """A supernova sample: redshifts, magnitudes and their covariance.

    Attributes:
        name: data set name (``"union3"``, ``"pantheon_plus"``, ``"des_y5"``).
        z: cosmological redshift (zHD / zcmb) at which distances are evaluated, shape ``(n,)``.
        zhel: heliocentric redshift (for the ``(1 + z_hel)`` factor of the luminosity
            distance; equal to ``z`` for Union3 bins).
        mu_or_mb: observed distance modulus (``kind == "mu"``) or corrected apparent magnitude
            (``kind == "mb"``), shape ``(n,)``.
        cov: covariance in mag^2, shape ``(n, n)``.
        chol: lower Cholesky factor of ``cov`` (jax array).
        kind: ``"mu"`` or ``"mb"``; either way the additive offset is profiled.
        citation: the paper to cite.
        diagonal_only: True when the systematics covariance was not available and ``cov`` is
            diagonal (a :class:`DiagonalCovarianceWarning` was emitted).
        source: the files read.
    """

    name: str
    z: np.ndarray
    zhel: np.ndarray
    mu_or_mb: np.ndarray
    cov: np.ndarray
    chol: jax.Array
    kind: str
    citation: str
    diagonal_only: bool = False
    source: str = ""

    def __len__(self) -> int:
        return len(self.mu_or_mb)


def _read_columns(path: Path, wanted: Sequence[str], sep: str | None) -> dict[str, np.ndarray]:
    """Columns ``wanted`` (case-insensitive header names) of a table with a header line.

    The header is the first line that is not a ``#`` comment, or a ``#name ...`` line
    (cosmomc lcparam style). Errors name the file, the line and the column.
    """
    header = None
    data_rows = []
    with open_text(path) as handle:
        for lineno, line in enumerate(handle, start=1):
            text = line.strip()
            if not text:
                continue
            if header is None:
                if text.startswith("#"):
                    candidate = text[1:].strip()
                    if not candidate.lower().startswith("name"):
                        continue
                    text = candidate
                header = [c.strip().lower() for c in text.split(sep)]
                missing = [w for w in wanted if w.lower() not in header]
                if missing:
                    raise ValueError(
                        f"{path}, line {lineno}: missing column(s) {missing}; header has {header}"
                    )
                index = [header.index(w.lower()) for w in wanted]
                continue
            if text.startswith("#"):
                continue
            cells = [c.strip() for c in text.split(sep)]
            # only the wanted columns must be present: the Union3 lcparam header names 19
            # columns but its rows have 18 (cobaya also reads the columns it needs by index)
            if len(cells) <= max(index):
                raise ValueError(
                    f"{path}, line {lineno}: {len(cells)} columns, too few for column "
                    f"{wanted[int(np.argmax(index))]!r} (header: {len(header)} names)"
                )
            row = []
            for w, i in zip(wanted, index, strict=True):
                try:
                    x = float(cells[i])
                except ValueError:
                    raise ValueError(
                        f"{path}, line {lineno}: column {w!r} is not a number: {cells[i]!r}"
                    ) from None
                if not math.isfinite(x):
                    raise ValueError(f"{path}, line {lineno}: column {w!r} is {cells[i]!r}")
                row.append(x)
            data_rows.append(row)
    if header is None or not data_rows:
        raise ValueError(f"{path}: no header line or no data rows")
    table = np.asarray(data_rows, dtype=np.float64)
    return {w: table[:, j] for j, w in enumerate(wanted)}


def _read_sn_covmat(path: Path, n: int) -> np.ndarray:
    """An SN covariance: ``N`` then ``N^2`` numbers (cosmomc/cobaya), or a plain N x N matrix."""
    with open_text(path) as handle:
        tokens = handle.read().split()
    try:
        values = np.asarray(tokens, dtype=np.float64)
    except ValueError:
        raise ValueError(f"{path}: covariance contains non-numeric entries") from None
    if values.size == n * n + 1 and values[0] == n:
        values = values[1:]
    elif values.size != n * n:
        raise ValueError(
            f"{path}: expected {n} x {n} covariance entries (optionally preceded by {n}) for "
            f"{n} supernovae, got {values.size} numbers"
        )
    if not np.all(np.isfinite(values)):
        bad = int(np.argmax(~np.isfinite(values)))
        raise ValueError(f"{path}: non-finite covariance entry at index {divmod(bad, n)}")
    return values.reshape(n, n)


def _diagonal_factor(variance: np.ndarray, label: str) -> jax.Array:
    """Cholesky factor of ``diag(variance)`` without an O(n^3) factorisation."""
    if not np.all(np.isfinite(variance)) or np.any(variance <= 0):
        bad = int(np.argmax(~np.isfinite(variance) | (variance <= 0)))
        raise ValueError(
            f"{label}: not positive definite (diagonal entry {bad} is {variance[bad]!r})"
        )
    return require_float64(np.diag(np.sqrt(variance)), label)


def _sn_data(name, z, zhel, mag, cov, kind, citation, diagonal_only, source, cov_label) -> SNData:
    # redshifts enter log10 and the distance integral, which need z >= 0 (z = 0: mu = -inf)
    checks.finite_array(z, f"{source} (redshift column)", positive=True)
    checks.finite_array(zhel, f"{source} (heliocentric redshift column)", positive=True)
    if diagonal_only:
        chol = _diagonal_factor(np.diag(cov).copy(), cov_label)
    else:
        chol = cholesky_factor(cov, cov_label)
    return SNData(
        name=name,
        z=z,
        zhel=zhel,
        mu_or_mb=mag,
        cov=cov,
        chol=chol,
        kind=kind,
        citation=citation,
        diagonal_only=diagonal_only,
        source=source,
    )


def _in_folder(path, filename: str) -> Path:
    path = Path(path).expanduser()
    return path / filename if path.is_dir() else path


def read_union3(directory) -> SNData:
    """Union3 binned distance moduli (22 bins) with their full covariance.

    Args:
        directory: folder with ``lcparam_full.txt`` (cosmomc columns ``#name zcmb zhel dz mb
            dmb ...``; ``mb`` holds the binned distance modulus on an arbitrary zero point)
            and ``mag_covmat.txt`` (``N`` then the ``N^2`` entries).

    Returns:
        :class:`SNData` with ``kind="mu"``; ``cov = mag_covmat + diag(dmb^2)`` (``dmb`` is 0
        in the release, so this is the covariance file itself).
    """
    folder = Path(directory).expanduser()
    data_path = checks.existing_file(folder / "lcparam_full.txt", "Union3 data file")
    cov_path = checks.existing_file(folder / "mag_covmat.txt", "Union3 covariance file")
    cols = _read_columns(data_path, ["zcmb", "zhel", "mb", "dmb"], sep=None)
    cov = _read_sn_covmat(cov_path, len(cols["mb"])) + np.diag(cols["dmb"] ** 2)
    return _sn_data(
        "union3",
        cols["zcmb"],
        cols["zhel"],
        cols["mb"],
        cov,
        "mu",
        UNION3_CITATION,
        False,
        f"{data_path} + {cov_path}",
        f"Union3 covariance {cov_path}",
    )


def read_pantheon_plus(path, cov_path=None, *, zmin: float = 0.01) -> SNData:
    """Pantheon+ corrected apparent magnitudes (``m_b_corr``) at ``zHD > zmin``.

    Args:
        path: ``Pantheon+SH0ES.dat`` or its folder.
        cov_path: the STAT+SYS covariance of all 1701 rows (``Pantheon+SH0ES_STAT+SYS.cov``:
            ``N`` then ``N^2`` entries); None: that file next to the data if present, else the
            diagonal errors ``m_b_corr_err_DIAG`` with a :class:`DiagonalCovarianceWarning`.
        zmin: keep rows with ``zHD > zmin`` (cobaya's ``sn.pantheonplus`` cut, 0.01: 1590
            rows; calibrator rows above the cut are kept as cobaya keeps them).

    Returns:
        :class:`SNData` with ``kind="mb"``, ``z = zHD``.
    """
    data_path = checks.existing_file(_in_folder(path, "Pantheon+SH0ES.dat"), "Pantheon+ data file")
    cols = _read_columns(data_path, ["zHD", "zHEL", "m_b_corr", "m_b_corr_err_DIAG"], sep=None)
    keep = cols["zHD"] > zmin
    if not np.any(keep):
        raise ValueError(f"{data_path}: no rows with zHD > {zmin}")
    if cov_path is None:
        default = data_path.parent / "Pantheon+SH0ES_STAT+SYS.cov"
        cov_path = default if default.is_file() else None
    if cov_path is None:
        warnings.warn(
            f"Pantheon+: the STAT+SYS covariance (Pantheon+SH0ES_STAT+SYS.cov) is not next to "
            f"{data_path}; using the diagonal errors m_b_corr_err_DIAG only (no systematics, "
            "no correlations). Pass cov_path= for the published likelihood.",
            DiagonalCovarianceWarning,
            stacklevel=2,
        )
        cov = np.diag(cols["m_b_corr_err_DIAG"][keep] ** 2)
        source = str(data_path)
    else:
        cov_path = checks.existing_file(cov_path, "Pantheon+ covariance file")
        full = _read_sn_covmat(cov_path, len(keep))
        cov = full[np.ix_(keep, keep)]
        source = f"{data_path} + {cov_path}"
    return _sn_data(
        "pantheon_plus",
        cols["zHD"][keep],
        cols["zHEL"][keep],
        cols["m_b_corr"][keep],
        cov,
        "mb",
        PANTHEON_PLUS_CITATION,
        cov_path is None,
        source,
        f"Pantheon+ covariance {cov_path or data_path}",
    )


def read_des_y5(path, cov_path=None, *, cov_includes_stat: bool = False) -> SNData:
    """DES-SN5YR Hubble diagram (``DES-SN5YR_HD.csv``: zHD, zHEL, MU, MUERR_FINAL), no cut.

    Args:
        path: the csv or its folder.
        cov_path: systematics covariance (``covsys_000.txt`` in cobaya's sn_data: ``N`` then
            ``N^2`` entries); ``MUERR_FINAL^2`` is added to its diagonal as cobaya does. None:
            ``covsys_000.txt`` next to the csv if present, else ``diag(MUERR_FINAL^2)`` with a
            :class:`DiagonalCovarianceWarning`.
        cov_includes_stat: True when ``cov_path`` is already the full STAT+SYS covariance
            (the DES release's ``STAT+SYS.txt``), so nothing is added.

    Returns:
        :class:`SNData` with ``kind="mu"``, ``z = zHD``.
    """
    data_path = checks.existing_file(_in_folder(path, "DES-SN5YR_HD.csv"), "DES-Y5 data file")
    cols = _read_columns(data_path, ["zHD", "zHEL", "MU", "MUERR_FINAL"], sep=",")
    stat = np.diag(cols["MUERR_FINAL"] ** 2)
    if cov_path is None:
        default = data_path.parent / "covsys_000.txt"
        cov_path = default if default.is_file() else None
    if cov_path is None:
        warnings.warn(
            f"DES-Y5: the systematics covariance (covsys_000.txt) is not next to {data_path}; "
            "using the diagonal errors MUERR_FINAL only (no systematics, no correlations). "
            "Pass cov_path= for the published likelihood.",
            DiagonalCovarianceWarning,
            stacklevel=2,
        )
        cov = stat
        source = str(data_path)
    else:
        cov_path = checks.existing_file(cov_path, "DES-Y5 covariance file")
        cov = _read_sn_covmat(cov_path, len(cols["MU"]))
        if not cov_includes_stat:
            cov = cov + stat
        source = f"{data_path} + {cov_path}"
    return _sn_data(
        "des_y5",
        cols["zHD"],
        cols["zHEL"],
        cols["MU"],
        cov,
        "mu",
        DES_Y5_CITATION,
        cov_path is None,
        source,
        f"DES-Y5 covariance {cov_path or data_path}",
    )


def sn_mu_model(DM, zhel) -> jax.Array:
    """Distance modulus ``5 log10((1 + z_hel) D_M / 10 pc)`` for ``D_M`` in Mpc (pure JAX).

    ``D_M`` is evaluated at the cosmological redshift ``sn.z``; the heliocentric factor
    turns it into the luminosity distance as cobaya's SN likelihoods do.
    """
    return 5.0 * jnp.log10((1.0 + jnp.asarray(zhel)) * jnp.asarray(DM)) + 25.0


def sn_profile(mu_model, sn: SNData):
    """Best-fit offset and the profiled chi2: ``data ~ mu_model + offset`` (pure JAX).

    Returns:
        ``(offset, chi2_min)``: for ``kind == "mb"`` the offset is the absolute magnitude
        ``M_B``; for ``"mu"`` it absorbs the zero point (H0 / M degeneracy).
    """
    return profile_offset(mu_model, jnp.asarray(sn.mu_or_mb), chol=sn.chol)


def sn_chi2(mu_model, sn: SNData) -> jax.Array:
    """chi2 of the SN sample with the additive offset profiled analytically (pure JAX).

    Args:
        mu_model: model distance moduli at ``sn.z`` (e.g. :func:`sn_mu_model`), shape ``(n,)``;
            any constant added to it leaves the result unchanged.
        sn: the sample.
    """
    return sn_profile(mu_model, sn)[1]
