"""Tests of jaxfit.gravity.objective: the losses against numpy (np.corrcoef, the research
penalty written out by hand), and the joint loss against its parts computed separately."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxfit  # noqa: F401  (float64)
from jaxfit.gravity import cluster_set as gcs
from jaxfit.gravity import empirical as ge
from jaxfit.gravity import kernel as gk
from jaxfit.gravity import objective as go
from jaxfit.gravity import params as gp
from jaxfit.gravity import sparc_points as gsp


def test_pearson_and_penalty_against_numpy_and_hand_values():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=40), rng.normal(size=40)
    assert float(go.pearson(jnp.asarray(x), jnp.asarray(y))) == pytest.approx(
        np.corrcoef(x, y)[0, 1], abs=1e-14)
    # constant input: 0 with a finite gradient, not NaN
    g = jax.grad(lambda a: go.pearson(a * jnp.ones(5), jnp.arange(5.0)))(1.0)
    assert np.isfinite(g)
    # research penalty, first matching case: c < 0, c < 0.7, c < 0.9, else 0
    for c, expected in ((-0.5, 1e10 * 1.5**4), (0.5, 1e3 * 0.2**2), (0.8, 10 * 0.1**2),
                        (0.95, 0.0)):
        assert float(go.correlation_penalty(c)) == pytest.approx(expected, rel=1e-12)


def test_mw_kernel_loss_equals_numpy(theta):
    radii = go.mw_band_radii(12.0, 16.0, n=20)
    data = go.mw_kernel_data(radii, config=go.FIT_CONFIG)
    K = np.asarray(gk.theory_kernel(radii, 30.0, theta, go.FIT_CONFIG))
    emp = np.asarray(ge.empirical_kernel(radii, dict(gp.RESEARCH_MW_EMPIRICAL)))
    c = np.corrcoef(K, emp)[0, 1]
    penalty = 0.0 if c >= 0.9 else (10 * (0.9 - c) ** 2 if c >= 0.7 else None)
    expected = np.mean((K - emp) ** 2) + (penalty if penalty is not None else
                                           float(go.correlation_penalty(c)))
    assert float(go.mw_kernel_loss(theta, data)) == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(np.asarray(data.target), emp, rtol=1e-14)
    # without the penalty: chi2_K alone; the flag is static, the arrays are data
    plain = go.mw_kernel_data(radii, config=go.FIT_CONFIG, require_positive_corr=False)
    assert float(go.mw_kernel_loss(theta, plain)) == pytest.approx(np.mean((K - emp) ** 2),
                                                                   rel=1e-12)


def test_mw_vc_loss_equals_numpy(theta):
    from jaxfit.gravity.data import load_milky_way

    mw = load_milky_way()
    data = go.mw_curve_data(mw)
    K = np.asarray(gk.theory_kernel(np.asarray(mw.R), 30.0, theta, go.FIT_CONFIG))
    v = np.sqrt(np.maximum(np.asarray(mw.v_bar) ** 2 * (1 + K), 0.0))
    expected = np.sum(((v - np.asarray(mw.v_c)) / np.asarray(mw.sigma)) ** 2)
    assert float(go.mw_vc_loss(theta, data)) == pytest.approx(expected, rel=1e-12)


def test_joint_loss_equals_its_parts_computed_separately(theta, galaxies):
    """The joint loss evaluates the kernel once over MW radii, SPARC points and cluster
    radii together; each part equals its own function to rounding."""
    batch, clusters = galaxies(), gcs.load_clusters()
    data = go.joint_data(batch, clusters, radii=go.mw_band_radii(), weights=(0.5, 2.0, 3.0),
                         bounds=(0.01, 5.0))
    parts = go.joint_parts(theta, data)
    mw = float(go.mw_kernel_loss(theta, go.mw_kernel_data(go.mw_band_radii())))
    sparc = float(go.sparc_metrics(theta, gsp.sparc_points(batch))["L_SPARC"])
    k = go.cluster_unit_kernel(theta, clusters)
    A, L_cl = (float(v) for v in go.profile_a_cluster(k, clusters, (0.01, 5.0)))
    assert float(parts["L_MW"]) == pytest.approx(mw, rel=1e-13)
    assert float(parts["L_SPARC"]) == pytest.approx(sparc, rel=1e-13)
    assert float(parts["L_cluster"]) == pytest.approx(L_cl, rel=1e-13)
    assert float(parts["A_cluster"]) == pytest.approx(A, rel=1e-13)
    assert float(go.joint_loss(theta, data)) == pytest.approx(
        0.5 * mw + 2.0 * sparc + 3.0 * L_cl, rel=1e-13)
    # the gradient through the shared kernel evaluation equals the sum of the parts'
    grad = jax.grad(go.joint_loss)(theta, data)
    separate = [jax.grad(lambda p: go.mw_kernel_loss(p, go.mw_kernel_data(go.mw_band_radii())))(
                    theta),
                jax.grad(lambda p: go.sparc_metrics(p, gsp.sparc_points(batch))["L_SPARC"])(theta),
                jax.grad(lambda p: go.profile_a_cluster(go.cluster_unit_kernel(p, clusters),
                                                        clusters, (0.01, 5.0))[1])(theta)]
    for name in theta:
        expected = sum(w * float(g[name]) for w, g in zip((0.5, 2.0, 3.0), separate,
                                                           strict=True))
        assert float(grad[name]) == pytest.approx(expected, rel=1e-10, abs=1e-12), name
