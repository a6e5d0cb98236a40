"""The persistent compilation cache: default on, per-version folders, switches, a folder
that cannot be written, unreadable entries, and ``jaxfit cache info|clear``."""

import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import jax
import jaxlib
import pytest
from typer.testing import CliRunner

from jaxfit.cli.main import app
from jaxfit.core import compile_cache as cc

REPO = Path(__file__).resolve().parents[2]
runner = CliRunner()


@pytest.fixture(autouse=True)
def restore_cache_setting():
    """Each test may switch the cache; afterwards the session's setting (tests/conftest.py:
    a temporary folder from JAXFIT_COMPILE_CACHE) applies again."""
    yield
    cc.enable_compile_cache()


def test_tests_use_a_temporary_folder_per_worker():
    if cc.is_off(os.environ.get(cc.ENV_VAR, "on")):
        pytest.skip("the cache is off for this test run")
    root = cc.state().root
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    assert root.parent == Path(tempfile.gettempdir())
    assert root.name.startswith(f"jaxfit-test-cache-{worker}-")
    assert cc.state().folder == root / cc.version_tag()


def test_version_folder_is_named_for_jax_and_jaxlib(tmp_path):
    tag = cc.version_tag()
    assert tag == f"jax-{jax.__version__}-jaxlib-{jaxlib.__version__}"
    folder = cc.enable_compile_cache(tmp_path / "root")
    assert folder == tmp_path / "root" / tag and folder.is_dir()
    assert jax.config.jax_compilation_cache_dir == str(folder)
    assert list(folder.iterdir()) == []  # the write probe leaves nothing behind
    assert cc.state().source == "python" and cc.state().enabled


@pytest.mark.parametrize("value", ["0", "off", "OFF", "false", "no", "", " 0 "])
def test_off_values_switch_the_cache_off(monkeypatch, value):
    monkeypatch.setenv(cc.ENV_VAR, value)
    assert cc.enable_compile_cache() is None
    assert jax.config.jax_compilation_cache_dir is None
    current = cc.state()
    assert not current.enabled and current.source == "env" and "off" in current.reason
    assert current.root == cc.default_root()  # info/clear still know where it would be


def test_unset_means_the_user_cache_folder_and_a_value_is_a_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv(cc.ENV_VAR, raising=False)
    assert cc.default_root() == tmp_path / "xdg" / "jaxfit" / "compile"
    assert cc.enable_compile_cache() == tmp_path / "xdg/jaxfit/compile" / cc.version_tag()
    assert cc.state().source == "default"
    monkeypatch.setenv(cc.ENV_VAR, str(tmp_path / "mine"))
    assert cc.enable_compile_cache() == tmp_path / "mine" / cc.version_tag()
    assert cc.state().source == "env"
    cc.disable_compile_cache()
    assert jax.config.jax_compilation_cache_dir is None and not cc.state().enabled


def test_jax_settings_of_the_user_win(monkeypatch, tmp_path):
    cc.enable_compile_cache(tmp_path)
    assert jax.config.jax_persistent_cache_min_compile_time_secs == cc.MIN_COMPILE_SECS
    assert jax.config.jax_compilation_cache_max_size == cc.MAX_SIZE_BYTES
    monkeypatch.setenv("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "3")
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 3.0)
    try:
        cc.enable_compile_cache(tmp_path)
        assert jax.config.jax_persistent_cache_min_compile_time_secs == 3.0
    finally:
        jax.config.update("jax_persistent_cache_min_compile_time_secs", cc.MIN_COMPILE_SECS)


def test_a_folder_that_cannot_be_written_warns_once_and_runs_without(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("in the way")
    for _ in range(2):
        assert cc.enable_compile_cache(blocker) is None
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "compile cache off: cannot write" in err
    assert str(blocker) in err
    assert jax.config.jax_compilation_cache_dir is None
    assert "cannot write" in cc.state().reason
    assert float(jax.jit(lambda x: x * 2.0)(3.0)) == 6.0  # computing still works
    result = runner.invoke(app, ["--compile-cache", str(blocker), "cache", "info"])
    assert result.exit_code == 0 and "cannot write" in result.output


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                    reason="root writes into read-only folders")
def test_a_read_only_folder_is_not_used(tmp_path):
    (tmp_path / "ro").mkdir()
    (tmp_path / "ro").chmod(0o500)
    try:
        assert cc.enable_compile_cache(tmp_path / "ro") is None
    finally:
        (tmp_path / "ro").chmod(0o700)


def _fake_version(root: Path) -> Path:
    fake = root / "jax-0.0.1-jaxlib-0.0.1"
    fake.mkdir(parents=True)
    (fake / "0123abcd-cache").write_bytes(b"x" * 1000)
    (fake / "0123abcd-atime").write_bytes(b"12345678")
    return fake


def test_cache_info_lists_version_folders_and_marks_the_current_one(tmp_path):
    root = tmp_path / "root"
    fake = _fake_version(root)
    result = runner.invoke(app, ["--compile-cache", str(root), "cache", "info"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "on (--compile-cache)" in out and f"folder: {root}" in out
    assert f"{cc.version_tag()} (current): 0 entries" in out
    assert f"{fake.name} (other version, unused): 1 entries, 1.0 kB" in out
    assert "total: 1.0 kB in 2 version folder(s)" in out
    assert [v.current for v in cc.version_folders(root)] == [True, False]


def test_cache_info_says_off_and_why(tmp_path, monkeypatch):
    root = tmp_path / "root"
    _fake_version(root)
    monkeypatch.setenv(cc.ENV_VAR, "0")
    result = runner.invoke(app, ["cache", "info"])
    assert result.exit_code == 0 and "off (JAXFIT_COMPILE_CACHE='0')" in result.output
    result = runner.invoke(app, ["--no-compile-cache", "cache", "info"])
    assert result.exit_code == 0 and "off (--no-compile-cache)" in result.output
    assert not cc.state().enabled and jax.config.jax_compilation_cache_dir is None
    monkeypatch.setenv(cc.ENV_VAR, str(root))
    result = runner.invoke(app, ["cache", "info"])
    assert f"on (JAXFIT_COMPILE_CACHE={root})" in result.output and "1.0 kB" in result.output
    both = runner.invoke(app, ["--no-compile-cache", "--compile-cache", str(root), "cache",
                               "info"])
    assert both.exit_code != 0 and "not both" in both.output


def test_cache_clear_removes_version_folders_only(tmp_path):
    root = tmp_path / "root"
    fake = _fake_version(root)
    current = root / cc.version_tag()
    current.mkdir()
    (current / "feedbeef-cache").write_bytes(b"y" * 500)
    (root / "notes.txt").write_text("not ours")
    (root / f"jit_f-{'a' * 64}-cache").write_bytes(b"z" * 100)  # the old flat layout
    (root / "my-cache").write_text("a user's file that only looks like an entry")

    info = runner.invoke(app, ["--compile-cache", str(root), "cache", "info"])
    assert "(old flat layout, unused): 1 files, 100 B" in info.output
    result = runner.invoke(app, ["--compile-cache", str(root), "cache", "clear", "--stale"])
    assert result.exit_code == 0, result.output
    assert "removed 1 other-version folder(s)" in result.output
    assert "freed 1.1 kB" in result.output  # 1000 + 8 + the loose 100 B
    assert not fake.exists() and (current / "feedbeef-cache").exists()

    result = runner.invoke(app, ["--compile-cache", str(root), "cache", "clear"])
    assert result.exit_code == 0 and "removed 1 version folder(s)" in result.output
    assert "freed 500 B" in result.output
    assert sorted(p.name for p in root.iterdir()) == ["my-cache", "notes.txt"]


def test_human_size():
    assert [cc.human_size(n) for n in (0, 999, 1000, 1_450_000, 3 * 10**9, 5 * 10**12)] == [
        "0 B", "999 B", "1.0 kB", "1.4 MB", "3.0 GB", "5000.0 GB"]


# --- fresh processes ----------------------------------------------------------------------

PROGRAM = textwrap.dedent(
    """
    import json, sys
    import jax, jax.numpy as jnp
    import jaxfit
    from jaxfit.core import compile_cache

    @jax.jit
    def f(x):
        return jnp.sum(jnp.linalg.solve(x @ x.T + jnp.eye(8), x) ** 2)

    value = float(f(jnp.arange(64.0).reshape(8, 8) / 64.0))
    print(json.dumps({"value": value, "folder": str(compile_cache.state().folder)}))
    """
)


def _run(env_changes: dict, *, cache_root: Path | None) -> subprocess.CompletedProcess:
    env = dict(os.environ, JAX_PLATFORMS="cpu", JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
               PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    if cache_root is not None:
        env[cc.ENV_VAR] = str(cache_root)
    env.update(env_changes)
    for name in [k for k, v in env.items() if v is None]:
        del env[name]
    done = subprocess.run([sys.executable, "-c", PROGRAM], env=env, capture_output=True,
                          text=True, timeout=300, cwd=REPO, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def _entries(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.glob("*-cache")}


def _result(done) -> dict:
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_garbage_entries_are_misses_and_get_rewritten(tmp_path):
    root = tmp_path / "cache"
    folder = root / cc.version_tag()
    first = _run({}, cache_root=root)
    assert _result(first)["folder"] == str(folder)
    written = _entries(folder)
    assert written, "nothing was cached"
    for path in folder.iterdir():  # every file, the -atime stamps and the lock file too
        path.write_bytes(os.urandom(64))
    garbage = _entries(folder)

    second = _run({}, cache_root=root)
    assert _result(second)["value"] == _result(first)["value"]
    assert "Error reading persistent compilation cache" in second.stderr  # JAX: a miss
    rewritten = _entries(folder)  # the unreadable entries were replaced by good ones
    assert rewritten.keys() == written.keys()
    assert all(rewritten[key] != garbage[key] for key in written)

    third = _run({}, cache_root=root)
    assert _result(third)["value"] == _result(first)["value"]
    assert "persistent compilation cache" not in third.stderr


def test_another_versions_entries_are_never_read(tmp_path):
    root = tmp_path / "cache"
    folder = root / cc.version_tag()
    first = _run({}, cache_root=root)
    written = _entries(folder)
    assert written
    fake = root / "jax-0.0.1-jaxlib-0.0.1"
    folder.rename(fake)  # the same entries, but filed under another version
    before = {p.name: p.stat().st_mtime_ns for p in fake.iterdir()}

    second = _run({}, cache_root=root)
    assert _result(second)["value"] == _result(first)["value"]
    assert _entries(folder).keys() == written.keys()  # compiled again, written anew
    assert {p.name: p.stat().st_mtime_ns for p in fake.iterdir()} == before  # left alone
    assert [v.path.name for v in cc.version_folders(root) if not v.current] == [fake.name]


def test_import_uses_the_user_cache_folder_unless_switched_off(tmp_path):
    xdg = tmp_path / "xdg"
    done = _run({cc.ENV_VAR: None, "XDG_CACHE_HOME": str(xdg)}, cache_root=None)
    folder = xdg / "jaxfit" / "compile" / cc.version_tag()
    assert _result(done)["folder"] == str(folder) and _entries(folder)

    off = _run({cc.ENV_VAR: "0", "XDG_CACHE_HOME": str(tmp_path / "xdg2")}, cache_root=None)
    assert _result(off)["folder"] == "None" and not (tmp_path / "xdg2").exists()
