"""Tests of the lens physics (jaxfit.lensing.model) against analytic results and
independent numpy/scipy references, with the tolerance written in each test (float64 unless stated).

Named references:
- SIS (analytic): alpha = theta_E (theta - c)/|theta - c|, Jacobian theta_E (I - n n^T)/r;
  the source-plane origin maps onto the Einstein ring |theta| = theta_E.
- truncated NFW: Baltz, Marshall & Oguri 2009 (JCAP 01, 015), n = 1 truncation; the closed
  forms are re-implemented here in plain numpy (straight from the paper's expressions), the
  convergence is checked against a line-of-sight integral of the 3-D density
  (scipy.integrate.quad) and the deflection against ``(2/R) int_0^R kappa r dr`` (quad).
- external shear: alpha = (g1 x + g2 y, g2 x - g1 y).
- lensing conserves surface brightness: each lensed pixel is the source's value at beta,
  sampled by scipy.ndimage.map_coordinates(order=1, mode="grid-constant") and a numpy
  bilinear interpolation written here.
"""

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
from jaxfit.lensing.params import LensSimConfig
from jaxfit.lensing.simulate import lens_image

RNG = np.random.default_rng(20251201)
QUAD = {"epsabs": 0.0, "epsrel": 1e-12, "limit": 200}

# the building blocks, jitted here (one compilation per shape instead of one per primitive)
_sis = jax.jit(m.sis_deflection)
_tnfw = jax.jit(m.tnfw_deflection)
_tnfw_kappa = jax.jit(m.tnfw_convergence)


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


def test_image_grid_pixel_centres():
    theta = np.asarray(m.image_grid(4))
    centres = np.array([-0.75, -0.25, 0.25, 0.75])
    assert theta.shape == (2, 4, 4)
    np.testing.assert_array_equal(theta[0], np.broadcast_to(centres, (4, 4)))  # x along columns
    np.testing.assert_array_equal(theta[1], np.broadcast_to(centres[:, None], (4, 4)))
    assert m.image_grid(8, jnp.float32).dtype == jnp.float32
    cfg = LensSimConfig(n_pix=50, pixel_scale=3.0)
    assert cfg.pixel_size == pytest.approx(0.04) and cfg.pixel_size_arcsec == pytest.approx(0.12)


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
    cfg = LensSimConfig(theta_E_main=0.5)

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
    cfg = LensSimConfig(n_pix=n, subhalo="none", psf_sigma=0.0, theta_E_main=theta_E)
    flux = np.asarray(lens_image(source, cfg))[0]
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
    cfg = LensSimConfig(subhalo="tnfw", theta_E_sub_factor=0.1, tnfw_r_s=0.05, tnfw_r_t=0.2)
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


def test_subhalo_position_on_the_arc():
    cfg = LensSimConfig(theta_E_main=0.5, sub_radius_range=(0.1, 0.3))
    keys = jax.random.split(jax.random.key(3), 4000)
    pos = np.asarray(jax.vmap(lambda k: m.draw_subhalo_position(k, cfg))(keys))
    r = np.hypot(pos[:, 0], pos[:, 1])
    assert r.min() >= 0.5 * 1.1 - 1e-12 and r.max() <= 0.5 * 1.3 + 1e-12
    assert r.min() < 0.56 and r.max() > 0.64  # the range is filled
    phi = np.arctan2(pos[:, 1], pos[:, 0])
    assert abs(np.mean(np.cos(phi))) < 0.05 and abs(np.mean(np.sin(phi))) < 0.05  # uniform


@pytest.mark.parametrize("subhalo", ["sis", "tnfw"])
def test_surface_brightness_is_conserved_pixel_by_pixel(subhalo, disc_sources, np_bilinear):
    """No PSF/noise/mask: each lensed pixel equals the source value at beta(theta), with beta
    from the numpy formulae (SIS + subhalo + shear) and scipy bilinear sampling (1e-12)."""
    cfg = LensSimConfig(
        n_pix=32,
        subhalo=subhalo,
        theta_E_sub_factor=0.3,
        shear_gamma1=0.05,
        shear_gamma2=-0.02,
        psf_sigma=0.0,
        flux_mask_threshold=0.0,
    )
    src = disc_sources(1, 40, 48)[0]  # the source grid need not match the image grid
    pos = np.array([0.45, -0.38])
    img = np.asarray(lens_image(jnp.asarray(src), cfg, subhalo_position=jnp.asarray(pos)))
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
    np.testing.assert_allclose(img, np_bilinear(src, beta), atol=1e-12)
    # lensing moves surface brightness and never scales it: no value beyond the source's
    assert img[0].max() <= src[0].max() + 1e-15 and img[0].min() >= 0.0
