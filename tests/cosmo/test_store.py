"""Tests of jaxfit.cosmo.store: persistence, locking, corruption handling, the seed's API.

Explicit built-in defaults are passed to every store so that these tests do not depend on
the model registry (jaxfit.cosmo.model).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from jaxfit.cosmo.store import (
    FORMAT_VERSION,
    OptimizedParameterStore,
    StoreConsistencyWarning,
    StoreCorruptionWarning,
    StoreLockTimeout,
    StoreVersionError,
    checksum,
    resolve_store_dir,
)

LCDM = {"H0": 67.4, "Om0": 0.315, "Obh2": 0.02237, "ns": 0.9649, "Neff": 3.046, "Tcmb": 2.7255}
PBUF = {
    **LCDM,
    "alpha": 5e-4,
    "Rmax": 1e9,
    "eps0": 0.7,
    "n_eps": 0.0,
    "k_sat": 0.9762,
}
BUILTINS = {"lcdm": LCDM, "pbuf": PBUF}
REPO = Path(__file__).resolve().parents[2]


def meta(**extra):
    base = {
        "convergence_status": "success",
        "source_dataset": "cmb",
        "chi2_improvement": 2.34,
        "final_chi2": 12.34,
        "optimizer_info": {"method": "L-BFGS-B", "library": "scipy", "version": "1.13.0"},
        "covariance_scaling": 1.0,
    }
    base.update(extra)
    return base


@pytest.fixture
def store(tmp_path):
    return OptimizedParameterStore(tmp_path / "store", builtins=BUILTINS)


def fresh(store):
    """A new store object on the same directory (nothing cached in memory)."""
    return OptimizedParameterStore(store.root, builtins=BUILTINS)


def file_is_valid(path: Path) -> dict:
    """Independent check of a store file: JSON, version, sha256 of the canonical body."""
    content = json.loads(path.read_text())
    body = {k: v for k, v in content.items() if k != "checksum"}
    canon = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    assert content["checksum"] == hashlib.sha256(canon).hexdigest()
    assert content["format_version"] == FORMAT_VERSION
    return content


# ------------------------------------------------------------------------ round trip
def test_roundtrip_reload_exact_in_new_store_object(store):
    """The seed's critical test: optimised values survive store + reload (rtol 1e-12; in
    fact bit for bit), read by a new store object."""
    orig = store.get_model_defaults("pbuf")
    assert orig == PBUF
    optimized = {
        "H0": np.float64(67.4) * (1 + 1e-7 / 3),
        "Om0": 0.31519999999999998 + 1e-17,
        "k_sat": np.asarray(0.97620000000000001234),
        "alpha": 1.0 / 3.0 * 1e-3,
        "Rmax": 123456789012.3456,
        "n_eps": -1e-300,
    }
    store.update_model_defaults("pbuf", optimized, meta())
    reloaded = fresh(store).get_model_defaults("pbuf")
    for k, v in optimized.items():
        assert np.isclose(reloaded[k], float(v), rtol=1e-12, atol=0.0)
        assert reloaded[k] == float(v)
    file_is_valid(store.path("pbuf"))


def test_missing_file_gives_builtins_without_writing(store):
    """A model that was never stored has its built-in defaults and no file is written."""
    assert store.get_model_defaults("lcdm") == LCDM
    assert not store.path("lcdm").exists()
    assert store.get_optimization_history("lcdm") == []
    assert store.get_warm_start_params("lcdm") is None


def test_merge_history_metadata_is_optimized(store):
    """Non-destructive merge; history grows; metadata has the seed's keys; is_optimized."""
    store.update_model_defaults("pbuf", {"k_sat": 0.95, "alpha": 1e-3}, meta())
    store.update_model_defaults(
        "pbuf", {"H0": 68.0}, meta(source_dataset=["cmb", "bao"], chi2_improvement=0.5)
    )
    d = fresh(store).get_model_defaults("pbuf")
    assert d["k_sat"] == 0.95 and d["alpha"] == 1e-3  # kept from the first update
    assert d["H0"] == 68.0
    assert d["Om0"] == PBUF["Om0"] and d["Rmax"] == PBUF["Rmax"]  # never optimised
    assert fresh(store).get_model_defaults("lcdm") == LCDM  # the other model untouched

    hist = store.get_optimization_history("pbuf")
    assert [r.dataset for r in hist] == ["cmb", "cmb+bao"]
    assert hist[0].optimized_params == ["k_sat", "alpha"]
    assert hist[-1].final_values == d
    assert hist[0].final_chi2 == 12.34 and hist[1].chi2_improvement == 0.5
    assert hist[0].extra["optimizer_info"]["method"] == "L-BFGS-B"

    md = store.get_optimization_metadata("pbuf")
    for key in (
        "timestamp",
        "cmb+bao_optimized",
        "source_dataset",
        "optimized_params",
        "chi2_improvement",
        "convergence_status",
        "optimizer_info",
        "covariance_scaling",
    ):
        assert key in md, key
    assert md["timestamp"].endswith("Z")

    assert store.is_optimized("pbuf", "cmb")
    assert store.is_optimized("pbuf", "bao+cmb")
    assert store.is_optimized("pbuf", ["cmb", "bao"])
    assert not store.is_optimized("pbuf", "sn")
    assert not store.is_optimized("lcdm", "cmb")


def test_warm_start_age(store):
    """Warm start: a 1 h old optimisation gives the stored params, a 25 h old one None."""
    rec = store.update_model_defaults("lcdm", {"H0": 68.1}, meta())
    t = rec.time
    warm = store.get_warm_start_params("lcdm", now=t + dt.timedelta(hours=1))
    assert warm is not None and warm["H0"] == 68.1 and warm["Om0"] == LCDM["Om0"]
    assert store.get_warm_start_params("lcdm", now=t + dt.timedelta(hours=25)) is None
    assert (
        store.get_warm_start_params("lcdm", max_age_hours=0.5, now=t + dt.timedelta(hours=1))
        is None
    )
    assert store.get_warm_start_params("lcdm") is not None  # just written: fresh


# -------------------------------------------------------------------- concurrency
WORKER = textwrap.dedent(
    """
    import json, os, sys, time
    from jaxfit.cosmo.store import OptimizedParameterStore
    root, model, go = sys.argv[1], sys.argv[2], sys.argv[5]
    wid, n = int(sys.argv[3]), int(sys.argv[4])
    builtins = json.loads(os.environ["STORE_TEST_BUILTINS"])
    store = OptimizedParameterStore(root, builtins=builtins, lock_timeout=60)
    open(f"{go}.ready{wid}", "w").close()
    deadline = time.time() + 120
    while not os.path.exists(go) and time.time() < deadline:
        time.sleep(0.002)
    for i in range(n):
        tag = 1000 * (wid + 1) + i
        values = {p: v * (1 + 1e-6 * tag) for p, v in builtins[model].items()}
        store.update_model_defaults(
            model, values,
            {"convergence_status": "success", "source_dataset": "cmb",
             "chi2_improvement": float(i), "worker": wid, "i": i},
        )
    """
)


def test_eight_processes_no_lost_update(tmp_path):
    """8 processes (4 on lcdm, 4 on pbuf) updating at once: no update lost, every file valid
    with a valid checksum, final defaults == the last history record."""
    root = tmp_path / "store"
    go = tmp_path / "go"
    n_updates = 6
    env = dict(os.environ, STORE_TEST_BUILTINS=json.dumps(BUILTINS))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env["JAX_PLATFORMS"] = "cpu"
    jobs = {wid: "lcdm" if wid < 4 else "pbuf" for wid in range(8)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(root), model, str(wid), str(n_updates), str(go)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for wid, model in jobs.items()
    ]
    deadline = time.time() + 120
    while len(list(tmp_path.glob("go.ready*"))) < len(procs) and time.time() < deadline:
        time.sleep(0.01)
    go.touch()  # all imports done: start the updates together
    for p in procs:
        out, err = p.communicate(timeout=180)
        assert p.returncode == 0, err.decode()[-3000:]

    store = OptimizedParameterStore(root, builtins=BUILTINS)
    for model in ("lcdm", "pbuf"):
        content = file_is_valid(store.path(model))
        hist = store.get_optimization_history(model)
        assert len(hist) == 4 * n_updates
        seen = {(r.extra["worker"], r.extra["i"]) for r in hist}
        expected = {(w, i) for w, m in jobs.items() if m == model for i in range(n_updates)}
        assert seen == expected
        # each worker's updates appear in its own order
        for w in {w for w, _ in expected}:
            assert [r.extra["i"] for r in hist if r.extra["worker"] == w] == list(range(n_updates))
        last = hist[-1]
        tag = 1000 * (last.extra["worker"] + 1) + last.extra["i"]
        want = {p: v * (1 + 1e-6 * tag) for p, v in BUILTINS[model].items()}
        assert store.get_model_defaults(model) == last.final_values == want
        assert content["defaults"] == want
    assert not list(root.glob("*.corrupt-*"))
    assert not list(root.glob(".*.tmp"))


def test_lock_timeout_names_lock_file(tmp_path):
    """A held lock makes an update wait, then fail with an error naming the lock file."""
    import filelock

    store = OptimizedParameterStore(tmp_path, builtins=BUILTINS, lock_timeout=0.2)
    other = filelock.FileLock(store.lock_path("lcdm"), thread_local=False)
    with other, pytest.raises(StoreLockTimeout, match=r"lcdm\.lock"):
        store.update_model_defaults("lcdm", {"H0": 70.0}, meta())
    store.update_model_defaults("pbuf", {"H0": 70.0}, meta())  # other model: own lock
    assert not store.path("lcdm").exists()


# ---------------------------------------------------------------------- corruption
def test_truncated_file_moved_aside_and_rebuilt(store):
    """A file truncated mid-way is detected, kept as .corrupt-*, warned about, and the
    store is rebuilt from the built-ins and usable."""
    store.update_model_defaults("pbuf", {"k_sat": 0.9}, meta())
    path = store.path("pbuf")
    truncated = path.read_bytes()[: path.stat().st_size // 2]
    path.write_bytes(truncated)

    s2 = fresh(store)
    with pytest.warns(StoreCorruptionWarning, match=r"pbuf\.json.*not valid JSON"):
        d = s2.get_model_defaults("pbuf")
    assert d == PBUF
    aside = list(path.parent.glob("pbuf.json.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == truncated
    content = file_is_valid(path)
    assert content["history"] == [] and content["optimization_metadata"] is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s2.update_model_defaults("pbuf", {"k_sat": 0.91}, meta())
        assert fresh(store).get_model_defaults("pbuf")["k_sat"] == 0.91


def test_wrong_checksum_moved_aside_and_rebuilt(store):
    """A hand-edited value (checksum no longer matching) is treated as corruption."""
    store.update_model_defaults("lcdm", {"H0": 68.0}, meta())
    path = store.path("lcdm")
    content = json.loads(path.read_text())
    content["defaults"]["H0"] = 99.0
    bad = json.dumps(content).encode()
    path.write_bytes(bad)
    with pytest.warns(StoreCorruptionWarning, match="checksum mismatch"):
        hist = fresh(store).get_optimization_history("lcdm")
    assert hist == []
    assert fresh(store).get_model_defaults("lcdm") == LCDM
    (aside,) = path.parent.glob("lcdm.json.corrupt-*")
    assert aside.read_bytes() == bad
    file_is_valid(path)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"", "not valid JSON"),
        (b"[1, 2]", "not an object"),
        (b'{"format_version": 1}', "missing keys"),
        ("nondict", "defaults is a list"),
    ],
)
def test_other_corruptions(store, payload, reason):
    """Empty file, wrong top level, missing keys, non-dict defaults: moved aside, rebuilt."""
    path = store.path("lcdm")
    path.parent.mkdir(parents=True, exist_ok=True)
    if payload == "nondict":
        body = {
            "format_version": 1,
            "model": "lcdm",
            "defaults": [1.0],
            "optimization_metadata": None,
            "history": [],
        }
        payload = json.dumps({**body, "checksum": checksum(body)}).encode()
    path.write_bytes(payload)
    assert store.check()["lcdm"].startswith("corrupt")
    with pytest.warns(StoreCorruptionWarning, match=reason):
        assert store.get_model_defaults("lcdm") == LCDM
    assert len(list(path.parent.glob("lcdm.json.corrupt-*"))) == 1
    assert store.check()["lcdm"] == "ok"


def test_newer_format_version_raises_and_is_left_alone(store):
    """A file from a newer jaxfit: clear StoreVersionError, file neither moved nor rewritten."""
    path = store.path("lcdm")
    path.parent.mkdir(parents=True)
    body = {
        "format_version": FORMAT_VERSION + 1,
        "model": "lcdm",
        "defaults": {"H0": 70.0},
        "new_field": 1,
    }
    raw = json.dumps({**body, "checksum": checksum(body)}).encode()
    path.write_bytes(raw)
    for call in (
        lambda: store.get_model_defaults("lcdm"),
        lambda: store.update_model_defaults("lcdm", {"H0": 68.0}, meta()),
    ):
        with pytest.raises(StoreVersionError, match=r"lcdm\.json.*format_version 2.*1 at most"):
            call()
    assert path.read_bytes() == raw
    assert not list(path.parent.glob("*.corrupt-*"))
    assert store.check()["lcdm"].startswith("newer format")


# ----------------------------------------------------------- failures, dry run, errors
def test_failed_optimisation_never_overwrites(store):
    """convergence_status 'failed' raises and leaves the file byte-for-byte unchanged."""
    store.update_model_defaults("lcdm", {"H0": 68.0}, meta())
    path = store.path("lcdm")
    before, mtime = path.read_bytes(), path.stat().st_mtime_ns
    time.sleep(0.01)
    with pytest.raises(ValueError, match="'failed'.*never overwrites"):
        store.update_model_defaults("lcdm", {"H0": 50.0}, meta(convergence_status="failed"))
    with pytest.raises(ValueError, match="None"):
        store.update_model_defaults("lcdm", {"H0": 50.0}, {"source_dataset": "cmb"})
    assert path.read_bytes() == before and path.stat().st_mtime_ns == mtime
    with pytest.raises(ValueError, match="failed"):
        store.update_model_defaults("pbuf", {"H0": 50.0}, meta(convergence_status="failed"))
    assert not store.path("pbuf").exists()


def test_dry_run_writes_nothing(store):
    """dry_run returns the record but changes no file (bytes, mtime) and creates none."""
    rec = store.update_model_defaults("pbuf", {"k_sat": 0.9}, meta(), dry_run=True)
    assert rec.final_values["k_sat"] == 0.9 and rec.optimized_params == ["k_sat"]
    assert not store.path("pbuf").exists()
    assert not store.root.exists() or not list(store.root.glob("*.json"))

    store.update_model_defaults("lcdm", {"H0": 68.0}, meta())
    path = store.path("lcdm")
    before, mtime = path.read_bytes(), path.stat().st_mtime_ns
    time.sleep(0.01)
    rec = store.update_model_defaults("lcdm", {"Om0": 0.3}, meta(), dry_run=True)
    assert rec.final_values["Om0"] == 0.3 and rec.final_values["H0"] == 68.0
    assert path.read_bytes() == before and path.stat().st_mtime_ns == mtime
    assert store.get_model_defaults("lcdm")["Om0"] == LCDM["Om0"]


def test_bad_input_errors(store):
    """Unknown model / parameter, NaN and inf values: clear errors naming the culprit."""
    with pytest.raises(KeyError, match=r"unknown model 'wcdm'; valid models: lcdm, pbuf"):
        store.get_model_defaults("wcdm")
    with pytest.raises(KeyError, match="unknown model 'wcdm'"):
        store.update_model_defaults("wcdm", {"H0": 70.0}, meta())
    with pytest.raises(KeyError, match=r"unknown parameter 'k_sat' for model 'lcdm'.*H0"):
        store.update_model_defaults("lcdm", {"k_sat": 0.9}, meta())
    with pytest.raises(ValueError, match=r"'H0'.*finite.*nan"):
        store.update_model_defaults("lcdm", {"H0": float("nan")}, meta())
    with pytest.raises(ValueError, match=r"'Om0'.*finite"):
        store.update_model_defaults("lcdm", {"Om0": np.inf}, meta())
    with pytest.raises(ValueError, match="no optimised parameters"):
        store.update_model_defaults("lcdm", {}, meta())
    assert not store.root.exists() or not list(store.root.iterdir())


def test_bounds_refused(tmp_path):
    """With bounds given, a value outside them is refused, naming parameter and bounds."""
    s = OptimizedParameterStore(tmp_path, builtins=BUILTINS, bounds={"lcdm": {"H0": (20, 150)}})
    with pytest.raises(ValueError, match=r"'H0'.*outside its bounds \[20"):
        s.update_model_defaults("lcdm", {"H0": 200.0}, meta())


# ------------------------------------------------------------- consistency, export
def test_cross_model_consistency(store):
    """Equal shared parameters: no warning; H0 1% apart: a warning naming H0."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        diffs = store.validate_cross_model_consistency()
    assert diffs == {"H0": 0.0, "Om0": 0.0, "Obh2": 0.0, "ns": 0.0}

    store.update_model_defaults("pbuf", {"H0": 67.4 * 1.01, "k_sat": 0.9}, meta())
    with pytest.warns(StoreConsistencyWarning, match=r"H0 \(lcdm=67.4, pbuf=") as rec:
        diffs = store.validate_cross_model_consistency(tolerance=1e-3)
    assert "Om0" not in str(rec[0].message)
    assert diffs["H0"] == pytest.approx(0.01 / 1.01, rel=1e-9)
    assert diffs["Om0"] == 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        store.validate_cross_model_consistency(tolerance=0.02)


def test_export_summary(store, tmp_path):
    """export_optimization_summary writes valid JSON with both models (the seed's shape)."""
    store.update_model_defaults("lcdm", {"H0": 67.6}, meta(chi2_improvement=2.1))
    out = store.export_optimization_summary(tmp_path / "reports" / "summary.json")
    data = json.loads(out.read_text())
    summ = data["cmb_optimization_summary"]
    assert set(summ) == {"lcdm", "pbuf"}
    assert summ["lcdm"]["chi2"] == 12.34 and summ["lcdm"]["improvement"] == 2.1
    assert summ["lcdm"]["optimized_params"] == ["H0"]
    assert summ["lcdm"]["date"].endswith("Z")
    assert summ["lcdm"]["defaults"]["H0"] == 67.6
    assert summ["lcdm"]["optimization_metadata"]["source_dataset"] == "cmb"
    assert summ["pbuf"]["optimized"] is False and summ["pbuf"]["defaults"] == PBUF
    assert data["cross_model_consistency"]["H0"] > 0


def test_reset(store):
    """reset puts a model back to its built-ins with an empty history."""
    store.update_model_defaults("lcdm", {"H0": 68.0}, meta())
    store.reset("lcdm")
    assert fresh(store).get_model_defaults("lcdm") == LCDM
    assert store.get_optimization_history("lcdm") == []
    file_is_valid(store.path("lcdm"))


# ------------------------------------------------------------------------- location
def test_resolve_store_dir_precedence(monkeypatch, tmp_path):
    """explicit path > $JAXFIT_STORE > $XDG_DATA_HOME/jaxfit/store > ~/.local/share/..."""
    monkeypatch.setenv("JAXFIT_STORE", str(tmp_path / "env"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert resolve_store_dir(tmp_path / "cli") == tmp_path / "cli"
    assert resolve_store_dir() == tmp_path / "env"
    assert OptimizedParameterStore(builtins=BUILTINS).root == tmp_path / "env"
    monkeypatch.delenv("JAXFIT_STORE")
    assert resolve_store_dir() == tmp_path / "xdg" / "jaxfit" / "store"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert resolve_store_dir() == tmp_path / "home" / ".local" / "share" / "jaxfit" / "store"
