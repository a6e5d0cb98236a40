"""Tests of jaxfit.cosmo.data: packaged tables, cobaya-format readers, SN profiling, BAO models.

References (named in each test):
- Chen, Huang & Wang 2019 (JCAP 02 (2019) 028) Table 1, LCDM column: the Planck priors.
- CobayaSampler/bao_data and sn_data (the real files in ../shared/data/cosmology; tests that
  need them skip cleanly when that folder is absent).
- Textbook relations D_V = (z D_M^2 D_H)^(1/3), H = c / D_H, D_A = D_M / (1 + z).
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.integrate
import scipy.optimize

import jaxfit  # noqa: F401  (switches on float64)
from jaxfit.cosmo import data as cd

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
COSMO = SHARED / "cosmology"
BAO_DIR = COSMO / "bao_data"
SN_DIR = COSMO / "sn_data"

C = 299792.458  # km/s


@pytest.fixture(scope="module")
def bao_dir():
    if not BAO_DIR.is_dir():
        pytest.skip(f"real BAO files not available ({BAO_DIR})")
    return BAO_DIR


@pytest.fixture(scope="module")
def sn_dir():
    if not SN_DIR.is_dir():
        pytest.skip(f"real SN files not available ({SN_DIR})")
    return SN_DIR


# ---------------------------------------------------------------------------------------------
# Planck 2018 distance priors
# ---------------------------------------------------------------------------------------------

# Chen, Huang & Wang 2019, Table 1, LCDM column (R, l_A, omega_b, n_s)
CHW_MEAN = [1.7502, 301.471, 0.02236, 0.9649]
CHW_SIGMA = [0.0046, 0.0895, 0.00015, 0.0043]
CHW_CORR = [
    [1.0, 0.46, -0.66, -0.74],
    [0.46, 1.0, -0.33, -0.35],
    [-0.66, -0.33, 1.0, 0.46],
    [-0.74, -0.35, 0.46, 1.0],
]


def test_planck_priors_match_chen_huang_wang_table1():
    p = cd.load_cmb_priors()
    assert p.labels == ("R", "l_A", "omega_b", "n_s")
    assert np.array_equal(p.mean, CHW_MEAN)
    sigma = np.asarray(CHW_SIGMA)
    np.testing.assert_allclose(p.sigma, sigma, rtol=1e-14)
    corr = p.cov / np.outer(p.sigma, p.sigma)
    np.testing.assert_allclose(corr, CHW_CORR, rtol=0, atol=1e-14)
    # C = sigma rho sigma
    np.testing.assert_allclose(p.cov, sigma[:, None] * np.asarray(CHW_CORR) * sigma, rtol=1e-15)
    np.testing.assert_allclose(np.asarray(p.chol) @ np.asarray(p.chol).T, p.cov, rtol=1e-12)
    assert "1808.05724" in p.citation and "Chen" in p.citation


def test_planck_priors_agree_with_shared_copy():
    """The packaged numbers equal the independently transcribed shared JSON (LCDM model)."""
    path = COSMO / "planck2018_distance_priors_chen_huang_wang_2019.json"
    if not path.is_file():
        pytest.skip(f"{path} not available")
    ref = json.loads(path.read_text())["models"]["LCDM"]
    p = cd.load_cmb_priors()
    assert p.mean.tolist() == ref["mean"]
    assert p.sigma.tolist() == pytest.approx(ref["sigma"], rel=1e-14)
    np.testing.assert_allclose(p.cov / np.outer(p.sigma, p.sigma), ref["corr"], atol=1e-14)


def test_cov_scale_multiplies_covariance():
    base = cd.load_cmb_priors()
    doubled = cd.load_cmb_priors(cov_scale=2.0)
    np.testing.assert_allclose(doubled.cov, 2.0 * base.cov, rtol=1e-15)
    np.testing.assert_array_equal(doubled.mean, base.mean)
    # chi2 halves when C doubles
    obs = base.mean + base.sigma * np.array([1.0, -0.5, 0.3, 2.0])
    assert float(cd.cmb_chi2(obs, doubled)) == pytest.approx(
        0.5 * float(cd.cmb_chi2(obs, base)), rel=1e-12
    )


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf"), "two"])
def test_cov_scale_invalid_raises(bad):
    with pytest.raises(ValueError, match="cov_scale"):
        cd.load_cmb_priors(cov_scale=bad)


def test_cmb_chi2_equals_numpy_inverse():
    p = cd.load_cmb_priors()
    obs = p.mean + p.sigma * np.array([0.7, -1.2, 0.4, 0.9])
    r = obs - p.mean
    expected = r @ np.linalg.solve(p.cov, r)
    assert float(cd.cmb_chi2(obs, p)) == pytest.approx(expected, rel=1e-10)
    assert float(cd.cmb_chi2(p.mean, p)) == 0.0


# ---------------------------------------------------------------------------------------------
# Embedded DESI DR2 table vs the cobaya DESI DR2 release
# ---------------------------------------------------------------------------------------------


def test_embedded_desi_dr2_table_structure():
    b = cd.load_bao()  # default: desi_dr2, packaged
    assert b.name == "desi_dr2" and b.rd_fid is None
    assert len(b) == 13
    assert b.z.min() == 0.295 and b.z.max() == 2.33
    assert b.quantity.count("DV_over_rs") == 1
    assert b.quantity.count("DM_over_rs") == 6 and b.quantity.count("DH_over_rs") == 6
    assert "2503.14738" in b.citation
    np.testing.assert_allclose(np.asarray(b.chol) @ np.asarray(b.chol).T, b.cov, rtol=1e-12)


def test_embedded_desi_dr2_matches_cobaya_files(bao_dir):
    """Means to the paper's rounding (rel 1e-3), errors and correlations to 3 decimals."""
    emb = cd.load_bao("desi_dr2")
    full = cd.load_bao("desi_dr2", bao_dir)
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
    b = cd.load_bao("desi_dr2", bao_dir)
    assert len(b) == 13 and b.cov.shape == (13, 13)
    assert b.z.min() == pytest.approx(0.295) and b.z.max() == pytest.approx(2.33)
    assert set(b.quantity) == {"DV_over_rs", "DM_over_rs", "DH_over_rs"}
    assert b.rd_fid is None
    _assert_pd(b)
    # the parent folder (holding bao_data/) works too
    assert np.array_equal(cd.load_bao("desi_dr2", COSMO).value, b.value)


def test_desi_dr1_cobaya(bao_dir):
    b = cd.load_bao("desi_dr1", bao_dir)
    assert len(b) == 12 and b.cov.shape == (12, 12)
    assert b.z.min() == pytest.approx(0.295) and b.z.max() == pytest.approx(2.33)
    # DR1: BGS and QSO isotropic (D_V), the rest anisotropic
    assert b.quantity.count("DV_over_rs") == 2
    _assert_pd(b)


def test_boss_dr12_consensus(bao_dir):
    b = cd.load_bao("boss_dr12", bao_dir)
    assert len(b) == 6
    assert b.rd_fid == 147.78
    assert b.quantity == ("DM_over_rs", "bao_Hz_rs") * 3
    np.testing.assert_allclose(sorted(set(b.z)), [0.38, 0.51, 0.61])
    # scaled units: D_M rd_fid/rd in Mpc (~1500-2300), H rd/rd_fid in km/s/Mpc (~80-100)
    assert np.all((b.value[0::2] > 1000) & (b.value[0::2] < 3000))
    assert np.all((b.value[1::2] > 70) & (b.value[1::2] < 110))
    _assert_pd(b)


def test_eboss_dr16_lrg_qso(bao_dir):
    b = cd.load_bao("eboss_dr16", bao_dir)
    assert len(b) == 4
    np.testing.assert_allclose(b.z, [0.698, 0.698, 1.48, 1.48])
    assert b.quantity == ("DM_over_rs", "DH_over_rs") * 2
    assert np.all(b.cov[:2, 2:] == 0)  # LRG and QSO independent
    _assert_pd(b)
    lrg = cd.read_bao_cobaya(
        bao_dir / "sdss_DR16_LRG_BAO_DMDH.dat", bao_dir / "sdss_DR16_LRG_BAO_DMDH_covtot.txt"
    )
    assert len(lrg) == 2 and lrg.name == "sdss_DR16_LRG_BAO_DMDH"


def test_bao_registry_errors():
    with pytest.raises(KeyError, match="desi_dr2.*desi_dr1.*boss_dr12.*eboss_dr16"):
        cd.load_bao("desi_dr3")
    with pytest.raises(FileNotFoundError, match="desi_dr1.*jaxfit data"):
        cd.load_bao("desi_dr1")  # not packaged, no folder
    with pytest.raises(FileNotFoundError, match="no_such_dir"):
        cd.load_bao("desi_dr2", "/no_such_dir")


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
    b = cd.read_bao_cobaya(*_write(tmp_path), name="tmp")
    assert b.quantity == ("DM_over_rs", "DH_over_rs") and b.name == "tmp"
    np.testing.assert_array_equal(b.value, [13.6, 21.0])


def test_reader_missing_file(tmp_path):
    m, c = _write(tmp_path)
    with pytest.raises(FileNotFoundError, match="nope_mean.txt"):
        cd.read_bao_cobaya(tmp_path / "nope_mean.txt", c)
    with pytest.raises(FileNotFoundError, match="nope_cov.txt"):
        cd.read_bao_cobaya(m, tmp_path / "nope_cov.txt")


def test_reader_missing_column(tmp_path):
    m, c = _write(tmp_path, mean="# header\n0.51 13.6 DM_over_rs\n0.51 21.0\n")
    with pytest.raises(ValueError, match=r"mean\.txt, line 3: expected 3 columns"):
        cd.read_bao_cobaya(m, c)


def test_reader_unknown_quantity(tmp_path):
    m, c = _write(tmp_path, mean="0.51 13.6 DM_over_rs\n0.51 21.0 DX_over_rs\n")
    with pytest.raises(ValueError, match=r"mean\.txt, line 2: unknown BAO quantity 'DX_over_rs'"):
        cd.read_bao_cobaya(m, c)
    with pytest.raises(ValueError, match="valid: DV_over_rs, DM_over_rs, DH_over_rs"):
        cd.read_bao_cobaya(m, c)
    m, c = _write(tmp_path, mean="0.51 13.6 DM_over_rs\n0.51 0.45 f_sigma8\n")
    with pytest.raises(ValueError, match="f_sigma8 needs the growth rate"):
        cd.read_bao_cobaya(m, c)


def test_reader_nan(tmp_path):
    m, c = _write(tmp_path, mean="0.51 nan DM_over_rs\n0.51 21.0 DH_over_rs\n")
    with pytest.raises(ValueError, match=r"mean\.txt, line 1: non-finite"):
        cd.read_bao_cobaya(m, c)
    m, c = _write(tmp_path, cov="0.06 nan\n-0.07 0.37\n")
    with pytest.raises(ValueError, match=r"cov\.txt, line 1: non-finite"):
        cd.read_bao_cobaya(m, c)


def test_reader_cov_wrong_shape(tmp_path):
    m, c = _write(tmp_path, cov="0.06 -0.07 0.0\n-0.07 0.37 0.0\n0.0 0.0 1.0\n")
    with pytest.raises(ValueError, match=r"cov\.txt: covariance has shape \(3, 3\).*2 entries"):
        cd.read_bao_cobaya(m, c)
    m, c = _write(tmp_path, cov="0.06 -0.07\n-0.07\n")
    with pytest.raises(ValueError, match=r"cov\.txt, line 2: row has 1 entries"):
        cd.read_bao_cobaya(m, c)


def test_reader_cov_not_pd_or_asymmetric(tmp_path):
    m, c = _write(tmp_path, cov="0.06 0.5\n0.5 0.37\n")
    with pytest.raises(ValueError, match=r"cov\.txt.*not positive definite"):
        cd.read_bao_cobaya(m, c)
    m, c = _write(tmp_path, cov="0.06 -0.07\n-0.01 0.37\n")
    with pytest.raises(ValueError, match=r"cov\.txt.*symmetric"):
        cd.read_bao_cobaya(m, c)


def test_reader_error_column_without_cov(tmp_path):
    m = tmp_path / "mean.txt"
    m.write_text("0.106 0.336 0.015 rs_over_DV\n0.15 4.47 0.17 DV_over_rs\n")
    b = cd.read_bao_cobaya(m)
    np.testing.assert_allclose(b.cov, np.diag([0.015**2, 0.17**2]))
    m.write_text("0.106 0.336 rs_over_DV\n")
    with pytest.raises(ValueError, match="no covariance file given"):
        cd.read_bao_cobaya(m)


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
    got = np.asarray(cd.bao_model_vector(QUANT, Z, DM, DH, None, RD, None))
    np.testing.assert_allclose(got, _textbook(RD), rtol=1e-13)
    # hand check of two entries: D_V at z=0.3 and H r_d at z=0.7
    assert got[0] == pytest.approx((0.3 * 1200.0**2 * 3800.0) ** (1 / 3) / 147.1, rel=1e-13)
    assert got[3] == pytest.approx(299792.458 / 3000.0 * 147.1, rel=1e-13)


def test_bao_model_vector_rd_fid_scaling():
    """BOSS DR12: D_M rd_fid/rd [Mpc] and H rd/rd_fid [km/s/Mpc] with rd_fid = 147.78."""
    got = np.asarray(cd.bao_model_vector(QUANT, Z, DM, DH, None, RD, 147.78))
    np.testing.assert_allclose(got, _textbook(RD / 147.78), rtol=1e-13)
    assert got[1] == pytest.approx(1900.0 * 147.78 / 147.1, rel=1e-13)  # Mpc
    assert got[3] == pytest.approx(299792.458 / 3000.0 * 147.1 / 147.78, rel=1e-13)


def test_bao_model_vector_given_dv_and_errors():
    dv = np.full(len(Z), 2000.0)
    got = np.asarray(cd.bao_model_vector(QUANT, Z, DM, DH, dv, RD, None))
    assert got[0] == pytest.approx(2000.0 / RD, rel=1e-14)
    assert got[5] == pytest.approx(RD / 2000.0, rel=1e-14)
    with pytest.raises(ValueError, match="unknown BAO quantity 'DX_over_rs'"):
        cd.bao_model_vector(("DX_over_rs",), Z[:1], DM[:1], DH[:1], None, RD, None)
    with pytest.raises(ValueError, match="rd"):
        cd.bao_model_vector(QUANT, Z, DM, DH, None, None, None)
    with pytest.raises(ValueError, match="DM has shape"):
        cd.bao_model_vector(QUANT, Z, DM[:3], DH, None, RD, None)


def test_bao_model_vector_jit_and_grad():
    f = jax.jit(lambda dm, dh, rd: cd.bao_model_vector(QUANT, Z, dm, dh, None, rd, 147.78))
    eager = cd.bao_model_vector(QUANT, Z, DM, DH, None, RD, 147.78)
    np.testing.assert_allclose(f(DM, DH, RD), eager, rtol=1e-15, atol=0)
    grad = jax.grad(lambda rd: jnp.sum(f(DM, DH, rd)))(RD)
    assert np.isfinite(float(grad))


def _flat_lcdm(z, h0, om):
    """D_M and D_H [Mpc] of flat LCDM with radiation neglected (scipy quad; a sanity model)."""

    def inv_e(x):
        return 1.0 / math.sqrt(om * (1 + x) ** 3 + 1 - om)

    dh0 = C / h0
    dm = np.array([dh0 * scipy.integrate.quad(inv_e, 0, zi, epsabs=0, epsrel=1e-11)[0] for zi in z])
    dh = np.array([dh0 * inv_e(zi) for zi in z])
    return dm, dh


# chi2 at (H0 67.4, Om 0.315, r_d 147.1 Mpc, no radiation): DESI DR2 28.8 (13 points; the
# known 2-3 sigma BAO-CMB tension), DR1 20.7, BOSS DR12 5.4, eBOSS DR16 3.8
@pytest.mark.parametrize(
    ("name", "max_chi2"),
    [("desi_dr2", 60.0), ("desi_dr1", 60.0), ("boss_dr12", 20.0), ("eboss_dr16", 20.0)],
)
def test_bao_chi2_planck_like_cosmology_is_sane(name, max_chi2, bao_dir):
    """End-to-end convention check: a Planck-like flat LCDM fits each table with chi2 of order
    the number of points (a wrong r_d / rd_fid convention gives chi2 >> 1e3)."""
    b = cd.load_bao(name, bao_dir)
    dm, dh = _flat_lcdm(b.z, 67.4, 0.315)
    model = cd.bao_model_vector(b.quantity, b.z, dm, dh, None, 147.1, b.rd_fid)
    chi2 = float(cd.bao_chi2(model, b))
    assert 0.0 < chi2 < max_chi2
    # without the rd_fid rescaling BOSS DR12 would be off by orders of magnitude
    if b.rd_fid is not None:
        wrong = cd.bao_model_vector(b.quantity, b.z, dm, dh, None, 147.1, None)
        assert float(cd.bao_chi2(wrong, b)) > 1e4


# ---------------------------------------------------------------------------------------------
# SN readers
# ---------------------------------------------------------------------------------------------


def test_union3(sn_dir):
    sn = cd.load_sn("union3", sn_dir)
    assert len(sn) == 22 and sn.cov.shape == (22, 22)
    assert sn.kind == "mu" and not sn.diagonal_only
    np.testing.assert_array_equal(sn.z, sn.zhel)
    assert sn.z[0] == pytest.approx(0.05)
    assert np.all(np.linalg.eigvalsh(sn.cov) > 0)
    # the sample folder itself works too
    assert np.array_equal(cd.read_union3(sn_dir / "Union3").mu_or_mb, sn.mu_or_mb)


def test_pantheon_plus_cut_and_diagonal_warning(sn_dir):
    with pytest.warns(cd.DiagonalCovarianceWarning, match="diagonal"):
        sn = cd.load_sn("pantheon_plus", sn_dir)
    # cobaya sn.pantheonplus: zHD > 0.01 keeps 1590 of the 1701 light curves
    assert len(sn) == 1590 and sn.diagonal_only
    assert sn.kind == "mb" and np.all(sn.z > 0.01)
    assert np.count_nonzero(sn.cov - np.diag(np.diag(sn.cov))) == 0


def test_des_y5_rows_and_diagonal_warning(sn_dir):
    with pytest.warns(cd.DiagonalCovarianceWarning, match="MUERR_FINAL"):
        sn = cd.load_sn("des_y5", sn_dir)
    assert len(sn) == 1829 and sn.kind == "mu" and sn.diagonal_only
    assert sn.z.min() > 0.02 and sn.z.max() < 1.2


def test_sn_registry_errors(tmp_path):
    with pytest.raises(KeyError, match="union3, pantheon_plus, des_y5"):
        cd.load_sn("jla", tmp_path)
    with pytest.raises(FileNotFoundError, match="not packaged"):
        cd.load_sn("union3")
    with pytest.raises(FileNotFoundError, match="lcparam_full.txt"):
        cd.load_sn("union3", tmp_path)


PPLUS_HEADER = "CID IDSURVEY zHD zHEL m_b_corr m_b_corr_err_DIAG IS_CALIBRATOR\n"


def test_pantheon_plus_with_covariance_file(tmp_path):
    """A 4-row Pantheon+-format file: the zHD > 0.01 cut is applied to rows and covariance."""
    rows = [
        "a 1 0.005 0.005 12.0 0.2 1",
        "b 1 0.02 0.021 15.5 0.15 0",
        "c 1 0.10 0.101 19.0 0.12 0",
        "d 1 0.50 0.502 22.8 0.14 0",
    ]
    (tmp_path / "Pantheon+SH0ES.dat").write_text(PPLUS_HEADER + "\n".join(rows) + "\n")
    a = np.random.default_rng(1).normal(size=(4, 4))
    full = 0.01 * a @ a.T + np.diag([0.04, 0.0225, 0.0144, 0.0196])
    cov_path = tmp_path / "Pantheon+SH0ES_STAT+SYS.cov"
    cov_path.write_text("4\n" + "\n".join(f"{x:.17g}" for x in full.ravel()) + "\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # found next to the data: no diagonal warning
        sn = cd.read_pantheon_plus(tmp_path)
    assert len(sn) == 3 and not sn.diagonal_only
    np.testing.assert_allclose(sn.cov, full[1:, 1:], rtol=1e-15)
    np.testing.assert_array_equal(sn.zhel, [0.021, 0.101, 0.502])
    # explicit path, and a wrong-size covariance names the file
    bad = tmp_path / "bad.cov"
    bad.write_text("3\n" + "0.1\n" * 9)
    with pytest.raises(ValueError, match=r"bad\.cov: expected 4 x 4"):
        cd.read_pantheon_plus(tmp_path / "Pantheon+SH0ES.dat", bad)


def test_sn_malformed_files(tmp_path):
    (tmp_path / "Pantheon+SH0ES.dat").write_text("CID zHD zHEL m_b_corr\na 0.1 0.1 19.0\n")
    with pytest.raises(ValueError, match=r"Pantheon\+SH0ES\.dat, line 1: missing column"):
        cd.read_pantheon_plus(tmp_path)
    csv = tmp_path / "DES-SN5YR_HD.csv"
    csv.write_text("CID,zHD,zHEL,MU,MUERR_FINAL\n1,0.1,0.1,38.3,0.1\n2,0.2,0.2,nan,0.1\n")
    with pytest.raises(ValueError, match=r"DES-SN5YR_HD\.csv, line 3: column 'MU'"):
        cd.read_des_y5(csv)


def test_des_y5_covsys_adds_statistical_diagonal(tmp_path):
    csv = tmp_path / "DES-SN5YR_HD.csv"
    csv.write_text("CID,zHD,zHEL,MU,MUERR_FINAL\n1,0.1,0.1,38.3,0.1\n2,0.2,0.21,40.0,0.2\n")
    sys_cov = np.array([[0.01, 0.004], [0.004, 0.02]])
    (tmp_path / "covsys_000.txt").write_text("2\n" + "\n".join(map(str, sys_cov.ravel())))
    sn = cd.read_des_y5(tmp_path)
    np.testing.assert_allclose(sn.cov, sys_cov + np.diag([0.01, 0.04]), rtol=1e-15)
    full = cd.read_des_y5(csv, tmp_path / "covsys_000.txt", cov_includes_stat=True)
    np.testing.assert_allclose(full.cov, sys_cov, rtol=1e-15)


# ---------------------------------------------------------------------------------------------
# sn_chi2: analytic offset profiling vs brute force
# ---------------------------------------------------------------------------------------------


def _synthetic_sn(n=40, seed=7):
    rng = np.random.default_rng(seed)
    z = np.sort(rng.uniform(0.02, 1.5, n))
    a = rng.normal(size=(n, n))
    cov = 0.002 * a @ a.T / n + np.diag(rng.uniform(0.01, 0.03, n))
    dm, _ = _flat_lcdm(z, 70.0, 0.3)
    mu = np.asarray(cd.sn_mu_model(dm, z)) - 19.3 + rng.multivariate_normal(np.zeros(n), cov)
    return cd.SNData("synthetic", z, z, mu, cov, jnp.asarray(np.linalg.cholesky(cov)), "mb", "none")


def _brute_force_chi2(mu_model, sn):
    cinv = np.linalg.inv(sn.cov)

    def chi2(m):
        r = sn.mu_or_mb - mu_model - m
        return r @ cinv @ r

    m0 = float(np.mean(sn.mu_or_mb - mu_model))  # a start near the minimum; Brent expands
    res = scipy.optimize.minimize_scalar(chi2, bracket=(m0 - 1.0, m0 + 1.0), tol=1e-12)
    return res.fun, res.x


def _sn_cases(sn_dir_available):
    cases = [_synthetic_sn()]
    if sn_dir_available:
        cases.append(cd.load_sn("union3", SN_DIR))
    return cases


def test_sn_chi2_equals_brute_force_minimum():
    for sn in _sn_cases(SN_DIR.is_dir()):
        dm, _ = _flat_lcdm(sn.z, 70.0, 0.31)
        mu_model = np.asarray(cd.sn_mu_model(dm, sn.zhel))
        expected, m_best = _brute_force_chi2(mu_model, sn)
        offset, chi2 = cd.sn_profile(mu_model, sn)
        assert float(chi2) == pytest.approx(expected, rel=1e-9), sn.name
        assert float(cd.sn_chi2(mu_model, sn)) == pytest.approx(expected, rel=1e-9)
        assert float(offset) == pytest.approx(m_best, abs=1e-5)


def test_sn_chi2_invariant_under_constant_shift():
    for sn in _sn_cases(SN_DIR.is_dir()):
        dm, _ = _flat_lcdm(sn.z, 70.0, 0.31)
        mu_model = np.asarray(cd.sn_mu_model(dm, sn.zhel))
        base = float(cd.sn_chi2(mu_model, sn))
        for shift in (-3.7, 0.25, 12.0):
            assert float(cd.sn_chi2(mu_model + shift, sn)) == pytest.approx(base, rel=1e-9)


def test_sn_chi2_jit_equals_eager():
    sn = _synthetic_sn()
    dm, _ = _flat_lcdm(sn.z, 70.0, 0.31)
    mu_model = cd.sn_mu_model(dm, sn.zhel)
    jitted = jax.jit(lambda m: cd.sn_chi2(m, sn))
    assert float(jitted(mu_model)) == pytest.approx(float(cd.sn_chi2(mu_model, sn)), rel=1e-12)
    grad = jax.grad(lambda d: cd.sn_chi2(cd.sn_mu_model(d, sn.zhel), sn))(jnp.asarray(dm))
    assert np.all(np.isfinite(np.asarray(grad)))


def test_sn_mu_model_textbook():
    # D_L = (1 + z_hel) D_M = 1000 Mpc -> mu = 5 log10(1e9 pc / 10 pc) = 40
    assert float(cd.sn_mu_model(jnp.array([1000.0 / 1.1]), jnp.array([0.1]))[0]) == pytest.approx(
        40.0, rel=1e-14
    )


# ---------------------------------------------------------------------------------------------
# data-set selection
# ---------------------------------------------------------------------------------------------


def test_parse_datasets_defaults_and_names():
    assert cd.parse_datasets("cmb,bao,sn") == [
        ("cmb", "planck2018"),
        ("bao", "desi_dr2"),
        ("sn", "union3"),
    ]
    assert cd.parse_datasets(" CMB , bao:desi_dr1,sn:des_y5") == [
        ("cmb", "planck2018"),
        ("bao", "desi_dr1"),
        ("sn", "des_y5"),
    ]
    assert cd.parse_datasets(["bao:boss_dr12", "bao:eboss_dr16"]) == [
        ("bao", "boss_dr12"),
        ("bao", "eboss_dr16"),
    ]


@pytest.mark.parametrize(
    ("spec", "pattern"),
    [
        ("cmb,lensing", r"unknown data set 'lensing'; valid: cmb, bao, sn"),
        ("bao:desi_dr9", r"unknown bao data set 'bao:desi_dr9'; valid bao names: desi_dr2"),
        ("sn:jla", r"valid sn names: union3, pantheon_plus, des_y5"),
        ("cmb,cmb:planck2018", "selected twice"),
        ("", "no data sets selected"),
        ("cmb,,bao", "empty entry"),
    ],
)
def test_parse_datasets_errors(spec, pattern):
    with pytest.raises(ValueError, match=pattern):
        cd.parse_datasets(spec)


def test_load_datasets_packaged_only():
    loaded = cd.load_datasets("cmb,bao", cov_scale=2.0)
    assert list(loaded) == ["cmb:planck2018", "bao:desi_dr2"]
    assert isinstance(loaded["cmb:planck2018"], cd.CMBPriors)
    assert len(loaded["bao:desi_dr2"]) == 13
    np.testing.assert_allclose(loaded["cmb:planck2018"].cov, 2 * cd.load_cmb_priors().cov)
    with pytest.raises(FileNotFoundError, match="jaxfit data"):
        cd.load_datasets("cmb,sn")
