"""Cosmological data sets: Planck 2018 CMB distance priors, BAO tables and SN Ia samples.

Three kinds of data, each loaded once on the host into a frozen container with a validated
Cholesky factor (:func:`jaxfit.core.likelihood.cholesky_factor`), plus pure-JAX helpers that
turn model distances into the observables and a chi2:

- **CMB** (:class:`CMBPriors`, :func:`load_cmb_priors`, :func:`cmb_chi2`): the Chen, Huang &
  Wang 2019 distance priors on ``(R, l_A, omega_b, n_s)``, packaged in
  ``data/planck2018_distance_priors.json``.
- **BAO** (:class:`BAOData`, :func:`read_bao_cobaya`, :func:`load_bao`, :data:`BAO_DATASETS`,
  :func:`bao_model_vector`, :func:`bao_chi2`): tables in the format of CobayaSampler/bao_data
  (a mean file of ``z value quantity`` lines and a covariance matrix). DESI DR2 is the
  default and is also packaged (``data/desi_dr2_bao.json``, 3-decimal values of the paper's
  table); DESI DR1, BOSS DR12 and eBOSS DR16 are read from a folder.
- **SN Ia** (:class:`SNData`, :func:`read_union3`, :func:`read_pantheon_plus`,
  :func:`read_des_y5`, :func:`load_sn`, :data:`SN_DATASETS`, :func:`sn_mu_model`,
  :func:`sn_chi2`): Union3 (binned), Pantheon+ and DES-Y5 in the CobayaSampler/sn_data
  layout. The absolute magnitude (an additive offset common to all supernovae) is profiled
  analytically with :func:`jaxfit.core.likelihood.profile_offset`.

:func:`parse_datasets` validates a selection such as ``"cmb,bao:desi_dr1,sn:union3"`` and
:func:`load_datasets` loads it.

**BAO conventions** (:func:`bao_model_vector`). The quantity names are cobaya's; a leading
``bao_`` is optional (cobaya strips it). With ``D_M`` the transverse comoving distance,
``D_H = c/H(z)``, ``D_V = (z D_M^2 D_H)^(1/3)`` (all Mpc) and the *effective* sound horizon
``r_s = r_d / r_d,fid`` when the data set has a fiducial ``r_d,fid`` (``r_s = r_d``
otherwise), exactly as cobaya's ``rs_fid`` rescaling:

==================  ===========================  ==============================================
quantity            model                        used by
==================  ===========================  ==============================================
``DV_over_rs``      ``D_V / r_s``                DESI DR1/DR2 (``rd_fid`` None: ``D_V/r_d``)
``DM_over_rs``      ``D_M / r_s``                DESI, eBOSS DR16 (``D_M/r_d``); BOSS DR12
                                                 ``sdss_DR12Consensus_bao.dat`` with
                                                 ``rd_fid = 147.78``: ``D_M r_d,fid / r_d`` [Mpc]
``DH_over_rs``      ``D_H / r_s``                DESI, eBOSS DR16 (``D_H/r_d``)
``Hz_rs``           ``H(z) r_s``, H in km/s/Mpc  BOSS DR12 (as ``bao_Hz_rs``):
                                                 ``H r_d / r_d,fid`` [km/s/Mpc]; without
                                                 ``rd_fid``: ``H r_d`` [km/s]
``rs_over_DV``      ``r_s / D_V``                older isotropic tables
``DA_over_rs``      ``D_M / ((1+z) r_s)``        older tables
``F_AP``            ``D_M / D_H``                Alcock-Paczynski parameter (no r_d)
==================  ===========================  ==============================================

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

**Not read.** The eBOSS DR16 Lyman-alpha and ELG likelihoods are tabulated non-Gaussian grids
(``sdss_DR16_LYAUTO_BAO_DMDHgrid.txt``, ``sdss_DR16_LYxQSO_BAO_DMDHgrid.txt``,
``sdss_DR16_ELG_BAO_DVtable.txt``), and the full-shape files add ``f_sigma8`` (growth is not
modelled); ``eboss_dr16`` here is the Gaussian LRG (z = 0.698) and QSO (z = 1.48) D_M/D_H pairs.
"""

from __future__ import annotations

import gzip
import importlib.resources
import json
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxfit.constants import C_KM_S
from jaxfit.core.likelihood import chi2_cholesky, cholesky_factor, profile_offset
from jaxfit.core.precision import require_float64

CMB_PRIORS_FILE = "planck2018_distance_priors.json"
DESI_DR2_FILE = "desi_dr2_bao.json"

BAO_QUANTITIES = (
    "DV_over_rs",
    "DM_over_rs",
    "DH_over_rs",
    "Hz_rs",
    "rs_over_DV",
    "DA_over_rs",
    "F_AP",
)
"""Quantity names accepted in BAO mean files (each also with a ``bao_`` prefix)."""

DATASETS = ("cmb", "bao", "sn")
"""Data kinds for :func:`parse_datasets`; ``kind:name`` picks a data set of that kind."""

BOSS_DR12_RD_FID = 147.78
"""Fiducial r_d [Mpc] of the BOSS DR12 consensus files (cobaya ``sdss_dr12_consensus_bao``)."""

_BAO_URL = "https://github.com/CobayaSampler/bao_data"
_SN_URL = "https://github.com/CobayaSampler/sn_data"


class DiagonalCovarianceWarning(UserWarning):
    """An SN sample was loaded without its systematics covariance (diagonal errors only)."""


# --------------------------------------------------------------------------------------------
# containers
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class CMBPriors:
    """Gaussian prior on CMB distance observables.

    Attributes:
        name: data set name (``"planck2018"``).
        mean: observed values, shape ``(4,)``, in the order of ``labels``.
        cov: covariance ``C = sigma rho sigma`` (times ``cov_scale``), shape ``(4, 4)``.
        chol: lower Cholesky factor of ``cov`` (jax array).
        labels: ``("R", "l_A", "omega_b", "n_s")``.
        citation: the paper the numbers come from.
    """

    name: str
    mean: np.ndarray
    cov: np.ndarray
    chol: jax.Array
    labels: tuple[str, ...]
    citation: str

    @property
    def sigma(self) -> np.ndarray:
        """One-sigma errors, ``sqrt(diag(cov))``."""
        return np.sqrt(np.diag(self.cov))


@dataclass(frozen=True, eq=False)
class BAOData:
    """A BAO data vector with its covariance.

    Attributes:
        name: data set name (``"desi_dr2"``, ...).
        z: effective redshift of each entry, shape ``(n,)``.
        quantity: cobaya quantity name of each entry (see the module docstring).
        value: measured values, shape ``(n,)``.
        cov: covariance, shape ``(n, n)``.
        chol: lower Cholesky factor of ``cov`` (jax array).
        citation: the paper(s) to cite.
        rd_fid: fiducial sound horizon [Mpc] the values are scaled by (BOSS DR12: 147.78), or
            None for plain ratios to r_d.
        source: where the numbers were read from (file paths or the packaged table).
    """

    name: str
    z: np.ndarray
    quantity: tuple[str, ...]
    value: np.ndarray
    cov: np.ndarray
    chol: jax.Array
    citation: str
    rd_fid: float | None = None
    source: str = ""

    def __len__(self) -> int:
        return len(self.value)

    @property
    def sigma(self) -> np.ndarray:
        """One-sigma errors, ``sqrt(diag(cov))``."""
        return np.sqrt(np.diag(self.cov))


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


# --------------------------------------------------------------------------------------------
# CMB distance priors
# --------------------------------------------------------------------------------------------


def _packaged_json(filename: str) -> dict:
    resource = importlib.resources.files("jaxfit.data").joinpath(filename)
    return json.loads(resource.read_text(encoding="utf-8"))


def load_cmb_priors(cov_scale: float = 1.0) -> CMBPriors:
    """The Planck 2018 distance priors of Chen, Huang & Wang 2019 (Table 1, LCDM).

    Args:
        cov_scale: factor multiplying the covariance (``--cov-scale``); finite and > 0.

    Returns:
        :class:`CMBPriors` with ``cov = cov_scale * sigma rho sigma``.

    Raises:
        ValueError: ``cov_scale`` not a finite positive number.
    """
    try:
        scale = float(cov_scale)
    except (TypeError, ValueError):
        raise ValueError(f"cov_scale must be a finite number > 0, got {cov_scale!r}") from None
    if not math.isfinite(scale) or scale <= 0.0:
        raise ValueError(f"cov_scale must be a finite number > 0, got {cov_scale!r}")
    raw = _packaged_json(CMB_PRIORS_FILE)
    mean = np.asarray(raw["mean"], dtype=np.float64)
    sigma = np.asarray(raw["sigma"], dtype=np.float64)
    corr = np.asarray(raw["correlation"], dtype=np.float64)
    cov = scale * (sigma[:, None] * corr * sigma[None, :])
    chol = cholesky_factor(cov, f"CMB priors covariance ({CMB_PRIORS_FILE})")
    return CMBPriors(
        name=raw["name"],
        mean=mean,
        cov=cov,
        chol=chol,
        labels=tuple(raw["labels"]),
        citation=raw["citation"],
    )


def cmb_chi2(observables, priors: CMBPriors) -> jax.Array:
    """``r^T C^-1 r`` for model observables ``(R, l_A, omega_b, n_s)`` (pure JAX).

    Args:
        observables: model values in the order of ``priors.labels``, shape ``(..., 4)``.
        priors: from :func:`load_cmb_priors`.
    """
    return chi2_cholesky(jnp.asarray(observables) - jnp.asarray(priors.mean), priors.chol)


# --------------------------------------------------------------------------------------------
# BAO: reading
# --------------------------------------------------------------------------------------------


def _canonical_quantity(q: str) -> str:
    return q[len("bao_") :] if q.startswith("bao_") else q


def _valid_quantity_list() -> str:
    return ", ".join(BAO_QUANTITIES) + " (each optionally prefixed 'bao_', e.g. bao_Hz_rs)"


def _check_quantity(q: str, where: str) -> None:
    if _canonical_quantity(q) in BAO_QUANTITIES:
        return
    hint = ""
    if _canonical_quantity(q) == "f_sigma8":
        hint = " (f_sigma8 needs the growth rate, which jaxfit does not model)"
    raise ValueError(f"{where}: unknown BAO quantity {q!r}{hint}; valid: {_valid_quantity_list()}")


def _open_text(path: Path):
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


def _require_file(path, what: str) -> Path:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}")
    return path


def _read_bao_mean(path: Path):
    """Parse a cobaya mean file: ``z value quantity`` or ``z value error quantity`` lines."""
    z, value, err, quantity = [], [], [], []
    with _open_text(path) as handle:
        for lineno, line in enumerate(handle, start=1):
            text = line.split("#", 1)[0].strip()
            if not text:
                continue
            where = f"{path}, line {lineno}"
            cols = text.split()
            if len(cols) not in (3, 4):
                raise ValueError(
                    f"{where}: expected 3 columns 'z value quantity' (or 4: "
                    f"'z value error quantity'), got {len(cols)}: {text!r}"
                )
            if z and (len(cols) == 4) != bool(err):
                raise ValueError(f"{where}: mixes 3- and 4-column lines")
            try:
                numbers = [float(c) for c in cols[:-1]]
            except ValueError:
                raise ValueError(
                    f"{where}: expected numbers before the quantity name, got {text!r}"
                ) from None
            if not all(math.isfinite(x) for x in numbers):
                raise ValueError(f"{where}: non-finite number in {text!r}")
            if numbers[0] < 0:
                raise ValueError(f"{where}: negative redshift {numbers[0]}")
            _check_quantity(cols[-1], where)
            z.append(numbers[0])
            value.append(numbers[1])
            if len(cols) == 4:
                if numbers[2] <= 0:
                    raise ValueError(f"{where}: error column must be > 0, got {numbers[2]}")
                err.append(numbers[2])
            quantity.append(cols[-1])
    if not z:
        raise ValueError(f"{path}: no data lines (expected 'z value quantity' lines)")
    return (
        np.asarray(z),
        np.asarray(value),
        np.asarray(err) if err else None,
        tuple(quantity),
    )


def _read_matrix(path: Path, n: int) -> np.ndarray:
    """Read a plain whitespace matrix, naming the file and line of anything malformed."""
    rows = []
    with _open_text(path) as handle:
        for lineno, line in enumerate(handle, start=1):
            text = line.split("#", 1)[0].strip()
            if not text:
                continue
            try:
                row = [float(c) for c in text.split()]
            except ValueError:
                raise ValueError(f"{path}, line {lineno}: expected numbers, got {text!r}") from None
            if not all(math.isfinite(x) for x in row):
                raise ValueError(f"{path}, line {lineno}: non-finite entry in {text!r}")
            if rows and len(row) != len(rows[0]):
                raise ValueError(
                    f"{path}, line {lineno}: row has {len(row)} entries, the first row "
                    f"{len(rows[0])}"
                )
            rows.append(row)
    cov = np.asarray(rows, dtype=np.float64)
    if cov.shape != (n, n):
        raise ValueError(
            f"{path}: covariance has shape {cov.shape} but the mean file has {n} entries "
            f"(expected ({n}, {n}))"
        )
    return cov


def read_bao_cobaya(
    mean_path,
    cov_path=None,
    name: str | None = None,
    *,
    rd_fid: float | None = None,
    citation: str = "",
) -> BAOData:
    """Read a BAO table in the CobayaSampler/bao_data format.

    Args:
        mean_path: mean file, one measurement per line ``z value quantity`` (``#`` comments);
            the quantity names are listed in :data:`BAO_QUANTITIES`.
        cov_path: covariance file, a plain ``n x n`` matrix in the order of the mean file.
            May be None only when the mean file has an error column (``z value error
            quantity``); the covariance is then diagonal.
        name: data set name (default: the mean file's stem).
        rd_fid: fiducial sound horizon [Mpc] the values are scaled by (cobaya's ``rs_fid``;
            BOSS DR12 consensus: :data:`BOSS_DR12_RD_FID`); None for plain ratios to r_d.
        citation: the paper(s) to cite.

    Raises:
        FileNotFoundError: a file does not exist (the message names it).
        ValueError: wrong column count, non-numeric or non-finite entries, an unknown
            quantity (naming file and line and listing the valid ones), a covariance of the
            wrong shape, asymmetric or not positive definite (naming the file).
    """
    mean_path = _require_file(mean_path, "BAO mean file")
    z, value, err, quantity = _read_bao_mean(mean_path)
    if cov_path is None:
        if err is None:
            raise ValueError(
                f"{mean_path}: no covariance file given and no error column "
                "('z value error quantity') in the mean file"
            )
        cov = np.diag(err**2)
        source = str(mean_path)
    else:
        cov_path = _require_file(cov_path, "BAO covariance file")
        cov = _read_matrix(cov_path, len(value))
        source = f"{mean_path} + {cov_path}"
    chol = cholesky_factor(cov, f"BAO covariance {cov_path or mean_path}")
    if rd_fid is not None and not (math.isfinite(rd_fid) and rd_fid > 0):
        raise ValueError(f"rd_fid must be a finite number > 0 (Mpc) or None, got {rd_fid!r}")
    return BAOData(
        name=name or mean_path.stem,
        z=z,
        quantity=quantity,
        value=value,
        cov=cov,
        chol=chol,
        citation=citation,
        rd_fid=None if rd_fid is None else float(rd_fid),
        source=source,
    )


def combine_bao(parts: Sequence[BAOData], name: str, citation: str = "") -> BAOData:
    """Concatenate independent BAO data sets (block-diagonal covariance).

    All parts must share the same ``rd_fid``.
    """
    if not parts:
        raise ValueError("combine_bao: no data sets given")
    fids = {p.rd_fid for p in parts}
    if len(fids) != 1:
        raise ValueError(
            f"combine_bao: parts have different rd_fid values {sorted(map(str, fids))}"
        )
    n = sum(len(p) for p in parts)
    cov = np.zeros((n, n))
    start = 0
    for p in parts:
        cov[start : start + len(p), start : start + len(p)] = p.cov
        start += len(p)
    return BAOData(
        name=name,
        z=np.concatenate([p.z for p in parts]),
        quantity=tuple(q for p in parts for q in p.quantity),
        value=np.concatenate([p.value for p in parts]),
        cov=cov,
        chol=cholesky_factor(cov, f"{name} covariance"),
        citation=citation or "; ".join(dict.fromkeys(p.citation for p in parts)),
        rd_fid=parts[0].rd_fid,
        source="; ".join(p.source for p in parts),
    )


def load_desi_dr2_embedded() -> BAOData:
    """The packaged DESI DR2 table (``data/desi_dr2_bao.json``, 3-decimal precision).

    Tracers are independent; DM and DH at one redshift are correlated with ``r_DM_DH``.
    """
    raw = _packaged_json(DESI_DR2_FILE)
    z, quantity, value, sigma = [], [], [], []
    blocks = []
    for m in raw["measurements"]:
        start = len(value)
        for q in ("DV_over_rs", "DM_over_rs", "DH_over_rs"):
            if q in m:
                mean, err = m[q]
                z.append(float(m["z"]))
                quantity.append(q)
                value.append(float(mean))
                sigma.append(float(err))
        blocks.append((start, len(value), m.get("r_DM_DH")))
    sigma = np.asarray(sigma)
    corr = np.eye(len(value))
    for start, stop, r in blocks:
        if r is not None:
            if stop - start != 2:
                raise ValueError(f"{DESI_DR2_FILE}: r_DM_DH given for a {stop - start}-entry block")
            corr[start, start + 1] = corr[start + 1, start] = float(r)
    cov = sigma[:, None] * corr * sigma[None, :]
    return BAOData(
        name=raw["name"],
        z=np.asarray(z),
        quantity=tuple(quantity),
        value=np.asarray(value),
        cov=cov,
        chol=cholesky_factor(cov, f"DESI DR2 covariance ({DESI_DR2_FILE})"),
        citation=raw["citation"],
        rd_fid=raw.get("rd_fid"),
        source=f"jaxfit.data/{DESI_DR2_FILE}",
    )


# --------------------------------------------------------------------------------------------
# BAO: registry
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DatasetEntry:
    """How to find and read one named data set.

    Attributes:
        name: registry key.
        description: one line for humans.
        citation: the paper(s) to cite.
        files: paths relative to the root of the source repository (``repository``), i.e.
            the files ``jaxfit data`` has to fetch; ``()`` for nothing.
        repository: where the files are published.
        reader: ``reader(folder)`` returns the data object; ``folder`` is the local copy of
            the repository (the folder holding ``files``).
        embedded: whether a packaged copy is used when no folder is given.
    """

    name: str
    description: str
    citation: str
    files: tuple[str, ...]
    repository: str
    reader: Callable
    embedded: bool = False


_DESI_DR2_CITATION = (
    "DESI Collaboration, DESI DR2 Results II, arXiv:2503.14738; DESI DR2 Results I (Lya), "
    "arXiv:2503.14739"
)
_DESI_DR1_CITATION = (
    "DESI Collaboration, DESI 2024 III (arXiv:2404.03000), IV (arXiv:2404.03001), "
    "VI (arXiv:2404.03002)"
)
_BOSS_DR12_CITATION = "S. Alam et al. (BOSS), MNRAS 470 (2017) 2617, arXiv:1607.03155"
_EBOSS_DR16_CITATION = "S. Alam et al. (eBOSS), Phys. Rev. D 103 (2021) 083533, arXiv:2007.08991"


def _desi_dr2(folder: Path) -> BAOData:
    return read_bao_cobaya(
        folder / "desi_bao_dr2/desi_gaussian_bao_ALL_GCcomb_mean.txt",
        folder / "desi_bao_dr2/desi_gaussian_bao_ALL_GCcomb_cov.txt",
        name="desi_dr2",
        citation=_DESI_DR2_CITATION,
    )


def _desi_dr1(folder: Path) -> BAOData:
    return read_bao_cobaya(
        folder / "desi_2024_gaussian_bao_ALL_GCcomb_mean.txt",
        folder / "desi_2024_gaussian_bao_ALL_GCcomb_cov.txt",
        name="desi_dr1",
        citation=_DESI_DR1_CITATION,
    )


def _boss_dr12(folder: Path) -> BAOData:
    return read_bao_cobaya(
        folder / "sdss_DR12Consensus_bao.dat",
        folder / "BAO_consensus_covtot_dM_Hz.txt",
        name="boss_dr12",
        rd_fid=BOSS_DR12_RD_FID,
        citation=_BOSS_DR12_CITATION,
    )


def _eboss_dr16(folder: Path) -> BAOData:
    lrg = read_bao_cobaya(
        folder / "sdss_DR16_LRG_BAO_DMDH.dat",
        folder / "sdss_DR16_LRG_BAO_DMDH_covtot.txt",
        name="eboss_dr16_lrg",
        citation=_EBOSS_DR16_CITATION,
    )
    qso = read_bao_cobaya(
        folder / "sdss_DR16_QSO_BAO_DMDH.txt",
        folder / "sdss_DR16_QSO_BAO_DMDH_covtot.txt",
        name="eboss_dr16_qso",
        citation=_EBOSS_DR16_CITATION,
    )
    return combine_bao([lrg, qso], "eboss_dr16", _EBOSS_DR16_CITATION)


BAO_DATASETS: dict[str, DatasetEntry] = {
    "desi_dr2": DatasetEntry(
        "desi_dr2",
        "DESI DR2 BAO, all tracers (13 points, z = 0.295 ... 2.33); default; packaged",
        _DESI_DR2_CITATION,
        (
            "desi_bao_dr2/desi_gaussian_bao_ALL_GCcomb_mean.txt",
            "desi_bao_dr2/desi_gaussian_bao_ALL_GCcomb_cov.txt",
        ),
        _BAO_URL,
        _desi_dr2,
        embedded=True,
    ),
    "desi_dr1": DatasetEntry(
        "desi_dr1",
        "DESI 2024 (DR1) BAO, all tracers (12 points, z = 0.295 ... 2.33)",
        _DESI_DR1_CITATION,
        (
            "desi_2024_gaussian_bao_ALL_GCcomb_mean.txt",
            "desi_2024_gaussian_bao_ALL_GCcomb_cov.txt",
        ),
        _BAO_URL,
        _desi_dr1,
    ),
    "boss_dr12": DatasetEntry(
        "boss_dr12",
        "BOSS DR12 consensus BAO: D_M rd_fid/rd [Mpc] and H rd/rd_fid [km/s/Mpc] at "
        "z = 0.38, 0.51, 0.61 (rd_fid = 147.78 Mpc)",
        _BOSS_DR12_CITATION,
        ("sdss_DR12Consensus_bao.dat", "BAO_consensus_covtot_dM_Hz.txt"),
        _BAO_URL,
        _boss_dr12,
    ),
    "eboss_dr16": DatasetEntry(
        "eboss_dr16",
        "eBOSS DR16 BAO: LRG (z = 0.698) and QSO (z = 1.48) D_M/r_d, D_H/r_d "
        "(Lya and ELG grid likelihoods not included)",
        _EBOSS_DR16_CITATION,
        (
            "sdss_DR16_LRG_BAO_DMDH.dat",
            "sdss_DR16_LRG_BAO_DMDH_covtot.txt",
            "sdss_DR16_QSO_BAO_DMDH.txt",
            "sdss_DR16_QSO_BAO_DMDH_covtot.txt",
        ),
        _BAO_URL,
        _eboss_dr16,
    ),
}
"""BAO data sets by name; ``reader(folder)`` takes a local copy of CobayaSampler/bao_data."""


def _lookup(registry: dict, name: str, what: str) -> DatasetEntry:
    if name not in registry:
        raise KeyError(f"unknown {what} data set {name!r}; valid: {', '.join(registry)}")
    return registry[name]


def _data_folder(data_dir, subfolder: str) -> Path:
    """``data_dir`` itself, or ``data_dir/subfolder`` when that exists (a parent folder)."""
    folder = Path(data_dir).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(f"data directory not found: {folder}")
    if (folder / subfolder).is_dir():
        return folder / subfolder
    return folder


RAW_URLS = {
    _BAO_URL: "https://raw.githubusercontent.com/CobayaSampler/bao_data/master/",
    _SN_URL: "https://raw.githubusercontent.com/CobayaSampler/sn_data/master/",
}
DOWNLOAD_FOLDER = {_BAO_URL: "bao_data", _SN_URL: "sn_data"}


def download_urls(entry: DatasetEntry) -> dict[str, str]:
    """``{path under data_home()/cosmology: url}`` of the files ``entry`` reads."""
    folder = DOWNLOAD_FOLDER[entry.repository]
    return {f"{folder}/{f}": RAW_URLS[entry.repository] + f for f in entry.files}


def _downloaded(entry: DatasetEntry):
    """The ``jaxfit data cosmo`` copy holding every file of ``entry``, or None.

    Packaged data sets keep using the packaged table (a download never silently replaces
    the default a result was produced with).
    """
    from jaxfit.core.download import data_home

    if entry.embedded:
        return None
    root = data_home() / "cosmology"
    if all((root / rel).is_file() for rel in download_urls(entry)):
        return root
    return None


def load_bao(name: str = "desi_dr2", data_dir=None) -> BAOData:
    """Load a BAO data set from :data:`BAO_DATASETS`.

    Args:
        name: registry key (default ``"desi_dr2"``).
        data_dir: a local copy of CobayaSampler/bao_data (or a folder containing
            ``bao_data/``). None: the packaged table for ``desi_dr2``, else the
            ``jaxfit data cosmo`` download when it is there.

    Raises:
        KeyError: unknown name (the message lists the valid ones).
        FileNotFoundError: no ``data_dir`` for a data set that is not packaged, or a missing
            file (named).
    """
    entry = _lookup(BAO_DATASETS, name, "BAO")
    data_dir = data_dir if data_dir is not None else _downloaded(entry)
    if data_dir is None:
        if entry.embedded:
            return load_desi_dr2_embedded()
        raise FileNotFoundError(
            f"BAO data set {name!r} is not packaged with jaxfit; give the folder holding "
            f"{_BAO_URL} (files: {', '.join(entry.files)}) as data_dir, or fetch it with "
            "`jaxfit data`"
        )
    return entry.reader(_data_folder(data_dir, "bao_data"))


# --------------------------------------------------------------------------------------------
# BAO: model vector and chi2 (pure JAX)
# --------------------------------------------------------------------------------------------


def bao_model_vector(quantities, z, DM, DH, DV=None, rd=None, rd_fid=None) -> jax.Array:
    """Model BAO observables for each entry of a data vector (pure JAX; jit/grad/vmap-safe).

    Args:
        quantities: cobaya quantity name of each entry (static: a tuple of str, e.g.
            ``bao.quantity``); see the table in the module docstring.
        z: redshift of each entry, shape ``(n,)``.
        DM: transverse comoving distance D_M(z) [Mpc], shape ``(n,)``.
        DH: Hubble distance c/H(z) [Mpc], shape ``(n,)``.
        DV: ``(z D_M^2 D_H)^(1/3)`` [Mpc], shape ``(n,)``; None: computed from DM, DH.
        rd: sound horizon at the drag epoch [Mpc], scalar (required).
        rd_fid: fiducial r_d [Mpc] of the data (``bao.rd_fid``); the effective ruler is
            ``r_s = rd / rd_fid`` (cobaya's ``rs_fid``); None: ``r_s = rd``.

    Returns:
        Model vector, shape ``(n,)``, in the order of ``quantities``.

    Raises:
        ValueError: an unknown quantity name, ``rd`` missing, or length mismatch.
    """
    kinds = tuple(_canonical_quantity(str(q)) for q in quantities)
    for i, q in enumerate(kinds):
        _check_quantity(q, f"bao_model_vector entry {i}")
    if rd is None:
        raise ValueError("bao_model_vector: rd (sound horizon at the drag epoch, Mpc) is required")
    z = jnp.asarray(z)
    DM = jnp.asarray(DM)
    DH = jnp.asarray(DH)
    n = len(kinds)
    for label, arr in (("z", z), ("DM", DM), ("DH", DH)):
        if arr.shape != (n,):
            raise ValueError(f"bao_model_vector: {label} has shape {arr.shape}, expected ({n},)")
    if DV is not None:
        DV = jnp.asarray(DV)
        if DV.shape != (n,):
            raise ValueError(f"bao_model_vector: DV has shape {DV.shape}, expected ({n},)")
    rd_fid = None if rd_fid is None else float(rd_fid)
    return _bao_model_impl(kinds, rd_fid, z, DM, DH, DV, jnp.asarray(rd))


@partial(jax.jit, static_argnums=(0, 1))
def _bao_model_impl(kinds, rd_fid, z, DM, DH, DV, rd):
    """Jitted body of :func:`bao_model_vector` (one compilation per quantity tuple)."""
    rs = rd / rd_fid if rd_fid is not None else rd
    n = len(kinds)
    out = jnp.zeros(n, dtype=jnp.result_type(DM.dtype, DH.dtype, rs.dtype))
    # each quantity is evaluated only on its own entries, so no unused branch (e.g. D_V at
    # z = 0) can put a NaN into a gradient
    for kind in dict.fromkeys(kinds):
        idx = np.array([i for i, q in enumerate(kinds) if q == kind])
        zi, dm, dh = z[idx], DM[idx], DH[idx]
        if kind in ("DV_over_rs", "rs_over_DV"):
            dv = DV[idx] if DV is not None else jnp.cbrt(zi * dm**2 * dh)
            val = dv / rs if kind == "DV_over_rs" else rs / dv
        elif kind == "DM_over_rs":
            val = dm / rs
        elif kind == "DH_over_rs":
            val = dh / rs
        elif kind == "Hz_rs":
            val = C_KM_S / dh * rs
        elif kind == "DA_over_rs":
            val = dm / (1.0 + zi) / rs
        else:  # F_AP
            val = dm / dh
        out = out.at[idx].set(val)
    return out


def bao_chi2(model_vector, bao: BAOData) -> jax.Array:
    """``r^T C^-1 r`` with ``r = bao.value - model_vector`` (pure JAX)."""
    return chi2_cholesky(jnp.asarray(bao.value) - jnp.asarray(model_vector), bao.chol)


# --------------------------------------------------------------------------------------------
# SN Ia
# --------------------------------------------------------------------------------------------

_UNION3_CITATION = "D. Rubin et al., 'Union Through UNITY', arXiv:2311.12098"
_PANTHEON_PLUS_CITATION = (
    "D. Brout et al., 'The Pantheon+ Analysis: Cosmological Constraints', ApJ 938 (2022) 110, "
    "arXiv:2202.04077"
)
_DES_Y5_CITATION = (
    "DES Collaboration (T. M. C. Abbott et al.), ApJL 973 (2024) L14, arXiv:2401.02929"
)


def _read_columns(path: Path, wanted: Sequence[str], sep: str | None) -> dict[str, np.ndarray]:
    """Columns ``wanted`` (case-insensitive header names) of a table with a header line.

    The header is the first line that is not a ``#`` comment, or a ``#name ...`` line
    (cosmomc lcparam style). Errors name the file, the line and the column.
    """
    header = None
    data_rows = []
    with _open_text(path) as handle:
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
    with _open_text(path) as handle:
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
    data_path = _require_file(folder / "lcparam_full.txt", "Union3 data file")
    cov_path = _require_file(folder / "mag_covmat.txt", "Union3 covariance file")
    cols = _read_columns(data_path, ["zcmb", "zhel", "mb", "dmb"], sep=None)
    cov = _read_sn_covmat(cov_path, len(cols["mb"])) + np.diag(cols["dmb"] ** 2)
    return _sn_data(
        "union3",
        cols["zcmb"],
        cols["zhel"],
        cols["mb"],
        cov,
        "mu",
        _UNION3_CITATION,
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
    data_path = _require_file(_in_folder(path, "Pantheon+SH0ES.dat"), "Pantheon+ data file")
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
        cov_path = _require_file(cov_path, "Pantheon+ covariance file")
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
        _PANTHEON_PLUS_CITATION,
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
    data_path = _require_file(_in_folder(path, "DES-SN5YR_HD.csv"), "DES-Y5 data file")
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
        cov_path = _require_file(cov_path, "DES-Y5 covariance file")
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
        _DES_Y5_CITATION,
        cov_path is None,
        source,
        f"DES-Y5 covariance {cov_path or data_path}",
    )


SN_DATASETS: dict[str, DatasetEntry] = {
    "union3": DatasetEntry(
        "union3",
        "Union3/UNITY1.5 binned distance moduli, 22 bins, full covariance",
        _UNION3_CITATION,
        ("Union3/lcparam_full.txt", "Union3/mag_covmat.txt"),
        _SN_URL,
        lambda folder: read_union3(_data_folder(folder, "Union3")),
    ),
    "pantheon_plus": DatasetEntry(
        "pantheon_plus",
        "Pantheon+ (no SH0ES), zHD > 0.01: 1590 light curves; STAT+SYS covariance if present",
        _PANTHEON_PLUS_CITATION,
        ("PantheonPlus/Pantheon+SH0ES.dat", "PantheonPlus/Pantheon+SH0ES_STAT+SYS.cov"),
        _SN_URL,
        lambda folder: read_pantheon_plus(_data_folder(folder, "PantheonPlus")),
    ),
    "des_y5": DatasetEntry(
        "des_y5",
        "DES-SN5YR, 1829 supernovae; systematics covariance if present",
        _DES_Y5_CITATION,
        ("DESY5/DES-SN5YR_HD.csv", "DESY5/covsys_000.txt"),
        _SN_URL,
        lambda folder: read_des_y5(_data_folder(folder, "DESY5")),
    ),
}
"""SN samples by name; ``reader(folder)`` takes CobayaSampler/sn_data or the sample's folder."""

DEFAULT_SN = "union3"


def load_sn(name: str = DEFAULT_SN, path=None) -> SNData:
    """Load an SN sample from :data:`SN_DATASETS`.

    Args:
        name: registry key.
        path: a local copy of CobayaSampler/sn_data, a folder containing ``sn_data/``, or
            the sample's own folder. None: the ``jaxfit data cosmo`` download, if present.

    Raises:
        KeyError: unknown name (the message lists the valid ones).
        FileNotFoundError: no path, or a missing file (named).
    """
    entry = _lookup(SN_DATASETS, name, "SN")
    path = path if path is not None else _downloaded(entry)
    if path is None:
        raise FileNotFoundError(
            f"SN data set {name!r} is not packaged with jaxfit; give the folder holding "
            f"{_SN_URL} (files: {', '.join(entry.files)}), or fetch it with `jaxfit data`"
        )
    return entry.reader(_data_folder(path, "sn_data"))


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


# --------------------------------------------------------------------------------------------
# data-set selection
# --------------------------------------------------------------------------------------------

CMB_DATASETS = ("planck2018",)
DEFAULT_NAMES = {"cmb": "planck2018", "bao": "desi_dr2", "sn": DEFAULT_SN}


def _names_for(kind: str) -> tuple[str, ...]:
    return {"cmb": CMB_DATASETS, "bao": tuple(BAO_DATASETS), "sn": tuple(SN_DATASETS)}[kind]


def _valid_selection() -> str:
    names = [f"{k}:{n}" for k in DATASETS for n in _names_for(k)]
    return (
        ", ".join(DATASETS)
        + " (defaults "
        + ", ".join(f"{k}={v}" for k, v in DEFAULT_NAMES.items())
        + "), or one of "
        + ", ".join(names)
    )


def parse_datasets(spec) -> list[tuple[str, str]]:
    """Validate a data-set selection like ``"cmb,bao"`` or ``"cmb,bao:desi_dr1,sn:union3"``.

    Args:
        spec: comma-separated string, or a sequence of entries. Each entry is a kind from
            :data:`DATASETS` (its default data set, :data:`DEFAULT_NAMES`) or ``kind:name``.

    Returns:
        ``[(kind, name), ...]`` in the order given.

    Raises:
        ValueError: empty selection, an unknown kind or name, or a repeated entry (the message
            names the bad entry and lists the valid ones).
    """
    if isinstance(spec, str):
        entries = spec.split(",")
    else:
        entries = list(spec)
    pairs: list[tuple[str, str]] = []
    for raw in entries:
        entry = str(raw).strip().lower()
        if not entry:
            if isinstance(spec, str) and spec.strip():
                raise ValueError(f"empty entry in data-set selection {spec!r}")
            continue
        kind, _, name = entry.partition(":")
        kind, name = kind.strip(), name.strip()
        if kind not in DATASETS:
            raise ValueError(f"unknown data set {raw!r}; valid: {_valid_selection()}")
        name = name or DEFAULT_NAMES[kind]
        if name not in _names_for(kind):
            raise ValueError(
                f"unknown {kind} data set {raw!r}; valid {kind} names: "
                f"{', '.join(_names_for(kind))}"
            )
        if (kind, name) in pairs:
            raise ValueError(f"data set {kind}:{name} selected twice in {spec!r}")
        pairs.append((kind, name))
    if not pairs:
        raise ValueError(f"no data sets selected; valid: {_valid_selection()}")
    return pairs


def load_datasets(spec, *, data_dir=None, cov_scale: float = 1.0) -> dict:
    """Parse ``spec`` (:func:`parse_datasets`) and load every data set.

    Args:
        spec: the selection, e.g. ``"cmb,bao,sn:union3"``.
        data_dir: folder with the cobaya ``bao_data/`` and ``sn_data/`` copies (as ``jaxfit
            data`` writes them); None: packaged data only (CMB priors and DESI DR2).
        cov_scale: multiplies the CMB covariance.

    Returns:
        ``{"kind:name": CMBPriors | BAOData | SNData}`` in the order given.
    """
    loaded = {}
    for kind, name in parse_datasets(spec):
        if kind == "cmb":
            loaded[f"{kind}:{name}"] = load_cmb_priors(cov_scale)
        elif kind == "bao":
            loaded[f"{kind}:{name}"] = load_bao(name, data_dir)
        else:
            loaded[f"{kind}:{name}"] = load_sn(name, data_dir)
    return loaded
