"""Tests of jaxfit.gravity.joint: the joint fit lowers the joint loss."""

from __future__ import annotations

import jax
import numpy as np
import pytest

import jaxfit  # noqa: F401  (float64)
from jaxfit.gravity import cluster_set as gcs
from jaxfit.gravity import criteria as gcr
from jaxfit.gravity import joint as gj
from jaxfit.gravity import objective as go
from jaxfit.gravity import params as gp


@pytest.mark.slow
def test_joint_fit_on_synthetic_galaxies_lowers_the_loss(theta, galaxies):
    batch = galaxies()
    data = go.joint_data(batch, gcs.load_clusters(), radii=go.mw_band_radii())
    result = gj.joint_fit(batch, n_starts=2, maxiter=25, progress=False)
    assert result.losses["total"] <= float(go.joint_loss(dict(gp.THEORY_DEFAULTS), data))
    assert set(result.losses) == {"L_MW", "L_SPARC", "L_cluster", "total"}
    # jit equals eager for the joint loss; gradient finite
    eager = float(go.joint_loss(theta, data))
    assert float(jax.jit(go.joint_loss)(theta, data)) == pytest.approx(eager, rel=1e-12)
    grad = jax.grad(go.joint_loss)(theta, data)
    assert all(np.isfinite(float(v)) for v in grad.values())
    assert set(gcr.verdict(result.metrics, converged=result.fit.success)) == {
        "mw", "sparc", "clusters", "converged", "all_passed"}
