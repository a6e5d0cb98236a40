"""Tests of jaxfit.cosmo.cmb: the packaged Planck 2018 distance priors and their chi2.

Reference: Chen, Huang & Wang 2019 (JCAP 02 (2019) 028) Table 1, LCDM column, and the copy
of that table in ../shared/data/cosmology (skipped when absent).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import jaxfit  # noqa: F401  (switches on float64)
from jaxfit.cosmo import cmb

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
COSMO = SHARED / "cosmology"

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
    p = cmb.load_cmb_priors()
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
    p = cmb.load_cmb_priors()
    assert p.mean.tolist() == ref["mean"]
    assert p.sigma.tolist() == pytest.approx(ref["sigma"], rel=1e-14)
    np.testing.assert_allclose(p.cov / np.outer(p.sigma, p.sigma), ref["corr"], atol=1e-14)


def test_cov_scale_multiplies_covariance():
    base = cmb.load_cmb_priors()
    doubled = cmb.load_cmb_priors(cov_scale=2.0)
    np.testing.assert_allclose(doubled.cov, 2.0 * base.cov, rtol=1e-15)
    np.testing.assert_array_equal(doubled.mean, base.mean)
    # chi2 halves when C doubles
    obs = base.mean + base.sigma * np.array([1.0, -0.5, 0.3, 2.0])
    assert float(cmb.cmb_chi2(obs, doubled)) == pytest.approx(
        0.5 * float(cmb.cmb_chi2(obs, base)), rel=1e-12
    )


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf"), "two"])
def test_cov_scale_invalid_raises(bad):
    with pytest.raises(ValueError, match="cov_scale"):
        cmb.load_cmb_priors(cov_scale=bad)


def test_cmb_chi2_equals_numpy_inverse():
    p = cmb.load_cmb_priors()
    obs = p.mean + p.sigma * np.array([0.7, -1.2, 0.4, 0.9])
    r = obs - p.mean
    expected = r @ np.linalg.solve(p.cov, r)
    assert float(cmb.cmb_chi2(obs, p)) == pytest.approx(expected, rel=1e-10)
    assert float(cmb.cmb_chi2(p.mean, p)) == 0.0
