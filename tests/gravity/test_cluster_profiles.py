"""Tests of jaxfit.gravity.cluster_profiles: profile masses against scipy.integrate.quad /
dblquad of the densities (independent rules and, for projected masses, the
surface-density route), and the Hernquist (1990) and dPIE closed forms."""


import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate

import jaxfit  # noqa: F401  (float64 policy)
from jaxfit.gravity import cluster_baryons as gcb
from jaxfit.gravity import cluster_profiles as gcp
from jaxfit.gravity import units as gu

QUAD = {"epsabs": 0.0, "epsrel": 1e-12, "limit": 200}


def _quad(f, a, b, **kw):
    return integrate.quad(f, a, b, **{**QUAD, **kw})[0]


def _mass3d_ref(rho, r):
    return _quad(lambda s: 4 * np.pi * s**2 * rho(s), 0.0, r)


def _projected_ref(rho, R, r_max=np.inf):
    """Cylinder mass via the surface density of the sphere truncated at r_max (scipy)."""

    def sigma(Rp):
        zmax = np.sqrt(r_max**2 - Rp**2) if np.isfinite(r_max) else np.inf
        return 2 * _quad(lambda z: rho(np.hypot(Rp, z)), 0.0, zmax)

    return _quad(lambda Rp: 2 * np.pi * Rp * sigma(Rp), 0.0, R, epsrel=1e-10)


BETA_CASES = [(0.02, 100.0, 0.67, 30.0), (0.02, 100.0, 0.67, 2000.0), (0.005, 20.0, 0.9, 4000.0)]


@pytest.mark.parametrize("n_e0, r_c, beta, r", BETA_CASES)
def test_beta_model_3d_mass_vs_quad(n_e0, r_c, beta, r):
    """enclosed_mass_3d of the beta model vs scipy quad, 1e-8 (r from 0.2 to 200 r_c)."""
    gas = gcb.beta_gas(n_e0, r_c, beta)
    rho = lambda s: gu.NE_TO_RHO * 1.17 * n_e0 * (1 + (s / r_c) ** 2) ** (-1.5 * beta)  # noqa: E731
    assert float(gas.mass(r, "3d")) == pytest.approx(_mass3d_ref(rho, r), rel=1e-8)


@pytest.mark.parametrize("n_e0, r_c, beta, R", [(0.02, 100.0, 0.67, 150.0), (0.005, 20, 0.9, 400)])
def test_beta_model_projected_mass_vs_surface_density(n_e0, r_c, beta, R):
    """Projected mass (sphere truncated at r_max) vs nested scipy quad of the surface density
    2 int rho dz (the other route), 1e-6; r_max = 5 Mpc and 1 Mpc."""
    rho = lambda s: gu.NE_TO_RHO * 1.17 * n_e0 * (1 + (s / r_c) ** 2) ** (-1.5 * beta)  # noqa: E731
    for r_max in (5000.0, 1000.0):
        gas = gcb.beta_gas(n_e0, r_c, beta, r_max=r_max)
        ref = _projected_ref(rho, R, r_max)
        assert float(gas.mass(R, "projected")) == pytest.approx(ref, rel=1e-6)
    # beyond r_max the cylinder holds the whole truncated sphere
    gas = gcb.beta_gas(n_e0, r_c, beta, r_max=300.0)
    assert float(gas.mass(350.0)) == pytest.approx(float(gas.mass(300.0, "3d")), rel=1e-12)


def test_projected_mass_derivative_is_ring_mass():
    """dM_2D/dR = 2 pi R Sigma(R): jax.grad through the u-substitution vs scipy quad of the
    truncated surface density (1e-6); gradient finite at R = r_max."""
    r_c, r_max = 50.0, 3000.0

    def rho(s):
        return 1e6 * (1 + (s / r_c) ** 2) ** -1.0

    dm_dr = jax.jit(jax.grad(lambda x: gcp.enclosed_mass_projected(rho, x, r_max)))
    for R in (10.0, 200.0):
        grad = dm_dr(R)
        sigma = 2 * _quad(lambda z, R=R: rho(np.hypot(R, z)), 0.0, np.sqrt(r_max**2 - R**2))
        assert float(grad) == pytest.approx(2 * np.pi * R * sigma, rel=1e-6)
    assert np.isfinite(float(dm_dr(r_max)))


@pytest.mark.parametrize("s", [0.01, 0.3, 0.97, 1.0, 1.02, 1.5, 20.0])
def test_hernquist_closed_forms_vs_quad(s):
    """Hernquist M(<r) = M r^2/(r+a)^2 and the Hernquist (1990) projected closed form vs scipy
    (3-D quad; projected via the surface density), 1e-8; M_2D(a) = M/3."""
    mass, a = 1e12, 20.0
    R = s * a
    rho = lambda r: mass * a / (2 * np.pi * r * (r + a) ** 3)  # noqa: E731
    assert float(gcp.hernquist_mass_3d(R, mass, a)) == pytest.approx(_mass3d_ref(rho, R), rel=1e-8)
    m2d = float(gcp.hernquist_mass_projected(R, mass, a))
    assert m2d == pytest.approx(_projected_ref(rho, R), rel=1e-8)
    if s == 1.0:
        assert m2d == pytest.approx(mass / 3.0, rel=1e-14)
    stars = gcb.HernquistStars(jnp.asarray(mass), jnp.asarray(a))
    assert float(stars.mass(R, "3d")) == pytest.approx(float(gcp.hernquist_mass_3d(R, mass, a)))


def test_hernquist_projected_gradient_at_s_equal_one_and_zero():
    """Double-where: finite gradients at R = a (series branch) and R = 0; d/dR matches a
    central difference (1e-7) across the branch switch."""
    mass, a = 1e12, 20.0
    f = lambda R: gcp.hernquist_mass_projected(R, mass, a)  # noqa: E731
    for R in (a, a * 0.951, a * 1.049, a * 0.9, 1e-3):
        g = float(jax.grad(f)(R))
        h = 1e-6 * R
        fd = (float(f(R + h)) - float(f(R - h))) / (2 * h)
        assert g == pytest.approx(fd, rel=1e-7)
    assert float(jax.grad(f)(0.0)) == 0.0
    assert float(f(0.0)) == 0.0


def test_dpie_closed_forms_vs_quad():
    """dPIE: 3-D mass vs quad of rho, surface density vs quad along the line of sight,
    projected mass vs the surface-density route (1e-8); total pi sigma0^2 s / G."""
    sigma0, a, s = 317.0, 181.56, 1121.4
    rho0 = float(gcp.dpie_rho0(sigma0, a, s))
    rho = lambda r: rho0 / ((1 + (r / a) ** 2) * (1 + (r / s) ** 2))  # noqa: E731
    for r in (10.0, 150.0, 900.0):
        assert float(gcp.dpie_mass_3d(r, rho0, a, s)) == pytest.approx(_mass3d_ref(rho, r), 1e-8)
        sig = 2 * _quad(lambda z, r=r: rho(np.hypot(r, z)), 0.0, np.inf)
        assert float(gcp.dpie_surface_density(r, rho0, a, s)) == pytest.approx(sig, rel=1e-8)
        ref = _projected_ref(rho, r)
        assert float(gcp.dpie_mass_projected(r, rho0, a, s)) == pytest.approx(ref, rel=1e-8)
    total = np.pi * sigma0**2 * s / gu.G_NEWTON
    assert float(gcp.dpie_mass_3d(1e9, rho0, a, s)) == pytest.approx(total, rel=1e-6)
    assert float(gcp.dpie_mass_projected(1e9, rho0, a, s)) == pytest.approx(total, rel=1e-6)


@pytest.mark.parametrize("r, d", [(150.0, 40.0), (100.0, 300.0), (300.0, 300.0)])
def test_offset_masses_vs_dblquad(r, d):
    """Sphere / cylinder of radius r centred at distance d from a dPIE: the shell-fraction
    formulas vs scipy dblquad over the sphere (angle, radius) and the disc, 1e-7."""
    a, s = 70.0, 1100.0
    rho0 = float(gcp.dpie_rho0(250.0, a, s))
    rho = lambda x: rho0 / ((1 + (x / a) ** 2) * (1 + (x / s) ** 2))  # noqa: E731
    sig = lambda x: float(gcp.dpie_surface_density(x, rho0, a, s))  # noqa: E731
    ref3 = integrate.dblquad(
        lambda mu, x: 2 * np.pi * x**2 * rho(np.sqrt(max(x * x + d * d - 2 * x * d * mu, 0))),
        0.0, r, -1.0, 1.0, epsabs=0, epsrel=1e-10,
    )[0]  # fmt: skip
    got3 = gcp.offset_mass_3d(
        lambda x: gcp.dpie_density(x, rho0, a, s), lambda x: gcp.dpie_mass_3d(x, rho0, a, s), r, d
    )
    assert float(got3) == pytest.approx(ref3, rel=1e-7)

    def sig_np(x):
        return rho0 * np.pi * a**2 * s**2 / (s**2 - a**2) * (
            1 / np.sqrt(a**2 + x**2) - 1 / np.sqrt(s**2 + x**2)
        )

    assert sig_np(123.0) == pytest.approx(sig(123.0), rel=1e-12)
    ref2 = integrate.dblquad(
        lambda phi, x: x * sig_np(np.sqrt(max(x * x + d * d - 2 * x * d * np.cos(phi), 0))),
        0.0, r, 0.0, 2 * np.pi, epsabs=0, epsrel=1e-10,
    )[0]  # fmt: skip
    got2 = gcp.offset_mass_projected(
        lambda x: gcp.dpie_surface_density(x, rho0, a, s),
        lambda x: gcp.dpie_mass_projected(x, rho0, a, s),
        r,
        d,
    )
    assert float(got2) == pytest.approx(ref2, rel=1e-7)


def test_aperture_mass_interpolation():
    """Apertures are reproduced exactly, log-log in between, power law inside, constant
    beyond; 'projected' and '3d' give the same numbers (documented)."""
    radii, masses = np.array([10.0, 50.0, 100.0]), np.array([3.35e11, 9.60e11, 11.75e11])
    stars = gcb.ApertureMasses(jnp.asarray(radii), jnp.asarray(masses))
    np.testing.assert_allclose(stars.mass(radii), masses, rtol=1e-14)
    mid = np.sqrt(10.0 * 50.0)
    assert float(stars.mass(mid)) == pytest.approx(np.sqrt(3.35e11 * 9.60e11), rel=1e-12)
    slope = np.log(9.60 / 3.35) / np.log(5.0)
    assert float(stars.mass(5.0)) == pytest.approx(3.35e11 * 0.5**slope, rel=1e-12)
    assert float(stars.mass(300.0)) == pytest.approx(11.75e11, rel=1e-14)
    assert float(stars.mass(300.0, "3d")) == float(stars.mass(300.0, "projected"))
