"""Tests of jaxfit.gravity.rotation: v_model (values and safe gradient), v_bar^2, and
v_flat / the sigma gate against a numpy loop (np.median of the last 5 valid v_bar)."""

import math

import jax
import numpy as np
import pytest

import jaxfit  # noqa: F401  (switches on float64)
from jaxfit.gravity import rotation as gr


def test_v_model_values_and_safe_gradient_at_zero():
    v_bar2 = np.array([400.0, 0.0, 100.0])
    K = np.array([0.5, 0.3, -1.5])
    np.testing.assert_allclose(gr.v_model(v_bar2, K), [math.sqrt(600.0), 0.0, 0.0], rtol=1e-15)
    for argnums in (0, 1):
        grad = jax.grad(lambda a, b: gr.v_model(a, b), argnums=argnums)(0.0, 0.3)
        assert np.isfinite(float(grad))
    # and where the boost is positive, d v / d K = v_bar2 / (2 v)
    dK = jax.grad(gr.v_model, argnums=1)(400.0, 0.5)
    assert float(dK) == pytest.approx(400.0 / (2 * math.sqrt(600.0)), rel=1e-14)


def test_v_bar_squared_signed_and_research():
    Vgas, Vdisk, Vbul = np.array([-10.0, 20.0]), np.array([50.0, 60.0]), np.array([30.0, -5.0])
    signed = gr.v_bar_squared(Vgas, Vdisk, Vbul, Y_d=0.5, Y_b=0.7)
    np.testing.assert_allclose(signed, [-100 + 0.5 * 2500 + 0.7 * 900, 400 + 1800 - 0.7 * 25])
    plain = gr.v_bar_squared(Vgas, Vdisk, Vbul, signed=False)
    np.testing.assert_allclose(plain, Vgas**2 + Vdisk**2 + Vbul**2)


def test_v_flat_and_sigma_gate_match_numpy_loop():
    rng = np.random.default_rng(7)
    v_bar = rng.uniform(20.0, 250.0, (5, 9))
    mask = np.zeros((5, 9), dtype=bool)
    mask[0, :9] = True  # full
    mask[1, :6] = True  # padded
    mask[2, :3] = True  # fewer than 5 valid points
    mask[3, [0, 2, 3, 5, 6, 8]] = True  # not contiguous
    mask[4, :4] = True  # even count below 5
    v_bar[~mask] = np.nan
    expected = np.array([np.median(v[k][-5:]) for v, k in zip(v_bar, mask, strict=True)])
    np.testing.assert_allclose(gr.v_flat(v_bar, mask), expected, rtol=1e-15)

    sigma = np.array([20.0, 25.0, 30.0, 60.0, 100.0])
    Q = expected / sigma
    np.testing.assert_allclose(gr.sigma_gate(v_bar, mask, sigma), Q / (1 + Q), rtol=1e-14)
    np.testing.assert_allclose(
        gr.sigma_gate(v_bar, mask, sigma, beta_sigma=2.0), Q**2 / (1 + Q**2), rtol=1e-14
    )
    empty = gr.v_flat(v_bar[:1], np.zeros((1, 9), dtype=bool))
    assert float(empty[0]) == 0.0
