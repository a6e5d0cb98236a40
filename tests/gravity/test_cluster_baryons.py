"""Tests of jaxfit.gravity.cluster_baryons: tabulated gas against the exact formulas of
uniform shells and against the beta model it tabulates."""


import numpy as np
import pytest
from scipy import integrate

import jaxfit  # noqa: F401  (float64 policy)
from jaxfit.gravity import cluster_baryons as gcb
from jaxfit.gravity import units as gu


def _uniform_sphere_cylinder(rho, b, R):
    """Cylinder mass (radius R) of a uniform sphere (radius b): 4 pi/3 rho (b^3 - (b^2-R^2)^1.5)."""
    return 4 * np.pi / 3 * rho * (b**3 - np.maximum(b**2 - R**2, 0.0) ** 1.5)


def test_shells_exact_against_uniform_shell_formulas():
    """Piecewise-constant shells: 3-D mass and cylinder mass vs the exact uniform-shell
    formulas (differences of uniform spheres), 1e-10."""
    edges = np.array([0.0, 15.0, 40.0, 90.0, 200.0, 500.0])
    ne = np.array([0.04, 0.02, 0.008, 0.003, 0.0008])
    gas = gcb.gas_from_shells(edges[:-1], edges[1:], ne, interp="shells")
    rho = gu.NE_TO_RHO * 1.17 * ne
    for R in (7.0, 40.0, 143.0, 499.0, 800.0):
        m3 = sum(4 * np.pi / 3 * rho[k] * (min(R, edges[k + 1]) ** 3 - min(R, edges[k]) ** 3)
                 for k in range(len(ne)))  # fmt: skip
        cyl = [_uniform_sphere_cylinder(rho[k], edges[k + 1], R)
               - _uniform_sphere_cylinder(rho[k], edges[k], R) for k in range(len(ne))]  # fmt: skip
        m2 = sum(cyl)
        assert float(gas.mass(R, "3d")) == pytest.approx(m3, rel=1e-10)
        assert float(gas.mass(R, "projected")) == pytest.approx(m2, rel=1e-10)


def test_loglog_table_of_a_beta_model_matches_the_beta_model():
    """A dense log-log n_e table (400 nodes, 0.5 kpc - 5 Mpc) of a beta model gives the
    beta-model masses to 1e-4 (3-D and projected, array R), and its power-law pieces are
    integrated to 1e-10 (vs scipy quad of the interpolant)."""
    r = np.geomspace(0.5, 5000.0, 400)
    ne = 0.02 * (1 + (r / 100.0) ** 2) ** (-1.0)
    table = gcb.gas_from_ne_table(r, ne)
    beta = gcb.beta_gas(0.02, 100.0, 2.0 / 3.0, r_max=5000.0)
    R = np.array([20.0, 143.0, 351.0, 1000.0])
    np.testing.assert_allclose(table.mass(R, "3d"), beta.mass(R, "3d"), rtol=1e-4)
    np.testing.assert_allclose(table.mass(R, "projected"), beta.mass(R, "projected"), rtol=1e-4)
    coarse = gcb.gas_from_ne_table(r[::40], ne[::40])
    lr, lrho = np.log(r[::40]), np.log(gu.NE_TO_RHO * 1.17 * ne[::40])
    rho = lambda x: np.exp(np.interp(np.log(max(x, r[0])), lr, lrho))  # noqa: E731
    assert rho(123.0) == pytest.approx(float(coarse.density(123.0)), rel=1e-13)
    pts = list(r[::40])
    ref = integrate.quad(lambda x: 4 * np.pi * x**2 * rho(x), 0, 700.0, points=pts[:8],
                         epsabs=0, epsrel=1e-12, limit=400)[0]  # fmt: skip
    assert float(coarse.mass(700.0, "3d")) == pytest.approx(ref, rel=1e-10)
