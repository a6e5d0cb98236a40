"""Tests of jaxfit.gravity.cluster_set: the packaged clusters and load_clusters.

References: Zitrin+2009 (MACS J0717 mass inside the critical curve), Coe+2010 (Abell 1689
r_E and NFW fit), Jauzac+2014 (MACS J0416 projected mass inside 200 kpc); unit
conversions against astropy.units / astropy.constants, 1e-10."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxfit  # noqa: F401  (float64 policy)
from jaxfit.gravity import cluster_baryons as gcb
from jaxfit.gravity import cluster_profiles as gcp
from jaxfit.gravity import cluster_set as gcs
from jaxfit.gravity import lens_geometry as glg
from jaxfit.gravity import units as gu


@pytest.fixture(scope="module")
def default_set():
    return gcs.load_clusters()


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: glg.sigma_crit(0.5, 0.5), "z_source"),
        (lambda: glg.sigma_crit(0.5, 0.3), "z_source"),
        (lambda: glg.sigma_crit(0.0, 1.0), "z_lens"),
        (lambda: glg.sigma_crit(0.3, 1.0, H0=-70.0), "H0"),
        (lambda: glg.sigma_crit(0.3, 1.0, Om=-0.1), "Om"),
        (lambda: glg.einstein_radius_kpc(-3.0, 0.3), "theta_E"),
        (lambda: glg.required_mass(np.array([30.0, -1.0]), 0.3, 1.0), "theta_E"),
        (lambda: glg.comoving_distance_kpc(-0.1), "z"),
        (lambda: gcs.load_clusters(["MACSJ0416", "BULLET"]), "unknown cluster 'BULLET'"),
        (lambda: gcs.load_clusters(projection="2d"), "projection"),
        (lambda: gcs.load_clusters(mu_e=0.0), "mu_e"),
        (lambda: gcs.cluster_baryons("A2744"), "unknown cluster"),
        (lambda: gcs.cluster_baryons("ABELL_1689", gas_interp="cubic"), "interp"),
    ],
)
def test_bad_inputs_raise(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_mu_e_ratio_is_exact(default_set):
    """Gas mass with mu_e = 0.59 (research code) over mu_e = 1.17 is 0.59/1.17 exactly
    (1e-14) for beta models and ACCEPT tables in both projections; dPIE gas is a mass
    density and does not change."""
    for projection in gcb.PROJECTIONS:
        b1, b2 = gcb.beta_gas(0.01, 80.0, 0.7), gcb.beta_gas(0.01, 80.0, 0.7, mu_e=0.59)
        ratio = float(b2.mass(150.0, projection) / b1.mass(150.0, projection))
        assert ratio == pytest.approx(0.59 / 1.17, rel=1e-14)
        g1 = gcs.cluster_baryons("ABELL_1689").mass(143.0, projection)
        g2 = gcs.cluster_baryons("ABELL_1689", mu_e=gcp.MU_E_RESEARCH).mass(143.0, projection)
        assert float(g2 / g1) == pytest.approx(0.59 / 1.17, rel=1e-14)
    s1 = default_set
    s2 = gcs.load_clusters(mu_e=0.59)
    ratio = np.asarray(s2.M_bar / s1.M_bar)
    np.testing.assert_allclose(ratio[1:], 0.59 / 1.17, rtol=1e-14)  # gas-only clusters
    assert ratio[0] == pytest.approx(1.0, rel=1e-14)  # MACS J0416: dPIE + stars


def test_packaged_json_citations_and_derived_theta(packaged):
    """Every number group carries a citation and a status; MACS J0416's theta_E is marked
    derived and equals sqrt(0.6 arcmin^2 / pi) to its 0.1 arcsec."""
    assert set(packaged) == set(gcs.DEFAULT_CLUSTERS)
    for entry in packaged.values():
        for key in ("z_lens", "z_source", "theta_E_arcsec"):
            assert entry[key]["citation"] and entry[key]["status"] in ("published", "derived")
        assert entry["gas"]["citation"] and entry["gas"]["status"] == "published"
        assert entry["stars"]["status"] in ("published", "missing")
    theta = packaged["MACSJ0416"]["theta_E_arcsec"]
    assert theta["status"] == "derived"
    assert theta["value"] == round(60 * math.sqrt(0.6 / math.pi), 1)


def test_load_clusters_defaults_and_published_lensing_masses(default_set):
    """Default set: finite positive values; R_E within 3% of the published r_E (Coe+2010
    143 kpc, Zitrin+2009 350 kpc); M_required vs published lensing masses: MACS J0717 within
    10% of Zitrin+2009's 7.4e14 inside the critical curve; Abell 1689 within a factor 1.5 of
    the projected mass of Coe+2010's NFW fit (M200 = 1.8e15, c200 = 9.2, r200 = 2.4 Mpc) at
    R_E; MACS J0416 between Jauzac+2014's M(<200 kpc) = 1.6e14 scaled by (R_E/200 kpc)^2 (a
    falling Sigma) and 1.6e14 itself."""
    cs = default_set
    assert cs.names == gcs.DEFAULT_CLUSTERS and len(cs) == 3
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
    np.testing.assert_allclose(cs.sigma_v, gcs.SIGMA_V_DEFAULT)
    np.testing.assert_allclose(cs.g_bar_RE, gu.G_NEWTON * cs.M_bar / cs.R_E_kpc**2, rtol=1e-14)
    np.testing.assert_allclose(cs.M_required_err / cs.M_required, 2 * cs.theta_E_err / cs.theta_E)


def test_projection_and_offset_options(default_set):
    """Projected baryon masses exceed 3-D ones (the cylinder contains the sphere); names
    select and order; the G1-centred dPIE only changes MACS J0416 and lowers it."""
    proj = default_set
    assert proj.projection == "projected"
    three = gcs.load_clusters(projection="3d")
    assert np.all(np.asarray(proj.M_bar) > np.asarray(three.M_bar))
    np.testing.assert_allclose(proj.M_required, three.M_required, rtol=1e-15)
    sub = gcs.load_clusters("ABELL_1689,MACSJ0416")
    assert sub.names == ("ABELL_1689", "MACSJ0416")
    np.testing.assert_allclose(sub.M_bar, np.asarray(proj.M_bar)[[2, 0]], rtol=1e-14)
    off = gcs.load_clusters(dpie_offsets=True)
    assert float(off.M_bar[0]) < float(proj.M_bar[0])
    np.testing.assert_allclose(off.M_bar[1:], proj.M_bar[1:], rtol=1e-15)


def test_theory_mass_and_jit(default_set):
    """theory_mass = g_bar (1 + K) R_E^2 / G = M_bar (1 + K) (1e-14); mass_ratio under jit
    equals eager, with the ClusterSet as a pytree argument."""
    cs = default_set
    K = jnp.array([3.0, 10.0, 25.0])
    np.testing.assert_allclose(gcs.theory_mass(cs, 0.0), cs.M_bar, rtol=1e-14)
    np.testing.assert_allclose(gcs.theory_mass(cs, K), cs.M_bar * (1 + K), rtol=1e-14)
    eager = gcs.mass_ratio(cs, K)
    np.testing.assert_allclose(jax.jit(gcs.mass_ratio)(cs, K), eager, rtol=1e-14)
    np.testing.assert_allclose(eager, cs.M_bar * (1 + K) / cs.M_required, rtol=1e-14)
    leaves = jax.tree_util.tree_leaves(cs)
    assert all(leaf.shape == (3,) for leaf in leaves)
