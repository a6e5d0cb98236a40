"""Tests of jaxfit.gravity.results and jaxfit.gravity.params: the phase sign, reading a
saved theory fit back, and the result protocol of every gravity result."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import jaxfit  # noqa: F401  (float64)
from jaxfit.core.diagnostics import FitStatus
from jaxfit.core.optimize import STATUS_MESSAGES, FitResult
from jaxfit.core.results import Result
from jaxfit.gravity import cluster_fit as gcfit
from jaxfit.gravity import empirical as ge
from jaxfit.gravity import params as gp
from jaxfit.gravity import results as gres
from jaxfit.gravity import sparc_fit as gsfit


def test_signed_params_and_theory_json(tmp_path, theta):
    params, sign = gp.signed_params(theta | {"A_global": -3.0})
    assert (params["A_global"], sign) == (3.0, -1.0)
    path = tmp_path / "fit.json"
    path.write_text(json.dumps({"theory_fit_params": params | {"phase_sign": sign}}))
    assert gres.read_theory_json(path) == (params, -1.0)
    with pytest.raises(FileNotFoundError, match="mw-fit"):
        gres.read_theory_json(tmp_path / "missing.json")
    path.write_text(json.dumps({"theory_fit_params": {"alpha": 1.0}}))
    with pytest.raises(ValueError, match="missing"):
        gres.read_theory_json(path)


# ------------------------------------------------------------------ the result protocol
def _fit_result(params: dict, converged: bool) -> FitResult:
    """A core FitResult at ``params``, converged or stopped at maxiter (no solver run)."""
    status = 0 if converged else 2
    return FitResult(x=dict(params), fun=1e-4, success=converged, status=status,
                     message=STATUS_MESSAGES[status], n_iter=7, n_fev=9, method="lbfgs",
                     grad_norm=1e-9, free_names=tuple(params),
                     x_free=np.array(list(params.values())))


def _status(theta, converged: bool) -> FitStatus:
    """A made-up fit status at ``theta``: three starts agreeing, no degeneracy."""
    return FitStatus(converged=converged, message=STATUS_MESSAGES[0 if converged else 2],
                     loss_scale=1e-6, n_starts=4, n_agree=3, best=dict(theta),
                     spread={n: (v, v) for n, v in theta.items()}, at_bounds={},
                     not_unique=(), errors={n: 0.1 for n in theta}, degenerate=())


def _mw_fit(theta, converged: bool) -> gres.MWFit:
    radii = np.linspace(12.0, 16.0, 8)
    K_emp = np.asarray(ge.empirical_kernel(radii, dict(gp.RESEARCH_MW_EMPIRICAL)))
    K_th = 0.998 * K_emp  # chi2_K ~ 1e-4: inside the MW criteria
    corr = float(np.corrcoef(K_th, K_emp)[0, 1])
    return gres.MWFit("kernel", dict(theta), 1.0, corr, float(np.mean((K_th - K_emp) ** 2)),
                      None, converged, radii, K_th, K_emp, _fit_result(theta, converged),
                      {"r_min": 12.0, "r_max": 16.0}, _status(theta, converged))


def _joint_fit(theta, converged: bool) -> gres.JointFit:
    metrics = {
        "mw": {"corr": 0.97, "chi2_K": 2e-4},
        "sparc": {"n_galaxies": 5, "mean_delta_rms": -3.0, "median_delta_rms": -2.5,
                  "fraction_improved": 0.8, "L_SPARC": 0.7},
        "clusters": {"A_cluster": 8.0, "A_cluster_A_gal_ratio": 4.0, "chi2_norm": 0.1,
                     "mass_ratio": {"MACSJ0416": 0.9, "ABELL_1689": 1.2}},
    }
    losses = {"L_MW": 2e-4, "L_SPARC": 0.7, "L_cluster": 0.3, "total": 1.0002}
    return gres.JointFit(dict(theta) | {"A_cluster": 8.0}, 1.0, losses, metrics,
                         _fit_result(theta, converged), {"weights": [1.0, 1.0, 1.0]})


@pytest.fixture
def every_result(theta, galaxies) -> dict:
    """One result of each gravity workflow (the cheap ones computed, the fits made up)."""
    return {
        "mw": _mw_fit(theta, converged=True),
        "sparc": gsfit.sparc_batch(theta, galaxies()),
        "clusters": gcfit.cluster_amplitude(theta),
        "joint": _joint_fit(theta, converged=True),
    }


def test_every_result_follows_the_protocol(every_result, tmp_path):
    """to_dict is plain JSON, summary is text, plot a new Figure, and save writes the JSON
    (with provenance), the CSV and the PNG under the stem."""
    import matplotlib.figure
    import matplotlib.pyplot as plt

    for kind, result in every_result.items():
        assert isinstance(result, Result), kind
        json.dumps(result.to_dict(), allow_nan=False)
        assert isinstance(result.summary(), str) and str(result) == result.summary()
        figure = result.plot()
        assert isinstance(figure, matplotlib.figure.Figure) and figure is not result.plot()
        plt.close("all")
        paths = result.save(tmp_path, f"{kind}_result")
        assert {"json", "csv", "png"} <= set(paths)
        for path in paths.values():
            assert path.parent == tmp_path and path.stat().st_size > 0
        assert paths["json"].name == f"{kind}_result.json"
        saved = json.loads(paths["json"].read_text())
        assert saved.keys() >= result.to_dict().keys() | {"provenance"}
        assert len(pd.read_csv(paths["csv"])) == len(result.to_frame())
    # default stems are the research scripts' file names
    assert every_result["mw"].save(tmp_path)["json"].name == "theory_metric_resonance_mw_fit.json"
    assert every_result["sparc"].save(tmp_path)["curves"].name == (
        "theory_kernel_sparc_from_mw_curves.png")


def test_summaries_judge_the_criteria_only_for_converged_fits(theta):
    for make in (_mw_fit, _joint_fit):
        converged, stopped = make(theta, True).summary(), make(theta, False).summary()
        assert "optimiser converged" in converged and "criteria" in converged
        assert "NOT converged" in stopped and "maximum number of iterations" in stopped
        assert "criteria" not in stopped and "passed" not in stopped
    assert "research MW criteria (corr > 0.95, chi2_K < 0.001): passed" in (
        _mw_fit(theta, True).summary())


def test_sparc_and_cluster_summaries_state_the_verdict(every_result):
    sparc, clusters = every_result["sparc"], every_result["clusters"]
    assert f"{sparc.stats['n_galaxies']} galaxies" in sparc.summary()
    assert "research SPARC criteria" in sparc.summary()
    assert "research cluster criteria" in clusters.summary()
    assert all(name in clusters.summary() for name in clusters.table["cluster"])
