"""Tests of jaxfit.gravity.sparc_fit and jaxfit.gravity.sparc_points: SPARC delta_rms
against a numpy loop over galaxies (the issue asks for 1e-9 km/s), sigma gating, padding,
and the per-galaxy M/L against scipy's bounded search."""

from __future__ import annotations

import json
from pathlib import Path

import jax
import numpy as np
import pytest
from scipy.optimize import minimize_scalar

import jaxfit  # noqa: F401  (float64)
from jaxfit.gravity import kernel as gk
from jaxfit.gravity import objective as go
from jaxfit.gravity import sparc as gs
from jaxfit.gravity import sparc_fit as gsfit
from jaxfit.gravity import sparc_points as gsp

SPARC = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "sparc"


def numpy_delta_rms(params, batch, *, Y_d=1.0, Y_b=1.0, signed=True, gate=None):
    """Per-galaxy delta_rms with a Python loop over galaxies (the research way)."""
    out = []
    for g, name in enumerate(batch.names):
        d = batch.galaxy(name)
        sq = (lambda v: v * np.abs(v)) if signed else (lambda v: v**2)
        v_bar2 = sq(d["Vgas"]) + Y_d * sq(d["Vdisk"]) + Y_b * sq(d["Vbul"])
        K = np.asarray(gk.theory_kernel(d["R"], float(batch.sigma_v[g]), params, go.FIT_CONFIG))
        if gate is not None:
            K = K * gate[g]
        v_mod = np.sqrt(np.maximum(v_bar2 * (1 + K), 0.0))
        v_bar = np.sqrt(np.maximum(v_bar2, 0.0))
        out.append(np.sqrt(np.mean((d["Vobs"] - v_mod) ** 2))
                   - np.sqrt(np.mean((d["Vobs"] - v_bar) ** 2)))
    return np.array(out)


@pytest.mark.parametrize("options", [{}, {"Y_d": 0.5, "Y_b": 0.7, "signed": False}])
def test_sparc_delta_rms_equals_numpy_loop_synthetic(options, theta, galaxies):
    batch = galaxies()
    result = gsfit.sparc_batch(theta, batch, **options)
    np.testing.assert_allclose(result.table["delta_rms"], numpy_delta_rms(theta, batch, **options),
                               rtol=0, atol=1e-9)
    assert result.stats["n_galaxies"] == 5


def test_sigma_gating_multiplies_each_galaxy_by_its_gate(theta, galaxies):
    batch = galaxies()
    gated = gsfit.sparc_batch(theta, batch, use_sigma_gating=True)
    # gate by hand: v_flat = median of the last 5 v_bar, Q = v_flat / sigma, G = Q/(1+Q)
    gates = []
    for g, name in enumerate(batch.names):
        d = batch.galaxy(name)
        v_bar = np.sqrt(np.maximum(d["Vgas"] * abs(d["Vgas"]) + d["Vdisk"] * abs(d["Vdisk"])
                                   + d["Vbul"] * abs(d["Vbul"]), 0))
        q = np.median(v_bar[-5:]) / float(batch.sigma_v[g])
        gates.append(q / (1 + q))
    np.testing.assert_allclose(gated.table["delta_rms"],
                               numpy_delta_rms(theta, batch, gate=np.array(gates)), atol=1e-9)


def test_sparc_metrics_jit_equals_eager_and_gradients_finite(theta, galaxies):
    points = gsp.sparc_points(galaxies())
    eager = go.sparc_metrics(theta, points)
    jitted = jax.jit(lambda p: go.sparc_metrics(p, points))(theta)
    for key in ("delta_rms", "L_SPARC"):
        np.testing.assert_allclose(np.asarray(jitted[key]), np.asarray(eager[key]), rtol=1e-13)
    grad = jax.grad(lambda p: go.sparc_metrics(p, points)["L_SPARC"])(theta)
    assert all(np.isfinite(float(v)) for v in grad.values())


def test_sparc_points_padded_for_devices_change_nothing(monkeypatch, theta, galaxies):
    """Padding the flat points to a multiple of 4 devices (copies of the last point in a
    non-existent galaxy, dropped by segment_sum) leaves metrics, gradient and M/L fits equal."""
    batch = galaxies()
    plain = gsp.sparc_points(batch)
    monkeypatch.setattr(gsp, "local_devices", lambda: [None] * 4)
    padded = gsp.sparc_points(batch)
    n = plain.n_real
    assert padded.n_real == n == int(np.asarray(batch.mask).sum()) and n % 4 != 0
    assert padded.R.shape[0] % 4 == 0 and padded.R.shape[0] - n < 4
    assert np.all(np.asarray(padded.galaxy)[n:] == batch.n_galaxies)

    def L(points):
        return jax.value_and_grad(lambda p: go.sparc_metrics(p, points)["L_SPARC"])(theta)

    (a, ga), (b, gb) = L(plain), L(padded)
    assert float(a) == pytest.approx(float(b), rel=1e-14)
    for k in ga:
        assert float(ga[k]) == pytest.approx(float(gb[k]), rel=1e-12, abs=1e-300), k
    m_plain, m_pad = go.sparc_metrics(theta, plain), go.sparc_metrics(theta, padded)
    assert m_pad["V_model"].shape == padded.R.shape  # the real points first
    np.testing.assert_allclose(m_pad["V_model"][:n], m_plain["V_model"][:n], rtol=1e-14)
    np.testing.assert_allclose(gsfit.fit_upsilon(theta, padded), gsfit.fit_upsilon(theta, plain),
                               rtol=1e-12)


@pytest.mark.skipif(not SPARC.is_dir(), reason="real SPARC data not available")
def test_sparc_zero_shot_on_real_data_equals_numpy_loop(tmp_path, theta):
    batch = gs.load_sparc(SPARC)
    result = gsfit.sparc_batch(theta, batch)
    np.testing.assert_allclose(result.table["delta_rms"], numpy_delta_rms(theta, batch),
                               rtol=0, atol=1e-9)
    paths = result.save(tmp_path / "sparc.csv")
    assert all(p.exists() for p in paths.values())
    saved = json.loads(paths["json"].read_text())
    assert saved["summary"]["n_galaxies"] == 175
    assert set(saved["verdict"]) == {"mean_delta_rms", "fraction_improved", "passed"}


def test_per_galaxy_upsilon_equals_scipy_bounded_fit(theta, galaxies):
    batch = galaxies()
    points = gsp.sparc_points(batch)
    Y = np.asarray(gsfit.fit_upsilon(theta, points))
    for g, name in enumerate(batch.names):
        d = batch.galaxy(name)
        K = np.asarray(gk.theory_kernel(d["R"], float(batch.sigma_v[g]), theta, go.FIT_CONFIG))

        def chi2(y, d=d, K=K):
            v2 = (d["Vgas"] * abs(d["Vgas"]) + y * d["Vdisk"] * abs(d["Vdisk"])
                  + 1.4 * y * d["Vbul"] * abs(d["Vbul"]))
            return np.sum(((d["Vobs"] - np.sqrt(np.maximum(v2 * (1 + K), 0))) / d["errV"]) ** 2)

        ref = minimize_scalar(chi2, bounds=(0.1, 2.0), method="bounded",
                              options={"xatol": 1e-8})
        # grid step 0.01 refined by a parabola: within a few 1e-3 of the continuous optimum
        assert Y[g] == pytest.approx(ref.x, abs=3e-3), name
        assert chi2(Y[g]) <= chi2(1.0) + 1e-9
    fitted = gsfit.sparc_batch(theta, batch, fit_upsilon_per_galaxy=True)
    np.testing.assert_allclose(fitted.table["Y_d"], Y, rtol=1e-12)
    np.testing.assert_allclose(fitted.table["Y_b"], 1.4 * Y, rtol=1e-12)
