"""Tests of the ``jaxfit cosmo`` commands (fit and its research aliases, store show /
history / export / check) through typer's CliRunner.

The main fit runs once per test session (``run_once`` in conftest.py, shared across pytest-xdist
workers) into a store under pytest's temporary directory; every command gets ``--store``,
so the user's store is never touched.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import jaxfit.cosmo.fit as fit_module
from jaxfit.cli.main import app
from jaxfit.core.optimize import STATUS_MESSAGES, FitResult
from jaxfit.cosmo.model import get_model
from jaxfit.cosmo.store import (
    OptimizedParameterStore,
    StoreConsistencyWarning,
)

runner = CliRunner()
# a wide console, so that rich does not wrap the summary lines
ENV = {"COLUMNS": "250"}
LCDM_FIT = ["H0", "Om0", "Obh2", "ns"]
# Planck 2018 VI (arXiv:1807.06209), Table 2, TT,TE,EE+lowE+lensing: mean and 1 sigma
PLANCK18_H0, PLANCK18_H0_SIGMA = 67.36, 0.54
PLANCK18_OM0, PLANCK18_OM0_SIGMA = 0.3153, 0.0073


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args], env=ENV)


def flat(text: str) -> str:
    """The output with every run of whitespace (line wraps included) as one space."""
    return " ".join(text.split())




def _cli_fit(folder) -> dict:
    store, out = folder / "store", folder / "out"
    result = invoke(
        "cosmo",
        "fit",
        "--model",
        "lcdm",
        "--datasets",
        "cmb",
        "--store",
        store,
        "--n-starts",
        4,
        "--out",
        out,
    )
    return {
        "exit_code": result.exit_code,
        "output": result.output,
        "exception": repr(result.exception),
        "store": str(store),
        "out": str(out),
    }


@pytest.fixture(scope="module")
def fitted(run_once):
    """``cosmo fit --model lcdm --datasets cmb --store S --n-starts 4 --out O``, once."""
    run = run_once("test_cli_cosmo-fit", _cli_fit)
    assert run["exit_code"] == 0, run["output"] + run["exception"]
    return run


# ------------------------------------------------------------------------------ help
def _lists_command(help_text: str, command: str) -> bool:
    """Whether a help screen has a command row starting with ``command``."""
    return re.search(rf"^\W*{re.escape(command)}\s", help_text, re.MULTILINE) is not None


def test_cosmo_help_lists_the_commands():
    result = invoke("cosmo", "--help")
    assert result.exit_code == 0, result.output
    for command in ("fit", "fit-cmb", "fit-bao", "fit-sn", "fit-joint", "store"):
        assert _lists_command(result.output, command), command
    assert not _lists_command(result.output, "fit-xyz")  # the check itself can fail
    store_help = invoke("cosmo", "store", "--help")
    assert store_help.exit_code == 0
    for command in ("show", "history", "export", "check"):
        assert _lists_command(store_help.output, command), command


@pytest.mark.parametrize(
    ("alias", "datasets"),
    [
        ("fit", "cmb"),
        ("fit-cmb", "cmb"),
        ("fit-bao", "bao"),
        ("fit-sn", "sn"),
        ("fit-joint", "cmb,bao"),
    ],
)
def test_fit_aliases_default_to_their_datasets(alias, datasets):
    result = invoke("cosmo", alias, "--help")
    assert result.exit_code == 0, result.output
    assert f"[default: {datasets}]" in flat(result.output)
    for option in (
        "--optimize",
        "--config",
        "--cov-scale",
        "--dry-run",
        "--warm-start",
        "--frozen",
        "--store",
        "--out",
    ):
        assert option in result.output, option


# ------------------------------------------------------------------------------- fit
def test_fit_prints_the_result_and_writes_the_store(fitted):
    store = OptimizedParameterStore(fitted["store"])
    assert store.path("lcdm").exists()
    defaults = store.get_model_defaults("lcdm")
    text = flat(fitted["output"])
    assert "lcdm on cmb:planck2018: chi2 = 0.0000" in text  # 4 parameters fit 4 priors
    assert "converged" in text and "NOT converged" not in text
    assert "stored as new defaults" in text
    for name in LCDM_FIT:
        # the printed line shows the stored value (format .8g)
        assert f"{name} = {defaults[name]:.8g} +- " in text, name
    assert abs(defaults["H0"] - PLANCK18_H0) < PLANCK18_H0_SIGMA
    assert abs(defaults["Om0"] - PLANCK18_OM0) < PLANCK18_OM0_SIGMA
    meta = store.get_optimization_metadata("lcdm")
    assert meta["optimized_params"] == LCDM_FIT
    assert meta["optimizer_info"]["n_starts"] == "4"


def test_fit_out_writes_the_result_json_csv_png(fitted):
    for kind in ("csv", "png"):  # the result protocol's other two files
        assert os.path.getsize(os.path.join(fitted["out"], f"lcdm_fit.{kind}")) > 0, kind
    path = os.path.join(fitted["out"], "lcdm_fit.json")
    result = json.loads(Path(path).read_text())
    assert result["model"] == "lcdm"
    assert result["convergence_status"] == "success"
    defaults = OptimizedParameterStore(fitted["store"]).get_model_defaults("lcdm")
    assert list(result["optimized_params"]) == LCDM_FIT
    for name, value in result["optimized_params"].items():
        np.testing.assert_allclose(value, defaults[name], rtol=1e-12, err_msg=name)
    # it started from the built-in defaults of an empty store
    builtins = dict(get_model("lcdm").spec.defaults)
    for name, value in result["starting_params"].items():
        assert value == builtins[name], name


def test_store_show(fitted):
    result = invoke("cosmo", "store", "show", "--store", fitted["store"])
    assert result.exit_code == 0, result.output
    text = flat(result.output)
    defaults = OptimizedParameterStore(fitted["store"]).get_model_defaults("lcdm")
    assert f'"H0": {defaults["H0"]!r}' in text  # the stored value, as json writes it
    assert '"alpha": 0.0005' in text  # pbuf: never fitted, built-in default


def test_store_history(fitted):
    result = invoke("cosmo", "store", "history", "lcdm", "--store", fitted["store"])
    assert result.exit_code == 0, result.output
    text = flat(result.output)
    assert text.count('"timestamp"') == 1  # one record
    defaults = OptimizedParameterStore(fitted["store"]).get_model_defaults("lcdm")
    assert f'"H0": {defaults["H0"]!r}' in text
    assert '"convergence_status": "success"' in text
    empty = invoke("cosmo", "store", "history", "pbuf", "--store", fitted["store"])
    assert empty.exit_code == 0 and '"timestamp"' not in empty.output


def test_store_history_prints_one_json_record_per_line(fitted):
    result = runner.invoke(
        app,
        ["cosmo", "store", "history", "lcdm", "--store", fitted["store"]],
        env={"COLUMNS": "80"},
    )
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1
    assert json.loads(lines[0])["model"] == "lcdm"


def test_store_export(fitted, tmp_path):
    out = tmp_path / "optimization_summary.json"  # the file's name inside --out DIR
    result = invoke("cosmo", "store", "export", "--out", tmp_path, "--store", fitted["store"])
    assert result.exit_code == 0, result.output
    assert "wrote" in result.output
    summary = json.loads(out.read_text())["cmb_optimization_summary"]
    defaults = OptimizedParameterStore(fitted["store"]).get_model_defaults("lcdm")
    assert summary["lcdm"]["optimized"] is True
    assert summary["lcdm"]["n_optimizations"] == 1
    assert summary["lcdm"]["optimized_params"] == LCDM_FIT
    assert summary["lcdm"]["defaults"]["H0"] == defaults["H0"]
    assert summary["pbuf"]["optimized"] is False


def test_store_check(fitted):
    defaults = OptimizedParameterStore(fitted["store"]).get_model_defaults("lcdm")
    # only lcdm was fitted, so its H0 differs from pbuf's built-in 67.4 by more than the
    # seed's 1e-3: the consistency check warns and the command prints the spread
    spread = (defaults["H0"] - get_model("pbuf").spec.defaults["H0"]) / defaults["H0"]
    with pytest.warns(StoreConsistencyWarning, match=r"H0 \(lcdm="):
        result = invoke("cosmo", "store", "check", "--store", fitted["store"])
    assert result.exit_code == 0, result.output
    text = flat(result.output)
    assert "lcdm: ok" in text
    assert "pbuf: missing" in text
    assert f"H0: relative spread between models {spread:.2e}" in text


@pytest.mark.filterwarnings("ignore::jaxfit.cosmo.store.StoreCorruptionWarning")
def test_store_check_fails_on_a_corrupt_file(tmp_path):
    OptimizedParameterStore(tmp_path).path("lcdm").write_text("{ not json")
    result = invoke("cosmo", "store", "check", "--store", tmp_path)
    assert result.exit_code == 1
    assert "lcdm: corrupt" in flat(result.output)


@pytest.mark.filterwarnings("ignore::jaxfit.cosmo.store.StoreCorruptionWarning")
def test_store_check_changes_nothing(tmp_path):
    store = OptimizedParameterStore(tmp_path)
    store.path("lcdm").write_text("{ not json")
    invoke("cosmo", "store", "check", "--store", tmp_path)
    assert store.path("lcdm").read_text() == "{ not json"
    assert sorted(p.name for p in tmp_path.iterdir() if "corrupt" in p.name) == []


SEED_FORMAT_CONFIG = {
    "model": "lcdm",
    "datasets": "cmb",
    "optimization": {
        "optimize_parameters": ["H0", "Om0"],
        "frozen_parameters": ["Tcmb", "Neff"],
        "use_precomputed": True,
        "save_results": True,
        "convergence_tolerance": 1e-6,
        "covariance_scaling": 2.0,
        "warm_start": False,
        "dry_run": False,
    },
    "parameter_overrides": {"H0": 70.0},
}


def _cli_config_dry_run(folder) -> dict:
    path = folder / "optimization_config.json"
    path.write_text(json.dumps(SEED_FORMAT_CONFIG))
    store, out = folder / "store", folder / "out"
    result = invoke(
        "cosmo",
        "fit",
        "--config",
        path,
        "--dry-run",
        "--store",
        store,
        "--n-starts",
        1,
        "--out",
        out,
    )
    return {
        "exit_code": result.exit_code,
        "output": result.output,
        "exception": repr(result.exception),
        "store": str(store),
        "out": str(out),
    }


@pytest.fixture(scope="module")
def config_dry_run(run_once):
    """``cosmo fit --config FILE --dry-run --store S --n-starts 1 --out O``, once (one fit
    serves both the config test and the dry-run test)."""
    run = run_once("test_cli_cosmo-config-dry-run", _cli_config_dry_run)
    assert run["exit_code"] == 0, run["output"] + run["exception"]
    return run


def test_config_file_in_the_seed_format(config_dry_run):
    fit = json.loads((Path(config_dry_run["out"]) / "lcdm_fit.json").read_text())
    assert fit["convergence_status"] == "success"
    assert list(fit["optimized_params"]) == ["H0", "Om0"]  # optimize_parameters
    assert fit["starting_params"]["H0"] == 70.0  # parameter_overrides
    assert fit["covariance_scaling"] == 2.0  # covariance_scaling
    assert fit["metadata"]["covariance_scaling"] == 2.0
    assert fit["metadata"]["optimized_params"] == ["H0", "Om0"]
    assert fit["chi2_improvement"] > 0  # it moved away from H0 = 70
    assert fit["optimized_params"]["H0"] != 70.0


def test_dry_run_writes_nothing(config_dry_run):
    # --dry-run wins over the config's "dry_run": false / "save_results": true
    text = flat(config_dry_run["output"])
    assert "dry run: store unchanged" in text
    assert "H0 = " in text and "Om0 = " in text
    assert not os.path.exists(config_dry_run["store"])  # not even the folder


def test_unknown_parameter_fails_naming_it(tmp_path):
    result = invoke("cosmo", "fit", "--model", "lcdm", "--optimize", "H1", "--store", tmp_path)
    assert result.exit_code == 2
    message = flat(result.output)
    assert "'H1'" in message and "valid names: H0, Om0, Obh2, ns" in message
    assert not (tmp_path / "lcdm.json").exists()


def test_unknown_parameter_is_a_clean_usage_error(tmp_path):
    result = invoke("cosmo", "fit", "--model", "lcdm", "--optimize", "H1", "--store", tmp_path)
    assert result.exit_code == 2
    assert "H1" in result.output


def test_malformed_config_fails_naming_the_file(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"optimization": {"optimise": ["H0"]}}))
    result = invoke("cosmo", "fit", "--config", path, "--store", tmp_path / "store")
    assert result.exit_code == 2
    # rich may wrap the message anywhere, so compare without whitespace
    squeezed = "".join(result.output.split())
    assert "".join(str(path).split()) in squeezed
    assert "'optimise'" in squeezed


def _failing_minimize(fun, spec, **kwargs):
    """Stands in for core.optimize.minimize: stops at the start with status 2."""
    x = {k: float(v) for k, v in spec.unpack(spec.pack()).items()}
    return FitResult(
        x=x,
        fun=float(fun(x, kwargs["data"])),
        success=False,
        status=2,
        message=STATUS_MESSAGES[2],
        n_iter=0,
        n_fev=1,
        method="lbfgs",
        grad_norm=float("nan"),
        free_names=tuple(spec.free_names),
        x_free=np.asarray(spec.pack()),
    )


def test_failed_fit_exits_1_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(fit_module, "minimize", _failing_minimize)
    store = tmp_path / "store"
    result = invoke(
        "cosmo", "fit", "--model", "lcdm", "--optimize", "H0", "--store", store, "--n-starts", 1
    )
    assert result.exit_code == 1, result.output
    text = flat(result.output)
    assert "failed" in text and "fit failed: store unchanged" in text
    assert not (store / "lcdm.json").exists()


# --------------------------------------------------------------------------- profile
def test_profile_help_offers_the_automatic_grid():
    result = invoke("cosmo", "profile", "--help")
    assert result.exit_code == 0, result.output
    text = flat(result.output)
    assert "NAME (automatic grid) or NAME=start:stop:n" in text and "--sigmas" in text


def test_profile_refuses_a_half_explicit_grid(tmp_path):
    result = invoke("cosmo", "profile", "--x", "Om0=0.28:0.34:13", "--y", "H0", "--store",
                    tmp_path / "store", "--out", tmp_path / "out")
    assert result.exit_code == 2
    assert "--x/--y must both be NAME (automatic grid) or both NAME=start:stop:n" in flat(
        result.output)
    bad = invoke("cosmo", "profile", "--sigmas", "1,x", "--store", tmp_path / "store",
                 "--out", tmp_path / "out")
    assert bad.exit_code == 2
    assert "--sigmas must be a comma list of numbers, got 'x'" in flat(bad.output)
