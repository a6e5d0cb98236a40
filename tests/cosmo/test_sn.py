"""Tests of jaxfit.cosmo.sn: the Union3, Pantheon+ and DES-Y5 readers, the distance modulus
and the chi2 with the magnitude offset profiled analytically (against brute force).

The real files are CobayaSampler/sn_data in ../shared/data/cosmology; tests that need them
skip cleanly when that folder is absent.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.optimize

import jaxfit  # noqa: F401  (switches on float64)
from jaxfit.cosmo.datasets import load_sn
from jaxfit.cosmo.sn import (
    DiagonalCovarianceWarning,
    SNData,
    read_des_y5,
    read_pantheon_plus,
    read_union3,
    sn_chi2,
    sn_mu_model,
    sn_profile,
)

SN_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "cosmology" / "sn_data"


def test_union3(sn_dir):
    sn = load_sn("union3", sn_dir)
    assert len(sn) == 22 and sn.cov.shape == (22, 22)
    assert sn.kind == "mu" and not sn.diagonal_only
    np.testing.assert_array_equal(sn.z, sn.zhel)
    assert sn.z[0] == pytest.approx(0.05)
    assert np.all(np.linalg.eigvalsh(sn.cov) > 0)
    # the sample folder itself works too
    assert np.array_equal(read_union3(sn_dir / "Union3").mu_or_mb, sn.mu_or_mb)


def test_pantheon_plus_cut_and_diagonal_warning(sn_dir):
    with pytest.warns(DiagonalCovarianceWarning, match="diagonal"):
        sn = load_sn("pantheon_plus", sn_dir)
    # cobaya sn.pantheonplus: zHD > 0.01 keeps 1590 of the 1701 light curves
    assert len(sn) == 1590 and sn.diagonal_only
    assert sn.kind == "mb" and np.all(sn.z > 0.01)
    assert np.count_nonzero(sn.cov - np.diag(np.diag(sn.cov))) == 0


def test_des_y5_rows_and_diagonal_warning(sn_dir):
    with pytest.warns(DiagonalCovarianceWarning, match="MUERR_FINAL"):
        sn = load_sn("des_y5", sn_dir)
    assert len(sn) == 1829 and sn.kind == "mu" and sn.diagonal_only
    assert sn.z.min() > 0.02 and sn.z.max() < 1.2


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
        sn = read_pantheon_plus(tmp_path)
    assert len(sn) == 3 and not sn.diagonal_only
    np.testing.assert_allclose(sn.cov, full[1:, 1:], rtol=1e-15)
    np.testing.assert_array_equal(sn.zhel, [0.021, 0.101, 0.502])
    # explicit path, and a wrong-size covariance names the file
    bad = tmp_path / "bad.cov"
    bad.write_text("3\n" + "0.1\n" * 9)
    with pytest.raises(ValueError, match=r"bad\.cov: expected 4 x 4"):
        read_pantheon_plus(tmp_path / "Pantheon+SH0ES.dat", bad)


def test_sn_malformed_files(tmp_path):
    (tmp_path / "Pantheon+SH0ES.dat").write_text("CID zHD zHEL m_b_corr\na 0.1 0.1 19.0\n")
    with pytest.raises(ValueError, match=r"Pantheon\+SH0ES\.dat, line 1: missing column"):
        read_pantheon_plus(tmp_path)
    csv = tmp_path / "DES-SN5YR_HD.csv"
    csv.write_text("CID,zHD,zHEL,MU,MUERR_FINAL\n1,0.1,0.1,38.3,0.1\n2,0.2,0.2,nan,0.1\n")
    with pytest.raises(ValueError, match=r"DES-SN5YR_HD\.csv, line 3: column 'MU'"):
        read_des_y5(csv)


def test_des_y5_covsys_adds_statistical_diagonal(tmp_path):
    csv = tmp_path / "DES-SN5YR_HD.csv"
    csv.write_text("CID,zHD,zHEL,MU,MUERR_FINAL\n1,0.1,0.1,38.3,0.1\n2,0.2,0.21,40.0,0.2\n")
    sys_cov = np.array([[0.01, 0.004], [0.004, 0.02]])
    (tmp_path / "covsys_000.txt").write_text("2\n" + "\n".join(map(str, sys_cov.ravel())))
    sn = read_des_y5(tmp_path)
    np.testing.assert_allclose(sn.cov, sys_cov + np.diag([0.01, 0.04]), rtol=1e-15)
    full = read_des_y5(csv, tmp_path / "covsys_000.txt", cov_includes_stat=True)
    np.testing.assert_allclose(full.cov, sys_cov, rtol=1e-15)


# ---------------------------------------------------------------------------------------------
# sn_chi2: analytic offset profiling vs brute force
# ---------------------------------------------------------------------------------------------


def _synthetic_sn(flat_lcdm, n=40, seed=7):
    rng = np.random.default_rng(seed)
    z = np.sort(rng.uniform(0.02, 1.5, n))
    a = rng.normal(size=(n, n))
    cov = 0.002 * a @ a.T / n + np.diag(rng.uniform(0.01, 0.03, n))
    dm, _ = flat_lcdm(z, 70.0, 0.3)
    mu = np.asarray(sn_mu_model(dm, z)) - 19.3 + rng.multivariate_normal(np.zeros(n), cov)
    return SNData("synthetic", z, z, mu, cov, jnp.asarray(np.linalg.cholesky(cov)), "mb", "none")


def _brute_force_chi2(mu_model, sn):
    cinv = np.linalg.inv(sn.cov)

    def chi2(m):
        r = sn.mu_or_mb - mu_model - m
        return r @ cinv @ r

    m0 = float(np.mean(sn.mu_or_mb - mu_model))  # a start near the minimum; Brent expands
    res = scipy.optimize.minimize_scalar(chi2, bracket=(m0 - 1.0, m0 + 1.0), tol=1e-12)
    return res.fun, res.x


def _sn_cases(flat_lcdm, sn_dir_available):
    cases = [_synthetic_sn(flat_lcdm)]
    if sn_dir_available:
        cases.append(load_sn("union3", SN_DIR))
    return cases


def test_sn_chi2_equals_brute_force_minimum(flat_lcdm):
    for sn in _sn_cases(flat_lcdm, SN_DIR.is_dir()):
        dm, _ = flat_lcdm(sn.z, 70.0, 0.31)
        mu_model = np.asarray(sn_mu_model(dm, sn.zhel))
        expected, m_best = _brute_force_chi2(mu_model, sn)
        offset, chi2 = sn_profile(mu_model, sn)
        assert float(chi2) == pytest.approx(expected, rel=1e-9), sn.name
        assert float(sn_chi2(mu_model, sn)) == pytest.approx(expected, rel=1e-9)
        assert float(offset) == pytest.approx(m_best, abs=1e-5)


def test_sn_chi2_invariant_under_constant_shift(flat_lcdm):
    for sn in _sn_cases(flat_lcdm, SN_DIR.is_dir()):
        dm, _ = flat_lcdm(sn.z, 70.0, 0.31)
        mu_model = np.asarray(sn_mu_model(dm, sn.zhel))
        base = float(sn_chi2(mu_model, sn))
        for shift in (-3.7, 0.25, 12.0):
            assert float(sn_chi2(mu_model + shift, sn)) == pytest.approx(base, rel=1e-9)


def test_sn_chi2_jit_equals_eager(flat_lcdm):
    sn = _synthetic_sn(flat_lcdm)
    dm, _ = flat_lcdm(sn.z, 70.0, 0.31)
    mu_model = sn_mu_model(dm, sn.zhel)
    jitted = jax.jit(lambda m: sn_chi2(m, sn))
    assert float(jitted(mu_model)) == pytest.approx(float(sn_chi2(mu_model, sn)), rel=1e-12)
    grad = jax.grad(lambda d: sn_chi2(sn_mu_model(d, sn.zhel), sn))(jnp.asarray(dm))
    assert np.all(np.isfinite(np.asarray(grad)))


def test_sn_mu_model_textbook():
    # D_L = (1 + z_hel) D_M = 1000 Mpc -> mu = 5 log10(1e9 pc / 10 pc) = 40
    assert float(sn_mu_model(jnp.array([1000.0 / 1.1]), jnp.array([0.1]))[0]) == pytest.approx(
        40.0, rel=1e-14
    )
