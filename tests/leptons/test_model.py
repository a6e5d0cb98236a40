"""Tests of jaxfit.leptons.model against the closed forms of the spec, an independent
numpy/scipy evaluation (2-D adaptive quadrature over r and th with the velocity components
written out), the analytic slope of the density deficit, finite differences and
jit/vmap invariance.

Named references (dimensionless):
- "lab", A = 0: E_circ = (10/7) pi U^2 R^3, of which pi U^2 R^3 / 3 lies outside R.
- lam(beta_ref) = 0.03 * 3.043233053 * 0.88^2 / 11 = 0.0064273 (spec: about 0.006427).
"""

import math
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.integrate

import jaxfit  # noqa: F401  (switches on float64)
from jaxfit.leptons import model as m

CONFIGS = {flow: m.EnergyConfig(flow=flow) for flow in m.FLOWS}
W_REF = 0.02
# (R_c, U, A, w): electron-, muon- and tau-like points inside the spec's bounds
POINTS = {
    "e": (1.0, 0.05, 0.9, 0.02),
    "mu": (0.15, 0.1, 0.85, 0.03),
    "tau": (0.5, 0.08, 0.75, 0.01),
}
QUAD = {"epsabs": 0.0, "epsrel": 1e-13}


def _rel(actual, expected):
    actual, expected = np.asarray(actual, dtype=float), np.asarray(expected, dtype=float)
    return float(np.max(np.abs(actual / expected - 1.0)))


# jitted entry points, compiled once per config and shape and reused below
_energies = jax.jit(m.energies, static_argnames="config")
_parts = jax.jit(m.circulation_energy_parts, static_argnames="config")
_batched = jax.jit(jax.vmap(m.energies, in_axes=(0, 0, 0, None, None, None)), static_argnums=5)
_total_grad = jax.jit(
    jax.grad(lambda *args: m.energies(*args)["E_total"], argnums=(0, 1, 2, 3, 4)),
    static_argnums=5,
)


# ------------------------------------------------------ independent numpy/scipy reference
def _ref_velocity(r, th, R, U, flow):
    """(v_r, v_th) written out from the spec's stream functions (v_r = psi_th / (r^2 sin),
    v_th = -psi_r / (r sin))."""
    c, s = math.cos(th), math.sin(th)
    if r < R:
        if flow == "vortex":  # psi = -(3U/4) r^2 sin^2 (1 - r^2/R^2)
            return -1.5 * U * (1 - r**2 / R**2) * c, 1.5 * U * (1 - 2 * r**2 / R**2) * s
        if flow == "research":  # the research code's expressions, as stated in the spec
            return -(3 * U / R**2) * (R**2 - r**2) * c, (3 * U / R**2) * r**2 * s
        # lab: psi = -U r^2 sin^2 (5/4 - (3/4) r^2/R^2)
        return -2 * U * (1.25 - 0.75 * r**2 / R**2) * c, U * (2.5 - 3 * r**2 / R**2) * s
    if flow == "lab":  # psi = -(U/2) R^3 sin^2 / r
        return -U * R**3 / r**3 * c, -0.5 * U * R**3 / r**3 * s
    # psi = (U/2)(r^2 - R^3/r) sin^2
    return U * (1 - R**3 / r**3) * c, -0.5 * U * (2 + R**3 / r**3) * s


def _ref_drho(r, R_c, w, A):
    R = R_c + w
    if r <= R_c:
        taper = 1.0
    elif r <= R:
        x = (r - R_c) / w
        taper = 1 - (6 * x**5 - 15 * x**4 + 10 * x**3)
    else:
        taper = 0.0
    return -A * (1 - (r / R) ** 2) ** 2 * taper


def _ref_slope(r, R_c, w, A):
    """d drho/dr by hand: -A (g' T + g T'), g = (1 - r^2/R^2)^2, T' = -30 x^2 (1-x)^2 / w."""
    R = R_c + w
    g = (1 - (r / R) ** 2) ** 2
    dg = -4 * r / R**2 * (1 - (r / R) ** 2)
    if r <= R_c:
        return -A * dg
    if r <= R:
        x = (r - R_c) / w
        taper = 1 - (6 * x**5 - 15 * x**4 + 10 * x**3)
        return -A * (dg * taper - g * 30 * x**2 * (1 - x) ** 2 / w)
    return 0.0


def _ref_energies(R_c, U, A, beta, w, config):
    """E_circ (interior, exterior), E_stab, E_grad by adaptive quadrature, each region
    separately so every integrand is smooth; accurate to ~1e-13 relative."""
    R = R_c + w
    lab = config.flow == "lab"
    r_lo, r_hi, th0 = (
        (0.0, math.inf, 0.0) if lab else (config.r_min, config.r_max, config.theta_min)
    )

    def kinetic(th, r):
        v_r, v_th = _ref_velocity(r, th, R, U, config.flow)
        rho = 1 + _ref_drho(r, R_c, w, A)
        return 0.5 * rho * (v_r**2 + v_th**2) * 2 * math.pi * r**2 * math.sin(th)

    def circ(a, b):
        return scipy.integrate.dblquad(kinetic, a, b, th0, math.pi - th0, **QUAD)[0]

    def shell(f, a, b):
        return scipy.integrate.quad(lambda r: 4 * math.pi * r**2 * f(r) ** 2, a, b, **QUAD)[0]

    drho = lambda r: _ref_drho(r, R_c, w, A)  # noqa: E731
    slope = lambda r: _ref_slope(r, R_c, w, A)  # noqa: E731
    lam = config.eta * beta * config.R_ref**2 / 11
    return {
        "interior": circ(r_lo, R_c) + circ(R_c, R),
        "exterior": circ(R, r_hi),
        "E_stab": beta * (shell(drho, r_lo, R_c) + shell(drho, R_c, R)),
        "E_grad": lam * (shell(slope, r_lo, R_c) + shell(slope, R_c, R)),
    }


# ----------------------------------------------------------------------------- the tests
@pytest.mark.parametrize("flow", m.FLOWS)
@pytest.mark.parametrize("point", POINTS)
def test_energies_match_independent_quadrature(flow, point):
    R_c, U, A, w = POINTS[point]
    config = CONFIGS[flow]
    with warnings.catch_warnings():
        warnings.simplefilter("error", scipy.integrate.IntegrationWarning)
        ref = _ref_energies(R_c, U, A, m.BETA_REF, w, config)
    got = _energies(R_c, U, A, m.BETA_REF, w, config=config)
    parts = _parts(R_c, U, A, w, config=config)
    for key in ("interior", "exterior"):
        assert _rel(parts[key], ref[key]) < 1e-10, (key, float(parts[key]), ref[key])
    assert _rel(got["E_circ"], ref["interior"] + ref["exterior"]) < 1e-10
    for key in ("E_stab", "E_grad"):
        assert _rel(got[key], ref[key]) < 1e-10, (key, float(got[key]), ref[key])
    total = ref["interior"] + ref["exterior"] - ref["E_stab"] + ref["E_grad"]
    assert _rel(got["E_total"], total) < 1e-10


@pytest.mark.parametrize("point", ["e", "mu"])
def test_lab_flow_closed_form_at_zero_deficit(point):
    R_c, U, _, w = POINTS[point]
    R = R_c + w
    config = CONFIGS["lab"]
    got = _energies(R_c, U, 0.0, m.BETA_REF, w, config=config)
    parts = _parts(R_c, U, 0.0, w, config=config)
    assert _rel(got["E_circ"], 10 / 7 * math.pi * U**2 * R**3) < 1e-10
    assert _rel(parts["exterior"], math.pi * U**2 * R**3 / 3) < 1e-10
    assert _rel(parts["interior"], 23 / 21 * math.pi * U**2 * R**3) < 1e-10
    assert float(got["E_stab"]) == 0.0 and float(got["E_grad"]) == 0.0


@pytest.mark.parametrize("flow", m.FLOWS)
def test_node_doubling_changes_total_below_1e12(flow):
    doubled = m.EnergyConfig(flow=flow, n_nodes=64)
    for R_c, U, A, w in POINTS.values():
        base = _energies(R_c, U, A, m.BETA_REF, w, config=CONFIGS[flow])["E_total"]
        fine = _energies(R_c, U, A, m.BETA_REF, w, config=doubled)["E_total"]
        assert _rel(base, fine) < 1e-12


def test_slope_is_autodiff_of_deficit_and_matches_closed_form():
    rng = np.random.default_rng(7)
    for R_c, _, A, w in POINTS.values():
        R = R_c + w
        r = np.concatenate(
            [rng.uniform(0.01, R_c, 8), rng.uniform(R_c, R, 8), rng.uniform(R, 10.0, 8)]
        )
        slope = m.density_deficit_slope(jnp.asarray(r), R_c, w, A)
        expected = [_ref_slope(x, R_c, w, A) for x in r]
        np.testing.assert_allclose(slope, expected, rtol=1e-12, atol=1e-12)
        deficit = m.density_deficit(jnp.asarray(r), R_c, w, A)
        np.testing.assert_allclose(
            deficit, [_ref_drho(x, R_c, w, A) for x in r], rtol=1e-12, atol=1e-15
        )


def test_deficit_gradients_finite_on_the_region_edges():
    R_c, _, A, w = POINTS["e"]
    grad = jax.grad(m.density_deficit, argnums=(0, 1, 2, 3))
    slope_grad = jax.grad(m.density_deficit_slope, argnums=(0, 1, 2, 3))
    for r in (R_c, R_c + w):
        for g in (*grad(r, R_c, w, A), *slope_grad(r, R_c, w, A)):
            assert np.isfinite(g)


def test_gradient_coupling_at_beta_ref():
    lam = m.gradient_coupling(m.BETA_REF)
    assert lam == pytest.approx(0.03 * 3.043233053 * 0.88**2 / 11, rel=1e-15)
    assert abs(lam - 0.006427) < 1e-6


def test_jit_equals_eager():
    R_c, U, A, w = POINTS["e"]
    for flow, config in CONFIGS.items():
        jitted = _energies(R_c, U, A, m.BETA_REF, w, config=config)
        with jax.disable_jit():
            eager = m.energies(R_c, U, A, m.BETA_REF, w, config)
        for key in m.ENERGY_KEYS:
            assert _rel(jitted[key], eager[key]) < 1e-13, (flow, key)


def test_vmap_over_leptons_equals_loop():
    R_c, U, A, _ = (jnp.asarray(col) for col in zip(*POINTS.values(), strict=True))
    for config in CONFIGS.values():
        batch = _batched(R_c, U, A, m.BETA_REF, W_REF, config)
        for i in range(3):
            single = _energies(R_c[i], U[i], A[i], m.BETA_REF, W_REF, config=config)
            for key in m.ENERGY_KEYS:
                assert batch[key].shape == (3,)
                assert _rel(batch[key][i], single[key]) < 1e-13


@pytest.mark.parametrize("flow", m.FLOWS)
def test_total_gradient_matches_central_differences(flow):
    config = CONFIGS[flow]
    R_c, U, A, w = POINTS["e"]
    x = np.array([R_c, U, A, m.BETA_REF, w])
    grad = np.array(_total_grad(*x, config))
    assert np.all(np.isfinite(grad))

    def total(v):
        return float(_energies(*v, config=config)["E_total"])

    for i in range(5):
        h = 1e-5 * x[i]
        up, down = x.copy(), x.copy()
        up[i] += h
        down[i] -= h
        fd = (total(up) - total(down)) / (2 * h)
        assert grad[i] == pytest.approx(fd, rel=1e-6), (i, grad[i], fd)


@pytest.mark.parametrize("flow", m.FLOWS)
def test_gradients_finite_at_zero_deficit(flow):
    R_c, U, _, w = POINTS["e"]
    grad = np.array(_total_grad(R_c, U, 0.0, m.BETA_REF, w, CONFIGS[flow]))
    assert np.all(np.isfinite(grad))
    assert grad[2] != 0.0  # A still moves E_circ through rho


def test_magnetic_moment():
    assert m.magnetic_moment(1.0, 0.05, 0.02) == pytest.approx(0.2 * 1.02 * 0.05, rel=1e-15)
    assert m.magnetic_moment(1.0, 0.05, 0.02, K_geom=0.5, Q=-1.0) == pytest.approx(-0.0255)


def test_bad_config_names_the_field():
    with pytest.raises(ValueError, match="vortex, research, lab"):
        m.EnergyConfig(flow="foo")
    bad = {
        "r_min": {"r_min": -0.1},
        "r_max": {"r_max": float("inf")},
        "theta_min": {"theta_min": 2.0},
        "eta": {"eta": -1.0},
        "R_ref": {"R_ref": 0.0},
        "n_nodes": {"n_nodes": 1},
    }
    for name, kwargs in bad.items():
        with pytest.raises(ValueError, match=name):
            m.EnergyConfig(**kwargs)
    with pytest.raises(ValueError, match="r_min"):
        m.EnergyConfig(r_min=10.0, r_max=5.0)


def test_bad_lepton_parameters_name_the_parameter():
    R_c, U, A, w = POINTS["e"]
    with pytest.raises(ValueError, match="A must"):
        m.check_lepton_params(R_c, U, 1.0, w)
    with pytest.raises(ValueError, match="A must"):
        m.check_lepton_params(R_c, U, -0.1, w)
    with pytest.raises(ValueError, match="w must"):
        m.check_lepton_params(R_c, U, A, 0.0)
    with pytest.raises(ValueError, match="R_c must"):
        m.check_lepton_params(float("nan"), U, A, w)
    with pytest.raises(ValueError, match="U must"):
        m.check_lepton_params(R_c, np.array([0.05, -0.1]), A, w)
    with pytest.raises(ValueError, match="A must"):
        m.energies(R_c, U, 1.0, m.BETA_REF, w)
    m.check_lepton_params(R_c, U, A, w)  # valid values pass
