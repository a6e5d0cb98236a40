"""Result files are complete or absent, readable by the group, and never leave temps behind.

Issue 16, item 3: files get the umask's mode; a result set is written whole or not at all
(a full disk, a read-only folder, a folder in a file's place); a killed writer's temp is
removed by the next write; concurrent writers of one file never mix; the JSON reader names
the file and line of a bad file. Tests run as root, so read-only and full destinations are
simulated by making the write raise. No test compiles anything.
"""

import errno
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from jaxfit.core import io as jio  # noqa: E402
from jaxfit.core.io import (  # noqa: E402
    atomic_write_bytes,
    read_json,
    remove_stale_temps,
    temp_path,
    write_files,
    write_json,
    write_result_set,
)
from jaxfit.core.results import ResultSet  # noqa: E402


def _temps(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if jio.TEMP_TAG in p.name]


def _small_set():
    fig, ax = plt.subplots(figsize=(1, 1))
    ax.plot([0, 1], [0, 1])
    return {"chi2": 1.5}, pd.DataFrame({"x": [1.0, 2.0]}), fig


@pytest.fixture
def umask():
    """Set the process umask for one test, restored after."""
    old = os.umask(0o022)
    yield os.umask
    os.umask(old)


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


# --------------------------------------------------------------------- file modes
@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o027, 0o640), (0o002, 0o664)])
def test_single_file_gets_the_umask_mode(tmp_path, umask, mask, mode):
    umask(mask)
    assert _mode(atomic_write_bytes(tmp_path / "a.bin", b"x")) == mode
    assert _mode(write_json(tmp_path / "b.json", {"a": 1})) == mode


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o027, 0o640)])
def test_result_set_files_get_the_umask_mode(tmp_path, umask, mask, mode):
    umask(mask)
    paths = write_result_set(tmp_path, "fit", *_small_set())
    assert {kind: _mode(p) for kind, p in paths.items()} == dict.fromkeys(paths, mode)


def test_replacing_a_private_file_gives_the_umask_mode(tmp_path, umask):
    target = tmp_path / "old.json"
    target.write_text("{}")
    target.chmod(0o600)
    write_json(target, {"new": True})
    assert _mode(target) == 0o644


# --------------------------------------------------------------------- temp names, stale temps
def test_temp_names_are_hidden_marked_and_name_the_writer(tmp_path):
    tmp = temp_path(tmp_path / "fit.json")
    assert tmp.parent == tmp_path and tmp.name.startswith(".fit.json.jaxfit-tmp.")
    assert tmp.name.endswith(".tmp") and f".{os.getpid()}@" in tmp.name
    assert len(temp_path(tmp_path / ("x" * 250)).name) < 255


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _fake_temp(folder: Path, pid: int, host: str = jio._HOST, age_s: float = 0.0) -> Path:
    tmp = folder / f".fit.json.jaxfit-tmp.{pid}@{host}.abc123.tmp"
    tmp.write_bytes(b"half")
    stamp = time.time() - age_s
    os.utime(tmp, (stamp, stamp))
    return tmp


def test_stale_temps_of_dead_writers_and_old_temps_go_others_stay(tmp_path):
    dead = _fake_temp(tmp_path, _dead_pid())
    old = _fake_temp(tmp_path, os.getppid(), host="elsewhere", age_s=2 * jio.STALE_AFTER_S)
    young_remote = _fake_temp(tmp_path, 1, host="elsewhere")
    mine = temp_path(tmp_path / "mine.json")
    mine.write_bytes(b"in flight")
    other = tmp_path / ".fit.json.tmp"  # looks like a temp, is not jaxfit's
    other.write_bytes(b"keep")
    folder = tmp_path / f".set.jaxfit-tmp.{_dead_pid()}@{jio._HOST}.0f.tmp"
    folder.mkdir()
    (folder / "fit.json").write_bytes(b"{}")
    removed = remove_stale_temps(tmp_path)
    assert sorted(removed) == sorted([dead, old, folder])
    assert young_remote.exists() and mine.exists() and other.exists()


def test_the_next_write_into_a_folder_removes_its_stale_temps(tmp_path):
    stale = _fake_temp(tmp_path, _dead_pid())
    write_json(tmp_path / "fit.json", {"a": 1})
    assert not stale.exists() and _temps(tmp_path) == []


def test_missing_folder_has_no_stale_temps(tmp_path):
    assert remove_stale_temps(tmp_path / "absent") == []


WRITER = """
import os, sys, time
from jaxfit.core import io
def stall(src, dst):
    print("in window", flush=True)
    time.sleep(60)
io.os.replace = stall
io.atomic_write_bytes(sys.argv[1], b"new" * 1000)
"""


def test_killed_writer_leaves_old_file_and_its_temp_goes_next_time(tmp_path):
    target = tmp_path / "fit.json"
    target.write_bytes(b"old")
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(target)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "in window"
        os.kill(writer.pid, signal.SIGKILL)
    finally:
        writer.wait(timeout=30)
    assert target.read_bytes() == b"old" and len(_temps(tmp_path)) == 1
    jio._swept.discard(os.fspath(tmp_path.resolve()))
    atomic_write_bytes(target, b"next")
    assert target.read_bytes() == b"next" and _temps(tmp_path) == []


# --------------------------------------------------------------------- concurrency
def test_concurrent_writers_of_one_file_never_mix(tmp_path):
    target = tmp_path / "shared.bin"
    contents = [bytes([k]) * 200_000 for k in range(4)]
    seen, stop = set(), threading.Event()

    def writer(data):
        for _ in range(15):
            atomic_write_bytes(target, data)

    def reader():
        while not stop.is_set():
            if target.exists():
                seen.add(target.read_bytes())

    watcher = threading.Thread(target=reader)
    watcher.start()
    threads = [threading.Thread(target=writer, args=(c,)) for c in contents]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    watcher.join()
    assert seen <= set(contents) and target.read_bytes() in contents
    assert _temps(tmp_path) == []


# --------------------------------------------------------------------- result sets: all or none
def test_result_set_is_written_whole_and_resultset_save_still_works(tmp_path):
    class Toy(ResultSet):
        default_stem = "toy"

        def to_dict(self):
            return {"chi2": 2.0}

        def to_frame(self):
            return pd.DataFrame({"x": [1.0]})

        def plot(self):
            return _small_set()[2]

    paths = Toy().save(tmp_path, provenance={"seed": 1})
    assert set(paths) == {"json", "csv", "png"} and all(p.exists() for p in paths.values())
    assert json.loads(paths["json"].read_text()) == {"chi2": 2.0, "provenance": {"seed": 1}}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["toy.csv", "toy.json", "toy.png"]


def _old_set(folder: Path) -> dict[str, bytes]:
    write_result_set(folder, "fit", {"version": 1}, pd.DataFrame({"x": [0.0]}),
                     _small_set()[2])
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def _fail_on_call(n: int, err: OSError):
    """A stand-in for os.fsync that raises ``err`` on its ``n``-th call."""
    calls = []
    real = os.fsync

    def fsync(fd):
        calls.append(fd)
        if len(calls) == n:
            raise err
        return real(fd)

    return fsync


@pytest.mark.parametrize("failing_call", [1, 2, 3, 4])
def test_full_disk_mid_set_leaves_the_old_set_and_no_temps(tmp_path, monkeypatch, failing_call):
    old = _old_set(tmp_path)
    full = OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(jio.os, "fsync", _fail_on_call(failing_call, full))
    with pytest.raises(OSError) as caught:
        write_result_set(tmp_path, "fit", {"version": 2}, pd.DataFrame({"x": [9.0]}),
                         _small_set()[2])
    assert caught.value.errno == errno.ENOSPC
    monkeypatch.undo()
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == old


def test_read_only_folder_leaves_the_old_set(tmp_path, monkeypatch):
    old = _old_set(tmp_path)
    real_open = os.open

    def deny(path, flags, *args, **kwargs):
        if flags & os.O_CREAT:
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(jio.os, "open", deny)
    with pytest.raises(PermissionError):
        write_files(tmp_path, {"fit.json": b"{}", "fit.csv": b"x\n"})
    monkeypatch.undo()
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == old


def test_a_folder_in_a_result_files_place_fails_before_any_rename(tmp_path):
    (tmp_path / "fit.png").mkdir()
    with pytest.raises(IsADirectoryError) as caught:
        write_result_set(tmp_path, "fit", *_small_set())
    assert caught.value.filename == os.fspath(tmp_path / "fit.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fit.png"]


def test_a_file_where_the_folder_goes_fails_cleanly(tmp_path):
    (tmp_path / "out").write_text("x")
    with pytest.raises((FileExistsError, NotADirectoryError)):
        write_files(tmp_path / "out" / "sub", {"a.json": b"{}"})
    assert (tmp_path / "out").read_text() == "x"


# --------------------------------------------------------------------- read_json
@pytest.mark.parametrize("content, expected, fragment", [
    (b'{"a": 1,,}', dict, "invalid JSON"),
    (b'{\n "a": \n}', dict, "line 3 column 1"),
    (b"[1, 2]", dict, "an object was expected, got list"),
    (b"null", dict, "an object was expected, got null"),
    (b'{"a": 1}', list, "an array was expected, got dict"),
    (b"\xff\xfe{}", dict, "not UTF-8"),
    (b"", dict, "invalid JSON"),
])
def test_read_json_names_the_file_and_what_was_expected(tmp_path, content, expected, fragment):
    path = tmp_path / "config.json"
    path.write_bytes(content)
    with pytest.raises(ValueError) as caught:
        read_json(path, "config file", expected)
    assert fragment in str(caught.value) and f"config file {path}" in str(caught.value)


def test_read_json_missing_file_and_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="config file not found"):
        read_json(tmp_path / "absent.json", "config file")
    with pytest.raises(ValueError, match="not a file"):
        read_json(tmp_path, "config file")


# --------------------------------------------------------------------- properties
finite = st.floats(allow_nan=False, allow_infinity=False)
scalars = st.none() | st.booleans() | st.integers(-2**53, 2**53) | finite | st.text(max_size=8)
nested = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(max_size=6), inner, max_size=4), max_leaves=20)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(record=st.dictionaries(st.text(max_size=6), nested, max_size=5))
def test_write_json_round_trips_any_finite_nested_dict(tmp_path, record):
    path = write_json(tmp_path / "r.json", record)
    assert read_json(path, "result") == record


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(old=st.binary(max_size=2000), new=st.binary(max_size=2000),
       stage=st.sampled_from(["none", "write", "fsync", "replace"]))
def test_atomic_write_leaves_old_or_new_never_partial(tmp_path, old, new, stage):
    target = tmp_path / "blob.bin"
    target.write_bytes(old)

    def boom(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    patches = {"write": (jio.os, "fdopen"), "fsync": (jio.os, "fsync"),
               "replace": (jio.os, "replace")}
    if stage == "none":
        atomic_write_bytes(target, new)
    else:
        owner, name = patches[stage]
        real = getattr(owner, name)
        setattr(owner, name, boom)
        try:
            with pytest.raises(OSError):
                atomic_write_bytes(target, new)
        finally:
            setattr(owner, name, real)
    assert target.read_bytes() == (new if stage == "none" else old)
    assert _temps(tmp_path) == []
