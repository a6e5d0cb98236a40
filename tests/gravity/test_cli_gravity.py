"""`jaxfit gravity`: the four research workflows as commands, with the seed's flags."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from jaxfit.cli.main import app

runner = CliRunner()
SPARC = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "sparc"


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})


@pytest.fixture(scope="module")
def theory_json(tmp_path_factory):
    out = tmp_path_factory.mktemp("gravity")
    result = invoke("--quiet", "gravity", "mw-fit", "--n-starts", "2", "--maxiter", "30",
                    "--r-min", "12", "--r-max", "16", "--sigma-v", "30",
                    "--require-positive-corr", "--out", out)
    assert result.exit_code == 0, result.output
    return out / "theory_metric_resonance_mw_fit.json"


def test_mw_fit_writes_the_research_outputs(theory_json):
    saved = json.loads(theory_json.read_text())
    for key in ("theory_fit_params", "corr_K_emp_theory", "chi2_K", "optimization_success",
                "verdict", "provenance"):
        assert key in saved
    assert set(saved["theory_fit_params"]) >= {"A_global", "alpha", "lam_coh", "lam_cut",
                                               "burr_ell0", "Q_ref", "phase_sign"}
    assert theory_json.with_suffix(".png").exists()
    # 30 iterations stop short: the record says so and no verdict passes
    assert saved["fit_status"]["verdict"] == "NOT converged"
    assert saved["verdict"]["passed"] is False and saved["verdict"]["converged"] is False


def test_cluster_amp_reads_the_mw_fit(theory_json, tmp_path):
    out = tmp_path / "theory_kernel_cluster_amp_fit.json"
    result = invoke("gravity", "cluster-amp", "--theory-fit-json", theory_json, "--clusters",
                    "MACSJ0416,MACSJ0717,ABELL_1689", "--sigma-v-default", "1000",
                    "--A-cluster-min", "0.01", "--A-cluster-max", "1000", "--out", tmp_path)
    assert result.exit_code == 0, result.output
    assert "A_cluster" in result.output and "verdict" in result.output
    saved = json.loads(out.read_text())
    assert len(saved["cluster_results"]) == 3
    assert 0.01 <= saved["A_cluster_best"] <= 1000
    assert out.with_suffix(".png").exists() and out.with_suffix(".csv").exists()


@pytest.mark.skipif(not SPARC.is_dir(), reason="real SPARC data not available")
def test_sparc_batch_on_the_real_folder(theory_json, tmp_path):
    out = tmp_path / "theory_kernel_sparc_from_mw.csv"
    result = invoke("--quiet", "gravity", "sparc-batch", "--theory-fit-json", theory_json,
                    "--rotmod-dir", SPARC / "Rotmod_LTG", "--out", tmp_path)
    assert result.exit_code == 0, result.output
    assert len(out.read_text().splitlines()) == 176  # header + 175 galaxies
    assert out.with_suffix(".png").exists()
    assert out.with_name("theory_kernel_sparc_from_mw_curves.png").exists()


@pytest.mark.slow
@pytest.mark.skipif(not SPARC.is_dir(), reason="real SPARC data not available")
def test_joint_with_research_flags(tmp_path):
    out = tmp_path / "theory_kernel_joint_fit.json"
    result = invoke("--quiet", "gravity", "joint", "--r-min", "12", "--r-max", "16",
                    "--sigma-v-mw", "30", "--rotmod-dir", SPARC / "Rotmod_LTG",
                    "--max-sparc-galaxies", "8", "--clusters", "MACSJ0416,ABELL_1689",
                    "--weight-mw", "1", "--weight-sparc", "0.5", "--weight-cluster", "0.5",
                    "--use-sigma-gating", "--sigma-ref", "25", "--beta-sigma", "1",
                    "--n-starts", "2", "--maxiter", "10", "--out", tmp_path)
    assert result.exit_code == 0, result.output
    saved = json.loads(out.read_text())
    assert set(saved) >= {"parameters", "losses", "metrics", "optimization", "verdict"}
    assert saved["settings"]["n_galaxies"] == 8


def test_bad_inputs_are_named(tmp_path):
    result = invoke("gravity", "cluster-amp", "--theory-fit-json", tmp_path / "none.json")
    assert result.exit_code == 2 and "mw-fit" in result.output
    result = invoke("gravity", "mw-fit", "--target", "speed", "--out", tmp_path)
    assert result.exit_code == 2 and "target" in result.output
    result = invoke("gravity", "sparc-batch", "--theory-fit-json", tmp_path / "none.json")
    assert result.exit_code == 2
