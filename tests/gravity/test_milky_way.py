"""Tests of jaxfit.gravity.milky_way: the Milky Way curve, the McMillan 2017 baryonic
model, and the research parquet.

References (tolerances in each test):
- Eilers+2019 Table 1 as published (R = 8.19 kpc -> 228.86 km/s);
- Freeman (1970) for a razor-thin exponential disc (Bessel functions);
- an independent Hankel-transform evaluation of thick-disc rotation curves (Binney &
  Tremaine 2008, section 2.6: v_c^2 = 2 pi G R int k J1(kR) S(k) Z(k) dk), written here;
- G M(<R)/R for a spherical bulge and the Maclaurin closed form for a homogeneous oblate
  spheroid (Binney & Tremaine Table 2.1: v_c^2 = 2 pi G rho A1 R^2);
- McMillan 2017's published total circular speed v_c(R0 = 8.21 kpc) = 233.1 km/s.
"""

from __future__ import annotations

import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
from scipy import integrate, special

import jaxfit  # noqa: F401  (switches on float64)
from jaxfit.gravity import milky_way as gmw

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"


MW_SHARED = SHARED / "milkyway"


G = gmw.G_KPC


@pytest.fixture(scope="module")
def milky_way() -> gmw.MilkyWay:
    return gmw.load_milky_way()


def test_milky_way_eilers_table_and_v_bar(milky_way):
    mw = milky_way
    assert len(mw) == 38
    R = np.asarray(mw.R)
    assert R[0] == 5.27 and R[-1] == 24.82
    i = int(np.flatnonzero(R == 8.19)[0])
    assert float(mw.v_c[i]) == 228.86  # Eilers+2019 Table 1
    assert (float(mw.err_minus[i]), float(mw.err_plus[i])) == (0.80, 0.67)
    np.testing.assert_allclose(mw.sigma, 0.5 * (mw.err_minus + mw.err_plus), rtol=1e-15)
    v_bar = np.asarray(mw.v_bar)
    assert np.all(v_bar > 0) and np.all(v_bar < np.asarray(mw.v_c))
    assert np.all(np.diff(v_bar) < 0)  # declining beyond 5 kpc
    assert 170.0 < v_bar[i] < 185.0
    assert "Eilers" in mw.citation and "McMillan" in mw.citation
    for leaf in jax.tree_util.tree_leaves(mw):
        assert leaf.dtype == jnp.float64 and leaf.shape == (38,)
    np.testing.assert_allclose(jax.jit(lambda m: m.v_c - m.v_bar)(mw), mw.v_c - mw.v_bar,
                               rtol=1e-15)
    # the packaged table is the shared copy, byte for byte
    if (MW_SHARED / "eilers2019_mw_rotation_curve_table1.csv").exists():
        import importlib.resources

        packaged = importlib.resources.files("jaxfit.data").joinpath(gmw.EILERS_FILE)
        assert packaged.read_bytes() == (
            MW_SHARED / "eilers2019_mw_rotation_curve_table1.csv").read_bytes()


def test_milky_way_from_a_csv_and_malformed_csv(tmp_path):
    good = tmp_path / "mw.csv"
    good.write_text("R_kpc,vc_kms,sigma_vc_minus_kms,sigma_vc_plus_kms\n8.0,230,1,2\n"
                    "10.0,225,2,2\n")
    mw = gmw.load_milky_way(good)
    np.testing.assert_array_equal(np.asarray(mw.sigma), [1.5, 2.0])
    assert mw.source == str(good)
    cases = [
        ("R_kpc,vc_kms,sigma_vc_minus_kms\n8,230,1\n", "line 1", "sigma_vc_plus_kms"),
        ("R_kpc,vc_kms,sigma_vc_minus_kms,sigma_vc_plus_kms\n8,nan,1,1\n", "line 2",
         "column vc_kms"),
        ("R_kpc,vc_kms,sigma_vc_minus_kms,sigma_vc_plus_kms\n8,230,1,1\n9,230,0,1\n",
         "line 3", "column sigma_vc_minus_kms"),
        ("R_kpc,vc_kms,sigma_vc_minus_kms,sigma_vc_plus_kms\n8,230,1,1\n7,230,1,1\n",
         "line 3", "radii must increase"),
        ("", "line 1", "empty"),
    ]
    for text, line, words in cases:
        path = tmp_path / "bad.csv"
        path.write_text(text)
        with pytest.raises(ValueError) as info:
            gmw.load_milky_way(path)
        assert str(path) in str(info.value) and line in str(info.value), info.value
        assert words in str(info.value)
    with pytest.raises(FileNotFoundError, match="packaged Eilers"):
        gmw.load_milky_way(tmp_path / "absent.csv")


def test_baseline_parquet_band_and_validation(tmp_path):
    path = tmp_path / "stars.parquet"
    frame = pd.DataFrame({
        "R": [11.0, 12.0, 13.5, 16.0, 17.0, np.nan],
        "v_phi": [230.0, 229.0, np.nan, 220.0, 215.0, 1.0],
        "v_phi_GR": [180.0, 175.0, 170.0, 160.0, 150.0, 1.0],
        "source_id": np.arange(6),
    })
    frame.iloc[[0, 1, 3, 4]].to_parquet(path)
    stars = gmw.load_baseline_parquet(path)
    np.testing.assert_array_equal(np.asarray(stars.R), [12.0, 16.0])  # inclusive band
    np.testing.assert_array_equal(np.asarray(stars.v_obs), [229.0, 220.0])
    np.testing.assert_array_equal(np.asarray(stars.v_bar), [175.0, 160.0])
    R, v_obs, v_bar = stars  # unpacks like a tuple; a pytree
    assert R.dtype == jnp.float64 and len(jax.tree_util.tree_leaves(stars)) == 3
    assert gmw.load_baseline_parquet(path, r_min=10, r_max=20).R.shape == (4,)
    # NaN inside the band -> error naming column and row; outside the band -> fine
    frame.iloc[:5].to_parquet(path)
    with pytest.raises(ValueError, match=r"column v_phi: 1 NaN.*first at row 2"):
        gmw.load_baseline_parquet(path)
    assert gmw.load_baseline_parquet(path, drop_nonfinite=True).R.shape == (2,)
    frame.iloc[[1, 5]].to_parquet(path)
    with pytest.raises(ValueError, match="column R"):
        gmw.load_baseline_parquet(path)
    frame.iloc[[0, 1]].to_parquet(path)
    assert gmw.load_baseline_parquet(path, r_min=12.0, r_max=12.0 + 1e-9).R.shape == (1,)
    with pytest.raises(ValueError, match="no stars"):
        gmw.load_baseline_parquet(path, r_min=14, r_max=15)
    with pytest.raises(ValueError, match="r_min < r_max"):
        gmw.load_baseline_parquet(path, r_min=16, r_max=12)
    frame[["R", "v_phi"]].to_parquet(path)
    with pytest.raises(ValueError) as info:
        gmw.load_baseline_parquet(path)
    assert "['v_phi_GR']" in str(info.value) and str(path) in str(info.value)
    absent = tmp_path / "gaia_with_gr_baseline.parquet"
    with pytest.raises(FileNotFoundError) as info:
        gmw.load_baseline_parquet(absent)
    assert str(absent) in str(info.value) and "load_milky_way" in str(info.value)


def test_mcmillan_total_vc_at_r0_matches_published():
    model = gmw.load_mcmillan2017()
    assert (model.r0, model.v0) == (8.21, 233.1)
    v = float(model.v_c(model.r0)[0])
    assert abs(v / 233.1 - 1) < 0.01  # published, to 1% (found: 233.22, 0.05%)
    assert abs(v / 233.1 - 1) < 1e-3
    parts = model.vc2_components([model.r0])
    assert set(parts) == {"thin_disk", "thick_disk", "hi_disk", "h2_disk", "bulge", "halo"}
    assert all(p[0] > 0 for p in parts.values())
    v_bar = float(model.v_bar(model.r0)[0])
    np.testing.assert_allclose(v_bar**2 + parts["halo"][0], v**2, rtol=1e-14)
    # halo: the NFW closed form G M(<r)/r, M from a numerical mass integral
    halo = model.halo
    mass = integrate.quad(lambda r: 4 * np.pi * r**2 * halo.rho0 / (
        (r / halo.r_s) * (1 + r / halo.r_s) ** 2), 0, model.r0, epsrel=1e-12)[0]
    np.testing.assert_allclose(parts["halo"][0], G * mass / model.r0, rtol=1e-10)


def _freeman(R, sigma0, r_d):
    y = np.asarray(R) / (2 * r_d)
    return 4 * np.pi * G * sigma0 * r_d * y**2 * (
        special.iv(0, y) * special.kv(0, y) - special.iv(1, y) * special.kv(1, y))


def test_razor_thin_exponential_disc_equals_freeman():
    sigma0, r_d = 896e6, 2.5
    R = np.array([0.05, 0.5, 2.5, 5.27, 8.21, 15.0, 24.82, 60.0])
    disc = gmw.disc_vc2(R, lambda a: sigma0 * np.exp(-a / r_d), scale_length=r_d,
                       vertical="thin")
    np.testing.assert_allclose(disc, _freeman(R, sigma0, r_d), rtol=1e-6)  # found: 7e-9
    np.testing.assert_allclose(gmw.freeman_vc2(R, sigma0, r_d), _freeman(R, sigma0, r_d),
                               rtol=1e-12)
    thin = gmw.ExponentialDisc(sigma0, r_d, 0.0, vertical="thin")
    np.testing.assert_allclose(thin.vc2(R), disc, rtol=1e-14)


def _hankel_vc2(R, s_of_k, z_of_k, n_zeros=3000, extra_edges=()):
    """Reference: v_c^2 = 2 pi G R int_0^inf k J1(kR) S(k) Z(k) dk, integrated between the
    zeros of J1(kR) (and ``extra_edges``) with 10-point Gauss-Legendre, the alternating
    partial sums at the zeros averaged repeatedly (Binney & Tremaine 2008 eq. 2.170ff)."""
    zeros = special.jn_zeros(1, n_zeros) / R
    extra = np.asarray(extra_edges, dtype=float)
    edges = np.unique(np.concatenate([[0.0], zeros, extra[extra < zeros[-1]]]))
    x, w = np.polynomial.legendre.leggauss(10)
    lo, hi = edges[:-1, None], edges[1:, None]
    k = (0.5 * (hi - lo) * x + 0.5 * (hi + lo)).ravel()
    wk = (0.5 * (hi - lo) * w).ravel()
    f = wk * k * special.j1(k * R) * s_of_k(k) * z_of_k(k)
    partial = np.concatenate([[0.0], np.cumsum(f)])[np.searchsorted(edges, zeros) * 10]
    s = partial[-24:]
    for _ in range(12):
        s = 0.5 * (s[1:] + s[:-1])
    return 2 * np.pi * G * R * s[-1]


def _z_exponential(z_d):
    return lambda k: 1.0 / (1.0 + k * z_d)


def _z_sech2(z_d):
    # int sech^2(z/2z_d)/(4 z_d) e^{-k|z|} dz = 1 - (b/2)[psi(b/4 + 1) - psi(b/4 + 1/2)],
    # b = 2 k z_d (from sech^2 u = 4 sum_n (-1)^(n+1) n e^(-2nu) and the digamma series)
    def z(k):
        b = 2 * k * z_d
        return 1 - 0.5 * b * (special.digamma(b / 4 + 1) - special.digamma(b / 4 + 0.5))
    return z


def test_sech2_vertical_transform_formula():
    def integrand(z, k, z_d):
        return 2 * np.exp(-k * z) / (4 * z_d * np.cosh(z / (2 * z_d)) ** 2)

    for z_d, k in ((0.085, 0.3), (0.085, 30.0), (0.3, 3.0)):
        numeric = integrate.quad(integrand, 0, 60 * z_d, args=(k, z_d), epsrel=1e-13,
                                 epsabs=0)[0]
        np.testing.assert_allclose(_z_sech2(z_d)(k), numeric, rtol=1e-11)


@pytest.mark.parametrize("vertical, z_d", [("exponential", 0.3), ("exponential", 0.9),
                                            ("sech2", 0.045), ("sech2", 0.3)])
def test_thick_exponential_disc_equals_hankel_transform(vertical, z_d):
    sigma0, r_d = 896e6, 2.5
    model = gmw.ExponentialDisc(sigma0, r_d, z_d, vertical=vertical)
    zk = _z_exponential(z_d) if vertical == "exponential" else _z_sech2(z_d)
    for R in (0.3, 5.27, 8.21, 24.82):
        ref = _hankel_vc2(R, lambda k: sigma0 * r_d**2 / (1 + (k * r_d) ** 2) ** 1.5, zk,
                          extra_edges=np.logspace(-4, 3, 200) / r_d)
        np.testing.assert_allclose(model.vc2([R])[0], ref, rtol=1e-7)  # found: 1e-10


def test_holed_gas_disc_against_hankel_and_far_field():
    model = gmw.load_mcmillan2017()
    h2 = model.h2_disk
    R = 8.21
    # S(k) = int Sigma(x) J0(k x) x dx by Gauss-Legendre on 0.04-kpc panels (H2: R_d = 1.5)
    x_edges = np.concatenate([np.linspace(0, 2, 21)[:-1], np.arange(2.0, 40 * h2.r_d, 0.04)])
    xg, wg = np.polynomial.legendre.leggauss(8)
    lo, hi = x_edges[:-1, None], x_edges[1:, None]
    x = (0.5 * (hi - lo) * xg + 0.5 * (hi + lo)).ravel()
    wx = (0.5 * (hi - lo) * wg).ravel() * x * h2.surface_density(x)

    def s_of_k(k):
        return np.concatenate([special.j0(np.outer(k[i:i + 256], x)) @ wx
                               for i in range(0, len(k), 256)])

    ref = _hankel_vc2(R, s_of_k, _z_sech2(h2.z_d), n_zeros=int(30 * R / np.pi),
                      extra_edges=np.logspace(-4, 1, 60))
    np.testing.assert_allclose(h2.vc2([R])[0], ref, rtol=1e-7)
    # far field: v_c^2 -> G M / R (quadrupole corrections ~ <R^2>/R^2 ~ 1e-3 at 500 kpc)
    hi_disc = model.hi_disk
    mass = 2 * np.pi * integrate.quad(lambda a: a * hi_disc.surface_density(a), 0, 400,
                                      points=[4, 7, 30], limit=200, epsrel=1e-12)[0]
    far = 500.0
    np.testing.assert_allclose(hi_disc.vc2([far])[0], G * mass / far, rtol=3e-3)


def test_bulge_spherical_mass_and_oblate_maclaurin():
    bulge = gmw.load_mcmillan2017().bulge
    R = np.array([0.05, 0.5, 2.0, 8.21])
    # q = 1: v_c^2 = G M(<R) / R with M from 4 pi r^2 rho
    for r, v2 in zip(R, gmw.spheroid_vc2(R, bulge.density, 1.0, breakpoints=(0.075, 2.1)),
                     strict=True):
        mass = integrate.quad(lambda s: 4 * np.pi * s * s * bulge.density(s), 0, r,
                              points=[p for p in (0.075, 2.1) if p < r] or None, limit=200,
                              epsrel=1e-12)[0]
        np.testing.assert_allclose(v2, G * mass / r, rtol=1e-9)
    # homogeneous oblate spheroid (semi-axes 3, 3, 1.5): v_c^2 = 2 pi G rho A1 R^2 inside
    rho, a_eq, q = 1e9, 3.0, 0.5
    e = math.sqrt(1 - q * q)
    a1 = q * (math.asin(e) - e * q) / e**3
    inside = np.array([0.5, 1.5, 2.9])
    got = gmw.spheroid_vc2(inside, lambda m: rho if m < a_eq else 0.0, q, breakpoints=(a_eq,))
    np.testing.assert_allclose(got, 2 * np.pi * G * rho * a1 * inside**2, rtol=1e-10)
    assert gmw.load_mcmillan2017().bulge.vc2([8.21])[0] > 0
    with pytest.raises(ValueError, match="q must be"):
        gmw.spheroid_vc2([1.0], bulge.density, 1.5)
    with pytest.raises(ValueError, match="radii"):
        gmw.disc_vc2([0.0, 1.0], lambda a: np.exp(-a), scale_length=1.0)
    with pytest.raises(ValueError, match="vertical"):
        gmw.disc_vc2([1.0], lambda a: np.exp(-a), scale_length=1.0, vertical="gauss")
