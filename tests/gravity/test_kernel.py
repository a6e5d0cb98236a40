"""Tests of jaxfit.gravity.kernel (the theory kernel) against independent numpy/scipy
evaluations of the spec's formulas, closed-form limits, finite differences and jit/vmap invariance.

Named references:
- K0 (trapezoid rule): np.trapezoid over ln lambda of P C_res C_coh W_geom, written out below.
- K0 (Gauss-Legendre): scipy.integrate.quad over ln lambda with breakpoints at ln R (kink of
  W_geom) and ln 2 pi R (resonance peak).
- C_res: 1 at lambda_m = 2 pi R; 1/2 where |x - 1/x| = Q, x = lambda / lambda_m, i.e. at
  x = (+-Q + sqrt(Q^2 + 4)) / 2, a full width of 2 asinh(Q/2) in ln lambda.
- g_bar: astropy units, (km/s)^2 / kpc -> m/s^2.
- v_flat: a numpy loop, np.median of the last 5 valid v_bar of each galaxy.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.integrate

import jaxfit  # noqa: F401  (switches on float64)
from jaxfit.gravity import empirical as ge
from jaxfit.gravity import kernel as gk
from jaxfit.gravity import params as gp
from jaxfit.gravity import rotation as gr

TRAPEZOID = gk.KernelConfig(rule="trapezoid")


RESEARCH = gk.KernelConfig(normalization="research", burr=False)


# a point away from the defaults, inside the MW-fit bounds
THETA = {
    "A_global": 1.3,
    "alpha": 2.0,
    "lam_coh": 8.0,
    "lam_cut": 200.0,
    "burr_ell0": 10.0,
    "Q_ref": 1.5,
}


RADII = np.array([0.3, 1.0, 3.0, 8.0, 15.0, 40.0, 120.0])


SIGMAS = np.array([10.0, 30.0, 1000.0])


def _rel(actual, expected):
    actual, expected = np.asarray(actual, dtype=float), np.asarray(expected, dtype=float)
    return float(np.max(np.abs(actual / expected - 1.0)))


def _ref_integrand(lam, R, sigma_v, theta, lam_min=0.1, v_ref=200.0):
    """P C_res C_coh W_geom from the spec, with W_geom as its two branches."""
    P = (lam_min / lam) ** theta["alpha"] * np.exp(-lam / theta["lam_cut"])
    Q = (v_ref / sigma_v) / theta["Q_ref"]
    lam_m = 2 * np.pi * R
    C_res = Q**2 / (Q**2 + (lam / lam_m - lam_m / lam) ** 2)
    C_coh = np.exp(-((lam / theta["lam_coh"]) ** 2))
    W = np.where(lam < R, 1.0, (R / np.maximum(lam, R)) ** 2)
    return P * C_res * C_coh * W


def _ref_K0_trapezoid(R, sigma_v, theta, n=400):
    lam = np.logspace(np.log10(0.1), np.log10(500.0), n)
    return np.trapezoid(_ref_integrand(lam, R, sigma_v, theta), np.log(lam))


def _ref_K0_quad(R, sigma_v, theta):
    a, b = math.log(0.1), math.log(500.0)
    points = [p for p in (math.log(R), math.log(2 * math.pi * R)) if a < p < b]
    value, _ = scipy.integrate.quad(
        lambda t: _ref_integrand(math.exp(t), R, sigma_v, theta),
        a,
        b,
        points=points,
        epsabs=0.0,
        epsrel=1e-13,
        limit=500,
    )
    return value


@pytest.mark.parametrize("theta", [dict(gp.THEORY_DEFAULTS), THETA], ids=["defaults", "theta"])
def test_K0_trapezoid_matches_numpy_trapezoid(theta):
    K0 = gk.kernel_K0(RADII, SIGMAS[:, None], theta, TRAPEZOID)
    expected = [[_ref_K0_trapezoid(R, s, theta) for R in RADII] for s in SIGMAS]
    assert _rel(K0, expected) < 1e-12


def test_K0_gauss_legendre_converged_in_n_lambda():
    K0 = gk.kernel_K0(RADII, SIGMAS[:, None], {})
    doubled = gk.kernel_K0(RADII, SIGMAS[:, None], {}, gk.KernelConfig(n_lambda=800))
    assert _rel(K0, doubled) < 1e-8


@pytest.mark.parametrize(
    "theta, sigma_v",
    [
        (dict(gp.THEORY_DEFAULTS), 30.0),
        (THETA, 25.0),
        # narrow cluster resonance, Q = (200/1000)/5 = 0.04
        ({**THETA, "Q_ref": 5.0, "alpha": -1.0}, 1000.0),
    ],
    ids=["defaults", "theta", "narrow"],
)
def test_K0_gauss_legendre_matches_scipy_quad(theta, sigma_v):
    K0 = gk.kernel_K0(RADII, sigma_v, theta)
    expected = [_ref_K0_quad(R, sigma_v, theta) for R in RADII]
    assert _rel(K0, expected) < 1e-8


@pytest.mark.parametrize("Q", [0.04, 1.0, 6.67])
def test_resonance_peak_and_half_maximum(Q):
    R = 3.0
    lam_m = 2 * np.pi * R
    assert float(gk.resonance_C_res(lam_m, R, Q)) == pytest.approx(1.0, abs=1e-15)
    nearby = gk.resonance_C_res(lam_m * np.array([0.999, 1.001]), R, Q)
    assert np.all(np.asarray(nearby) < 1.0)
    x = (np.array([-Q, Q]) + np.sqrt(Q**2 + 4)) / 2  # |x - 1/x| = Q
    np.testing.assert_allclose(gk.resonance_C_res(lam_m * x, R, Q), 0.5, rtol=1e-13)
    # full width at half maximum in ln lambda: 2 asinh(Q/2)
    assert np.log(x[1] / x[0]) == pytest.approx(2 * np.arcsinh(Q / 2), rel=1e-13)


def test_geometry_coherence_and_burr_limits():
    R = 4.0
    lam = np.array([0.5, 2.0, 3.999])
    np.testing.assert_array_equal(gk.geometry_W(R, lam), 1.0)
    far = np.array([4.001, 10.0, 300.0])
    np.testing.assert_allclose(gk.geometry_W(R, far), (R / far) ** 2, rtol=1e-15)
    assert float(gk.geometry_W(R, R)) == 1.0  # continuous at lambda = R
    assert float(gk.geometry_W(R, R * (1 + 1e-9))) == pytest.approx(1.0, abs=3e-9)

    assert float(gk.coherence_C_coh(0.0, 5.0)) == 1.0
    assert float(gk.coherence_C_coh(5.0, 5.0)) == pytest.approx(math.exp(-1.0), rel=1e-15)

    assert float(gk.burr_envelope(0.0, 5.0, 0.757, 0.5)) == 0.0
    assert float(gk.burr_envelope(1e12, 5.0, 0.757, 0.5)) == pytest.approx(1.0, abs=1e-4)
    # at R = ell0: 1 - 2^-n
    assert float(gk.burr_envelope(5.0, 5.0, 0.757, 0.5)) == pytest.approx(1 - 2**-0.5, rel=1e-15)


def test_spectrum_is_one_at_lam_ref_without_cut():
    assert float(gk.spectrum_P(0.1, 3.5, np.inf, 0.1)) == 1.0
    assert float(gk.spectrum_P(1.0, 2.0, 300.0, 0.1)) == pytest.approx(
        0.01 * math.exp(-1.0 / 300.0), rel=1e-15
    )


def test_reference_normalisation_independent_of_other_radii():
    fixed = np.array([2.0, 9.0, 14.0])
    alone = gk.theory_kernel(fixed, 30.0, THETA)
    mixed = gk.theory_kernel(np.array([0.2, 2.0, 5.0, 9.0, 14.0, 60.0]), 30.0, THETA)
    assert _rel(np.asarray(mixed)[[1, 3, 4]], alone) < 1e-14


def test_research_normalisation_depends_on_radii_and_reaches_A_global():
    theta = {**THETA, "A_global": -2.5}
    fixed = np.array([2.0, 9.0, 14.0])
    alone = np.asarray(gk.theory_kernel(fixed, 30.0, theta, RESEARCH))
    wider = np.asarray(gk.theory_kernel(np.array([0.3, 2.0, 9.0, 14.0]), 30.0, theta, RESEARCH))
    assert _rel(wider[1:], alone) > 0.1  # the research kernel moves with the grid
    assert np.max(np.abs(alone)) == pytest.approx(2.5, rel=1e-15)
    assert np.max(np.abs(wider)) == pytest.approx(2.5, rel=1e-15)


def test_phase_sign_flips_kernel():
    plus = gk.theory_kernel(RADII, 30.0, THETA)
    minus = gk.theory_kernel(RADII, 30.0, THETA, phase_sign=-1.0)
    np.testing.assert_array_equal(minus, -np.asarray(plus))


def _padded_batch():
    counts = [5, 2, 4]
    radii = [np.geomspace(0.5, 20.0, c) for c in counts]
    R = np.zeros((3, 6))
    R[1, :] = np.nan  # padding may hold anything
    mask = np.zeros((3, 6), dtype=bool)
    for g, r in enumerate(radii):
        R[g, : len(r)], mask[g, : len(r)] = r, True
    sigma = np.array([[20.0], [30.0], [45.0]])
    return R, mask, sigma, radii


@pytest.mark.parametrize("config", [gk.DEFAULT_CONFIG, RESEARCH], ids=["reference", "research"])
def test_padded_batch_equals_per_galaxy(config):
    R, mask, sigma, radii = _padded_batch()
    batch = np.asarray(gk.theory_kernel(R, sigma, THETA, config, mask=mask))
    assert np.all(batch[~mask] == 0.0)
    for g, r in enumerate(radii):
        single = gk.theory_kernel(r, sigma[g, 0], THETA, config)
        assert _rel(batch[g, : len(r)], single) < 1e-13
    grad = jax.grad(lambda th: gk.theory_kernel(R, sigma, th, config, mask=mask).sum())(THETA)
    assert all(np.isfinite(float(v)) for v in grad.values())


def test_vmap_over_parameter_sets_equals_loop():
    alphas = jnp.array([1.0, 2.5, 4.0])
    batched = jax.vmap(lambda a: gk.theory_kernel(RADII, 30.0, {**THETA, "alpha": a}))(alphas)
    for i, a in enumerate(alphas):
        single = gk.theory_kernel(RADII, 30.0, {**THETA, "alpha": float(a)})
        assert _rel(batched[i], single) < 1e-13


@pytest.mark.parametrize("config", [gk.DEFAULT_CONFIG, RESEARCH], ids=["reference", "research"])
def test_theory_gradients_match_central_differences(config):
    R = np.array([1.0, 6.0, 14.0])
    weights = np.array([0.7, -1.1, 2.0])

    def loss(theta):
        return jnp.sum(weights * gk.theory_kernel(R, 30.0, theta, config))

    grad = jax.grad(loss)({k: jnp.asarray(v) for k, v in THETA.items()})
    for name, value in THETA.items():
        h = 1e-5 * value
        fd = (loss({**THETA, name: value + h}) - loss({**THETA, name: value - h})) / (2 * h)
        if name == "burr_ell0" and not config.burr:
            assert float(grad[name]) == 0.0
            continue
        assert float(grad[name]) == pytest.approx(float(fd), rel=1e-6), name


def _autodiff_K0(R, sigma_v, theta, config):
    """The Gauss-Legendre panel sum of the module doc in plain jnp, differentiated by JAX's
    autodiff through every node (the model's K0 has a hand-written derivative)."""
    a, b = math.log(config.lam_min), math.log(config.lam_max)
    Q = gk.resonance_quality(sigma_v, theta["Q_ref"], config.v_ref)
    R, Q = jnp.broadcast_arrays(jnp.asarray(R), Q)
    ln_R, ln_m = jnp.log(R), jnp.log(2 * jnp.pi * R)
    edges = jnp.clip(jnp.stack([jnp.full_like(R, a), jnp.minimum(ln_R, ln_m - Q),
                                jnp.maximum(ln_R, ln_m - Q), ln_m, ln_m + Q,
                                jnp.full_like(R, b)], -1), a, b)
    x, w = np.polynomial.legendre.leggauss(-(-config.n_lambda // gk.GL_PANELS))
    lo, hi = edges[..., :-1, None], edges[..., 1:, None]
    t = (0.5 * (hi + lo) + 0.5 * (hi - lo) * x).reshape(R.shape + (-1,))
    weights = (0.5 * (hi - lo) * w).reshape(R.shape + (-1,))
    lam, R_, Q_ = jnp.exp(t), R[..., None], Q[..., None]
    f = (gk.spectrum_P(lam, theta["alpha"], theta["lam_cut"], config.lam_min)
         * gk.resonance_C_res(lam, R_, Q_) * gk.coherence_C_coh(lam, theta["lam_coh"])
         * gk.geometry_W(R_, lam))
    return jnp.sum(weights * f, axis=-1)


@pytest.mark.parametrize("sigma_v", [10.0, 25.0, 1000.0])
def test_K0_derivatives_equal_autodiff_through_the_nodes(sigma_v):
    """K0's derivatives come from one pass over the nodes (a custom JVP, nodes and weights
    moving with the panel edges); they equal autodiff through the quadrature sum, in the
    parameters, the radii and sigma_v, and so does the Hessian (forward over reverse)."""
    config = gk.KernelConfig(n_lambda=200)
    R = jnp.asarray(np.geomspace(0.15, 300.0, 40))
    weights = jnp.sin(jnp.arange(40.0))
    names = ("alpha", "lam_coh", "lam_cut", "Q_ref")

    def loss(kernel):
        return lambda th, r, s: jnp.sum(weights * kernel(r, s, th, config))

    for theta in (dict(gp.THEORY_DEFAULTS), THETA):
        theta = {k: jnp.asarray(theta[k]) for k in names}
        ours = jax.grad(loss(gk.kernel_K0), argnums=(0, 1, 2))(theta, R, sigma_v)
        ref = jax.grad(loss(_autodiff_K0), argnums=(0, 1, 2))(theta, R, sigma_v)
        for name in names:
            assert float(ours[0][name]) == pytest.approx(float(ref[0][name]), rel=1e-10), name
        np.testing.assert_allclose(ours[1], ref[1], rtol=1e-10, atol=1e-14)
        assert float(ours[2]) == pytest.approx(float(ref[2]), rel=1e-10)
        h_ours = jax.hessian(loss(gk.kernel_K0))(theta, R, sigma_v)
        h_ref = jax.hessian(loss(_autodiff_K0))(theta, R, sigma_v)
        for i in names:
            for j in names:
                assert float(h_ours[i][j]) == pytest.approx(float(h_ref[i][j]), rel=1e-8,
                                                            abs=1e-12), (i, j)


def _node_sums_reference(R, Q, alpha, lam_cut, lam_coh, config, wrt):
    """The node sums of kernel._node_sums written as one (radii x panels x nodes) array from
    the spec's integrand and the log-derivatives of :func:`gk._log_derivatives` (the form of
    the loop before it was rewritten in s = x^2 with one division per node)."""
    panels = gk._gl_panels(R, Q, config)
    x, w = (jnp.asarray(v) for v in gk.gauss_legendre(-(-config.n_lambda // gk.GL_PANELS)))
    mid, half = panels["mid"][..., None], panels["half"][..., None]
    t = mid + half * x
    args = tuple(v[..., None, None] for v in (R, Q, alpha, lam_cut, lam_coh))
    lam, f = gk._integrand(t, *args, config)
    d = gk._log_derivatives(t, lam, *args, config)
    wf = half * w * f
    out = {"K0": jnp.sum(wf, axis=(-2, -1))}
    for name in wrt:
        term = wf * d[name]
        if name in ("Q", "R"):
            key = "Q" if name == "Q" else "ln_R"
            d_mid, d_half = panels[f"mid_{key}"][..., None], panels[f"half_{key}"][..., None]
            term = term + wf * d["t"] * (d_mid + d_half * x) + f * d_half * w
        out[name] = jnp.sum(term, axis=(-2, -1))
    return out


@pytest.mark.parametrize("sigma_v", [10.0, 25.0, 1000.0])
@pytest.mark.parametrize("theta", [dict(gp.THEORY_DEFAULTS), THETA,
                                   {"alpha": -2.0, "lam_coh": 150.0, "lam_cut": 79.0,
                                    "Q_ref": 5.3}])
def test_node_loop_equals_the_integrand_sums(theta, sigma_v):
    """The node loop (two exponentials and one division per node, C_res and the
    log-derivatives written in s = (lambda/lambda_m)^2) gives the sums of the spec's
    integrand and its log-derivatives to 1e-12 relative, value and every derivative."""
    config = gk.KernelConfig(n_lambda=200)
    R = jnp.asarray(np.geomspace(0.08, 400.0, 37))
    Q = jnp.full_like(R, gk.resonance_quality(sigma_v, theta["Q_ref"], config.v_ref))
    args = (R, Q, *(jnp.full_like(R, theta[k]) for k in ("alpha", "lam_cut", "lam_coh")))
    ours = gk._node_sums(*args, config, wrt=gk.DERIVATIVES)
    ref = _node_sums_reference(*args, config, gk.DERIVATIVES)
    for name, value in ref.items():
        scale = jnp.max(jnp.abs(value))
        np.testing.assert_allclose(ours[name], value, rtol=1e-12, atol=1e-12 * scale,
                                   err_msg=name)


def test_odd_number_of_radii_padded_same_values_and_gradients():
    """The node loop runs over a multiple of NODE_BLOCK radii (an odd count was 4-10x
    slower per radius on XLA:CPU): the padding changes no value or gradient, whatever the
    shape (scalar, odd 1-D, 2-D)."""
    R = np.geomspace(0.1, 80.0, 2 * gk.NODE_BLOCK)
    theta = {k: jnp.asarray(v) for k, v in THETA.items()}
    names = ("alpha", "lam_coh", "lam_cut", "Q_ref")

    def loss(th, r):
        return jnp.sum(jnp.sin(r) * gk.kernel_K0(r, 25.0, th))

    whole = gk.kernel_K0(R, 25.0, THETA)  # a multiple of NODE_BLOCK: no padding
    for n in (1, 3, gk.NODE_BLOCK + 1, 2 * gk.NODE_BLOCK - 1):
        np.testing.assert_allclose(gk.kernel_K0(R[:n], 25.0, THETA), whole[:n], rtol=1e-14)
        g_part = jax.grad(loss)(theta, jnp.asarray(R[:n]))
        g_ref = jax.grad(lambda th, n=n: jnp.sum(jnp.sin(R[:n]) * gk.kernel_K0(
            R, 25.0, th)[:n]))(theta)
        for name in names:
            assert float(g_part[name]) == pytest.approx(float(g_ref[name]), rel=1e-13), name
    assert gk.kernel_K0(R[3], 25.0, THETA).shape == ()
    np.testing.assert_allclose(gk.kernel_K0(R[3], 25.0, THETA), whole[3], rtol=1e-14)
    grid = R[:15].reshape(3, 5)
    np.testing.assert_allclose(gk.kernel_K0(grid, 25.0, THETA), whole[:15].reshape(3, 5),
                               rtol=1e-14)


def test_jit_equals_eager():
    R, mask, sigma, _ = _padded_batch()
    R0 = np.where(mask, R, 1.0)
    cases = [
        (gk.theory_kernel, (R, sigma, THETA), {"mask": mask}),
        (ge.empirical_multiplier, (R0, dict(gp.RESEARCH_MW_EMPIRICAL)), {"sigma": sigma}),
        (ge.sigma_gravity_kernel, (R0, ge.g_bar_si(150.0, R0)), {}),
        (gr.sigma_gate, (R0 * 10.0, mask, sigma[:, 0]), {}),
    ]
    for fn, args, kwargs in cases:
        eager = fn(*args, **kwargs)
        jitted = jax.jit(lambda *a, fn=fn, kw=kwargs: fn(*a, **kw))(*args)
        np.testing.assert_allclose(jitted, eager, rtol=1e-14, atol=0.0, err_msg=fn.__name__)


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"rule": "simpson"}, "rule"),
        ({"n_lambda": 1}, "n_lambda"),
        ({"n_lambda": 400.0}, "n_lambda"),
        ({"lam_min": 500.0, "lam_max": 0.1}, "lam_min"),
        ({"normalization": "max"}, "normalization"),
        ({"ref_r_min": 0.0}, "ref_r_min"),
        ({"v_ref": -1.0}, "v_ref"),
        ({"burr_p": math.nan}, "burr_p"),
        ({"n_ref": 0}, "n_ref"),
        ({"burr": 1}, "burr"),
    ],
)
def test_bad_config_names_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        gk.KernelConfig(**kwargs)


def test_unknown_parameter_names_raise():
    with pytest.raises(ValueError, match="lam_coherence"):
        gk.theory_kernel(RADII, 30.0, {"alpha": 2.0, "lam_coherence": 5.0})
    with pytest.raises(ValueError, match="lam_coherence"):
        gk.kernel_K0(RADII, 30.0, {"lam_coherence": 5.0})
    with pytest.raises(ValueError, match="amplitude"):
        ge.empirical_multiplier(RADII, {"amplitude": 2.0})


def test_float32_input_refused():
    with pytest.raises(TypeError, match="R"):
        gk.theory_kernel(np.asarray(RADII, dtype=np.float32), 30.0, {})
