"""The jaxfit command: global options and the demo's results folder."""

import json

import jax
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import jaxfit
from jaxfit.cli import tour
from jaxfit.cli.main import app

runner = CliRunner()


def test_help_lists_commands_and_global_options():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for word in ("demo", "--quiet", "--device", "--version"):
        assert word in result.output


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert f"jaxfit {jaxfit.__version__}" in result.output


def test_bad_device_is_named():
    result = runner.invoke(app, ["--device", "tpu9", "demo", "--help"])
    assert result.exit_code != 0
    assert "--device" in result.output


def test_global_chunk_option_sets_the_batch_chunk_and_names_bad_values():
    from jaxfit.core.parallel import default_chunk, set_default_chunk

    try:
        result = runner.invoke(app, ["--chunk", "7", "demo", "--help"])
        assert result.exit_code == 0, result.output
        assert default_chunk() == 7
        result = runner.invoke(app, ["demo", "--help"])  # each invocation sets it anew
        assert default_chunk() is None
        result = runner.invoke(app, ["--chunk", "0", "demo", "--help"])
        assert result.exit_code != 0
        assert "--chunk" in result.output and "positive integer" in result.output
    finally:
        set_default_chunk(None)


@pytest.mark.skipif(jax.default_backend() == "gpu", reason="checks the no-GPU message")
def test_gpu_request_without_gpu_says_so():
    result = runner.invoke(app, ["--device", "gpu", "demo", "--help"])
    assert result.exit_code != 0
    assert "no GPU" in result.output


@pytest.mark.slow
def test_demo_writes_results_and_recovers_the_truth(tmp_path):
    result = runner.invoke(app, ["--quiet", "demo", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "index.html").read_text().count("<img") >= 3
    fit = json.loads((tmp_path / "core" / "fit.json").read_text())
    for png in ("fit.png", "profile_mu.png", "profile_mu_s.png"):
        assert (tmp_path / "core" / png).stat().st_size > 10_000
    # the truth lies within 3 sigma (Hessian) of the best fit for every parameter
    for name, truth in tour.TRUTH.items():
        if name in fit["fit"]["x"]:
            error = fit["uncertainty"]["errors"][name]
            assert abs(fit["fit"]["x"][name] - truth) < 3 * error, name
    # for this nearly linear problem the profile interval matches the Hessian error (10%)
    profile = json.loads((tmp_path / "core" / "profile_mu.json").read_text())
    low, high = profile["interval_1sigma"]["low"], profile["interval_1sigma"]["high"]
    np.testing.assert_allclose((high - low) / 2, fit["uncertainty"]["errors"]["mu"], rtol=0.1)
    starts = pd.read_csv(tmp_path / "core" / "starts.csv")
    assert len(starts) == 32
    assert fit["provenance"]["dtype"] == "float64"
    # the cosmology part: both fits stored in the results folder's own store, LCDM's H0
    # within 3 sigma of Planck 2018 (67.36 +- 0.54; CMB+BAO pulls it up by ~1 sigma)
    lcdm = json.loads((tmp_path / "cosmo" / "lcdm_fit.json").read_text())
    assert lcdm["convergence_status"] == "success"
    assert abs(lcdm["optimized_params"]["H0"] - 67.36) < 3 * 0.54
    stored = json.loads((tmp_path / "cosmo" / "store" / "pbuf.json").read_text())
    assert stored["history"][-1]["convergence_status"] == "success"
    assert (tmp_path / "cosmo" / "bao_residuals.png").stat().st_size > 10_000
    # leptons: the 3x3 (beta, w) scan reports the tension (chi2 ~ 1e7, spec) with a plot
    scan = json.loads((tmp_path / "leptons" / "lepton_scan_sanity-3x3.json").read_text())
    assert scan["chi2_min"] > 1e6
    assert (tmp_path / "leptons" / "lepton_scan_sanity-3x3.png").stat().st_size > 10_000
    # gravity: the MW kernel fit correlates with the empirical kernel; three clusters fitted
    mw = json.loads((tmp_path / "gravity" / "mw_fit.json").read_text())
    assert mw["corr_K_emp_theory"] > 0.9
    amp = json.loads((tmp_path / "gravity" / "cluster_amp.json").read_text())
    assert len(amp["cluster_results"]) == 3
