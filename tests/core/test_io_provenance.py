"""Tests of jaxfit.core.io (atomic writes, JSON conversion) and jaxfit.core.provenance."""

import datetime
import importlib.metadata
import json
import math
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

import jaxfit  # noqa: F401  (switches on float64)
from jaxfit.core import io as jio
from jaxfit.core.io import atomic_write_bytes, save_figure, to_jsonable, write_csv, write_json
from jaxfit.core.provenance import (
    PACKAGES,
    device_info,
    package_versions,
    run_record,
    time_first_and_warm,
)


def _strict_load(path):
    """json.load that refuses the non-standard NaN / Infinity literals."""

    def reject(name):
        raise AssertionError(f"non-standard JSON literal {name} written")

    with open(path) as handle:
        return json.load(handle, parse_constant=reject)


# ------------------------------------------------------------------------ JSON
def test_write_json_round_trip_with_arrays_and_non_finite(tmp_path):
    obj = {
        "array": np.arange(6.0).reshape(2, 3),
        "ints": np.array([1, 2, 3], dtype=np.int32),
        "jax": jnp.array([0.5, jnp.nan, -jnp.inf]),
        "scalar64": np.float64(2.5),
        "scalar32": np.float32(0.25),
        "int64": np.int64(7),
        "bool": np.bool_(True),
        "inf": math.inf,
        "nan": np.float64(np.nan),
        "tuple": (1, 2.0, "three"),
        "nested": {"deep": [np.float64(-np.inf), None]},
        3: "integer key",
    }
    path = write_json(tmp_path / "sub" / "out.json", obj)
    assert path == tmp_path / "sub" / "out.json"
    loaded = _strict_load(path)
    assert loaded == {
        "array": [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]],
        "ints": [1, 2, 3],
        "jax": [0.5, "nan", "-inf"],
        "scalar64": 2.5,
        "scalar32": 0.25,
        "int64": 7,
        "bool": True,
        "inf": "inf",
        "nan": "nan",
        "tuple": [1, 2.0, "three"],
        "nested": {"deep": ["-inf", None]},
        "3": "integer key",
    }
    assert path.read_text().endswith("\n")
    # float64 values survive exactly
    x = np.random.default_rng(0).normal(size=5)
    np.testing.assert_array_equal(_strict_load(write_json(tmp_path / "x.json", x)), x)


def test_to_jsonable_types():
    assert to_jsonable(np.float64(1.5)) == 1.5 and type(to_jsonable(np.float64(1.5))) is float
    assert type(to_jsonable(np.int64(3))) is int
    assert type(to_jsonable(np.bool_(False))) is bool
    assert to_jsonable(jnp.float64(jnp.inf)) == "inf"
    assert to_jsonable({"a": (np.float32(np.nan),)}) == {"a": ["nan"]}
    assert to_jsonable("text") == "text" and to_jsonable(None) is None


# --------------------------------------------------------------------- atomic writes
def test_atomic_write_creates_and_replaces_without_temp_files(tmp_path):
    target = tmp_path / "a" / "b" / "data.bin"
    atomic_write_bytes(target, b"first")
    assert target.read_bytes() == b"first"
    atomic_write_bytes(str(target), b"second, longer content")
    assert target.read_bytes() == b"second, longer content"
    assert [p.name for p in target.parent.iterdir()] == ["data.bin"]


@pytest.mark.parametrize("failing", ["replace", "fsync"])
def test_failed_write_keeps_old_content(tmp_path, monkeypatch, failing):
    target = tmp_path / "result.json"
    write_json(target, {"version": 1})

    def boom(*args, **kwargs):
        raise OSError(f"simulated failure in os.{failing}")

    monkeypatch.setattr(jio.os, failing, boom)
    with pytest.raises(OSError, match=f"simulated failure in os.{failing}"):
        write_json(target, {"version": 2, "payload": list(range(1000))})
    monkeypatch.undo()
    assert _strict_load(target) == {"version": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]  # temp file removed


def test_failed_first_write_leaves_nothing(tmp_path, monkeypatch):
    def fail(*args):
        raise OSError("simulated failure")

    monkeypatch.setattr(jio.os, "replace", fail)
    with pytest.raises(OSError, match="simulated failure"):
        atomic_write_bytes(tmp_path / "new.bin", b"data")
    assert list(tmp_path.iterdir()) == []


def test_write_csv_round_trip(tmp_path):
    frame = pd.DataFrame({"x": [0.1, 0.2, 0.3], "status": [0, 1, 3]})
    plain = pd.read_csv(write_csv(tmp_path / "plain.csv", frame))
    pd.testing.assert_frame_equal(plain, frame)
    named = frame.copy()
    named.index.name = "start"
    back = pd.read_csv(write_csv(tmp_path / "named.csv", named), index_col="start")
    pd.testing.assert_frame_equal(back, named)


def test_save_figure_writes_png_and_closes(tmp_path):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    path = save_figure(fig, tmp_path / "fig.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not plt.fignum_exists(fig.number)


# ------------------------------------------------------------------- provenance
def test_run_record_contents(tmp_path):
    timings = {"first_call_s": 1.5, "warm_s": 0.01, "repeats": 3}
    record = run_record(seeds={"starts": 0, "de": 1}, timings=timings,
                        command=["jaxfit", "fit", "--quiet"], config="lepton.toml")
    assert {"packages", "device", "dtype", "seeds", "command", "timings"} <= set(record)
    assert record["seeds"] == {"starts": 0, "de": 1}
    assert record["timings"] == timings
    assert record["command"] == "jaxfit fit --quiet"
    assert record["config"] == "lepton.toml"
    assert record["dtype"] == "float64"
    assert set(record["packages"]) == set(PACKAGES)
    assert record["packages"]["jax"] == jax.__version__
    assert record["packages"]["numpy"] == importlib.metadata.version("numpy")
    assert record["device"]["n_devices"] == len(jax.local_devices())
    assert record["device"]["backend"] == jax.default_backend()
    assert len(record["device"]["devices"]) == len(jax.local_devices())
    assert record["python"] == sys.version.split()[0]
    created = datetime.datetime.fromisoformat(record["created_utc"])
    assert created.utcoffset() == datetime.timedelta(0)
    now = datetime.datetime.now(datetime.UTC)
    assert abs((now - created).total_seconds()) < 600
    # the record is JSON-serialisable through write_json
    assert _strict_load(write_json(tmp_path / "run.json", record))["seeds"] == record["seeds"]


def test_run_record_defaults_to_sys_argv(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["prog", "--flag", "value"])
    record = run_record()
    assert record["command"] == "prog --flag value"
    assert record["seeds"] is None and record["timings"] is None


def test_package_versions_and_device_info():
    versions = package_versions()
    assert versions["scipy"] == importlib.metadata.version("scipy")
    assert all(v is None or isinstance(v, str) for v in versions.values())
    info = device_info()
    assert info["process_count"] >= 1 and 0 <= info["process_index"] < info["process_count"]


def test_time_first_and_warm():
    calls = []
    square = jax.jit(lambda x: x**2)

    def fn(x):
        calls.append(1)
        return square(x)

    x = jnp.arange(4.0)
    out, timings = time_first_and_warm(fn, x, repeats=3)
    assert len(calls) == 4  # one first call plus three warm calls
    np.testing.assert_array_equal(np.asarray(out), [0.0, 1.0, 4.0, 9.0])
    assert set(timings) == {"first_call_s", "warm_s", "repeats"}
    assert timings["first_call_s"] >= 0.0 and timings["warm_s"] >= 0.0
    assert timings["repeats"] == 3

    calls.clear()
    out, timings = time_first_and_warm(fn, x, repeats=0)
    assert len(calls) == 1 and timings["warm_s"] is None and timings["first_call_s"] >= 0.0


def test_time_first_and_warm_waits_for_async_results():
    """The timings include the computation: block_until_ready is applied to the output."""
    waited = []

    class Result:
        def block_until_ready(self):
            waited.append(True)
            return self

    _, timings = time_first_and_warm(lambda: {"r": Result()}, repeats=2)
    assert len(waited) == 3 and timings["warm_s"] >= 0.0



def test_paths_become_strings_in_json(tmp_path):
    data = tmp_path / "data" / "file.csv"
    write_json(tmp_path / "p.json", {"data_file": data, "files": [data]})
    loaded = json.loads((tmp_path / "p.json").read_text())
    assert loaded == {"data_file": str(data), "files": [str(data)]}
