"""Tests of jaxfit.core.quadrature against closed forms and scipy.integrate."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.integrate

import jaxfit  # noqa: F401  (switches on float64)
from jaxfit.core import quadrature as q


def _rel(actual, expected):
    return abs(float(actual) - float(expected)) / abs(float(expected))


# ------------------------------------------------------------------ Gauss-Legendre exactness
@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 16])
def test_gl_exact_for_polynomials_of_degree_2n_minus_1(n):
    # reference: the analytic antiderivative (numpy Polynomial.integ). Positive coefficients
    # on a positive interval keep the terms from cancelling, so 1e-13 relative measures the
    # rule and not the conditioning of the sum.
    rng = np.random.default_rng(1234 + n)
    coef = rng.uniform(0.5, 1.5, size=2 * n)  # degree 2n - 1
    a, b = 0.3, 1.7
    anti = np.polynomial.Polynomial(coef).integ()
    expected = anti(b) - anti(a)
    got = q.integrate(lambda x: jnp.polyval(coef[::-1], x), a, b, n=n)
    assert _rel(got, expected) < 1e-13


def test_gl_not_exact_beyond_degree_2n_minus_1():
    # the degree bound is sharp: x^6 with 3 nodes on [-1, 1] misses 2/7 by > 1e-3
    got = q.integrate(lambda x: x**6, -1.0, 1.0, n=3)
    assert _rel(got, 2.0 / 7.0) > 1e-3


def test_gauss_legendre_nodes_are_cached_and_read_only():
    nodes, weights = q.gauss_legendre(7)
    assert q.gauss_legendre(7)[0] is nodes
    assert abs(weights.sum() - 2.0) < 1e-14  # reference: length of [-1, 1]
    with pytest.raises(ValueError):
        nodes[0] = 0.0


# ------------------------------------------------------------------ closed forms
def test_exp_on_0_3():
    # reference: e^3 - 1; tolerance 1e-13 relative
    assert _rel(q.integrate(jnp.exp, 0.0, 3.0), np.expm1(3.0)) < 1e-13


def test_inverse_x_on_log_axis():
    # reference: ln(1e3 / 1e-3); in t = ln x the integrand is exactly 1. Tolerance 1e-13.
    got = q.integrate(lambda x: 1.0 / x, 1e-3, 1e3, log=True)
    assert _rel(got, np.log(1e6)) < 1e-13


def test_log_x_on_log_axis():
    # reference: [x ln x - x] from 1e-3 to 1e3; tolerance 1e-12 relative
    def anti(x):
        return x * np.log(x) - x

    got = q.integrate(jnp.log, 1e-3, 1e3, log=True)
    assert _rel(got, anti(1e3) - anti(1e-3)) < 1e-12


def test_power_law_on_log_axis_with_panels():
    # reference: int x^-2.5 dx = [x^-1.5 / -1.5]; integrand spans 15 decades. 1e-12 relative.
    a, b = 1e-3, 1e3
    expected = (a**-1.5 - b**-1.5) / 1.5
    got = q.integrate(lambda x: x**-2.5, a, b, log=True, n=16, panels=4)
    assert _rel(got, expected) < 1e-12


# ------------------------------------------------------------------ panels
def test_panels_agree_with_single_high_order_rule():
    # reference: a single 128-node rule on a smooth integrand; tolerance 1e-13 relative
    def f(x):
        return jnp.sin(3.0 * x) * jnp.exp(-0.3 * x)

    single = q.integrate(f, 0.0, 10.0, n=128)
    paneled = q.integrate(f, 0.0, 10.0, n=16, panels=8)
    assert _rel(paneled, single) < 1e-13
    x, w = q.gl_rule(0.0, 10.0, 16, panels=8)
    assert x.shape == w.shape == (128,)


def test_panel_edge_on_kink_is_exact():
    # reference: int_0^1 |x - 0.3| dx = (0.3^2 + 0.7^2) / 2. With an edge on the kink each
    # panel integrates a linear function, so 1e-14; without it one rule is far worse.
    expected = (0.3**2 + 0.7**2) / 2.0
    x, w = q.gl_panels(np.array([0.0, 0.3, 1.0]), 4)
    assert _rel(jnp.sum(w * jnp.abs(x - 0.3)), expected) < 1e-14
    assert _rel(q.integrate(lambda x: jnp.abs(x - 0.3), 0.0, 1.0, n=8), expected) > 1e-4


def test_gl_panels_log_matches_gl_rule_log():
    # reference: gl_rule with panels equal in ln x has edges at 1e-2, 1, 1e2; 1e-14 relative
    x1, w1 = q.gl_panels(np.array([1e-2, 1.0, 1e2]), 12, log=True)
    x2, w2 = q.gl_rule(1e-2, 1e2, 12, log=True, panels=2)
    np.testing.assert_allclose(x1, x2, rtol=1e-14)
    np.testing.assert_allclose(w1, w2, rtol=1e-14)


# ------------------------------------------------------------------ sampled rules vs scipy
@pytest.fixture
def samples():
    rng = np.random.default_rng(7)
    x = np.sort(rng.uniform(0.0, 2.0, size=21))  # odd count, non-uniform
    y = np.stack([np.sin(x), np.exp(-x) * x**2, 1.0 / (1.0 + x)])  # shape (3, 21)
    return x, y


@pytest.mark.parametrize("name", ["simpson", "trapezoid"])
def test_sampled_rules_equal_scipy(samples, name):
    # reference: scipy.integrate.simpson / trapezoid on the same samples; 1e-12 relative
    x, y = samples
    ours, ref = getattr(q, name), getattr(scipy.integrate, name)
    np.testing.assert_allclose(ours(y, x), ref(y, x=x), rtol=1e-12)
    np.testing.assert_allclose(ours(y.T, x, axis=0), ref(y.T, x=x, axis=0), rtol=1e-12)
    x_full = np.broadcast_to(x, y.shape)
    np.testing.assert_allclose(ours(y, x_full), ref(y, x=x_full), rtol=1e-12)


@pytest.mark.parametrize("name", ["simpson", "trapezoid"])
@pytest.mark.parametrize("log", [False, True])
def test_integrate_sampled_rules_equal_scipy(name, log):
    # reference: scipy on the same grid (evenly spaced in x, or in t = ln x with the x dt
    # Jacobian); 1e-12 relative
    a, b, n = 0.5, 4.0, 31
    got = q.integrate(jnp.sqrt, a, b, n=n, rule=name, log=log)
    if log:
        t = np.linspace(np.log(a), np.log(b), n)
        expected = getattr(scipy.integrate, name)(np.sqrt(np.exp(t)) * np.exp(t), x=t)
    else:
        x = np.linspace(a, b, n)
        expected = getattr(scipy.integrate, name)(np.sqrt(x), x=x)
    assert _rel(got, expected) < 1e-12


def test_integrate_trailing_axes_componentwise():
    # reference: the two components integrated separately; 1e-14 relative
    got = q.integrate(lambda x: jnp.stack([jnp.exp(x), jnp.cos(x)], axis=-1), 0.0, 3.0)
    assert got.shape == (2,)
    assert _rel(got[0], np.expm1(3.0)) < 1e-13
    assert _rel(got[1], np.sin(3.0)) < 1e-13


# ------------------------------------------------------------------ transformations
def test_jit_equals_eager():
    # reference: the same call without jit; 1e-14 relative
    def f(b):
        return q.integrate(lambda x: jnp.exp(-(x**2)) * jnp.log1p(x), 0.1, b, panels=3)

    for b in (0.5, 2.0):
        assert _rel(jax.jit(f)(b), f(b)) < 1e-14


def test_vmap_over_upper_limit():
    # reference: erf closed form, int_0^b exp(-x^2) dx = sqrt(pi)/2 erf(b); 1e-13 relative
    bs = jnp.array([0.5, 1.0, 2.0, 3.0])
    got = jax.vmap(lambda b: q.integrate(lambda x: jnp.exp(-(x**2)), 0.0, b))(bs)
    expected = np.sqrt(np.pi) / 2.0 * jax.scipy.special.erf(bs)
    np.testing.assert_allclose(got, expected, rtol=1e-13)


@pytest.mark.parametrize("log", [False, True])
def test_grad_wrt_upper_limit_is_integrand(log):
    # reference: fundamental theorem of calculus, d/db int_a^b f = f(b); 1e-10 relative
    def f(x):
        return jnp.exp(-x) * jnp.sin(2.0 * x) + 1.0

    def integral(b):
        return q.integrate(f, 0.2, b, log=log)

    b = 2.5
    assert _rel(jax.grad(integral)(b), f(b)) < 1e-10


# ------------------------------------------------------------------ errors
@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: q.gauss_legendre(0), r"^n must"),
        (lambda: q.gauss_legendre(2.0), r"^n must"),
        (lambda: q.gl_rule(0.0, 1.0, 4, panels=0), r"^panels must"),
        (lambda: q.integrate(jnp.exp, 0.0, 1.0, n=0), r"^n must"),
        (lambda: q.integrate(jnp.exp, 0.0, 1.0, n=10, rule="simpson"), r"^n must be odd"),
        (lambda: q.integrate(jnp.exp, 0.0, 1.0, rule="romberg"), r"gauss-legendre, simpson"),
        (lambda: q.integrate(jnp.exp, 0.0, 1.0, log=True), r"^a must be > 0"),
        (lambda: q.integrate(jnp.exp, -1.0, 1.0, log=True), r"^a must be > 0"),
        (lambda: q.integrate(jnp.exp, 1.0, 0.0, log=True), r"^b must be > 0"),
        (lambda: q.integrate(jnp.exp, 1.0, 2.0, rule="simpson", n=11, panels=2), r"panels"),
        (lambda: q.gl_rule(np.zeros(2), 1.0, 4), r"^a must be a scalar"),
        (lambda: q.gl_panels([0.0, 1.0, 0.5], 4), r"^edges must be strictly increasing"),
        (lambda: q.gl_panels([0.0, 1.0], 4, log=True), r"^edges must be > 0"),
        (lambda: q.simpson(np.ones(4), np.arange(4.0)), r"odd number"),
        (lambda: q.trapezoid(np.ones(4), np.arange(5.0)), r"^x has 5 samples"),
    ],
)
def test_bad_inputs_raise_naming_the_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()
