"""Tests of jaxfit.cosmo.bao: the packaged DESI DR2 table, the cobaya-format reader, the
BAO model vector and chi2.

References (named in each test):
- CobayaSampler/bao_data (the real files in ../shared/data/cosmology; tests that need them
  skip cleanly when that folder is absent).
- Textbook relations D_V = (z D_M^2 D_H)^(1/3), H = c / D_H, D_A = D_M / (1 + z).
"""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxfit  # noqa: F401  (switches on float64)
from jaxfit.cosmo import bao, datasets

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
COSMO = SHARED / "cosmology"
C = 299792.458  # km/s


# ---------------------------------------------------------------------------------------------
# Embedded DESI DR2 table vs the cobaya DESI DR2 release
# ---------------------------------------------------------------------------------------------


def test_embedded_desi_dr2_table_structure():
    b = datasets.load_bao()  # default: desi_dr2, packaged
    assert b.name == "desi_dr2" and b.rd_fid is None
    assert len(b) == 13
    assert b.z.min() == 0.295 and b.z.max() == 2.33
    assert b.quantity.count("DV_over_rs") == 1
    assert b.quantity.count("DM_over_rs") == 6 and b.quantity.count("DH_over_rs") == 6
    assert "2503.14738" in b.citation
    np.testing.assert_allclose(np.asarray(b.chol) @ np.asarray(b.chol).T, b.cov, rtol=1e-12)


def test_embedded_desi_dr2_matches_cobaya_files(bao_dir):
    """Means to the paper's rounding (rel 1e-3), errors and correlations to 3 decimals."""
    emb = datasets.load_bao("desi_dr2")
    full = datasets.load_bao("desi_dr2", bao_dir)
    assert len(full) == len(emb) == 13
    key_full = {
        (round(z, 3), q): i for i, (z, q) in enumerate(zip(full.z, full.quantity, strict=True))
    }
    order = [key_full[(round(z, 3), q)] for z, q in zip(emb.z, emb.quantity, strict=True)]
    assert sorted(order) == list(range(13))
    np.testing.assert_allclose(emb.value, full.value[order], rtol=1e-3)
    # rounded to 3 decimals: |diff| <= 0.0005 (plus float slack)
    assert np.max(np.abs(emb.value - full.value[order])) <= 5e-4 + 1e-12
    assert np.max(np.abs(emb.sigma - full.sigma[order])) <= 5e-4 + 1e-12
    corr_emb = emb.cov / np.outer(emb.sigma, emb.sigma)
    cov_full = full.cov[np.ix_(order, order)]
    corr_full = cov_full / np.outer(full.sigma[order], full.sigma[order])
    assert np.max(np.abs(corr_emb - corr_full)) <= 5e-4 + 1e-12
    # the same block structure: zero correlations between tracers in both
    assert np.array_equal(corr_emb == 0, corr_full == 0)


# ---------------------------------------------------------------------------------------------
# BAO readers on the real files
# ---------------------------------------------------------------------------------------------


def _assert_pd(b):
    assert np.all(np.linalg.eigvalsh(b.cov) > 0)
    np.testing.assert_allclose(np.asarray(b.chol) @ np.asarray(b.chol).T, b.cov, rtol=1e-10)


def test_desi_dr2_cobaya(bao_dir):
    b = datasets.load_bao("desi_dr2", bao_dir)
    assert len(b) == 13 and b.cov.shape == (13, 13)
    assert b.z.min() == pytest.approx(0.295) and b.z.max() == pytest.approx(2.33)
    assert set(b.quantity) == {"DV_over_rs", "DM_over_rs", "DH_over_rs"}
    assert b.rd_fid is None
    _assert_pd(b)
    # the parent folder (holding bao_data/) works too
    assert np.array_equal(datasets.load_bao("desi_dr2", COSMO).value, b.value)


def test_desi_dr1_cobaya(bao_dir):
    b = datasets.load_bao("desi_dr1", bao_dir)
    assert len(b) == 12 and b.cov.shape == (12, 12)
    assert b.z.min() == pytest.approx(0.295) and b.z.max() == pytest.approx(2.33)
    # DR1: BGS and QSO isotropic (D_V), the rest anisotropic
    assert b.quantity.count("DV_over_rs") == 2
    _assert_pd(b)


def test_boss_dr12_consensus(bao_dir):
    b = datasets.load_bao("boss_dr12", bao_dir)
    assert len(b) == 6
    assert b.rd_fid == 147.78
    assert b.quantity == ("DM_over_rs", "bao_Hz_rs") * 3
    np.testing.assert_allclose(sorted(set(b.z)), [0.38, 0.51, 0.61])
    # scaled units: D_M rd_fid/rd in Mpc (~1500-2300), H rd/rd_fid in km/s/Mpc (~80-100)
    assert np.all((b.value[0::2] > 1000) & (b.value[0::2] < 3000))
    assert np.all((b.value[1::2] > 70) & (b.value[1::2] < 110))
    _assert_pd(b)


def test_eboss_dr16_lrg_qso(bao_dir):
    b = datasets.load_bao("eboss_dr16", bao_dir)
    assert len(b) == 4
    np.testing.assert_allclose(b.z, [0.698, 0.698, 1.48, 1.48])
    assert b.quantity == ("DM_over_rs", "DH_over_rs") * 2
    assert np.all(b.cov[:2, 2:] == 0)  # LRG and QSO independent
    _assert_pd(b)
    lrg = bao.read_bao_cobaya(
        bao_dir / "sdss_DR16_LRG_BAO_DMDH.dat", bao_dir / "sdss_DR16_LRG_BAO_DMDH_covtot.txt"
    )
    assert len(lrg) == 2 and lrg.name == "sdss_DR16_LRG_BAO_DMDH"


# ---------------------------------------------------------------------------------------------
# malformed BAO files
# ---------------------------------------------------------------------------------------------

GOOD_MEAN = "# [z] [value at z] [quantity]\n0.51 13.6 DM_over_rs\n0.51 21.0 DH_over_rs\n"
GOOD_COV = "0.06 -0.07\n-0.07 0.37\n"


def _write(tmp_path, mean=GOOD_MEAN, cov=GOOD_COV):
    m, c = tmp_path / "mean.txt", tmp_path / "cov.txt"
    m.write_text(mean)
    c.write_text(cov)
    return m, c


def test_reader_good_tmp_file(tmp_path):
    b = bao.read_bao_cobaya(*_write(tmp_path), name="tmp")
    assert b.quantity == ("DM_over_rs", "DH_over_rs") and b.name == "tmp"
    np.testing.assert_array_equal(b.value, [13.6, 21.0])


def test_reader_missing_file(tmp_path):
    m, c = _write(tmp_path)
    with pytest.raises(FileNotFoundError, match="nope_mean.txt"):
        bao.read_bao_cobaya(tmp_path / "nope_mean.txt", c)
    with pytest.raises(FileNotFoundError, match="nope_cov.txt"):
        bao.read_bao_cobaya(m, tmp_path / "nope_cov.txt")


def test_reader_missing_column(tmp_path):
    m, c = _write(tmp_path, mean="# header\n0.51 13.6 DM_over_rs\n0.51 21.0\n")
    with pytest.raises(ValueError, match=r"mean\.txt, line 3: expected 3 columns"):
        bao.read_bao_cobaya(m, c)


def test_reader_unknown_quantity(tmp_path):
    m, c = _write(tmp_path, mean="0.51 13.6 DM_over_rs\n0.51 21.0 DX_over_rs\n")
    with pytest.raises(ValueError, match=r"mean\.txt, line 2: unknown BAO quantity 'DX_over_rs'"):
        bao.read_bao_cobaya(m, c)
    with pytest.raises(ValueError, match="valid: DV_over_rs, DM_over_rs, DH_over_rs"):
        bao.read_bao_cobaya(m, c)
    m, c = _write(tmp_path, mean="0.51 13.6 DM_over_rs\n0.51 0.45 f_sigma8\n")
    with pytest.raises(ValueError, match="f_sigma8 needs the growth rate"):
        bao.read_bao_cobaya(m, c)


def test_reader_nan(tmp_path):
    m, c = _write(tmp_path, mean="0.51 nan DM_over_rs\n0.51 21.0 DH_over_rs\n")
    with pytest.raises(ValueError, match=r"mean\.txt, line 1: non-finite"):
        bao.read_bao_cobaya(m, c)
    m, c = _write(tmp_path, cov="0.06 nan\n-0.07 0.37\n")
    with pytest.raises(ValueError, match=r"cov\.txt, line 1: non-finite"):
        bao.read_bao_cobaya(m, c)


def test_reader_cov_wrong_shape(tmp_path):
    m, c = _write(tmp_path, cov="0.06 -0.07 0.0\n-0.07 0.37 0.0\n0.0 0.0 1.0\n")
    with pytest.raises(ValueError, match=r"cov\.txt: covariance has shape \(3, 3\).*2 entries"):
        bao.read_bao_cobaya(m, c)
    m, c = _write(tmp_path, cov="0.06 -0.07\n-0.07\n")
    with pytest.raises(ValueError, match=r"cov\.txt, line 2: row has 1 entries"):
        bao.read_bao_cobaya(m, c)


def test_reader_cov_not_pd_or_asymmetric(tmp_path):
    m, c = _write(tmp_path, cov="0.06 0.5\n0.5 0.37\n")
    with pytest.raises(ValueError, match=r"cov\.txt.*not positive definite"):
        bao.read_bao_cobaya(m, c)
    m, c = _write(tmp_path, cov="0.06 -0.07\n-0.01 0.37\n")
    with pytest.raises(ValueError, match=r"cov\.txt.*symmetric"):
        bao.read_bao_cobaya(m, c)


def test_reader_error_column_without_cov(tmp_path):
    m = tmp_path / "mean.txt"
    m.write_text("0.106 0.336 0.015 rs_over_DV\n0.15 4.47 0.17 DV_over_rs\n")
    b = bao.read_bao_cobaya(m)
    np.testing.assert_allclose(b.cov, np.diag([0.015**2, 0.17**2]))
    m.write_text("0.106 0.336 rs_over_DV\n")
    with pytest.raises(ValueError, match="no covariance file given"):
        bao.read_bao_cobaya(m)


# ---------------------------------------------------------------------------------------------
# bao_model_vector: each convention against the textbook relation
# ---------------------------------------------------------------------------------------------

Z = np.array([0.3, 0.5, 0.5, 0.7, 1.0, 1.5, 2.0, 2.3])
DM = np.array([1200.0, 1900.0, 1900.0, 2500.0, 3300.0, 4300.0, 5200.0, 5700.0])
DH = np.array([3800.0, 3400.0, 3400.0, 3000.0, 2550.0, 2000.0, 1580.0, 1390.0])
QUANT = (
    "DV_over_rs",
    "DM_over_rs",
    "DH_over_rs",
    "bao_Hz_rs",
    "Hz_rs",
    "rs_over_DV",
    "DA_over_rs",
    "F_AP",
)
RD = 147.1


def _textbook(rs):
    dv = (Z * DM**2 * DH) ** (1 / 3)
    hz = C / DH  # km/s/Mpc
    return np.array(
        [
            dv[0] / rs,
            DM[1] / rs,
            DH[2] / rs,
            hz[3] * rs,
            hz[4] * rs,
            rs / dv[5],
            DM[6] / (1 + Z[6]) / rs,
            DM[7] / DH[7],
        ]
    )


def test_bao_model_vector_conventions():
    got = np.asarray(bao.bao_model_vector(QUANT, Z, DM, DH, None, RD, None))
    np.testing.assert_allclose(got, _textbook(RD), rtol=1e-13)
    # hand check of two entries: D_V at z=0.3 and H r_d at z=0.7
    assert got[0] == pytest.approx((0.3 * 1200.0**2 * 3800.0) ** (1 / 3) / 147.1, rel=1e-13)
    assert got[3] == pytest.approx(299792.458 / 3000.0 * 147.1, rel=1e-13)


def test_bao_model_vector_rd_fid_scaling():
    """BOSS DR12: D_M rd_fid/rd [Mpc] and H rd/rd_fid [km/s/Mpc] with rd_fid = 147.78."""
    got = np.asarray(bao.bao_model_vector(QUANT, Z, DM, DH, None, RD, 147.78))
    np.testing.assert_allclose(got, _textbook(RD / 147.78), rtol=1e-13)
    assert got[1] == pytest.approx(1900.0 * 147.78 / 147.1, rel=1e-13)  # Mpc
    assert got[3] == pytest.approx(299792.458 / 3000.0 * 147.1 / 147.78, rel=1e-13)


def test_bao_model_vector_given_dv_and_errors():
    dv = np.full(len(Z), 2000.0)
    got = np.asarray(bao.bao_model_vector(QUANT, Z, DM, DH, dv, RD, None))
    assert got[0] == pytest.approx(2000.0 / RD, rel=1e-14)
    assert got[5] == pytest.approx(RD / 2000.0, rel=1e-14)
    with pytest.raises(ValueError, match="unknown BAO quantity 'DX_over_rs'"):
        bao.bao_model_vector(("DX_over_rs",), Z[:1], DM[:1], DH[:1], None, RD, None)
    with pytest.raises(ValueError, match="rd"):
        bao.bao_model_vector(QUANT, Z, DM, DH, None, None, None)
    with pytest.raises(ValueError, match="DM has shape"):
        bao.bao_model_vector(QUANT, Z, DM[:3], DH, None, RD, None)


def test_bao_model_vector_jit_and_grad():
    f = jax.jit(lambda dm, dh, rd: bao.bao_model_vector(QUANT, Z, dm, dh, None, rd, 147.78))
    eager = bao.bao_model_vector(QUANT, Z, DM, DH, None, RD, 147.78)
    np.testing.assert_allclose(f(DM, DH, RD), eager, rtol=1e-15, atol=0)
    grad = jax.grad(lambda rd: jnp.sum(f(DM, DH, rd)))(RD)
    assert np.isfinite(float(grad))


# chi2 at (H0 67.4, Om 0.315, r_d 147.1 Mpc, no radiation): DESI DR2 28.8 (13 points; the
# known 2-3 sigma BAO-CMB tension), DR1 20.7, BOSS DR12 5.4, eBOSS DR16 3.8
@pytest.mark.parametrize(
    ("name", "max_chi2"),
    [("desi_dr2", 60.0), ("desi_dr1", 60.0), ("boss_dr12", 20.0), ("eboss_dr16", 20.0)],
)
def test_bao_chi2_planck_like_cosmology_is_sane(name, max_chi2, bao_dir, flat_lcdm):
    """End-to-end convention check: a Planck-like flat LCDM fits each table with chi2 of order
    the number of points (a wrong r_d / rd_fid convention gives chi2 >> 1e3)."""
    b = datasets.load_bao(name, bao_dir)
    dm, dh = flat_lcdm(b.z, 67.4, 0.315)
    model = bao.bao_model_vector(b.quantity, b.z, dm, dh, None, 147.1, b.rd_fid)
    chi2 = float(bao.bao_chi2(model, b))
    assert 0.0 < chi2 < max_chi2
    # without the rd_fid rescaling BOSS DR12 would be off by orders of magnitude
    if b.rd_fid is not None:
        wrong = bao.bao_model_vector(b.quantity, b.z, dm, dh, None, 147.1, None)
        assert float(bao.bao_chi2(wrong, b)) > 1e4
