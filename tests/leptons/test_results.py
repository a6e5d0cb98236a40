"""Tests of jaxfit.leptons.results: every lepton result implements the result protocol of
jaxfit.core.results (summary text, JSON-able to_dict, a CSV table, a new figure, save ->
json + csv + png) and its summary states convergence as it is.

The results come from deliberately short runs (2 starts, a few iterations, 12 quadrature
nodes): only their form is tested here; their numbers are tested with the workflows."""

import json

import matplotlib
import pandas as pd

import jaxfit  # noqa: F401  (float64)
from jaxfit.core.io import to_jsonable
from jaxfit.core.results import Result
from jaxfit.leptons.cross import cross_multistart
from jaxfit.leptons.fit import fit_fixed
from jaxfit.leptons.model import EnergyConfig
from jaxfit.leptons.results import CrossMultistart, LeptonFit, LeptonScan
from jaxfit.leptons.scan import scan_beta

matplotlib.use("Agg")

QUICK = dict(config=EnergyConfig(n_nodes=12), n_starts=2, maxiter=3, progress=False)


def _implements_the_protocol(result, stem: str, tmp_path):
    import matplotlib.pyplot as plt

    assert isinstance(result, Result) and result.default_stem == stem
    text = result.summary()
    assert isinstance(text, str) and 3 <= len(text.splitlines()) <= 8
    assert str(result) == text
    json.dumps(to_jsonable(result.to_dict()), allow_nan=False)  # JSON-able as saved
    assert isinstance(result.to_frame(), pd.DataFrame) and len(result.to_frame())
    first, second = result.plot(), result.plot()
    assert isinstance(first, plt.Figure) and first is not second
    plt.close(first)
    plt.close(second)

    paths = result.save(tmp_path)
    assert {k: p.name for k, p in paths.items()} == {
        "json": f"{stem}.json", "csv": f"{stem}.csv", "png": f"{stem}.png"}
    assert all(p.stat().st_size > 0 for p in paths.values())
    saved = json.loads(paths["json"].read_text())
    # the run record is the default provenance; a given one replaces it
    assert saved["provenance"]["dtype"] == "float64"
    assert saved["provenance"]["settings"]["sigma_model"] == result.settings["sigma_model"]
    paths = result.save(tmp_path / "other", "named", provenance={"by": "test"})
    assert paths["csv"].name == "named.csv"
    assert json.loads(paths["json"].read_text())["provenance"] == {"by": "test"}


def test_every_result_implements_the_protocol_and_states_convergence_as_it_is(tmp_path):
    """One test, so its three short runs compile in one worker only."""
    fit = fit_fixed(**QUICK)
    scan = scan_beta([3.0, 3.1], global_fit=False, **QUICK)
    multi = cross_multistart(sigma_model=1e-5, sigma_g=1e-7, **QUICK)
    assert isinstance(fit, LeptonFit) and isinstance(scan, LeptonScan)
    assert isinstance(multi, CrossMultistart)
    for stem, result in (("lepton_fit", fit), ("lepton_scan", scan),
                         ("cross_multistart", multi)):
        _implements_the_protocol(result, stem, tmp_path)

    # three iterations need not converge: no summary or checklist may say otherwise
    for lepton_fit in (fit, multi.fit):
        verdict = "best start converged" if lepton_fit.fit.success else "best start NOT converged"
        assert verdict in lepton_fit.summary()
        converged = {it["item"]: it["passed"] for it in lepton_fit.checklist}["converged"]
        assert converged == lepton_fit.fit.success
    assert multi.summary().startswith(multi.fit.summary())
    if not scan.all_converged:
        assert f"{scan.n_points_failed} of 2 grid points did NOT converge" in scan.summary()
    items = {it["item"]: it["passed"] for it in scan.checklist}
    assert items["every grid point converged"] == scan.all_converged

    # what the fit results record besides the protocol
    assert set(fit.bounds) == set(fit.settings["free"])
    assert fit.to_dict()["summary"] == fit.summary_at_min
    assert fit.S_opt == fit.summary_at_min["S_opt"]
    assert multi.to_frame()["beta"].between(2.5, 3.5).all()
    assert multi.checklist == multi.fit.checklist
