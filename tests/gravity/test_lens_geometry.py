"""Tests of jaxfit.gravity.lens_geometry against astropy: FlatLambdaCDM(H0=70, Om0=0.3,
Tcmb0=0) distances and astropy.constants (c, G), 1e-6 relative; jit, vmap and grad."""


import astropy.constants as const
import astropy.units as u
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from astropy.cosmology import FlatLambdaCDM

import jaxfit  # noqa: F401  (float64 policy)
from jaxfit.gravity import cluster_profiles as gcp
from jaxfit.gravity import cluster_set as gcs
from jaxfit.gravity import lens_geometry as glg
from jaxfit.gravity import units as gu


def test_constants_match_astropy():
    """n_e -> Msun/kpc^3, G and kpc against astropy.units / constants (1e-10; m_p 1e-8)."""
    ref = (const.m_p / u.cm**3).to(u.Msun / u.kpc**3).value
    assert gu.NE_TO_RHO == pytest.approx(ref, rel=1e-10)
    assert gu.M_P_G == pytest.approx(const.m_p.to(u.g).value, rel=1e-8)  # CODATA revisions
    g_ref = (const.G * const.M_sun / u.kpc).to(u.km**2 / u.s**2).value
    assert gu.G_NEWTON == pytest.approx(g_ref, rel=1e-10)
    assert gu.G_NEWTON == pytest.approx(4.30091e-6, rel=2e-6)  # the spec's rounded value
    assert gu.KPC_CM == pytest.approx(u.kpc.to(u.cm), rel=1e-15)
    # ne_to_rho as an astropy quantity: mu_e m_p n_e for n_e = 0.01 cm^-3, mu_e = 1.17
    q = (1.17 * const.m_p * 0.01 / u.cm**3).to(u.Msun / u.kpc**3).value
    assert float(gcp.ne_to_rho(0.01, 1.17)) == pytest.approx(q, rel=1e-10)


@pytest.mark.parametrize("H0, Om", [(70.0, 0.3), (67.4, 0.315)])
def test_sigma_crit_and_einstein_radius_match_astropy(packaged, H0, Om):
    """Sigma_crit and R_E of the three clusters vs FlatLambdaCDM(Tcmb0=0) + astropy constants,
    1e-6 relative."""
    cosmo = FlatLambdaCDM(H0=H0, Om0=Om, Tcmb0=0)
    names = list(gcs.DEFAULT_CLUSTERS)
    z_l = np.array([packaged[n]["z_lens"]["value"] for n in names])
    z_s = np.array([packaged[n]["z_source"]["value"] for n in names])
    theta = np.array([packaged[n]["theta_E_arcsec"]["value"] for n in names])
    d_l = cosmo.angular_diameter_distance(z_l)
    d_s = cosmo.angular_diameter_distance(z_s)
    d_ls = cosmo.angular_diameter_distance(z_l, z_s)
    s_ref = (const.c**2 / (4 * np.pi * const.G) * d_s / (d_l * d_ls)).to(u.Msun / u.kpc**2)
    r_ref = (theta * u.arcsec).to(u.rad).value * d_l.to(u.kpc).value
    np.testing.assert_allclose(glg.sigma_crit(z_l, z_s, H0, Om), s_ref.value, rtol=1e-6)
    np.testing.assert_allclose(glg.einstein_radius_kpc(theta, z_l, H0, Om), r_ref, rtol=1e-6)
    m_ref = np.pi * r_ref**2 * s_ref.value
    np.testing.assert_allclose(glg.required_mass(theta, z_l, z_s, H0, Om), m_ref, rtol=1e-6)
    chi_ref = cosmo.comoving_distance([0.1, 1.0, 3.0]).to(u.kpc).value
    np.testing.assert_allclose(glg.comoving_distance_kpc([0.1, 1.0, 3.0], H0, Om), chi_ref,
                               rtol=1e-10)  # fmt: skip


def test_geometry_jit_vmap_grad():
    """jit equals eager (1e-14), vmap equals the batched call, d Sigma_crit/d z_l matches a
    central finite difference (1e-6)."""
    z_l, z_s, theta = jnp.array([0.2, 0.4, 0.55]), jnp.array([2.0, 2.0, 2.5]), jnp.array(
        [47.0, 26.2, 55.0]
    )
    for fn, args in [
        (glg.sigma_crit, (z_l, z_s, 70.0, 0.3)),
        (glg.required_mass, (theta, z_l, z_s, 70.0, 0.3)),
        (glg.einstein_radius_kpc, (theta, z_l, 70.0, 0.3)),
    ]:
        np.testing.assert_allclose(jax.jit(fn)(*args), fn(*args), rtol=1e-14)
        in_axes = (0,) * (len(args) - 2) + (None, None)
        np.testing.assert_allclose(jax.vmap(fn, in_axes=in_axes)(*args), fn(*args), rtol=1e-14)
    grad = jax.grad(lambda z: glg.sigma_crit(z, 2.0, 70.0, 0.3))(0.3)
    h = 1e-5
    fd = (glg.sigma_crit(0.3 + h, 2.0) - glg.sigma_crit(0.3 - h, 2.0)) / (2 * h)
    assert float(grad) == pytest.approx(float(fd), rel=1e-6)
    grad_h0 = jax.grad(lambda H0: glg.required_mass(47.0, 0.183, 2.0, H0, 0.3))(70.0)
    # M_required ~ D_l^2 D_s/(D_l D_ls) ~ 1/H0: d ln M/d ln H0 = -1
    m = glg.required_mass(47.0, 0.183, 2.0)
    assert float(grad_h0 * 70.0 / m) == pytest.approx(-1.0, rel=1e-10)
