"""Hostile input to `jaxfit leptons fit | scan | cross` (issue 16): every bad option value
and every unusable --out ends as one line ``error: ...`` naming the option, exit 2 for bad
input and 1 for a destination that cannot be written, before anything is compiled."""

import errno
import os

import pytest
from typer.testing import CliRunner

from jaxfit.cli.main import app

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})


def one_error_line(result, code: int, *names: str) -> str:
    """The single ``error:`` line of a failed command: exit ``code``, no traceback, every
    one of ``names`` in it."""
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    for name in names:
        assert name in lines[0], (name, lines[0])
    return lines[0]


BAD_OPTIONS = [
    # (command and options, names the error line must hold)
    (("fit", "--w", "abc"), ("--w",)),
    (("fit", "--w", "nan"), ("--w", "nan")),
    (("fit", "--w", "inf"), ("--w",)),
    (("fit", "--w", "0"), ("--w", "> 0")),
    (("fit", "--w", "-0.01"), ("--w",)),
    (("fit", "--w", "0.5"), ("--w", "0.05")),
    (("fit", "--beta", "nan"), ("--beta",)),
    (("fit", "--beta", "9"), ("--beta", "3.5")),
    (("fit", "--sigma-model", "0"), ("--sigma-model", "> 0")),
    (("fit", "--sigma-model", "-inf"), ("--sigma-model",)),
    (("fit", "--n-starts", "0"), ("--n-starts",)),
    (("fit", "--seed", "-1"), ("--seed",)),
    (("fit", "--devices", "0"), ("--devices",)),
    (("fit", "--flow", "sideways"), ("--flow",)),
    (("scan", "--w", "abc"), ("--w",)),
    (("scan", "--w", "nan"), ("--w",)),
    (("scan", "--beta", "3.0:nan:3"), ("--beta",)),
    (("scan", "--beta", "9:10:3"), ("--beta", "3.5")),
    (("scan", "--beta", "3.0:3.1:0"), ("--beta",)),
    (("scan", "--beta", "3.0:3.1:3", "--w", "-1"), ("--w",)),
    (("scan", "--beta", "3.0:3.1:3", "--w", "0.01:0.02:x"), ("--w",)),
    (("scan", "--beta", "3.0:3.1:3", "--w", "0.001:0.02:3"), ("--w", "0.005")),
    (("scan", "--w", "0.01:0.02:3"), ("--w", "--beta")),
    (("scan", "--preset", "huge-99"), ("--preset", "sanity-3x3")),
    (("scan", "--preset", "sanity-3x3", "--n-starts", "0"), ("--n-starts",)),
    (("scan", "--preset", "sanity-3x3", "--chunk", "0"), ("--chunk",)),
    (("scan", "--preset", "sanity-3x3", "--sigma-model", "nan"), ("--sigma-model",)),
    (("cross", "--w", "nan"), ("--w",)),
    (("cross", "--w", "1"), ("--w", "0.05")),
    (("cross", "--n-starts", "0"), ("--n-starts",)),
    (("cross", "--flow", "x"), ("--flow",)),
]


@pytest.mark.parametrize(("args", "names"), BAD_OPTIONS, ids=lambda v: " ".join(v))
def test_bad_option_is_one_line_naming_it(tmp_path, args, names):
    result = invoke("leptons", *args, "--out", tmp_path / "out")
    one_error_line(result, 2, *names)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


COMMANDS = [("fit",), ("scan", "--preset", "sanity-3x3"), ("cross", "--no-profile")]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_out_is_a_file(tmp_path, command):
    # a file where the results folder should be: refused before any fit (exit 2, input)
    target = tmp_path / "results"
    target.write_text("not a folder")
    line = one_error_line(invoke("leptons", *command, "--out", target), 2, "--out")
    assert str(target) in line


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_out_under_a_file(tmp_path, command):
    (tmp_path / "file").write_text("x")
    one_error_line(invoke("leptons", *command, "--out", tmp_path / "file" / "sub"), 2,
                   "--out")


def _refuse(errno_code):
    def refuse(*args, **kwargs):
        raise OSError(errno_code, os.strerror(errno_code))
    return refuse


@pytest.mark.parametrize("code", [errno.EACCES, errno.EROFS, errno.ENOSPC],
                         ids=["read-only", "read-only-fs", "full"])
@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_unwritable_out_fails_before_the_fit(tmp_path, monkeypatch, command, code):
    # root ignores chmod, so the folder's write probe is made to fail as a read-only or
    # full disk would make it; exit 1 (the input was fine, the machine refused)
    import tempfile

    monkeypatch.setattr(tempfile, "NamedTemporaryFile", _refuse(code))
    result = invoke("leptons", *command, "--out", tmp_path / "out")
    line = one_error_line(result, 1, "--out", "not writable")
    assert "compiling" not in result.output and str(tmp_path / "out") in line
