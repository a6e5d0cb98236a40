"""One fit, one stored point (issue 15, item 3): concurrent fits with different free
parameters on one store, the compare-and-swap behind them, and dry runs on a corrupt store.

The stored defaults must always be the whole point of one fit (the newest record's), each
fit must start from the point stored before it (no fit lost), the history must hold every
fit, and ``cosmo regression --quick`` must reproduce the stored optimum. A dry run must
leave a corrupt store file byte for byte as it is and write nothing new.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import jaxfit.cosmo.fit as fit_module
from jaxfit.cli.main import app
from jaxfit.cosmo.fit import optimize_parameters
from jaxfit.cosmo.objective import chi2_breakdown, cosmo_data
from jaxfit.cosmo.regression import REGRESSION_RTOL, regression
from jaxfit.cosmo.store import (
    OptimizedParameterStore,
    StoreConflict,
    StoreCorruptionWarning,
)

REPO = Path(__file__).resolve().parents[2]
# as in the issue's report: PBUF fits freeing different parameters, on the CMB priors. Each
# set compiles its own programs (~8 s of CPU per worker with the import), so two workers;
# after that a fit takes ~0.1 s, and 4 fits each interleave many times
MIXED_SETS = (["H0", "Om0"], ["Obh2", "ns", "k_sat"])
FITS_PER_WORKER = 4
# the other tests fit this set: its programs are then loaded from the compile cache the
# workers filled (tests/conftest.py gives the test run one cache folder)
FIRST_SET = MIXED_SETS[0]

WORKER = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from jaxfit.cosmo.fit import optimize_parameters
    from jaxfit.cosmo.store import OptimizedParameterStore

    root, names, go, wid, n = sys.argv[1:6]
    store = OptimizedParameterStore(root)
    Path(f"{go}.ready-{wid}").touch()
    while not Path(go).exists():
        time.sleep(0.005)
    results = [
        optimize_parameters("pbuf", "cmb", names.split(","), store=store, n_starts=1,
                            progress=False)
        for _ in range(int(n))
    ]
    assert all(r.converged for r in results), [r.convergence_status for r in results]
    print(json.dumps([r.metadata["store_refits"] for r in results]))
    """
)


def meta(chi2=1.0):
    return {"convergence_status": "success", "source_dataset": "cmb", "final_chi2": chi2}


def test_concurrent_fits_with_mixed_parameter_sets_store_one_fitted_point(tmp_path):
    """2 processes, each fitting its own set of PBUF parameters 4 times, started together:
    8 records, each starting from the point the one before it stored, every record's chi2
    reproduced at its stored values, and the quick regression passes."""
    root, go = tmp_path / "store", tmp_path / "go"
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(root), ",".join(names), str(go), str(wid),
             str(FITS_PER_WORKER)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        for wid, names in enumerate(MIXED_SETS)
    ]
    deadline = time.time() + 120
    while len(list(tmp_path.glob("go.ready-*"))) < len(procs) and time.time() < deadline:
        time.sleep(0.01)
    go.touch()  # all imports done: the fits read the store and compile together
    refits = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err.decode()[-3000:]
        refits += json.loads(out.decode().strip().splitlines()[-1])

    store = OptimizedParameterStore(root)
    history = store.get_optimization_history("pbuf")
    # every fit recorded once, whatever how often it was re-run
    assert len(history) == len(MIXED_SETS) * FITS_PER_WORKER
    assert sorted(map(tuple, (r.optimized_params for r in history))) == sorted(
        tuple(names) for names in MIXED_SETS for _ in range(FITS_PER_WORKER))
    assert sum(r.extra["store_refits"] for r in history) == sum(refits)
    # no fit lost: each started from the point stored before it (the first from built-ins)
    previous = store.builtins["pbuf"]
    for record in history:
        assert record.extra["start_point"] == previous
        assert record.final_values == record.extra["fit_point"]  # the whole fitted point
        previous = record.final_values
    # no mixed point: the defaults are the newest fit's point, and each record's chi2
    # is the chi2 at its stored values
    assert store.get_model_defaults("pbuf") == history[-1].final_values
    data = cosmo_data("pbuf", "cmb")
    for record in history:
        chi2 = sum(chi2_breakdown(record.final_values, data).values())
        np.testing.assert_allclose(chi2, record.final_chi2, rtol=REGRESSION_RTOL, atol=1e-12)
    (row,) = regression(store, quick=True)
    assert row["model"] == "pbuf" and row["reproduced"], row
    assert not list(root.glob("*.corrupt-*")) and not list(root.glob(".*.tmp"))


def test_a_fit_overtaken_by_another_is_refitted_from_the_new_stored_point(
        tmp_path, monkeypatch):
    """Another process stores a point while the fit runs: the compare-and-swap refuses the
    stale result and the fit is re-run from the new point, which it then stores whole."""
    store = OptimizedParameterStore(tmp_path)
    other = OptimizedParameterStore(tmp_path)  # another process's store object
    real_minimize = fit_module.minimize
    calls = []

    def minimize_overtaken(*args, **kwargs):
        if not calls:  # during the first attempt only
            other.update_model_defaults("pbuf", {"k_sat": 0.95}, meta())
        calls.append(1)
        return real_minimize(*args, **kwargs)

    monkeypatch.setattr(fit_module, "minimize", minimize_overtaken)
    result = optimize_parameters("pbuf", "cmb", FIRST_SET, store=store, n_starts=1,
                                 progress=False)
    assert len(calls) == 2 and result.metadata["store_refits"] == 1
    interloper, fit = store.get_optimization_history("pbuf")
    assert fit.extra["start_point"] == interloper.final_values  # built on the other fit
    assert fit.final_values["k_sat"] == 0.95  # not fitted: kept from the other fit
    assert store.get_model_defaults("pbuf") == fit.final_values == result.metadata["fit_point"]


def test_a_fit_overtaken_every_time_is_refused_and_writes_nothing(tmp_path, monkeypatch):
    store = OptimizedParameterStore(tmp_path)
    other = OptimizedParameterStore(tmp_path)
    real_minimize = fit_module.minimize

    def minimize_always_overtaken(*args, **kwargs):
        other.update_model_defaults("pbuf", {"Om0": 0.30 + 0.001 * len(
            other.get_optimization_history("pbuf"))}, meta())
        return real_minimize(*args, **kwargs)

    monkeypatch.setattr(fit_module, "minimize", minimize_always_overtaken)
    monkeypatch.setattr(fit_module, "MAX_REFITS", 1)
    with pytest.raises(StoreConflict, match="during each of 2 attempts"):
        optimize_parameters("pbuf", "cmb", FIRST_SET, store=store, n_starts=1,
                            progress=False)
    history = store.get_optimization_history("pbuf")
    assert len(history) == 2  # only the other process's two updates
    assert store.get_model_defaults("pbuf") == history[-1].final_values


def test_update_with_a_stale_version_is_refused_and_changes_no_byte(tmp_path):
    store = OptimizedParameterStore(tmp_path)
    start = store.read_point("pbuf")
    store.update_model_defaults("pbuf", {"H0": 68.0}, meta(), expected_version=start.version)
    before = store.path("pbuf").read_bytes()
    with pytest.raises(StoreConflict, match="changed since the fit read"):
        store.update_model_defaults("pbuf", {"Om0": 0.3}, meta(), expected_version=start.version)
    assert store.path("pbuf").read_bytes() == before
    current = store.read_point("pbuf")
    assert current.version != start.version and current.defaults["H0"] == 68.0
    store.update_model_defaults("pbuf", {"Om0": 0.3}, meta(), expected_version=current.version)
    assert store.get_model_defaults("pbuf")["Om0"] == 0.3


# -------------------------------------------------------------- dry run, corrupt store
CORRUPT = b'{"format_version": 1, "model": "pbuf", "defaults": {"H0": 70.0'  # truncated


def listing(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_dry_run_on_a_corrupt_store_changes_no_byte_and_writes_nothing(tmp_path):
    store = OptimizedParameterStore(tmp_path)
    store.path("pbuf").write_bytes(CORRUPT)
    before = listing(tmp_path)
    with pytest.warns(StoreCorruptionWarning, match="nothing written"):
        result = optimize_parameters("pbuf", "cmb", FIRST_SET, store=store, n_starts=1,
                                     dry_run=True, progress=False)
    assert result.converged
    # it fitted from the built-ins, as a real run would after moving the file aside
    assert result.metadata["start_point"] == store.builtins["pbuf"]
    assert listing(tmp_path) == before


@pytest.mark.filterwarnings("ignore::jaxfit.cosmo.store.StoreCorruptionWarning")
def test_cli_dry_run_and_regression_on_a_corrupt_store_write_nothing(tmp_path):
    store = OptimizedParameterStore(tmp_path)
    store.path("pbuf").write_bytes(CORRUPT)
    before = listing(tmp_path)
    fit = CliRunner().invoke(app, ["cosmo", "fit", "--model", "pbuf", "--optimize", "H0,Om0",
                                   "--n-starts", "1",
                                   "--dry-run", "--store", str(tmp_path)])
    assert fit.exit_code == 0, fit.output
    assert "dry run: store unchanged" in fit.output
    check = CliRunner().invoke(app, ["cosmo", "regression", "--quick", "--store", str(tmp_path)])
    assert check.exit_code == 0, check.output
    assert listing(tmp_path) == before
