"""Tests of ``jaxfit cosmo regression``, ``report``, ``profile`` and ``sample`` and of
:func:`jaxfit.cosmo.fit.regression` / :mod:`jaxfit.cosmo.report`.

The CMB-only LCDM fit (4 parameters, 4 priors: chi2 = 0 at the optimum), the profile and
the NUTS run each happen once per test session (``run_once`` in conftest.py, shared across
pytest-xdist workers). The profile and the NUTS run use empty stores of their own, so they
do not wait for the fit; tests that change a store work on a copy in ``tmp_path``. Every
command gets ``--store``, and ``JAXFIT_STORE`` / ``JAXFIT_DATA`` point into ``tmp_path``, so
the user's store and cache are never touched.

The last section checks that the store and regression() keep the problem a fit solved when
it is not a plain one: a fit with an override of a parameter it does not optimise
(Neff = 3.2) and a fit made with ``data_dir``.

References:
- REGRESSION_RTOL = 1e-8 (the documented tolerance of ``cosmo regression``).
- The Hessian error of Om0 from :func:`optimize_parameters` (the profile's 1-sigma
  half-width must agree with it: the CMB-only problem is nearly Gaussian).
- astropy's FlatLambdaCDM distances and the Aubourg et al. 2015 (eq. 16) r_d formula,
  written out here, for the BAO predictions.
"""

from __future__ import annotations

import csv
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import jaxfit  # noqa: F401  (switches on float64)
import jaxfit.cosmo.fit as fit_module
from jaxfit.cli.main import app
from jaxfit.core.optimize import STATUS_MESSAGES, FitResult
from jaxfit.cosmo.fit import REGRESSION_RTOL, optimize_parameters, regression
from jaxfit.cosmo.model import get_model
from jaxfit.cosmo.store import OptimizedParameterStore, checksum

runner = CliRunner()
ENV = {"COLUMNS": "250"}  # a wide console: rich does not wrap the summary lines
LCDM_FIT = ["H0", "Om0", "Obh2", "ns"]
C_KM_S = 299_792.458
SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "cosmology"


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args], env=ENV)


def flat(text: str) -> str:
    """The output with every run of whitespace (line wraps included) as one space."""
    return " ".join(text.split())




@pytest.fixture(autouse=True)
def _private_env(tmp_path, monkeypatch):
    """Never the user's store or download cache."""
    monkeypatch.setenv("JAXFIT_STORE", str(tmp_path / "user-store"))
    monkeypatch.setenv("JAXFIT_DATA", str(tmp_path / "user-data"))


# ---------------------------------------------------------------------- shared runs
def _fit(folder) -> dict:
    """The fit, both regression modes on the untouched store, then a second fit with an
    override of a parameter it does not optimise (Neff = 3.2, as a config's
    parameter_overrides gives it) on a copy, and its regression rows; all in one process.

    ``datasets="cmb:planck2018"`` is what ``"cmb"`` expands to (the metadata is the same).
    All fits have the same free parameters and data shapes (the data are an argument of the
    compiled programs), so one compiled solver serves them all.
    """
    store = OptimizedParameterStore(folder / "store")
    result = optimize_parameters("lcdm", "cmb:planck2018", LCDM_FIT, store=store, n_starts=4,
                                 progress=False)
    before = store.path("lcdm").read_bytes()
    quick = regression(store, quick=True)
    full = regression(store, quick=False)
    unchanged = store.path("lcdm").read_bytes() == before

    shutil.copytree(folder / "store", folder / "neff", ignore=shutil.ignore_patterns("*.lock"))
    neff_store = OptimizedParameterStore(folder / "neff")
    neff = optimize_parameters("lcdm", "cmb:planck2018", LCDM_FIT, {"Neff": 3.2},
                               store=neff_store, n_starts=4, progress=False)
    neff_meta = neff_store.get_optimization_metadata("lcdm")
    # a wrong optimized_params list would make the re-fit compile a new solver: skip it then
    # (the test fails on the list first)
    neff_full = (regression(neff_store, quick=False)
                 if neff_meta["optimized_params"] == LCDM_FIT else None)
    return {
        "store": str(folder / "store"),
        "result": result.to_dict(),
        "quick": quick,
        "full": full,
        "full_left_the_store_unchanged": unchanged,
        "neff": {
            "result": neff.to_dict(),
            "defaults": neff_store.get_model_defaults("lcdm"),
            "optimized_params": neff_meta["optimized_params"],
            "history_optimized_params": neff_store.get_optimization_history("lcdm")[-1]
            .optimized_params,
            "quick": regression(neff_store, quick=True),
            "full": neff_full,
        },
    }


@pytest.fixture(scope="module")
def fitted(run_once):
    """The CMB-only LCDM fit (n_starts=4) into an empty store, the regression rows of both
    modes on it, and the Neff = 3.2 fit on a copy, once per session (see :func:`_fit`)."""
    run = run_once("test_regression_report-fit", _fit)
    assert run["result"]["convergence_status"] == "success"
    assert run["result"]["metadata"]["datasets"] == ["cmb:planck2018"]
    return run


@pytest.fixture
def store_copy(fitted, tmp_path):
    """A private copy of the fitted store folder (tests may change it)."""
    target = tmp_path / "store"
    shutil.copytree(fitted["store"], target, ignore=shutil.ignore_patterns("*.lock"))
    return target


def _cli(folder, *args) -> dict:
    result = invoke(*args)
    return {"exit_code": result.exit_code, "output": result.output,
            "exception": repr(result.exception), "folder": str(folder)}


def _profile(folder) -> dict:
    return _cli(folder, "cosmo", "profile", "--model", "lcdm", "--datasets", "cmb",
                "--x", "Om0=0.30:0.33:5", "--y", "", "--n-starts", 2,
                "--store", folder / "store", "--out", folder / "out")


@pytest.fixture(scope="module")
def profiled(run_once):
    """``cosmo profile`` of Om0 on a 5-point grid (CMB only), once per session."""
    run = run_once("test_regression_report-profile", _profile)
    assert run["exit_code"] == 0, run["output"] + run["exception"]
    return run


def _sample(folder) -> dict:
    first = _cli(folder, "cosmo", "sample", "--model", "lcdm", "--datasets", "cmb",
                 "--chains", 2, "--warmup", 50, "--samples", 50,
                 "--store", folder / "store", "--out", folder / "out")
    if first["exit_code"] == 0:  # continue a copy of the chains by 30 draws, no warmup
        shutil.copytree(folder / "out", folder / "resumed")
        first["resume"] = _cli(folder, "cosmo", "sample", "--model", "lcdm", "--datasets",
                               "cmb", "--resume", folder / "resumed", "--samples", 30,
                               "--store", folder / "store")
    return first


@pytest.fixture(scope="module")
def sampled(run_once):
    """``cosmo sample`` (2 chains, 50 warmup, 50 draws; CMB only), once per session."""
    run = run_once("test_regression_report-sample", _sample)
    assert run["exit_code"] == 0, run["output"] + run["exception"]
    return run


def _tamper_file(store: OptimizedParameterStore, factor: float) -> None:
    """Scale the stored H0 and fix the checksum, so the file is valid but changed."""
    path = store.path("lcdm")
    content = json.loads(path.read_text())
    content["defaults"]["H0"] *= factor
    content["checksum"] = checksum(content)
    path.write_text(json.dumps(content, indent=2))


def _tamper_update(store: OptimizedParameterStore, factor: float) -> None:
    """Write a slightly different H0 through the store with the same metadata."""
    meta = store.get_optimization_metadata("lcdm")
    H0 = store.get_model_defaults("lcdm")["H0"] * factor
    store.update_model_defaults("lcdm", {"H0": H0}, meta)


# ----------------------- profile and sample: no fit needed, so they start while it runs
def test_profile_writes_json_csv_png(profiled):
    out = Path(profiled["folder"]) / "out"
    summary = json.loads((out / "lcdm_profile.json").read_text())
    assert summary["names"] == ["Om0"]
    np.testing.assert_allclose(summary["grid"]["Om0"], np.linspace(0.30, 0.33, 5), rtol=1e-15)
    assert summary["all_converged"] is True
    with open(out / "lcdm_profile.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 5
    np.testing.assert_allclose([float(r["scan_Om0"]) for r in rows], np.linspace(0.30, 0.33, 5),
                               rtol=1e-15)
    np.testing.assert_allclose([float(r["delta_chi2"]) for r in rows], summary["delta_chi2"],
                               rtol=1e-12)
    png = (out / "lcdm_profile.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 5_000
    assert "lcdm on cmb: profile over Om0" in flat(profiled["output"])


def _read_summary_csv(sampled) -> list[dict]:
    with open(Path(sampled["folder"]) / "out" / "lcdm_nuts.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def test_sample_writes_json_and_summary_csv(sampled):
    out = Path(sampled["folder"]) / "out"
    result = json.loads((out / "lcdm_nuts.json").read_text())
    assert list(result["summary"]) == LCDM_FIT
    assert (result["num_chains"], result["num_warmup"], result["num_samples"]) == (2, 50, 50)
    assert result["provenance"]["seeds"] == {"nuts": 0}
    rows = _read_summary_csv(sampled)
    assert len(rows) == len(LCDM_FIT)
    for column in ("mean", "std", "median", "q5", "q95", "n_eff", "r_hat"):
        assert column in rows[0], column
    # the CSV rows carry the same numbers as the JSON summary, in the same order
    for row, name in zip(rows, LCDM_FIT, strict=True):
        np.testing.assert_allclose(float(row["mean"]), result["summary"][name]["mean"],
                                   rtol=1e-12, err_msg=name)
    text = "".join(sampled["output"].split())  # paths may wrap at the terminal width
    assert "divergences" in text and "lcdm_nuts.nc" in text and "lcdm_nuts_draws.csv" in text


# --------------------------------------------------------------------------- regression
def test_quick_regression_reproduces_the_stored_fit(fitted, store_copy):
    for rows in (fitted["quick"], regression(OptimizedParameterStore(store_copy), quick=True)):
        assert [r["model"] for r in rows] == ["lcdm"]  # pbuf was never optimised: no row
        row = rows[0]
        assert row["mode"] == "quick"
        assert row["datasets"] == "cmb:planck2018"
        assert row["chi2_rel_diff"] <= 1e-8
        assert row["reproduced"] is True


def test_full_regression_reproduces_the_stored_fit(fitted):
    assert len(fitted["full"]) == 1
    row = fitted["full"][0]
    assert row["mode"] == "full"
    assert row["reproduced"] is True
    assert row["chi2_rel_diff"] <= 1e-8
    assert row["worst_param"] in LCDM_FIT  # every parameter is constrained and compared
    assert row["worst_rel_diff"] <= 1e-8
    assert row["skipped_unconstrained"] == []
    assert fitted["full_left_the_store_unchanged"]  # the re-fit is a dry run


@pytest.mark.parametrize("tamper", [_tamper_file, _tamper_update], ids=["file", "update"])
def test_quick_regression_detects_a_changed_store(store_copy, tamper):
    store = OptimizedParameterStore(store_copy)
    tamper(store, 1.0 + 1e-4)
    assert store.check()["lcdm"] == "ok"  # valid file: the change is not a corruption
    rows = regression(store, quick=True)
    assert len(rows) == 1
    # H0 off by 1e-4 relative (~0.01 sigma) moves chi2 away from 0 by far more than 1e-8
    assert rows[0]["chi2_rel_diff"] > REGRESSION_RTOL
    assert rows[0]["reproduced"] is False


def test_regression_of_an_empty_store_is_empty(tmp_path):
    store = OptimizedParameterStore(tmp_path / "empty")
    assert regression(store, quick=True) == []
    assert regression(store, quick=False) == []
    result = invoke("cosmo", "regression", "--quick", "--store", tmp_path / "empty")
    assert result.exit_code == 0, result.output
    assert "no stored optimisation to check" in flat(result.output)


def test_cli_regression_quick_passes_and_writes_json(store_copy, tmp_path):
    out = tmp_path / "out"
    result = invoke("cosmo", "regression", "--quick", "--store", store_copy, "--out", out)
    assert result.exit_code == 0, result.output
    text = flat(result.output)
    assert "lcdm (cmb:planck2018, quick)" in text
    assert "reproduced" in text and "NOT reproduced" not in text
    report = json.loads((out / "regression.json").read_text())
    assert report["rtol"] == REGRESSION_RTOL
    assert [r["model"] for r in report["rows"]] == ["lcdm"]
    assert report["rows"][0]["reproduced"] is True
    assert report["rows"][0]["chi2_rel_diff"] <= 1e-8


def test_cli_regression_fails_on_a_changed_store(store_copy, tmp_path):
    _tamper_file(OptimizedParameterStore(store_copy), 1.0 + 1e-4)
    out = tmp_path / "out"
    result = invoke("cosmo", "regression", "--quick", "--store", store_copy, "--out", out)
    assert result.exit_code == 1, result.output
    assert "NOT reproduced" in flat(result.output)
    # the table is written before the failing exit
    report = json.loads((out / "regression.json").read_text())
    assert report["rows"][0]["reproduced"] is False


# --------------------------------------------------- profile and sample against the fit
def test_profile_interval_matches_the_hessian_error(profiled, fitted):
    summary = json.loads((Path(profiled["folder"]) / "out" / "lcdm_profile.json").read_text())
    best = fitted["result"]["optimized_params"]["Om0"]  # ~0.3162
    sigma = fitted["result"]["metadata"]["errors"]["Om0"]  # Hessian error, ~0.0085
    low, high = summary["interval_1sigma"]["low"], summary["interval_1sigma"]["high"]
    assert low is not None and high is not None
    assert low < best < high
    # the global fit anchors the minimum at the best fit (chi2 = 0: 4 parameters, 4 priors)
    np.testing.assert_allclose(summary["best_point"]["Om0"], best, rtol=1e-6)
    assert summary["chi2_min"] < 1e-8
    # nearly Gaussian: the 1-sigma half-width equals the Hessian error to 5% (observed
    # 0.1%) and each end lies sigma from the best fit to 10% (observed 2%)
    np.testing.assert_allclose((high - low) / 2.0, sigma, rtol=0.05)
    np.testing.assert_allclose(best - low, sigma, rtol=0.10)
    np.testing.assert_allclose(high - best, sigma, rtol=0.10)


def test_sample_posterior_means_are_near_the_best_fit(sampled, fitted):
    result = json.loads((Path(sampled["folder"]) / "out" / "lcdm_nuts.json").read_text())
    best = fitted["result"]["optimized_params"]
    for name in LCDM_FIT:
        row = result["summary"][name]
        assert row["std"] is not None and row["std"] > 0, name
        # a weak check for a tiny run (100 draws, R-hat ~1.2): the posterior mean within 5
        # posterior standard deviations of the best fit; it still fails when the sampler
        # is off by a lot, e.g. stuck at a bound or in the wrong units
        assert abs(row["mean"] - best[name]) < 5.0 * row["std"], name
        assert row["q5"] < best[name] < row["q95"], name


def test_sample_summary_csv_names_the_parameters(sampled):
    # (was a bug: summarize() left the index unnamed and write_csv drops unnamed indexes)
    rows = _read_summary_csv(sampled)
    names = [next(iter(row.values())) for row in rows]  # the first column
    assert names == LCDM_FIT


def test_profile_bad_grid_is_a_usage_error_naming_the_grid(tmp_path):
    # a usage error (exit 2) like cosmo fit's, not a traceback (exit 1, as it once was)
    result = invoke("cosmo", "profile", "--model", "lcdm", "--datasets", "cmb",
                    "--x", "Om0=0.3:abc:5", "--y", "", "--store", tmp_path / "store",
                    "--out", tmp_path / "out")
    assert result.exit_code == 2, result.output + repr(result.exception)
    assert "0.3:abc:5" in result.output
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("axis", "named"), [
    ("Foo=0.3:0.4:3", "unknown parameter 'Foo'"),
    ("Om0=0.001:0.4:3", "outside the bounds [0.01, 0.99]"),
], ids=["unknown-name", "outside-bounds"])
def test_profile_bad_axis_is_a_usage_error(tmp_path, axis, named):
    result = invoke("cosmo", "profile", "--model", "lcdm", "--datasets", "cmb", "--x", axis,
                    "--y", "", "--store", tmp_path / "store", "--out", tmp_path / "out")
    assert result.exit_code == 2, repr(result.exception)
    assert named in flat(result.output)


def test_sample_too_few_draws_is_a_usage_error(tmp_path):
    result = invoke("cosmo", "sample", "--model", "lcdm", "--datasets", "cmb", "--samples", 2,
                    "--store", tmp_path / "store", "--out", tmp_path / "out")
    assert result.exit_code == 2, repr(result.exception)
    assert "num_samples must be an integer >= 4, got 2" in flat(result.output)
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------------------- report
def test_cli_report_writes_the_report(store_copy, tmp_path):
    out = tmp_path / "report"
    result = invoke("cosmo", "report", "--store", store_copy, "--out", out)
    assert result.exit_code == 0, result.output
    html = (out / "index.html").read_text()
    assert "Optimisation summary" in html
    assert '<img src="bao_residuals.png"' in html
    png = (out / "bao_residuals.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(png) > 10_000  # a real plot, not an empty canvas
    store = OptimizedParameterStore(store_copy)
    summary = json.loads((out / "optimization_summary.json").read_text())
    per_model = summary["cmb_optimization_summary"]
    assert per_model["lcdm"]["optimized"] is True
    assert per_model["pbuf"]["optimized"] is False
    report = json.loads((out / "report.json").read_text())
    assert sorted(report["defaults"]) == ["lcdm", "pbuf"]
    for model, values in report["defaults"].items():
        stored = store.get_model_defaults(model)
        assert values.keys() == stored.keys(), model
        for name, value in values.items():
            np.testing.assert_allclose(value, stored[name], rtol=1e-12, err_msg=name)
    rows = {r["model"]: r for r in report["rows"]}
    np.testing.assert_allclose(rows["lcdm"]["chi2"],
                               store.get_optimization_metadata("lcdm")["final_chi2"],
                               rtol=1e-12, atol=1e-300)


def test_bao_predictions_match_astropy_and_aubourg():
    """DESI DR2 model vector of flat LCDM (m_nu = 0) against astropy's distances and the
    Aubourg et al. 2015 eq. 16 r_d, written out here; rtol 1e-6."""
    from astropy.cosmology import FlatLambdaCDM

    from jaxfit.cosmo.data import load_bao
    from jaxfit.cosmo.report import bao_predictions

    params = dict(get_model("lcdm").spec.defaults) | {"H0": 67.7, "Om0": 0.316,
                                                       "Obh2": 0.02236}
    assert params["m_nu"] == 0.0 and params["Ok0"] == 0.0  # the reference assumes both
    bao = load_bao("desi_dr2")
    got = bao_predictions(params, "lcdm", bao)

    h = params["H0"] / 100.0
    r_d = (55.154 * math.exp(-72.3 * 0.0006**2)
           / ((params["Om0"] * h**2) ** 0.25351 * params["Obh2"] ** 0.12807))
    cosmo = FlatLambdaCDM(H0=params["H0"], Om0=params["Om0"], Tcmb0=params["Tcmb"],
                          Neff=params["Neff"], m_nu=0.0)
    z = np.asarray(bao.z)
    DM = cosmo.comoving_transverse_distance(z).value
    DH = C_KM_S / cosmo.H(z).value
    DV = (z * DM**2 * DH) ** (1.0 / 3.0)
    table = {"DM_over_rs": DM / r_d, "DH_over_rs": DH / r_d, "DV_over_rs": DV / r_d}
    expected = np.array([table[q][i] for i, q in enumerate(bao.quantity)])
    assert bao.quantity[0] == "DV_over_rs" and bao.z[0] == 0.295
    np.testing.assert_allclose(got, expected, rtol=1e-6)


# ---------------------------------------------------------- regression: other stored fits
def test_fit_with_an_override_of_a_fixed_parameter_is_stored_as_fitted(fitted):
    neff = fitted["neff"]
    assert neff["result"]["convergence_status"] == "success"
    assert neff["result"]["final_chi2"] < 1e-8  # 4 parameters still fit the 4 priors
    # H0 moves with Neff (68.4 at 3.2 against 67.7 at 3.046): the override mattered
    assert neff["result"]["optimized_params"]["H0"] - fitted["result"]["optimized_params"][
        "H0"] > 0.5
    # the stored point is the fitted one: Neff 3.2 next to the parameters fitted with it
    # (it was once left at 3.046: quick regression chi2 0 -> ~365)
    assert neff["defaults"]["Neff"] == 3.2
    for name in LCDM_FIT:
        assert neff["defaults"][name] == neff["result"]["optimized_params"][name], name
    # Neff was held fixed, not optimised, and the store says so
    assert neff["optimized_params"] == LCDM_FIT
    assert neff["history_optimized_params"] == LCDM_FIT
    assert neff["quick"][0]["chi2_rel_diff"] <= 1e-8
    assert neff["quick"][0]["reproduced"] is True


def test_full_regression_holds_the_fixed_parameters_at_the_fitted_values(fitted):
    # the re-fit must hold Neff at 3.2, the value the stored fit used, not at the built-in
    # 3.046 (then H0 differs by 1%: NOT reproduced, as it once was)
    full = fitted["neff"]["full"]
    assert full is not None, "not run: optimized_params was wrong (see the test above)"
    row = full[0]
    assert row["chi2_rel_diff"] <= 1e-8
    assert row["worst_param"] in LCDM_FIT
    assert row["worst_rel_diff"] <= 1e-8
    assert row["reproduced"] is True


def _minimize_at_the_start(fun, spec, **kwargs):
    """Stands in for core.optimize.minimize: a "converged" fit at the starting point (the
    data_dir test is about what regression() reloads, not about the optimiser)."""
    x = {k: float(v) for k, v in spec.unpack(spec.pack()).items()}
    return FitResult(x=x, fun=float(fun(x, kwargs["data"])), success=True, status=0,
                     message=STATUS_MESSAGES[0], n_iter=0, n_fev=1, method="lbfgs",
                     grad_norm=0.0, free_names=tuple(spec.free_names),
                     x_free=np.asarray(spec.pack()))


def test_quick_regression_of_a_fit_made_with_data_dir(tmp_path, monkeypatch):
    # regression() must reload the data from the fit's data_dir (it once reloaded with
    # data_dir=None and raised FileNotFoundError)
    if not (SHARED / "bao_data").is_dir():
        pytest.skip(f"shared CobayaSampler copies not available ({SHARED})")
    monkeypatch.setattr(fit_module, "minimize", _minimize_at_the_start)
    store = OptimizedParameterStore(tmp_path / "store")
    result = optimize_parameters("lcdm", "bao:desi_dr1", ["Om0"], store=store, n_starts=1,
                                 data_dir=SHARED, progress=False)
    assert result.convergence_status == "success"
    assert store.get_optimization_metadata("lcdm")["datasets"] == ["bao:desi_dr1"]
    rows = regression(store, quick=True)  # JAXFIT_DATA is empty: no download to fall back on
    assert rows[0]["datasets"] == "bao:desi_dr1"
    assert rows[0]["reproduced"] is True


def test_sample_resume_appends_draws_without_warmup(sampled):
    """`cosmo sample --resume DIR`: the 2 x 50 draws are kept as they were and 2 x 30 new
    ones follow, drawn with each chain's saved step size (no new warmup)."""
    resume = sampled["resume"]
    assert resume["exit_code"] == 0, resume["output"] + resume["exception"]
    folder = Path(sampled["folder"])
    before = pd.read_csv(folder / "out" / "lcdm_nuts_draws.csv")
    after = pd.read_csv(folder / "resumed" / "lcdm_nuts_draws.csv")
    assert len(before) == 2 * 50 and len(after) == 2 * 80
    kept = after[after["draw"] < 50].sort_values(["chain", "draw"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(kept[before.columns], before.sort_values(
        ["chain", "draw"]).reset_index(drop=True), rtol=1e-15)
    state_before = json.loads((folder / "out" / "lcdm_nuts_state.json").read_text())
    state_after = json.loads((folder / "resumed" / "lcdm_nuts_state.json").read_text())
    assert state_after["step_size"] == state_before["step_size"]
    record = json.loads((folder / "resumed" / "lcdm_nuts.json").read_text())
    assert record["provenance"]["continues"] is not None
