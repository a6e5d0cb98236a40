"""Tests of jaxfit.lensing.model against analytic results and independent numpy/scipy
references, with the tolerance written in each test (float64 unless stated).

Named references:
- SIS (analytic): alpha = theta_E (theta - c)/|theta - c|, Jacobian theta_E (I - n n^T)/r;
  the source-plane origin maps onto the Einstein ring |theta| = theta_E.
- truncated NFW: Baltz, Marshall & Oguri 2009 (JCAP 01, 015), n = 1 truncation; the closed
  forms are re-implemented here in plain numpy (straight from the paper's expressions), the
  convergence is checked against a line-of-sight integral of the 3-D density
  (scipy.integrate.quad) and the deflection against ``(2/R) int_0^R kappa r dr`` (quad).
- external shear: alpha = (g1 x + g2 y, g2 x - g1 y).
- bilinear sampling: scipy.ndimage.map_coordinates(order=1, mode="grid-constant") and a
  numpy bilinear interpolation written here; lensing conserves surface brightness.
- PSF: scipy.ndimage.gaussian_filter(mode="reflect" / "constant", truncate=4.0).
"""

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.integrate
import scipy.ndimage
import scipy.optimize

import jaxfit  # noqa: F401  (switches on float64)
from jaxfit.lensing import model as m

RNG = np.random.default_rng(20251201)
QUAD = {"epsabs": 0.0, "epsrel": 1e-12, "limit": 200}

# one small configuration family, so that each jitted entry point compiles a few times only
N_SMALL = 24
CLEAN = m.LensSimConfig(
    n_pix=N_SMALL,
    psf_sigma=0.0,
    flux_noise_sigma=0.0,
    vel_noise_sigma=0.0,
    flux_mask_threshold=0.0,
    theta_E_sub_factor=0.3,
)
NOISY = m.LensSimConfig(n_pix=N_SMALL, theta_E_sub_factor=0.3)

# the building blocks, jitted here (one compilation per shape instead of one per primitive)
_sis = jax.jit(m.sis_deflection)
_tnfw = jax.jit(m.tnfw_deflection)
_tnfw_kappa = jax.jit(m.tnfw_convergence)


def _sources(s=3, h=N_SMALL, w=N_SMALL, dtype=np.float64, seed=0):
    """Smooth disc-like sources: exponential flux and an arctan velocity field (S, 2, h, w)."""
    rng = np.random.default_rng(seed)
    y, x = np.meshgrid(
        -1 + (2 * np.arange(h) + 1) / h, -1 + (2 * np.arange(w) + 1) / w, indexing="ij"
    )
    out = []
    for _ in range(s):
        x0, y0, rd, pa = rng.uniform(-0.1, 0.1), rng.uniform(-0.1, 0.1), rng.uniform(0.2, 0.4), 0
        pa = rng.uniform(0, np.pi)
        u = (x - x0) * np.cos(pa) + (y - y0) * np.sin(pa)
        flux = np.exp(-np.hypot(x - x0, y - y0) / rd)
        vel = 2 / np.pi * np.arctan(u / 0.15)
        out.append(np.stack([flux, vel]))
    return np.asarray(out, dtype=dtype)


# ------------------------------------------------------------- numpy references
def _np_sis(theta, c, theta_E):
    d = theta - np.reshape(c, (2,) + (1,) * (theta.ndim - 1))
    return theta_E * d / np.hypot(d[0], d[1])


def _np_F(x):
    x = np.asarray(x, dtype=float)
    out = np.ones_like(x)
    lo, hi = x < 1, x > 1
    out[lo] = np.arccosh(1 / x[lo]) / np.sqrt(1 - x[lo] ** 2)
    out[hi] = np.arccos(1 / x[hi]) / np.sqrt(x[hi] ** 2 - 1)
    return out


def _np_tnfw_g(x, tau):
    """BMO09 g(x), written exactly as in the paper (no rearrangement)."""
    t2 = tau**2
    S = np.sqrt(t2 + x**2)
    L = np.log(x / (tau + S))
    return (
        t2
        / (t2 + 1) ** 2
        * (
            (t2 + 1 + 2 * (x**2 - 1)) * _np_F(x)
            + tau * np.pi
            + (t2 - 1) * np.log(tau)
            + S * (-np.pi + L * (t2 - 1) / tau)
        )
    )


def _np_tnfw_alpha_mag(R, kappa_s, r_s, r_t):
    x = np.asarray(R, dtype=float) / r_s
    return 4 * kappa_s * r_s * _np_tnfw_g(x, r_t / r_s) / x


def _np_tnfw_kappa(R, kappa_s, r_s, r_t):
    """BMO09 convergence; (1 - F)/(x^2 - 1) by its series sum_k u^k/(2k+3), u = 1 - x^2,
    for |u| < 0.02 (where the quotient loses digits to cancellation)."""
    x = np.atleast_1d(np.asarray(R, dtype=float) / r_s)
    tau = r_t / r_s
    t2 = tau**2
    F = _np_F(x)
    S = np.sqrt(t2 + x**2)
    L = np.log(x / (tau + S))
    u = 1 - x**2
    near = np.abs(u) < 0.02
    ratio = np.empty_like(x)
    ratio[near] = sum(u[near] ** k / (2 * k + 3) for k in range(10))
    ratio[~near] = (1 - F[~near]) / (x[~near] ** 2 - 1)
    bracket = (t2 + 1) * ratio + 2 * F - np.pi / S + (t2 - 1) * L / (tau * S)
    kappa = 2 * kappa_s * t2 / (t2 + 1) ** 2 * bracket
    return float(kappa[0]) if np.ndim(R) == 0 else kappa


def _np_tnfw_alpha(theta, c, kappa_s, r_s, r_t):
    d = theta - np.reshape(c, (2,) + (1,) * (theta.ndim - 1))
    R = np.hypot(d[0], d[1])
    return _np_tnfw_alpha_mag(R, kappa_s, r_s, r_t) * d / R


def _central_jacobian(alpha, t, h=1e-6):
    """d alpha_i / d t_j of a 2-vector field by central differences (the reference for the
    autodiff Jacobians)."""
    columns = [(np.asarray(alpha(jnp.asarray(t + h * e)))
                - np.asarray(alpha(jnp.asarray(t - h * e)))) / (2 * h) for e in np.eye(2)]
    return np.stack(columns, axis=1)


def _np_bilinear(src, beta):
    """Bilinear interpolation of each channel of src (C, H, W) at beta (2, ...), zero
    outside: neighbours outside the array contribute 0 (scipy's 'grid-constant')."""
    _, h, w = src.shape
    col = (beta[0] + 1) * w / 2 - 0.5
    row = (beta[1] + 1) * h / 2 - 0.5
    i0, j0 = np.floor(row).astype(int), np.floor(col).astype(int)
    fi, fj = row - i0, col - j0
    out = np.zeros((src.shape[0],) + np.shape(row))
    for di, wi in ((0, 1 - fi), (1, fi)):
        for dj, wj in ((0, 1 - fj), (1, fj)):
            i, j = i0 + di, j0 + dj
            ok = (i >= 0) & (i < h) & (j >= 0) & (j < w)
            vals = src[:, np.clip(i, 0, h - 1), np.clip(j, 0, w - 1)]
            out += np.where(ok, wi * wj, 0.0) * vals
    return out


# ----------------------------------------------------------------------- grid
def test_image_grid_pixel_centres():
    theta = np.asarray(m.image_grid(4))
    centres = np.array([-0.75, -0.25, 0.25, 0.75])
    assert theta.shape == (2, 4, 4)
    np.testing.assert_array_equal(theta[0], np.broadcast_to(centres, (4, 4)))  # x along columns
    np.testing.assert_array_equal(theta[1], np.broadcast_to(centres[:, None], (4, 4)))
    assert m.image_grid(8, jnp.float32).dtype == jnp.float32
    cfg = m.LensSimConfig(n_pix=50, pixel_scale=3.0)
    assert cfg.pixel_size == pytest.approx(0.04) and cfg.pixel_size_arcsec == pytest.approx(0.12)


# ------------------------------------------------------------------------ SIS
def test_sis_deflection_matches_formula_at_random_points():
    theta = RNG.uniform(-1.5, 1.5, size=(2, 500))
    for c, theta_E in (((0.0, 0.0), 0.5), ((0.31, -0.42), 0.07)):
        got = np.asarray(_sis(jnp.asarray(theta), c, theta_E))
        np.testing.assert_allclose(got, _np_sis(theta, np.array(c), theta_E), rtol=1e-12)
    # research softening: theta_E d / (|d| + 1e-6)
    d = np.hypot(theta[0], theta[1])
    soft = np.asarray(_sis(jnp.asarray(theta), (0.0, 0.0), 0.5, softening=1e-6))
    np.testing.assert_allclose(soft, 0.5 * theta / (d + 1e-6), rtol=1e-12)


def test_sis_maps_source_origin_onto_einstein_ring():
    """beta(r n) = 0 along 16 random rays only at r = theta_E (brentq, 1e-12)."""
    cfg = m.LensSimConfig(theta_E_main=0.5)

    @jax.jit
    def beta_radial(r, phi):
        n = jnp.stack([jnp.cos(phi), jnp.sin(phi)])
        theta = (r * n)[:, None]
        return jnp.dot(m.ray_trace(theta, m.macro_deflection(theta, cfg))[:, 0], n)

    for phi in RNG.uniform(0, 2 * np.pi, 16):
        root = scipy.optimize.brentq(
            lambda r, p=phi: float(beta_radial(r, p)), 0.05, 1.5, xtol=1e-15
        )
        assert abs(root - 0.5) < 1e-12


def test_sis_point_like_source_lenses_into_ring():
    """A Gaussian blob (sigma_s = 0.02) at the source origin becomes a ring whose
    flux-weighted radius is theta_E + sigma_s^2/theta_E (analytic, within 1e-3)."""
    n, sig, theta_E = 128, 0.02, 0.5
    theta = np.asarray(m.image_grid(n))
    blob = np.exp(-0.5 * (theta[0] ** 2 + theta[1] ** 2) / sig**2)
    source = jnp.asarray(np.stack([blob, np.zeros_like(blob)]))
    cfg = m.LensSimConfig(n_pix=n, subhalo="none", psf_sigma=0.0, theta_E_main=theta_E)
    flux = np.asarray(m.lens_image(source, cfg))[0]
    r = np.hypot(theta[0], theta[1])
    mean_r = np.sum(flux * r) / np.sum(flux)
    assert abs(mean_r - (theta_E + sig**2 / theta_E)) < 1e-3
    assert flux[np.abs(r - theta_E) > 6 * sig].max() < 1e-6  # nothing away from the ring
    # pixels whose beta is ~0 lie on the ring
    beta = np.asarray(m.ray_trace(jnp.asarray(theta), m.macro_deflection(jnp.asarray(theta), cfg)))
    near = np.hypot(beta[0], beta[1]) < 1.0 / n
    assert near.sum() > 50 and np.all(np.abs(r[near] - theta_E) < 1.0 / n + 1e-12)


@pytest.mark.parametrize("softening", [0.0, 1e-6])
def test_sis_gradient_finite_at_centre_and_matches_finite_differences(softening):
    def alpha(t, c=(0.2, -0.1)):
        return _sis(t, c, 0.5, softening)

    jac = jax.jit(jax.jacfwd(alpha))
    at_centre = np.asarray(jac(jnp.array([0.2, -0.1])))
    assert np.all(np.isfinite(at_centre))
    for t in RNG.uniform(-1, 1, size=(5, 2)):
        got = np.asarray(jac(jnp.asarray(t)))
        d = t - np.array([0.2, -0.1])
        r = np.hypot(*d)
        analytic = 0.5 * (np.eye(2) - np.outer(d, d) / r**2) / (r + softening)
        if softening == 0.0:
            np.testing.assert_allclose(got, analytic, rtol=1e-12, atol=1e-14)
        fd = _central_jacobian(alpha, t)
        np.testing.assert_allclose(got, fd, atol=1e-8)


# ---------------------------------------------------------------------- shear
def test_shear_deflection_formula_and_jacobian():
    theta = RNG.uniform(-1, 1, size=(2, 50))
    g1, g2 = 0.07, -0.03
    got = np.asarray(m.shear_deflection(jnp.asarray(theta), g1, g2))
    expected = np.stack([g1 * theta[0] + g2 * theta[1], g2 * theta[0] - g1 * theta[1]])
    np.testing.assert_allclose(got, expected, rtol=1e-14, atol=1e-16)
    jac = np.asarray(jax.jacfwd(lambda t: m.shear_deflection(t, g1, g2))(jnp.array([0.3, 0.1])))
    np.testing.assert_allclose(jac, [[g1, g2], [g2, -g1]], atol=1e-15)  # symmetric, trace 0


# ----------------------------------------------------------------------- tNFW
R_S, R_T, KAPPA_S = 0.05, 0.2, 1.3
# projected radii in units of r_s: tiny, inside, around x = 1, outside r_t, far away
X_TEST = np.array([1e-3, 0.03, 0.3, 0.9, 0.99, 1.01, 1.7, 3.0, 4.0, 9.0, 30.0])


def _rho_over_sigma_crit(r, kappa_s, r_s, r_t):
    s = r / r_s
    tau = r_t / r_s
    return kappa_s / r_s / (s * (1 + s) ** 2) * tau**2 / (tau**2 + s**2)


def test_tnfw_convergence_equals_line_of_sight_projection():
    """BMO09 kappa(R) (model and numpy) = 2 int_0^inf rho(sqrt(R^2 + z^2)) dz (quad, 1e-9)."""
    R = np.append(X_TEST, [0.99995, 1.0]) * R_S  # and at/next to x = 1 (series branch)
    got = np.asarray(
        _tnfw_kappa(jnp.stack([jnp.asarray(R), jnp.zeros(len(R))]), (0.0, 0.0), KAPPA_S, R_S, R_T)
    )
    for Ri, k in zip(R, got, strict=True):
        proj = (
            2
            * scipy.integrate.quad(
                lambda z, Ri=Ri: _rho_over_sigma_crit(math.hypot(Ri, z), KAPPA_S, R_S, R_T),
                0,
                np.inf,
                **QUAD,
            )[0]
        )
        assert abs(k / proj - 1) < 1e-9
        assert abs(_np_tnfw_kappa(Ri, KAPPA_S, R_S, R_T) / proj - 1) < 1e-9


@pytest.mark.parametrize("tau", [0.5, 1.0, 4.0, 25.0])
def test_tnfw_deflection_matches_closed_form(tau):
    """Model deflection (cancellation-free for x < 1) = BMO09 formula as printed, 1e-10
    relative at x >= 0.03 (where the printed form keeps that precision in float64)."""
    r_t = tau * R_S
    c = np.array([0.12, -0.34])
    phi = RNG.uniform(0, 2 * np.pi, len(X_TEST))
    R = X_TEST * R_S
    theta = c[:, None] + R * np.stack([np.cos(phi), np.sin(phi)])
    got = np.asarray(_tnfw(jnp.asarray(theta), c, KAPPA_S, R_S, r_t))
    ref = _np_tnfw_alpha(theta, c, KAPPA_S, R_S, r_t)
    keep = X_TEST >= 0.03
    np.testing.assert_allclose(got[:, keep], ref[:, keep], rtol=1e-10, atol=0)
    # random points on a grid around the halo
    grid = RNG.uniform(-1, 1, size=(2, 400))
    np.testing.assert_allclose(
        np.asarray(_tnfw(jnp.asarray(grid), c, KAPPA_S, R_S, r_t)),
        _np_tnfw_alpha(grid, c, KAPPA_S, R_S, r_t),
        rtol=1e-9,
        atol=1e-14,
    )


@pytest.mark.parametrize("tau", [0.5, 4.0])
def test_tnfw_deflection_equals_enclosed_convergence(tau):
    """|alpha(R)| = (2/R) int_0^R kappa(r) r dr with the numpy BMO09 kappa (quad), 1e-8."""
    r_t = tau * R_S
    R = X_TEST[X_TEST != 1.0] * R_S
    theta = jnp.stack([jnp.asarray(R), jnp.zeros(len(R))])
    got = np.asarray(_tnfw(theta, (0.0, 0.0), KAPPA_S, R_S, r_t))[0]
    for Ri, a in zip(R, got, strict=True):
        pts = [R_S] if Ri > R_S else None
        enclosed = scipy.integrate.quad(
            lambda r: _np_tnfw_kappa(r, KAPPA_S, R_S, r_t) * r, 0, Ri, points=pts, **QUAD
        )[0]
        assert abs(a / (2 * enclosed / Ri) - 1) < 1e-8


def test_tnfw_total_mass_and_subhalo_normalisation():
    """pi R |alpha(R)| -> M_tot far outside r_t (1e-6); the config's tNFW has the mass of the
    SIS of theta_E_sub inside r_t, pi theta_E_sub r_t, so alpha_far = theta_E_sub r_t / R."""
    cfg = m.LensSimConfig(subhalo="tnfw", theta_E_sub_factor=0.1, tnfw_r_s=0.05, tnfw_r_t=0.2)
    assert cfg.tnfw_mass == pytest.approx(math.pi * 0.05 * 0.2, rel=1e-15)
    ks = cfg.tnfw_kappa_s
    assert float(m.tnfw_total_mass(ks, 0.05, 0.2)) == pytest.approx(cfg.tnfw_mass, rel=1e-14)
    R = 1e4 * cfg.tnfw_r_t
    alpha = np.asarray(_tnfw(jnp.array([[R], [0.0]]), (0.0, 0.0), ks, 0.05, 0.2))
    assert abs(alpha[0, 0] * math.pi * R / cfg.tnfw_mass - 1) < 1e-6
    assert abs(alpha[0, 0] / (cfg.theta_E_sub * cfg.tnfw_r_t / R) - 1) < 1e-6


def test_tnfw_gradient_finite_at_centre_and_matches_finite_differences():
    c = (0.1, 0.2)

    def alpha(t):
        return _tnfw(t, c, KAPPA_S, R_S, R_T)

    jac = jax.jit(jax.jacfwd(alpha))
    assert np.all(np.isfinite(np.asarray(jac(jnp.array(c)))))
    # just off the centre, at x = 1 and near it: finite
    for dx in (1e-12, R_S, R_S * (1 - 1e-4)):
        assert np.all(np.isfinite(np.asarray(jac(jnp.array([c[0] + dx, c[1]])))))
    for t in RNG.uniform(-0.3, 0.5, size=(5, 2)):
        fd = _central_jacobian(alpha, t)
        np.testing.assert_allclose(np.asarray(jac(jnp.asarray(t))), fd, atol=1e-7)


def test_tnfw_float32_close_to_float64():
    theta = RNG.uniform(-1, 1, size=(2, 2000))
    a64 = np.asarray(_tnfw(jnp.asarray(theta), (0.1, 0.1), 1.1, R_S, R_T))
    a32 = _tnfw(jnp.asarray(theta, jnp.float32), (0.1, 0.1), 1.1, R_S, R_T)
    assert a32.dtype == jnp.float32
    np.testing.assert_allclose(np.asarray(a32), a64, rtol=2e-5, atol=1e-7)


# ---------------------------------------------------------------- subhalo placement
def test_subhalo_position_on_the_arc():
    cfg = m.LensSimConfig(theta_E_main=0.5, sub_radius_range=(0.1, 0.3))
    keys = jax.random.split(jax.random.key(3), 4000)
    pos = np.asarray(jax.vmap(lambda k: m.draw_subhalo_position(k, cfg))(keys))
    r = np.hypot(pos[:, 0], pos[:, 1])
    assert r.min() >= 0.5 * 1.1 - 1e-12 and r.max() <= 0.5 * 1.3 + 1e-12
    assert r.min() < 0.56 and r.max() > 0.64  # the range is filled
    phi = np.arctan2(pos[:, 1], pos[:, 0])
    assert abs(np.mean(np.cos(phi))) < 0.05 and abs(np.mean(np.sin(phi))) < 0.05  # uniform


# ------------------------------------------------------------- sampling and PSF
def test_sample_source_matches_scipy_and_numpy_bilinear():
    src = RNG.normal(size=(2, 13, 17))
    beta = RNG.uniform(-1.3, 1.3, size=(2, 40, 30))
    got = np.asarray(m.sample_source(jnp.asarray(src), jnp.asarray(beta)))
    coords = [(beta[1] + 1) * 13 / 2 - 0.5, (beta[0] + 1) * 17 / 2 - 0.5]
    for c in range(2):
        ref = scipy.ndimage.map_coordinates(src[c], coords, order=1, mode="grid-constant", cval=0)
        np.testing.assert_allclose(got[c], ref, atol=1e-13)
    np.testing.assert_allclose(got, _np_bilinear(src, beta), atol=1e-13)
    assert np.all(got[:, np.abs(beta).max(axis=0) > 1.0 + 1.0 / 13] == 0.0)  # outside: 0
    # the identity map reproduces the source on its own grid
    same = np.asarray(m.sample_source(jnp.asarray(src[:, :13, :13]), m.image_grid(13)))
    np.testing.assert_allclose(same, src[:, :13, :13], atol=1e-15)


@pytest.mark.parametrize("sigma", [0.5, 1.0, 2.3, 7.0])
def test_gaussian_blur_matches_scipy(sigma):
    img = RNG.normal(size=(2, 17, 23))
    for edge, mode in (("reflect", "reflect"), ("zero", "constant")):
        got = np.asarray(m.gaussian_blur(jnp.asarray(img), sigma, edge))
        ref = scipy.ndimage.gaussian_filter(
            img, (0, sigma, sigma), mode=mode, cval=0.0, truncate=4.0
        )
        np.testing.assert_allclose(got, ref, atol=1e-10)
    assert m.gaussian_blur(jnp.asarray(img, jnp.float32), sigma).dtype == jnp.float32


def test_gaussian_blur_zero_sigma_is_identity():
    img = jnp.asarray(RNG.normal(size=(2, 8, 8)))
    np.testing.assert_array_equal(np.asarray(m.gaussian_blur(img, 0.0)), np.asarray(img))


# ------------------------------------------------------------- image formation
@pytest.mark.parametrize("subhalo", ["sis", "tnfw"])
def test_surface_brightness_is_conserved_pixel_by_pixel(subhalo):
    """No PSF/noise/mask: each lensed pixel equals the source value at beta(theta), with beta
    from the numpy formulae (SIS + subhalo + shear) and scipy bilinear sampling (1e-12)."""
    cfg = m.LensSimConfig(
        n_pix=32,
        subhalo=subhalo,
        theta_E_sub_factor=0.3,
        shear_gamma1=0.05,
        shear_gamma2=-0.02,
        psf_sigma=0.0,
        flux_mask_threshold=0.0,
    )
    src = _sources(1, 40, 48)[0]  # the source grid need not match the image grid
    pos = np.array([0.45, -0.38])
    img = np.asarray(m.lens_image(jnp.asarray(src), cfg, subhalo_position=jnp.asarray(pos)))
    theta = np.asarray(m.image_grid(32))
    if subhalo == "sis":
        a_sub = _np_sis(theta, pos, cfg.theta_E_sub)
    else:
        a_sub = _np_tnfw_alpha(theta, pos, cfg.tnfw_kappa_s, cfg.tnfw_r_s, cfg.tnfw_r_t)
    shear = np.stack([0.05 * theta[0] - 0.02 * theta[1], -0.02 * theta[0] - 0.05 * theta[1]])
    beta = theta - _np_sis(theta, np.zeros(2), 0.5) - a_sub - shear
    coords = [(beta[1] + 1) * 40 / 2 - 0.5, (beta[0] + 1) * 48 / 2 - 0.5]
    for c in range(2):
        ref = scipy.ndimage.map_coordinates(src[c], coords, order=1, mode="grid-constant")
        np.testing.assert_allclose(img[c], ref, atol=1e-12)
    np.testing.assert_allclose(img, _np_bilinear(src, beta), atol=1e-12)
    # lensing moves surface brightness and never scales it: no value beyond the source's
    assert img[0].max() <= src[0].max() + 1e-15 and img[0].min() >= 0.0


def test_lens_image_mask_and_psf():
    src = jnp.asarray(_sources(1)[0])
    cfg = m.LensSimConfig(n_pix=N_SMALL, psf_sigma=0.0, subhalo="none")
    img, mask = m.lens_image(src, cfg, return_mask=True)
    img, mask = np.asarray(img), np.asarray(mask)
    np.testing.assert_array_equal(mask, img[0] < 0.1)
    assert np.all(img[1][mask] == 0.0) and mask.any() and not mask.all()
    blurred = np.asarray(m.lens_image(src, m.LensSimConfig(n_pix=N_SMALL, subhalo="none")))
    np.testing.assert_allclose(
        blurred, scipy.ndimage.gaussian_filter(img, (0, 1.0, 1.0), mode="reflect"), atol=1e-12
    )
    with pytest.raises(ValueError, match="key or a subhalo_position"):
        m.lens_image(src, m.LensSimConfig(n_pix=N_SMALL))


def test_add_noise_and_clip():
    img = jnp.asarray(np.stack([np.full((8, 8), 1.4), np.full((8, 8), -1.45)]))
    cfg = m.LensSimConfig(n_pix=8, flux_noise_sigma=1.0, vel_noise_sigma=1.0)
    out = np.asarray(m.add_noise_and_clip(img, jax.random.key(0), cfg))
    assert out[0].min() >= 0.0 and out[0].max() <= 1.5 and np.any(out[0] == 1.5)
    assert out[1].min() >= -1.5 and out[1].max() <= 1.5 and np.any(out[1] == -1.5)
    remask = m.LensSimConfig(n_pix=8, remask_after_noise=True)
    mask = jnp.asarray(np.arange(64).reshape(8, 8) % 2 == 0)
    out = np.asarray(m.add_noise_and_clip(img, jax.random.key(1), remask, mask))
    assert np.all(out[1][np.asarray(mask)] == 0.0) and np.all(out[1][~np.asarray(mask)] != 0.0)
    with pytest.raises(ValueError, match="vel_mask"):
        m.add_noise_and_clip(img, jax.random.key(1), remask)


# ------------------------------------------------------------------- simulate
def test_simulate_lensed_experiment_classes():
    """'lensed', clean: label 0 is the source itself, label 1 the SIS image."""
    src = jnp.asarray(_sources(1)[0])
    key = jax.random.key(7)
    img0, meta0 = m.simulate(key, src, CLEAN, 0, "lensed")
    img1, _ = m.simulate(key, src, CLEAN, 1, "lensed")
    np.testing.assert_allclose(np.asarray(img0), np.asarray(src), atol=1e-15)
    expected = m.lens_image(src, CLEAN, with_subhalo=False)
    np.testing.assert_allclose(np.asarray(img1), np.asarray(expected), atol=1e-15)
    assert not bool(meta0["has_subhalo"]) and np.isnan(float(meta0["subhalo_x"]))


def test_simulate_subhalo_experiment_uses_reported_position():
    src = jnp.asarray(_sources(1)[0])
    key = jax.random.key(11)
    img1, meta = m.simulate(key, src, CLEAN, 1, "subhalo")
    img0, meta0 = m.simulate(key, src, CLEAN, 0, "subhalo")
    assert bool(meta["has_subhalo"]) and not bool(meta0["has_subhalo"])
    pos = jnp.stack([meta["subhalo_x"], meta["subhalo_y"]])
    r = float(jnp.hypot(*pos))
    assert 0.5 * 1.1 - 1e-12 <= r <= 0.5 * 1.3 + 1e-12
    expected = m.lens_image(src, CLEAN, subhalo_position=pos)
    np.testing.assert_allclose(
        np.asarray(img1), np.clip(np.asarray(expected), -1.5, 1.5), atol=1e-15
    )
    smooth = m.lens_image(src, CLEAN, with_subhalo=False)
    np.testing.assert_allclose(np.asarray(img0), np.asarray(smooth), atol=1e-15)
    assert np.abs(np.asarray(img1) - np.asarray(img0)).max() > 0.05


def test_simulate_kinematic_shares_flux_channel():
    """'kinematic' with PSF and noise: same source and key -> identical flux channels,
    different velocity channels; the velocity mask follows the shared flux."""
    src = jnp.asarray(_sources(1)[0])
    key = jax.random.key(5)
    img0 = np.asarray(m.simulate(key, src, NOISY, 0, "kinematic")[0])
    img1 = np.asarray(m.simulate(key, src, NOISY, 1, "kinematic")[0])
    np.testing.assert_array_equal(img0[0], img1[0])
    assert np.abs(img0[1] - img1[1]).max() > 1e-2
    sub0 = np.asarray(m.simulate(key, src, NOISY, 0, "subhalo")[0])
    sub1 = np.asarray(m.simulate(key, src, NOISY, 1, "subhalo")[0])
    assert np.abs(sub0[0] - sub1[0]).max() > 1e-2  # flux differs in the 'subhalo' design
    np.testing.assert_allclose(sub0, img0, atol=1e-14)  # label 0: the same smooth image
    # clean run: the velocity of both classes is masked by the shared (smooth) flux
    clean = m.LensSimConfig(n_pix=N_SMALL, psf_sigma=0.0, flux_noise_sigma=0.0, vel_noise_sigma=0.0)
    k0 = np.asarray(m.simulate(key, src, clean, 0, "kinematic")[0])
    k1 = np.asarray(m.simulate(key, src, clean, 1, "kinematic")[0])
    low = k0[0] < 0.1
    assert low.any() and np.all(k0[1][low] == 0) and np.all(k1[1][low] == 0)


def test_simulate_remask_after_noise():
    src = jnp.asarray(_sources(1)[0])
    cfg = m.LensSimConfig(n_pix=N_SMALL, subhalo="none", remask_after_noise=True)
    img = np.asarray(m.simulate(jax.random.key(2), src, cfg, 1, "lensed")[0])
    _, mask = m.lens_image(src, cfg, return_mask=True)
    mask = np.asarray(mask)
    assert mask.any() and np.all(img[1][mask] == 0.0) and np.all(img[1][~mask] != 0.0)


def test_subhalo_none_gives_identical_classes():
    src = jnp.asarray(_sources(1)[0])
    cfg = m.LensSimConfig(n_pix=N_SMALL, subhalo="none")
    a, meta = m.simulate(jax.random.key(4), src, cfg, 1, "subhalo")
    b, _ = m.simulate(jax.random.key(4), src, cfg, 0, "subhalo")
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert not bool(meta["has_subhalo"])


# --------------------------------------------------------------- simulate_batch
def test_simulate_batch_shapes_dtypes_balance_float32():
    src = jnp.asarray(_sources(4), jnp.float32)
    images, labels, meta = m.simulate_batch(jax.random.key(0), src, NOISY, 400, "subhalo")
    assert images.shape == (400, 2, N_SMALL, N_SMALL) and images.dtype == jnp.float32
    assert labels.shape == (400,) and labels.dtype == jnp.int32
    assert set(meta) == set(m.METADATA_KEYS)
    for key in m.METADATA_KEYS:
        assert meta[key].shape == (400,)
    assert meta["subhalo_x"].dtype == jnp.float32 and meta["source_index"].dtype == jnp.int32
    labels = np.asarray(labels)
    np.testing.assert_array_equal(np.asarray(meta["label"]), labels)
    assert 0.4 < labels.mean() < 0.6  # binomial sd 0.025
    assert set(np.asarray(meta["source_index"]).tolist()) == {0, 1, 2, 3}
    np.testing.assert_array_equal(np.asarray(meta["has_subhalo"]), labels == 1)
    sx, sy = np.asarray(meta["subhalo_x"]), np.asarray(meta["subhalo_y"])
    assert np.all(np.isnan(sx[labels == 0]))
    r = np.hypot(sx[labels == 1], sy[labels == 1])
    assert r.min() >= 0.55 - 1e-6 and r.max() <= 0.65 + 1e-6
    img = np.asarray(images)
    assert np.all((img[:, 0] >= 0) & (img[:, 0] <= 1.5) & (np.abs(img[:, 1]) <= 1.5))


def _assert_trees_close(a, b, atol):
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), atol=atol, rtol=0)


def test_simulate_batch_deterministic_and_jit_equals_eager():
    src = jnp.asarray(_sources(3))
    key = jax.random.key(42)
    a = m.simulate_batch(key, src, NOISY, 3, "kinematic")
    b = m.simulate_batch(key, src, NOISY, 3, "kinematic")
    _assert_trees_close(a, b, atol=0)
    other = m.simulate_batch(jax.random.key(43), src, NOISY, 3, "kinematic")
    assert np.abs(np.asarray(other[0]) - np.asarray(a[0])).max() > 0.1
    with jax.disable_jit():  # eager: op by op (slow, so a small batch)
        eager = m.simulate_batch(key, src, NOISY, 3, "kinematic")
    _assert_trees_close(a, eager, atol=1e-12)


def test_simulate_and_lens_image_jit_equal_eager():
    src = jnp.asarray(_sources(1)[0])
    key = jax.random.key(8)
    pos = jnp.array([0.3, 0.5])
    jitted = (m.simulate(key, src, NOISY, 1, "subhalo"), m.lens_image(src, NOISY, key))
    jitted += (m.lens_image(src, CLEAN, subhalo_position=pos),)
    with jax.disable_jit():
        eager = (m.simulate(key, src, NOISY, 1, "subhalo"), m.lens_image(src, NOISY, key))
        eager += (m.lens_image(src, CLEAN, subhalo_position=pos),)
    _assert_trees_close(jitted, eager, atol=1e-12)


def test_simulate_batch_vmaps_over_keys():
    src = jnp.asarray(_sources(3))
    keys = jax.random.split(jax.random.key(9), 3)
    batched = jax.vmap(lambda k: m.simulate_batch(k, src, NOISY, 3, "kinematic"))(keys)
    assert batched[0].shape == (3, 3, 2, N_SMALL, N_SMALL) and batched[1].shape == (3, 3)
    single = m.simulate_batch(keys[1], src, NOISY, 3, "kinematic")
    _assert_trees_close(jax.tree.map(lambda x: x[1], batched), single, atol=1e-12)


def test_simulate_batch_lensed_classes_differ_clean():
    src = jnp.asarray(_sources(2))
    images, labels, meta = m.simulate_batch(jax.random.key(1), src, CLEAN, 16, "lensed")
    images, labels, idx = np.asarray(images), np.asarray(labels), np.asarray(meta["source_index"])
    for img, lab, i in zip(images, labels, idx, strict=True):
        if lab == 0:
            np.testing.assert_allclose(img, np.asarray(src[i]), atol=1e-15)
        else:
            assert np.abs(img - np.asarray(src[i])).max() > 0.1


@pytest.mark.parametrize("chunk_size", [None, 4])
def test_simulate_many_equals_simulate_batch(chunk_size):
    """The chunked host-side generator gives simulate_batch's images for the same key
    (7 images in chunks of 4: the last chunk padded)."""
    src = jnp.asarray(_sources(3), jnp.float32)
    key = jax.random.key(11)
    images, labels, meta = m.simulate_batch(key, src, NOISY, 7, "subhalo")
    many = m.simulate_many(key, src, NOISY, 7, "subhalo", chunk_size=chunk_size,
                           progress=False)
    assert isinstance(many[0], np.ndarray) and many[0].dtype == np.float32
    np.testing.assert_allclose(many[0], np.asarray(images), atol=1e-6, rtol=0)
    np.testing.assert_array_equal(many[1], np.asarray(labels))
    for k in m.METADATA_KEYS:
        np.testing.assert_array_equal(np.asarray(many[2][k]), np.asarray(meta[k]))


def test_simulate_many_bad_input_named():
    src = jnp.asarray(_sources(2), jnp.float32)
    with pytest.raises(ValueError, match=r"n must be an int >= 1, got 0"):
        m.simulate_many(jax.random.key(0), src, NOISY, 0)
    with pytest.raises(ValueError, match=r"sources must have shape \(S, 2, H, W\)"):
        m.simulate_many(jax.random.key(0), src[0], NOISY, 3)


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"subhalo": "nfw"}, "subhalo"),
        ({"psf_sigma": -1.0}, "psf_sigma"),
        ({"n_pix": 3}, "n_pix"),
        ({"n_pix": 64.0}, "n_pix"),
        ({"n_pix": True}, "n_pix"),
        ({"psf_edge": "wrap"}, "psf_edge"),
        ({"theta_E_main": 0.0}, "theta_E_main"),
        ({"theta_E_main": float("nan")}, "theta_E_main"),
        ({"theta_E_sub_factor": -0.1}, "theta_E_sub_factor"),
        ({"sub_radius_range": (0.3, 0.1)}, "sub_radius_range"),
        ({"sub_radius_range": (0.1,)}, "sub_radius_range"),
        ({"tnfw_r_t": -0.2}, "tnfw_r_t"),
        ({"flux_noise_sigma": -0.1}, "flux_noise_sigma"),
        ({"vel_clip": (1.0, -1.0)}, "vel_clip"),
        ({"remask_after_noise": 1}, "remask_after_noise"),
        ({"pixel_scale": 0.0}, "pixel_scale"),
        ({"shear_gamma1": "0.1"}, "shear_gamma1"),
    ],
)
def test_config_rejects_bad_fields(kwargs, field):
    with pytest.raises(ValueError, match=field):
        m.LensSimConfig(**kwargs)


def test_config_is_hashable_and_normalised():
    a = m.LensSimConfig(sub_radius_range=[0.1, 0.3], n_pix=np.int64(64), psf_sigma=1)
    b = m.LensSimConfig()
    assert a == b and hash(a) == hash(b) and a.sub_radius_range == (0.1, 0.3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        b.n_pix = 32


def test_bad_sources_experiment_and_n():
    src = jnp.asarray(_sources(2))
    key = jax.random.key(0)
    for bad in (src[0], src[:, :1], jnp.zeros((2, 3, N_SMALL, N_SMALL)), src.astype(jnp.int32)):
        with pytest.raises(ValueError, match="sources"):
            m.simulate_batch(key, bad, NOISY, 4)
    with pytest.raises(ValueError, match="experiment"):
        m.simulate_batch(key, src, NOISY, 4, "lensing")
    with pytest.raises(ValueError, match="experiment"):
        m.simulate(key, src[0], NOISY, 1, "subhalos")
    with pytest.raises(ValueError, match="source"):
        m.simulate(key, src, NOISY, 1)
    for n in (0, 2.0):
        with pytest.raises(ValueError, match="n must"):
            m.simulate_batch(key, src, NOISY, n)
    with pytest.raises(ValueError, match="sigma"):
        m.gaussian_blur(src[0], -1.0)
    with pytest.raises(ValueError, match="edge"):
        m.gaussian_blur(src[0], 1.0, "wrap")
