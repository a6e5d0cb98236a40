"""`jaxfit leptons`: the commands run the fit module's workflows and report the tension."""

import json

from typer.testing import CliRunner

from jaxfit.cli.main import app

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})


def test_help_lists_the_workflows():
    result = invoke("leptons", "--help")
    assert result.exit_code == 0
    for command in ("fit", "scan", "cross"):
        assert command in result.output


def test_fit_reports_tension_and_writes_results(tmp_path):
    result = invoke("--quiet", "leptons", "fit", "--n-starts", "4", "--out", tmp_path)
    assert result.exit_code == 0, result.output
    saved = json.loads((tmp_path / "lepton_fit.json").read_text())
    # spec: with the research bounds the model cannot fit the three masses (chi2 ~ 1e7)
    assert saved["chi2"] > 1e6
    quiet = invoke("leptons", "fit", "--n-starts", "4", "--out", tmp_path)
    assert "TENSION" in quiet.output and "checklist" in quiet.output


def test_scan_one_dimensional_grid(tmp_path):
    result = invoke("--quiet", "leptons", "scan", "--beta", "3.0:3.1:3", "--w", "0.02",
                    "--n-starts", "2", "--out", tmp_path)
    assert result.exit_code == 0, result.output
    saved = json.loads((tmp_path / "lepton_scan_custom.json").read_text())
    assert saved["names"] == ["beta"]
    assert 3.0 <= saved["beta_min"] <= 3.1
    table = (tmp_path / "lepton_scan_custom.csv").read_text().splitlines()
    assert table[0].startswith("scan_beta,chi2") and len(table) == 1 + 3  # one row a point
    assert (tmp_path / "lepton_scan_custom.png").stat().st_size > 10_000


def test_bad_inputs_are_usage_errors(tmp_path):
    for args in (("fit", "--flow", "sideways"), ("scan", "--preset", "huge-99"),
                 ("scan", "--beta", "3.0:3.1"), ("fit", "--w", "-0.01")):
        result = invoke("leptons", *args, "--out", tmp_path)
        assert result.exit_code == 2, (args, result.output)


def test_cross_multistart_writes_its_three_files(tmp_path):
    result = invoke("leptons", "cross", "--n-starts", "2", "--no-profile", "--out", tmp_path)
    assert result.exit_code == 0, result.output
    assert {p.name for p in tmp_path.iterdir()} == {
        "cross_multistart.json", "cross_multistart.csv", "cross_multistart.png"}
    saved = json.loads((tmp_path / "cross_multistart.json").read_text())
    assert saved["beta_spread"]["n_starts"] == 2 and saved["fit"]["kind"] == "cross"
    assert "LeptonFit (cross" in result.output and "checklist" in result.output
