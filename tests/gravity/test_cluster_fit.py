"""Tests of jaxfit.gravity.cluster_fit: the profiled cluster amplitude against
scipy.optimize.minimize_scalar (the research's search)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize_scalar

import jaxfit  # noqa: F401  (float64)
from jaxfit.gravity import cluster_fit as gcfit
from jaxfit.gravity import cluster_set as gcs
from jaxfit.gravity import objective as go


def test_cluster_amplitude_equals_scipy_bounded_search(theta):
    clusters = gcs.load_clusters()
    k = np.asarray(go.cluster_unit_kernel(theta, clusters))
    M_bar, M_req = np.asarray(clusters.M_bar), np.asarray(clusters.M_required)

    def loss(A):
        return np.sum(((M_bar * (1 + A * k) - M_req) / M_req) ** 2)

    for bounds in ((0.01, 1000.0), (0.01, 5.0)):
        ref = minimize_scalar(loss, bounds=bounds, method="bounded",
                              options={"xatol": 1e-10})
        fit = gcfit.cluster_amplitude(theta, clusters, bounds=bounds)
        assert fit.A_cluster_best == pytest.approx(ref.x, rel=1e-6)
        assert fit.chi2_norm == pytest.approx(loss(fit.A_cluster_best) / 3, rel=1e-12)
        np.testing.assert_allclose(fit.table["mass_ratio"],
                                   M_bar * (1 + fit.A_cluster_best * k) / M_req, rtol=1e-12)
    with pytest.raises(ValueError, match="bounds"):
        gcfit.cluster_amplitude(theta, clusters, bounds=(5.0, 1.0))
