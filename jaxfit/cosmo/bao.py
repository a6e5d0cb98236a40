"""BAO data: tables in the CobayaSampler/bao_data format, their model vector and chi2.

A BAO table is a mean file of ``z value quantity`` lines and a covariance matrix
(:func:`read_bao_cobaya`), read once on the host into a frozen :class:`BAOData` with a
validated Cholesky factor. DESI DR2 is also packaged (``data/desi_dr2_bao.json``, 3-decimal
values of the paper's table; :func:`load_desi_dr2_embedded`). The named data sets and
where to find them are in :mod:`jaxfit.cosmo.datasets`.

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

**Not read.** The eBOSS DR16 Lyman-alpha and ELG likelihoods are tabulated non-Gaussian grids
(``sdss_DR16_LYAUTO_BAO_DMDHgrid.txt``, ``sdss_DR16_LYxQSO_BAO_DMDHgrid.txt``,
``sdss_DR16_ELG_BAO_DVtable.txt``), and the full-shape files add ``f_sigma8`` (growth is not
modelled).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxfit.constants import C_KM_S
from jaxfit.core import checks
from jaxfit.core.likelihood import chi2_cholesky, cholesky_factor
from jaxfit.cosmo.files import open_text, packaged_json

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

BOSS_DR12_RD_FID = 147.78
"""Fiducial r_d [Mpc] of the BOSS DR12 consensus files (cobaya ``sdss_dr12_consensus_bao``)."""


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


def canonical_quantity(q: str) -> str:
    """The cobaya quantity name ``q`` without its optional ``bao_`` prefix."""
    return q[len("bao_") :] if q.startswith("bao_") else q


def _valid_quantity_list() -> str:
    return ", ".join(BAO_QUANTITIES) + " (each optionally prefixed 'bao_', e.g. bao_Hz_rs)"


def _check_quantity(q: str, where: str) -> None:
    if canonical_quantity(q) in BAO_QUANTITIES:
        return
    hint = ""
    if canonical_quantity(q) == "f_sigma8":
        hint = " (f_sigma8 needs the growth rate, which jaxfit does not model)"
    raise ValueError(f"{where}: unknown BAO quantity {q!r}{hint}; valid: {_valid_quantity_list()}")


def _read_bao_mean(path: Path):
    """Parse a cobaya mean file: ``z value quantity`` or ``z value error quantity`` lines."""
    z, value, err, quantity = [], [], [], []
    with open_text(path) as handle:
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
            if numbers[1] <= 0:  # every BAO quantity is a ratio of positive distances/rates
                raise ValueError(f"{where}: the measured value must be > 0, got {numbers[1]}")
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
    with open_text(path) as handle:
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
    if rd_fid is not None:
        rd_fid = checks.real(rd_fid, "rd_fid [Mpc]", positive=True)
    mean_path = checks.existing_file(mean_path, "BAO mean file")
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
        cov_path = checks.existing_file(cov_path, "BAO covariance file")
        cov = _read_matrix(cov_path, len(value))
        source = f"{mean_path} + {cov_path}"
    chol = cholesky_factor(cov, f"BAO covariance {cov_path or mean_path}")
    return BAOData(
        name=name or mean_path.stem,
        z=z,
        quantity=quantity,
        value=value,
        cov=cov,
        chol=chol,
        citation=citation,
        rd_fid=rd_fid,
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
    raw = packaged_json(DESI_DR2_FILE)
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
    kinds = tuple(canonical_quantity(str(q)) for q in quantities)
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
