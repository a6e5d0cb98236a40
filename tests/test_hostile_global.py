"""Hostile input to the global parts of the CLI: every failure is one line, nothing is
left half-written (issue 16, items 1 and 3).

Each case asserts the exit code (2 bad input, 1 runtime failure), exactly one ``error:``
line on stderr naming the input, no traceback, and that what was on disk is unchanged.
Every case fails before any compilation or fit; read-only and full destinations are
simulated by making the write raise (the tests run as root).
"""

import errno
import json
import os
import subprocess
import sys

import filelock
import pytest
from typer.testing import CliRunner

import jaxfit.core.checks as checks
from jaxfit.cli.main import app
from jaxfit.core import compile_cache, precision

runner = CliRunner()


def one_line_error(result, code: int, *named: str) -> str:
    """The single stderr line of a failed run, after checking code, form and names."""
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == code, (result.exit_code, result.stderr, result.stdout)
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    for name in named:
        assert name in lines[0], (name, lines[0])
    return lines[0]


@pytest.fixture
def a_file(tmp_path):
    path = tmp_path / "taken"
    path.write_text("keep me")
    yield path
    assert path.read_text() == "keep me"  # stored data unchanged


# --------------------------------------------------------------------- --quiet, --debug
QUIET_CASES = [
    (["bench", "--domains", "astrology"], 2, "astrology"),
    (["bench", "--size", "huge"], 2, "huge"),
    (["bench", "--platforms", "tpu"], 2, "tpu"),
    (["cache", "info", "extra"], 2, "extra"),
    (["nosuchcommand"], 2, "nosuchcommand"),
    (["--chunk", "abc", "cache", "info"], 2, "--chunk"),
    (["--chunk", "-3", "cache", "info"], 2, "--chunk"),
    (["--device", "tpu", "cache", "info"], 2, "tpu"),
    (["--compile-cache", "x", "--no-compile-cache", "cache", "info"], 2, "--no-compile-cache"),
]


@pytest.mark.parametrize("quiet", [[], ["--quiet"]], ids=["loud", "quiet"])
@pytest.mark.parametrize("args, code, name", QUIET_CASES, ids=lambda v: str(v)[:30])
def test_bad_usage_is_one_line_also_under_quiet(quiet, args, code, name):
    one_line_error(runner.invoke(app, quiet + args), code, name)


def test_debug_shows_the_exception_instead_of_the_line(tmp_path, a_file):
    result = runner.invoke(app, ["--debug", "demo", "--out", str(a_file)])
    assert isinstance(result.exception, ValueError) and "--out" in str(result.exception)
    assert "error:" not in result.stderr


def test_no_arguments_prints_help_not_an_error():
    result = runner.invoke(app, [])
    assert "error:" not in result.stderr and "Usage" in result.stdout + result.stderr


# --------------------------------------------------------------------- JAXFIT_PRECISION
@pytest.fixture
def precision_env(monkeypatch):
    """Apply a JAXFIT_PRECISION value as at import; the policy is restored after."""

    def apply(value):
        monkeypatch.setenv("JAXFIT_PRECISION", value)
        precision.apply_default_policy()

    yield apply
    monkeypatch.delenv("JAXFIT_PRECISION", raising=False)
    precision.apply_default_policy()


@pytest.mark.parametrize("value", ["float16", "FLOAT64", "64", "bfloat16", "float64 x"])
def test_bad_precision_is_one_line_naming_the_variable(precision_env, value):
    precision_env(value)
    line = one_line_error(runner.invoke(app, ["--quiet", "cache", "info"]), 2,
                          "JAXFIT_PRECISION", repr(value), "float64 or float32")
    assert line.startswith("error: unknown precision (")
    with pytest.raises(ValueError, match="JAXFIT_PRECISION"):
        precision.require_float64(1.0, "x")  # the library refuses too, not only the CLI


@pytest.mark.parametrize("value", ["", "float64", " float64 "])
def test_good_precision_values_run(precision_env, value):
    precision_env(value)
    assert runner.invoke(app, ["cache", "info"]).exit_code == 0


def test_bad_precision_at_import_is_one_line_not_a_traceback():
    env = dict(os.environ, JAXFIT_PRECISION="float16")
    done = subprocess.run([sys.executable, "-c", "from jaxfit.cli.main import app; app()",
                           "cache", "info"], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        "error: unknown precision (environment variable JAXFIT_PRECISION='float16'): "
        "float64 or float32 was expected (unset means float64)"]


# --------------------------------------------------------------------- bad --out, before any work
def test_demo_out_is_a_file(a_file):
    one_line_error(runner.invoke(app, ["-q", "demo", "--out", str(a_file)]), 2, "--out",
                   str(a_file))


def test_demo_out_below_a_file(a_file):
    one_line_error(runner.invoke(app, ["-q", "demo", "--out", str(a_file / "sub")]), 2,
                   "--out", str(a_file))


def _read_only(monkeypatch, err_no=errno.EACCES):
    """Make every probe write (writable_folder's check) fail as on a read-only folder."""

    def refuse(*args, **kwargs):
        raise OSError(err_no, os.strerror(err_no))

    monkeypatch.setattr(checks.tempfile, "NamedTemporaryFile", refuse)


@pytest.mark.parametrize("err_no", [errno.EACCES, errno.EROFS, errno.ENOSPC])
def test_demo_unwritable_out_fails_before_any_fit(tmp_path, monkeypatch, err_no):
    _read_only(monkeypatch, err_no)
    one_line_error(runner.invoke(app, ["-q", "demo", "--out", str(tmp_path)]), 1, "--out",
                   str(tmp_path), os.strerror(err_no))
    assert list(tmp_path.iterdir()) == []


def test_bench_json_taken_by_a_folder(tmp_path):
    (tmp_path / "bench.json").mkdir()
    one_line_error(runner.invoke(app, ["-q", "bench", "--domains", "core", "--out",
                                       str(tmp_path)]), 2, "--out", str(tmp_path), "bench.json")
    assert list(tmp_path.iterdir()) == [tmp_path / "bench.json"]


def test_bench_out_below_a_file(a_file):
    one_line_error(runner.invoke(app, ["-q", "bench", "--domains", "core", "--out",
                                       str(a_file / "b")]), 2, "--out", str(a_file))


def test_bench_unwritable_out_fails_before_any_benchmark(tmp_path, monkeypatch):
    _read_only(monkeypatch)
    one_line_error(runner.invoke(app, ["-q", "bench", "--domains", "core", "--out",
                                       str(tmp_path)]), 1, "--out")
    assert list(tmp_path.iterdir()) == []


def test_python_m_benchmarks_prints_the_same_line(tmp_path, capsys):
    from benchmarks.__main__ import main

    (tmp_path / "results.json").mkdir()
    with pytest.raises(SystemExit) as caught:
        main(["--domains", "core", "--out", str(tmp_path)])
    assert caught.value.code == 2
    assert capsys.readouterr().err.startswith("error: a folder where a file is expected")


@pytest.mark.parametrize("command", [["info"], ["clear"], ["clear", "--stale"]])
def test_compile_cache_below_a_file_warns_and_runs_without(a_file, command):
    """The cache is a convenience: a folder that cannot be one is a warning, not a failure
    (README: "A folder that cannot be written only gives a one-line warning")."""
    result = runner.invoke(app, ["--compile-cache", str(a_file / "c"), "cache", *command])
    assert result.exit_code == 0, result.output
    assert "cannot write" in result.output and "Traceback" not in result.output


@pytest.fixture
def no_network(monkeypatch):
    """Any download attempt fails the test: the checks must come first."""
    import jaxfit.core.download as download

    def refuse(*args, **kwargs):
        raise AssertionError("network used")

    monkeypatch.setattr(download.urllib.request, "urlopen", refuse)


@pytest.mark.parametrize("command", [["data", "cosmo", "--sets", "desi_dr1"], ["data", "sparc"]])
def test_data_folder_is_a_file(a_file, monkeypatch, no_network, command):
    monkeypatch.setenv("JAXFIT_DATA", str(a_file))
    one_line_error(runner.invoke(app, ["-q", *command]), 2, "JAXFIT_DATA", str(a_file))


@pytest.mark.parametrize("command", [["data", "cosmo", "--sets", "desi_dr1"], ["data", "sparc"]])
def test_data_folder_unwritable(tmp_path, monkeypatch, no_network, command):
    monkeypatch.setenv("JAXFIT_DATA", str(tmp_path))
    _read_only(monkeypatch)
    one_line_error(runner.invoke(app, ["-q", *command]), 1, "JAXFIT_DATA", str(tmp_path))


def test_data_cosmo_unknown_set_is_named(no_network):
    one_line_error(runner.invoke(app, ["-q", "data", "cosmo", "--sets", "nope"]), 2, "nope")


def test_failed_download_is_one_line_under_quiet(tmp_path, monkeypatch):
    import jaxfit.core.download as download

    def offline(*args, **kwargs):
        raise OSError(errno.ENETUNREACH, "Network is unreachable")

    monkeypatch.setenv("JAXFIT_DATA", str(tmp_path))
    monkeypatch.setattr(download.urllib.request, "urlopen", offline)
    one_line_error(runner.invoke(app, ["-q", "data", "cosmo", "--sets", "desi_dr1"]), 1,
                   "download of", "unreachable")


# --------------------------------------------------------------------- every error type, one line
def _json_error():
    try:
        json.loads('{"a": }')
    except json.JSONDecodeError as err:
        return err


BOUNDARY_CASES = [
    (IsADirectoryError(errno.EISDIR, "Is a directory", "/r/fit.json"), 2,
     ["Is a directory (/r/fit.json)", "a file was expected"]),
    (NotADirectoryError(errno.ENOTDIR, "Not a directory", "/r/file/x"), 2,
     ["Not a directory (/r/file/x)", "a folder was expected"]),
    (FileNotFoundError(errno.ENOENT, "No such file or directory", "/r/in.json"), 2,
     ["/r/in.json"]),
    (PermissionError(errno.EACCES, "Permission denied", "/r/out"), 1,
     ["Permission denied (/r/out)"]),
    (OSError(errno.EROFS, "Read-only file system", "/r/out"), 1, ["Read-only", "/r/out"]),
    (OSError(errno.ENOSPC, "No space left on device", "/r/out/a.png"), 1,
     ["No space left on device (/r/out/a.png)", "free"]),
    (OSError(errno.EXDEV, "Invalid cross-device link", "/a", None, "/b"), 1, ["/a -> /b"]),
    (filelock.Timeout("/r/store/lcdm.lock"), 1, ["/r/store/lcdm.lock", "lock"]),
    (TimeoutError("store lock /r/lcdm.lock held too long"), 1, ["/r/lcdm.lock"]),
    (_json_error(), 2, ["invalid JSON (line 1 column 7)"]),
    (KeyError("no model 'x' in /r/store"), 2, ["no model 'x' in /r/store"]),
    (ValueError(""), 2, ["ValueError"]),
    (RuntimeError(), 1, ["RuntimeError"]),
    (ZeroDivisionError("division by zero"), 1, ["division by zero"]),
    (AttributeError("'list' object has no attribute 'get'"), 1, ["internal error", "bug"]),
]


@pytest.mark.parametrize("quiet", [[], ["--quiet"]], ids=["loud", "quiet"])
@pytest.mark.parametrize("err, code, named", BOUNDARY_CASES, ids=lambda v: type(v).__name__)
def test_every_failure_of_a_command_is_one_line(monkeypatch, quiet, err, code, named):
    def fail():
        raise err

    monkeypatch.setattr(compile_cache, "state", fail)  # `cache info` calls it first
    one_line_error(runner.invoke(app, [*quiet, "cache", "info"]), code, *named)
