"""Tests of jaxfit.gravity.empirical: the research multiplier and the published kernels
against their formulas written out in numpy, and g_bar against astropy units."""


import astropy.units as u
import numpy as np
import pytest

import jaxfit  # noqa: F401  (switches on float64)
from jaxfit.gravity import empirical as ge
from jaxfit.gravity import params as gp


def test_empirical_multiplier_matches_formula():
    R = np.array([1.0, 8.0, 14.0, 30.0])
    p = gp.RESEARCH_MW_EMPIRICAL
    C = 1 - (1 + (R / p["ell0"]) ** p["p"]) ** (-p["n_coh"])
    W = np.exp(-0.5 * ((np.log(2 * np.pi * R) - np.log(p["lam_peak"])) / p["sigma_ln"]) ** 2)
    f = ge.empirical_multiplier(R, dict(p))
    np.testing.assert_allclose(f, 1 + p["A"] * C * W, rtol=1e-14)
    np.testing.assert_allclose(ge.empirical_kernel(R, dict(p)), p["A"] * C * W, rtol=1e-13)
    # sigma gate: no change below 30 km/s, (30/60)^0.4 at 60 km/s
    np.testing.assert_array_equal(ge.empirical_multiplier(R, dict(p), sigma=20.0), f)
    gated = ge.empirical_kernel(R, dict(p), sigma=60.0)
    np.testing.assert_allclose(gated, 0.5**0.4 * p["A"] * C * W, rtol=1e-13)
    defaults = ge.empirical_kernel(R)
    d = gp.EMPIRICAL_DEFAULTS
    C_d = 1 - (1 + (R / d["ell0"]) ** d["p"]) ** (-d["n_coh"])
    W_d = np.exp(-0.5 * (np.log(2 * np.pi * R / d["lam_peak"]) / d["sigma_ln"]) ** 2)
    np.testing.assert_allclose(defaults, d["A"] * C_d * W_d, rtol=1e-13)


def test_g_bar_si_matches_astropy():
    expected = ((200.0 * u.km / u.s) ** 2 / (8.0 * u.kpc)).to_value(u.m / u.s**2)
    assert float(ge.g_bar_si(200.0, 8.0)) == pytest.approx(expected, rel=1e-14)


def test_sigma_gravity_and_cluster_kernels_match_formula():
    R = np.array([2.0, 10.0, 25.0])
    g_bar = np.array([3e-10, 1e-10, 4e-11])
    C = 1 - (1 + (R / 4.993) ** 0.757) ** -0.5
    expected = 0.591 * (1.2e-10 / g_bar) ** 0.757 * C
    np.testing.assert_allclose(ge.sigma_gravity_kernel(R, g_bar), expected, rtol=1e-14)
    assert float(ge.cluster_kernel(200.0)) == pytest.approx(4.6 * (1 - 2**-0.5), rel=1e-15)
