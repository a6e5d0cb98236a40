"""Tests of jaxfit.gravity.clusters: lensing geometry, baryon profiles, packaged clusters.

References (tolerances in each test):
- lensing geometry: astropy.cosmology.FlatLambdaCDM(H0=70, Om0=0.3, Tcmb0=0) distances and
  astropy.constants (c, G), 1e-6 relative;
- profile masses: scipy.integrate.quad / dblquad of the densities (independent rules and, for
  projected masses, the surface-density route), exact closed forms for uniform shells, the
  Hernquist (1990) and dPIE closed forms;
- unit conversion: astropy.units / astropy.constants, 1e-10;
- data: the shared real files in ../shared/data/clusters (ACCEPT tables, Bonamigo+2017 dPIE,
  helper-derived M_gas(<r) in derived_Mgas_profiles.json), skipped when absent;
- lensing masses: Zitrin+2009 (MACS J0717 mass inside the critical curve), Coe+2010 (Abell
  1689 r_E and NFW fit), Jauzac+2014 (MACS J0416 projected mass inside 200 kpc).
"""

import json
import math
from pathlib import Path

import astropy.constants as const
import astropy.units as u
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from astropy.cosmology import FlatLambdaCDM
from scipy import integrate

import jaxfit  # noqa: F401  (float64 policy)
from jaxfit.gravity import clusters as cl

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "clusters"
BARYONS = SHARED / "baryons"
needs_shared = pytest.mark.skipif(not BARYONS.is_dir(), reason="../shared/data absent")

QUAD = {"epsabs": 0.0, "epsrel": 1e-12, "limit": 200}


@pytest.fixture(scope="module")
def default_set():
    return cl.load_clusters()


@pytest.fixture(scope="module")
def packaged():
    return cl.packaged_clusters()["clusters"]


# --------------------------------------------------------------------------------------------
# constants and geometry
# --------------------------------------------------------------------------------------------


def test_constants_match_astropy():
    """n_e -> Msun/kpc^3, G and kpc against astropy.units / constants (1e-10; m_p 1e-8)."""
    ref = (const.m_p / u.cm**3).to(u.Msun / u.kpc**3).value
    assert cl.NE_TO_RHO == pytest.approx(ref, rel=1e-10)
    assert cl.M_P_G == pytest.approx(const.m_p.to(u.g).value, rel=1e-8)  # CODATA revisions
    g_ref = (const.G * const.M_sun / u.kpc).to(u.km**2 / u.s**2).value
    assert cl.G == pytest.approx(g_ref, rel=1e-10)
    assert cl.G == pytest.approx(4.30091e-6, rel=2e-6)  # the spec's rounded value
    assert cl.KPC_CM == pytest.approx(u.kpc.to(u.cm), rel=1e-15)
    # ne_to_rho as an astropy quantity: mu_e m_p n_e for n_e = 0.01 cm^-3, mu_e = 1.17
    q = (1.17 * const.m_p * 0.01 / u.cm**3).to(u.Msun / u.kpc**3).value
    assert float(cl.ne_to_rho(0.01, 1.17)) == pytest.approx(q, rel=1e-10)


@pytest.mark.parametrize("H0, Om", [(70.0, 0.3), (67.4, 0.315)])
def test_sigma_crit_and_einstein_radius_match_astropy(packaged, H0, Om):
    """Sigma_crit and R_E of the three clusters vs FlatLambdaCDM(Tcmb0=0) + astropy constants,
    1e-6 relative."""
    cosmo = FlatLambdaCDM(H0=H0, Om0=Om, Tcmb0=0)
    names = list(cl.DEFAULT_CLUSTERS)
    z_l = np.array([packaged[n]["z_lens"]["value"] for n in names])
    z_s = np.array([packaged[n]["z_source"]["value"] for n in names])
    theta = np.array([packaged[n]["theta_E_arcsec"]["value"] for n in names])
    d_l = cosmo.angular_diameter_distance(z_l)
    d_s = cosmo.angular_diameter_distance(z_s)
    d_ls = cosmo.angular_diameter_distance(z_l, z_s)
    s_ref = (const.c**2 / (4 * np.pi * const.G) * d_s / (d_l * d_ls)).to(u.Msun / u.kpc**2)
    r_ref = (theta * u.arcsec).to(u.rad).value * d_l.to(u.kpc).value
    np.testing.assert_allclose(cl.sigma_crit(z_l, z_s, H0, Om), s_ref.value, rtol=1e-6)
    np.testing.assert_allclose(cl.einstein_radius_kpc(theta, z_l, H0, Om), r_ref, rtol=1e-6)
    m_ref = np.pi * r_ref**2 * s_ref.value
    np.testing.assert_allclose(cl.required_mass(theta, z_l, z_s, H0, Om), m_ref, rtol=1e-6)
    chi_ref = cosmo.comoving_distance([0.1, 1.0, 3.0]).to(u.kpc).value
    np.testing.assert_allclose(cl.comoving_distance_kpc([0.1, 1.0, 3.0], H0, Om), chi_ref,
                               rtol=1e-10)  # fmt: skip


def test_geometry_jit_vmap_grad():
    """jit equals eager (1e-14), vmap equals the batched call, d Sigma_crit/d z_l matches a
    central finite difference (1e-6)."""
    z_l, z_s, theta = jnp.array([0.2, 0.4, 0.55]), jnp.array([2.0, 2.0, 2.5]), jnp.array(
        [47.0, 26.2, 55.0]
    )
    for fn, args in [
        (cl.sigma_crit, (z_l, z_s, 70.0, 0.3)),
        (cl.required_mass, (theta, z_l, z_s, 70.0, 0.3)),
        (cl.einstein_radius_kpc, (theta, z_l, 70.0, 0.3)),
    ]:
        np.testing.assert_allclose(jax.jit(fn)(*args), fn(*args), rtol=1e-14)
        in_axes = (0,) * (len(args) - 2) + (None, None)
        np.testing.assert_allclose(jax.vmap(fn, in_axes=in_axes)(*args), fn(*args), rtol=1e-14)
    grad = jax.grad(lambda z: cl.sigma_crit(z, 2.0, 70.0, 0.3))(0.3)
    h = 1e-5
    fd = (cl.sigma_crit(0.3 + h, 2.0) - cl.sigma_crit(0.3 - h, 2.0)) / (2 * h)
    assert float(grad) == pytest.approx(float(fd), rel=1e-6)
    grad_h0 = jax.grad(lambda H0: cl.required_mass(47.0, 0.183, 2.0, H0, 0.3))(70.0)
    # M_required ~ D_l^2 D_s/(D_l D_ls) ~ 1/H0: d ln M/d ln H0 = -1
    m = cl.required_mass(47.0, 0.183, 2.0)
    assert float(grad_h0 * 70.0 / m) == pytest.approx(-1.0, rel=1e-10)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: cl.sigma_crit(0.5, 0.5), "z_source"),
        (lambda: cl.sigma_crit(0.5, 0.3), "z_source"),
        (lambda: cl.sigma_crit(0.0, 1.0), "z_lens"),
        (lambda: cl.sigma_crit(0.3, 1.0, H0=-70.0), "H0"),
        (lambda: cl.sigma_crit(0.3, 1.0, Om=-0.1), "Om"),
        (lambda: cl.einstein_radius_kpc(-3.0, 0.3), "theta_E"),
        (lambda: cl.required_mass(np.array([30.0, -1.0]), 0.3, 1.0), "theta_E"),
        (lambda: cl.comoving_distance_kpc(-0.1), "z"),
        (lambda: cl.load_clusters(["MACSJ0416", "BULLET"]), "unknown cluster 'BULLET'"),
        (lambda: cl.load_clusters(projection="2d"), "projection"),
        (lambda: cl.load_clusters(mu_e=0.0), "mu_e"),
        (lambda: cl.cluster_baryons("A2744"), "unknown cluster"),
        (lambda: cl.cluster_baryons("ABELL_1689", gas_interp="cubic"), "interp"),
    ],
)
def test_bad_inputs_raise(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# --------------------------------------------------------------------------------------------
# analytic profiles vs scipy
# --------------------------------------------------------------------------------------------


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
    gas = cl.beta_gas(n_e0, r_c, beta)
    rho = lambda s: cl.NE_TO_RHO * 1.17 * n_e0 * (1 + (s / r_c) ** 2) ** (-1.5 * beta)  # noqa: E731
    assert float(gas.mass(r, "3d")) == pytest.approx(_mass3d_ref(rho, r), rel=1e-8)


@pytest.mark.parametrize("n_e0, r_c, beta, R", [(0.02, 100.0, 0.67, 150.0), (0.005, 20, 0.9, 400)])
def test_beta_model_projected_mass_vs_surface_density(n_e0, r_c, beta, R):
    """Projected mass (sphere truncated at r_max) vs nested scipy quad of the surface density
    2 int rho dz (the other route), 1e-6; r_max = 5 Mpc and 1 Mpc."""
    rho = lambda s: cl.NE_TO_RHO * 1.17 * n_e0 * (1 + (s / r_c) ** 2) ** (-1.5 * beta)  # noqa: E731
    for r_max in (5000.0, 1000.0):
        gas = cl.beta_gas(n_e0, r_c, beta, r_max=r_max)
        ref = _projected_ref(rho, R, r_max)
        assert float(gas.mass(R, "projected")) == pytest.approx(ref, rel=1e-6)
    # beyond r_max the cylinder holds the whole truncated sphere
    gas = cl.beta_gas(n_e0, r_c, beta, r_max=300.0)
    assert float(gas.mass(350.0)) == pytest.approx(float(gas.mass(300.0, "3d")), rel=1e-12)


def test_projected_mass_derivative_is_ring_mass():
    """dM_2D/dR = 2 pi R Sigma(R): jax.grad through the u-substitution vs scipy quad of the
    truncated surface density (1e-6); gradient finite at R = r_max."""
    r_c, r_max = 50.0, 3000.0

    def rho(s):
        return 1e6 * (1 + (s / r_c) ** 2) ** -1.0

    dm_dr = jax.jit(jax.grad(lambda x: cl.enclosed_mass_projected(rho, x, r_max)))
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
    assert float(cl.hernquist_mass_3d(R, mass, a)) == pytest.approx(_mass3d_ref(rho, R), rel=1e-8)
    m2d = float(cl.hernquist_mass_projected(R, mass, a))
    assert m2d == pytest.approx(_projected_ref(rho, R), rel=1e-8)
    if s == 1.0:
        assert m2d == pytest.approx(mass / 3.0, rel=1e-14)
    stars = cl.HernquistStars(jnp.asarray(mass), jnp.asarray(a))
    assert float(stars.mass(R, "3d")) == pytest.approx(float(cl.hernquist_mass_3d(R, mass, a)))


def test_hernquist_projected_gradient_at_s_equal_one_and_zero():
    """Double-where: finite gradients at R = a (series branch) and R = 0; d/dR matches a
    central difference (1e-7) across the branch switch."""
    mass, a = 1e12, 20.0
    f = lambda R: cl.hernquist_mass_projected(R, mass, a)  # noqa: E731
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
    rho0 = float(cl.dpie_rho0(sigma0, a, s))
    rho = lambda r: rho0 / ((1 + (r / a) ** 2) * (1 + (r / s) ** 2))  # noqa: E731
    for r in (10.0, 150.0, 900.0):
        assert float(cl.dpie_mass_3d(r, rho0, a, s)) == pytest.approx(_mass3d_ref(rho, r), 1e-8)
        sig = 2 * _quad(lambda z, r=r: rho(np.hypot(r, z)), 0.0, np.inf)
        assert float(cl.dpie_surface_density(r, rho0, a, s)) == pytest.approx(sig, rel=1e-8)
        ref = _projected_ref(rho, r)
        assert float(cl.dpie_mass_projected(r, rho0, a, s)) == pytest.approx(ref, rel=1e-8)
    total = np.pi * sigma0**2 * s / cl.G
    assert float(cl.dpie_mass_3d(1e9, rho0, a, s)) == pytest.approx(total, rel=1e-6)
    assert float(cl.dpie_mass_projected(1e9, rho0, a, s)) == pytest.approx(total, rel=1e-6)


@pytest.mark.parametrize("r, d", [(150.0, 40.0), (100.0, 300.0), (300.0, 300.0)])
def test_offset_masses_vs_dblquad(r, d):
    """Sphere / cylinder of radius r centred at distance d from a dPIE: the shell-fraction
    formulas vs scipy dblquad over the sphere (angle, radius) and the disc, 1e-7."""
    a, s = 70.0, 1100.0
    rho0 = float(cl.dpie_rho0(250.0, a, s))
    rho = lambda x: rho0 / ((1 + (x / a) ** 2) * (1 + (x / s) ** 2))  # noqa: E731
    sig = lambda x: float(cl.dpie_surface_density(x, rho0, a, s))  # noqa: E731
    ref3 = integrate.dblquad(
        lambda mu, x: 2 * np.pi * x**2 * rho(np.sqrt(max(x * x + d * d - 2 * x * d * mu, 0))),
        0.0, r, -1.0, 1.0, epsabs=0, epsrel=1e-10,
    )[0]  # fmt: skip
    got3 = cl.offset_mass_3d(
        lambda x: cl.dpie_density(x, rho0, a, s), lambda x: cl.dpie_mass_3d(x, rho0, a, s), r, d
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
    got2 = cl.offset_mass_projected(
        lambda x: cl.dpie_surface_density(x, rho0, a, s),
        lambda x: cl.dpie_mass_projected(x, rho0, a, s),
        r,
        d,
    )
    assert float(got2) == pytest.approx(ref2, rel=1e-7)


def test_aperture_mass_interpolation():
    """Apertures are reproduced exactly, log-log in between, power law inside, constant
    beyond; 'projected' and '3d' give the same numbers (documented)."""
    radii, masses = np.array([10.0, 50.0, 100.0]), np.array([3.35e11, 9.60e11, 11.75e11])
    stars = cl.ApertureMasses(jnp.asarray(radii), jnp.asarray(masses))
    np.testing.assert_allclose(stars.mass(radii), masses, rtol=1e-14)
    mid = np.sqrt(10.0 * 50.0)
    assert float(stars.mass(mid)) == pytest.approx(np.sqrt(3.35e11 * 9.60e11), rel=1e-12)
    slope = np.log(9.60 / 3.35) / np.log(5.0)
    assert float(stars.mass(5.0)) == pytest.approx(3.35e11 * 0.5**slope, rel=1e-12)
    assert float(stars.mass(300.0)) == pytest.approx(11.75e11, rel=1e-14)
    assert float(stars.mass(300.0, "3d")) == float(stars.mass(300.0, "projected"))


# --------------------------------------------------------------------------------------------
# tabulated profiles
# --------------------------------------------------------------------------------------------


def _uniform_sphere_cylinder(rho, b, R):
    """Cylinder mass (radius R) of a uniform sphere (radius b): 4 pi/3 rho (b^3 - (b^2-R^2)^1.5)."""
    return 4 * np.pi / 3 * rho * (b**3 - np.maximum(b**2 - R**2, 0.0) ** 1.5)


def test_shells_exact_against_uniform_shell_formulas():
    """Piecewise-constant shells: 3-D mass and cylinder mass vs the exact uniform-shell
    formulas (differences of uniform spheres), 1e-10."""
    edges = np.array([0.0, 15.0, 40.0, 90.0, 200.0, 500.0])
    ne = np.array([0.04, 0.02, 0.008, 0.003, 0.0008])
    gas = cl.gas_from_shells(edges[:-1], edges[1:], ne, interp="shells")
    rho = cl.NE_TO_RHO * 1.17 * ne
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
    table = cl.gas_from_ne_table(r, ne)
    beta = cl.beta_gas(0.02, 100.0, 2.0 / 3.0, r_max=5000.0)
    R = np.array([20.0, 143.0, 351.0, 1000.0])
    np.testing.assert_allclose(table.mass(R, "3d"), beta.mass(R, "3d"), rtol=1e-4)
    np.testing.assert_allclose(table.mass(R, "projected"), beta.mass(R, "projected"), rtol=1e-4)
    coarse = cl.gas_from_ne_table(r[::40], ne[::40])
    lr, lrho = np.log(r[::40]), np.log(cl.NE_TO_RHO * 1.17 * ne[::40])
    rho = lambda x: np.exp(np.interp(np.log(max(x, r[0])), lr, lrho))  # noqa: E731
    assert rho(123.0) == pytest.approx(float(coarse.density(123.0)), rel=1e-13)
    pts = list(r[::40])
    ref = integrate.quad(lambda x: 4 * np.pi * x**2 * rho(x), 0, 700.0, points=pts[:8],
                         epsabs=0, epsrel=1e-12, limit=400)[0]  # fmt: skip
    assert float(coarse.mass(700.0, "3d")) == pytest.approx(ref, rel=1e-10)


@needs_shared
def test_accept_files_parse_and_match_the_packaged_json(packaged):
    """The real ACCEPT files: 60 (A1689) and 39 (MACS J0717) contiguous shells, increasing,
    from 0 to 916.81 / 1191.1 kpc; the packaged JSON columns equal the files exactly."""
    cases = [
        ("ACCEPT_ABELL_1689_profiles.dat", "ABELL_1689", 60, 916.81),
        ("ACCEPT_MACS_J0717.5+3745_profiles.tsv", "MACSJ0717", 39, 1191.1),
    ]
    for filename, key, rows, r_out in cases:
        prof = cl.read_accept_profile(BARYONS / filename)
        assert len(prof) == rows
        assert prof.r_in_kpc[0] == 0.0
        assert prof.r_out_kpc[-1] == pytest.approx(r_out, rel=1e-12)
        assert np.all(np.diff(prof.r_in_kpc) > 0)
        np.testing.assert_array_equal(prof.r_in_kpc[1:], prof.r_out_kpc[:-1])
        assert np.all(prof.n_e > 0)
        gas = packaged[key]["gas"]
        assert gas["accept_name"] == prof.name
        np.testing.assert_array_equal(1000.0 * np.asarray(gas["r_in_Mpc"]), prof.r_in_kpc)
        np.testing.assert_array_equal(1000.0 * np.asarray(gas["r_out_Mpc"]), prof.r_out_kpc)
        np.testing.assert_array_equal(gas["n_e_cm3"], prof.n_e)
        np.testing.assert_array_equal(gas["n_e_err_cm3"], prof.n_e_err)
        r = np.geomspace(5.0, r_out, 40)
        for interp in cl.INTERPOLATIONS:
            m = np.asarray(prof.gas(interp=interp).mass(r, "3d"))
            assert np.all(m > 0) and np.all(np.diff(m) > 0)


@needs_shared
def test_gas_masses_vs_derived_profiles():
    """M_gas(<r) vs the helper-derived derived_Mgas_profiles.json, with its mu_e = 2/(1+X):
    ACCEPT 'shells' (its method: constant density per shell) to 1e-3 (its 4 significant
    figures, slightly different m_p/Msun/kpc); 'loglog' within 5% (1.5% for r >= 50 kpc);
    MACS J0416 dPIE concentric to 1e-3, about G1 within 2% (its Monte Carlo has ~1% noise)."""
    derived = json.loads((BARYONS / "derived_Mgas_profiles.json").read_text())
    mu_e = derived["assumptions"]["mu_e"]
    for name, key in [("ABELL_1689", "Abell1689"), ("MACSJ0717", "MACSJ0717")]:
        table = {float(k): v for k, v in derived[key]["Mgas_lt_r_Msun"].items() if v is not None}
        r, ref = np.array(list(table)), np.array(list(table.values()))
        shells = cl.cluster_baryons(name, mu_e=mu_e, gas_interp="shells").mass(r, "3d")
        np.testing.assert_allclose(shells, ref, rtol=1e-3)
        loglog = np.asarray(cl.cluster_baryons(name, mu_e=mu_e).mass(r, "3d"))
        np.testing.assert_allclose(loglog, ref, rtol=0.05)
        np.testing.assert_allclose(loglog[r >= 50], ref[r >= 50], rtol=0.015)
    dpie = derived["MACSJ0416_Bonamigo2017_dPIE"]
    for offsets, key, rtol in [
        (False, "Mgas_sum_each_about_own_centre_Msun", 1e-3),
        (True, "Mgas_sphere_about_G1_Msun", 0.02),
    ]:
        r = np.array([float(k) for k in dpie[key]])
        ref = np.array(list(dpie[key].values()))
        gas = cl.cluster_baryons("MACSJ0416", dpie_offsets=offsets, stars=False)
        np.testing.assert_allclose(gas.mass(r, "3d"), ref, rtol=rtol)
    # dPIE central densities as derived there (4 significant figures)
    comps = cl.cluster_baryons("MACSJ0416").components[0]
    ref_rho0 = [dpie["components"][c]["rho0_Msun_kpc3"] for c in ("Northeast_1", "Northeast_2",
                                                                   "Southwest")]  # fmt: skip
    np.testing.assert_allclose(comps.rho0, ref_rho0, rtol=1e-3)


def test_mu_e_ratio_is_exact(default_set):
    """Gas mass with mu_e = 0.59 (research code) over mu_e = 1.17 is 0.59/1.17 exactly
    (1e-14) for beta models and ACCEPT tables in both projections; dPIE gas is a mass
    density and does not change."""
    for projection in cl.PROJECTIONS:
        b1, b2 = cl.beta_gas(0.01, 80.0, 0.7), cl.beta_gas(0.01, 80.0, 0.7, mu_e=0.59)
        ratio = float(b2.mass(150.0, projection) / b1.mass(150.0, projection))
        assert ratio == pytest.approx(0.59 / 1.17, rel=1e-14)
        g1 = cl.cluster_baryons("ABELL_1689").mass(143.0, projection)
        g2 = cl.cluster_baryons("ABELL_1689", mu_e=cl.MU_E_RESEARCH).mass(143.0, projection)
        assert float(g2 / g1) == pytest.approx(0.59 / 1.17, rel=1e-14)
    s1 = default_set
    s2 = cl.load_clusters(mu_e=0.59)
    ratio = np.asarray(s2.M_bar / s1.M_bar)
    np.testing.assert_allclose(ratio[1:], 0.59 / 1.17, rtol=1e-14)  # gas-only clusters
    assert ratio[0] == pytest.approx(1.0, rel=1e-14)  # MACS J0416: dPIE + stars


# --------------------------------------------------------------------------------------------
# packaged clusters
# --------------------------------------------------------------------------------------------


def test_packaged_json_citations_and_derived_theta(packaged):
    """Every number group carries a citation and a status; MACS J0416's theta_E is marked
    derived and equals sqrt(0.6 arcmin^2 / pi) to its 0.1 arcsec."""
    assert set(packaged) == set(cl.DEFAULT_CLUSTERS)
    for entry in packaged.values():
        for key in ("z_lens", "z_source", "theta_E_arcsec"):
            assert entry[key]["citation"] and entry[key]["status"] in ("published", "derived")
        assert entry["gas"]["citation"] and entry["gas"]["status"] == "published"
        assert entry["stars"]["status"] in ("published", "missing")
    theta = packaged["MACSJ0416"]["theta_E_arcsec"]
    assert theta["status"] == "derived"
    assert theta["value"] == round(60 * math.sqrt(0.6 / math.pi), 1)


@needs_shared
def test_packaged_json_matches_the_shared_literature(packaged):
    """z_lens, z_source, theta_E (and errors) equal ../shared/.../cluster_lensing_literature.json;
    the dPIE parameters equal the Bonamigo+2017 table file; DeMaio masses equal their file."""
    lit = json.loads((SHARED / "cluster_lensing_literature.json").read_text())["clusters"]
    lit = {c["name"]: c for c in lit}
    pairs = [("MACS J0717.5+3745", "MACSJ0717"), ("Abell 1689", "ABELL_1689")]
    for lit_name, key in pairs:
        er = lit[lit_name]["einstein_radius"]
        assert packaged[key]["z_lens"]["value"] == lit[lit_name]["z_lens"]
        assert packaged[key]["z_source"]["value"] == er["z_source"]
        assert packaged[key]["theta_E_arcsec"]["value"] == er["theta_E_arcsec"]
        assert packaged[key]["theta_E_arcsec"]["err"] == er["sigma_arcsec"]
    j0416 = lit["MACS J0416.1-2403"]
    assert packaged["MACSJ0416"]["z_lens"]["value"] == j0416["z_lens"]
    assert packaged["MACSJ0416"]["theta_E_arcsec"]["value"] == (
        j0416["einstein_radius"]["theta_E_eff_arcsec_derived"]
    )
    lines = (BARYONS / "MACSJ0416_Bonamigo2017_Table1_gas_dPIE.tsv").read_text().splitlines()
    comps = packaged["MACSJ0416"]["gas"]["components"]
    for line, comp in zip(lines[1:], comps, strict=True):
        name, x0, y0, sigma0, rc, rt = line.split("\t")
        assert comp["name"] == name
        assert (comp["x0_arcsec"], comp["y0_arcsec"]) == (float(x0), float(y0))
        assert (comp["sigma0_km_s"], comp["R_C_arcsec"]) == (float(sigma0), float(rc))
        assert comp["R_T_arcsec"] == float(rt.lstrip(">"))
        assert comp["R_T_is_lower_limit"] == rt.startswith(">")
    demaio = (BARYONS / "DeMaio2018_BCG_ICL_aperture_Mstar.tsv").read_text().splitlines()
    row = next(line.split("\t") for line in demaio if line.startswith("MACS0416\t"))
    masses = [1e11 * float(cell.split("+/-")[0]) for cell in row[-3:]]
    np.testing.assert_allclose(packaged["MACSJ0416"]["stars"]["M_Msun"], masses, rtol=1e-14)


def test_load_clusters_defaults_and_published_lensing_masses(default_set):
    """Default set: finite positive values; R_E within 3% of the published r_E (Coe+2010
    143 kpc, Zitrin+2009 350 kpc); M_required vs published lensing masses: MACS J0717 within
    10% of Zitrin+2009's 7.4e14 inside the critical curve; Abell 1689 within a factor 1.5 of
    the projected mass of Coe+2010's NFW fit (M200 = 1.8e15, c200 = 9.2, r200 = 2.4 Mpc) at
    R_E; MACS J0416 between Jauzac+2014's M(<200 kpc) = 1.6e14 scaled by (R_E/200 kpc)^2 (a
    falling Sigma) and 1.6e14 itself."""
    cs = default_set
    assert cs.names == cl.DEFAULT_CLUSTERS and len(cs) == 3
    for field in ("R_E_kpc", "Sigma_crit", "M_required", "M_bar", "g_bar_RE", "sigma_v"):
        values = np.asarray(getattr(cs, field))
        assert values.shape == (3,) and np.all(np.isfinite(values)) and np.all(values > 0)
    rows = {r["name"]: r for r in cs.rows()}
    assert rows["ABELL_1689"]["R_E_kpc"] == pytest.approx(143.0, rel=0.03)
    assert rows["MACSJ0717"]["R_E_kpc"] == pytest.approx(350.0, rel=0.03)
    assert rows["MACSJ0717"]["M_required"] == pytest.approx(7.4e14, rel=0.10)

    m200, c200, r200 = 1.8e15, 9.2, 2400.0
    x = rows["ABELL_1689"]["R_E_kpc"] / (r200 / c200)
    h = np.log(x / 2) + np.arccosh(1 / x) / np.sqrt(1 - x**2)
    m_nfw = m200 * h / (np.log(1 + c200) - c200 / (1 + c200))
    assert 1 / 1.5 < rows["ABELL_1689"]["M_required"] / m_nfw < 1.5

    r_e, m_req = rows["MACSJ0416"]["R_E_kpc"], rows["MACSJ0416"]["M_required"]
    assert 1.6e14 * (r_e / 200.0) ** 2 < m_req < 1.6e14
    np.testing.assert_allclose(cs.sigma_v, cl.SIGMA_V_DEFAULT)
    np.testing.assert_allclose(cs.g_bar_RE, cl.G * cs.M_bar / cs.R_E_kpc**2, rtol=1e-14)
    np.testing.assert_allclose(cs.M_required_err / cs.M_required, 2 * cs.theta_E_err / cs.theta_E)


def test_projection_and_offset_options(default_set):
    """Projected baryon masses exceed 3-D ones (the cylinder contains the sphere); names
    select and order; the G1-centred dPIE only changes MACS J0416 and lowers it."""
    proj = default_set
    assert proj.projection == "projected"
    three = cl.load_clusters(projection="3d")
    assert np.all(np.asarray(proj.M_bar) > np.asarray(three.M_bar))
    np.testing.assert_allclose(proj.M_required, three.M_required, rtol=1e-15)
    sub = cl.load_clusters("ABELL_1689,MACSJ0416")
    assert sub.names == ("ABELL_1689", "MACSJ0416")
    np.testing.assert_allclose(sub.M_bar, np.asarray(proj.M_bar)[[2, 0]], rtol=1e-14)
    off = cl.load_clusters(dpie_offsets=True)
    assert float(off.M_bar[0]) < float(proj.M_bar[0])
    np.testing.assert_allclose(off.M_bar[1:], proj.M_bar[1:], rtol=1e-15)


def test_theory_mass_and_jit(default_set):
    """theory_mass = g_bar (1 + K) R_E^2 / G = M_bar (1 + K) (1e-14); mass_ratio under jit
    equals eager, with the ClusterSet as a pytree argument."""
    cs = default_set
    K = jnp.array([3.0, 10.0, 25.0])
    np.testing.assert_allclose(cl.theory_mass(cs, 0.0), cs.M_bar, rtol=1e-14)
    np.testing.assert_allclose(cl.theory_mass(cs, K), cs.M_bar * (1 + K), rtol=1e-14)
    eager = cl.mass_ratio(cs, K)
    np.testing.assert_allclose(jax.jit(cl.mass_ratio)(cs, K), eager, rtol=1e-14)
    np.testing.assert_allclose(eager, cs.M_bar * (1 + K) / cs.M_required, rtol=1e-14)
    leaves = jax.tree_util.tree_leaves(cs)
    assert all(leaf.shape == (3,) for leaf in leaves)


# --------------------------------------------------------------------------------------------
# user tables and files
# --------------------------------------------------------------------------------------------


def _write(path, text):
    path.write_text(text)
    return path


def test_cluster_table_with_profile_files(tmp_path):
    """A user table: gas CSV + stellar rho CSV, a beta-model row, a Hernquist BCG, a packaged
    name without baryon columns (uses the packaged profile), per-row sigma_v."""
    r = np.geomspace(1.0, 3000.0, 300)
    ne = 0.01 * (1 + (r / 120.0) ** 2) ** (-1.05)
    gas_rows = "".join(f"{a},{b}\n" for a, b in zip(r, ne, strict=True))
    _write(tmp_path / "gas.csv", "r_kpc,n_e_cm3\n" + gas_rows)
    rho_star = 1e9 * (r / 10.0) ** -3
    _write(tmp_path / "stars.csv",
           "# stellar density\nr_kpc, rho_Msun_kpc3\n"
           + "".join(f"{a},{b}\n" for a, b in zip(r, rho_star, strict=True)))  # fmt: skip
    table = _write(
        tmp_path / "clusters.csv",
        "name,z_lens,z_source,theta_E_arcsec,sigma,sigma_v_kms,gas_csv,stars_csv,ne0_cm3,"
        "rc_kpc,beta,bcg_mass_Msun,bcg_a_kpc\n"
        "FILES,0.3,2.0,30,2,1200,gas.csv,stars.csv,,,,,\n"
        "BETA,0.3,2.0,30,,,,,0.01,120,0.7,1e12,15\n"
        "ABELL_1689,0.183,2.0,47,1.2,,,,,,,,\n",
    )
    cs = cl.load_clusters(table=table)
    assert cs.names == ("FILES", "BETA", "ABELL_1689")
    np.testing.assert_allclose(cs.sigma_v, [1200.0, 1000.0, 1000.0])
    assert np.isnan(float(cs.theta_E_err[1]))
    r_e = float(cs.R_E_kpc[0])
    gas = cl.gas_from_ne_table(r, ne)
    stars = cl.stars_from_rho_table(r, rho_star)
    assert float(cs.M_bar[0]) == pytest.approx(float(gas.mass(r_e) + stars.mass(r_e)), 1e-12)
    beta = cl.beta_gas(0.01, 120.0, 0.7)
    bcg = cl.hernquist_mass_projected(r_e, 1e12, 15.0)
    assert float(cs.M_bar[1]) == pytest.approx(float(beta.mass(r_e) + bcg), rel=1e-12)
    packaged = cl.load_clusters(["ABELL_1689"])
    assert float(cs.M_bar[2]) == pytest.approx(float(packaged.M_bar[0]), rel=1e-14)
    assert cl.load_clusters("BETA", table=table).names == ("BETA",)


def test_table_and_file_errors_name_the_input(tmp_path):
    """Missing columns, bad cells, z_s <= z_l, unknown names, missing baryons and bad ACCEPT
    files raise ValueError naming the file / column / cluster."""
    bad_col = _write(tmp_path / "t1.csv", "name,z_lens,theta_E_arcsec\nX,0.3,20\n")
    with pytest.raises(ValueError, match=r"t1\.csv.*z_source"):
        cl.load_clusters(table=bad_col)
    bad_cell = _write(tmp_path / "t2.csv", "name,z_lens,z_source,theta_E_arcsec\nX,0.3,two,20\n")
    with pytest.raises(ValueError, match=r"t2\.csv, row 1: column 'z_source'"):
        cl.load_clusters(table=bad_cell)
    order = _write(tmp_path / "t3.csv",
                   "name,z_lens,z_source,theta_E_arcsec,ne0_cm3,rc_kpc,beta\nX,0.5,0.4,20,0.01,100,0.7\n")  # fmt: skip # noqa: E501
    with pytest.raises(ValueError, match=r"cluster 'X': z_source"):
        cl.load_clusters(table=order)
    negative = _write(tmp_path / "t4.csv",
                      "name,z_lens,z_source,theta_E_arcsec,ne0_cm3,rc_kpc,beta\nX,0.3,2,-5,0.01,100,0.7\n")  # fmt: skip # noqa: E501
    with pytest.raises(ValueError, match=r"cluster 'X': theta_E_arcsec"):
        cl.load_clusters(table=negative)
    no_theta = _write(tmp_path / "t0.csv", "# comment\nname,z_lens,z_source\nX,0.3,2\n")
    with pytest.raises(ValueError, match=r"t0\.csv: missing column\(s\) \['theta_E_arcsec'\] "
                                         r"\(cluster table; required \['name'"):
        cl.load_clusters(table=no_theta)
    nobar = _write(tmp_path / "t5.csv", "name,z_lens,z_source,theta_E_arcsec\nX,0.3,2,20\n")
    with pytest.raises(ValueError, match=r"cluster 'X': no baryon profile"):
        cl.load_clusters(table=nobar)
    with pytest.raises(ValueError, match="unknown cluster 'Y'"):
        cl.load_clusters("Y", table=nobar)
    _write(tmp_path / "gas.csv", "r_kpc,ne\n1,0.01\n2,0.005\n")
    t6 = _write(tmp_path / "t6.csv", "name,z_lens,z_source,theta_E_arcsec,gas_csv\nX,0.3,2,20,gas.csv\n")  # fmt: skip # noqa: E501
    with pytest.raises(ValueError, match=r"gas\.csv: missing column\(s\) \['n_e_cm3'\]"):
        cl.load_clusters(table=t6)
    _write(tmp_path / "gas.csv", "r_kpc,n_e_cm3\n1,0.01\n2,abc\n")
    with pytest.raises(ValueError, match=r"gas\.csv, data row 2: column 'n_e_cm3'"):
        cl.load_clusters(table=t6)
    _write(tmp_path / "gas.csv", "r_kpc,n_e_cm3\n2,0.01\n1,0.02\n")
    with pytest.raises(ValueError, match=r"gas\.csv: r_kpc must be > 0 and strictly increasing"):
        cl.load_clusters(table=t6)
    with pytest.raises(FileNotFoundError, match="missing.dat"):
        cl.read_accept_profile(tmp_path / "missing.dat")
    two = _write(tmp_path / "all_profiles.dat",
                 "Name Rin Rout nelec neerr\nA 0.0 0.01 0.02 0.001\nA 0.01 0.02 0.01 0.001\n"
                 "B 0.0 0.01 0.03 0.001\n")  # fmt: skip
    with pytest.raises(ValueError, match=r"several clusters, pass name= one of \['A', 'B'\]"):
        cl.read_accept_profile(two)
    with pytest.raises(ValueError, match=r"no rows for cluster 'C'"):
        cl.read_accept_profile(two, name="C")
    prof = cl.read_accept_profile(two, name="A")
    np.testing.assert_allclose(prof.r_out_kpc, [10.0, 20.0])
    negative_ne = _write(tmp_path / "neg.dat", "Name Rin Rout nelec neerr\nA 0.0 0.01 -0.02 0.1\n")
    with pytest.raises(ValueError, match=r"neg\.dat, line 2: column nelec must be > 0"):
        cl.read_accept_profile(negative_ne)
