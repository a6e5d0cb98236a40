"""Tests of jaxfit.gravity.mw_fit: the MW kernel fit improves on its start and reports,
with L-BFGS and with the core differential evolution."""

from __future__ import annotations

import json

import numpy as np
import pytest

import jaxfit  # noqa: F401  (float64)
from jaxfit.gravity import mw_fit as gmf
from jaxfit.gravity import objective as go
from jaxfit.gravity import params as gp


def test_mw_kernel_fit_improves_and_reports(tmp_path):
    start = go.mw_kernel_loss(dict(gp.THEORY_DEFAULTS), go.mw_kernel_data(go.mw_band_radii()))
    result = gmf.mw_fit(n_starts=3, maxiter=60, progress=False)
    assert result.fit.fun < float(start)
    # reported correlation and chi2_K are those of the returned kernel
    assert result.corr_K_emp_theory == pytest.approx(
        np.corrcoef(result.K_th, result.K_emp)[0, 1], abs=1e-12)
    assert result.chi2_K == pytest.approx(np.mean((result.K_th - result.K_emp) ** 2), rel=1e-12)
    assert result.theory_fit_params["A_global"] >= 0 and result.phase_sign in (1.0, -1.0)
    saved = json.loads(result.save(tmp_path / "mw.json")["json"].read_text())
    for key in ("theory_fit_params", "corr_K_emp_theory", "chi2_K", "optimization_success"):
        assert key in saved
    with pytest.raises(ValueError, match="target"):
        gmf.mw_fit(target="speed")


def test_mw_fit_with_core_differential_evolution():
    """The research optimiser as an option: core DE (small population, few generations)
    improves on the default parameters' loss."""
    start = go.mw_kernel_loss(dict(gp.THEORY_DEFAULTS), go.mw_kernel_data(go.mw_band_radii()))
    result = gmf.mw_fit(method="de", maxiter=8, popsize=5, polish=False, progress=False)
    assert result.fit.method == "de"
    assert result.fit.fun < float(start)
