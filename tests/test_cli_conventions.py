"""One CLI convention (issue 17 item 5), checked by walking every command of ``jaxfit``:

- every command that writes results takes ``--out DIR`` (a folder; the command names the
  files inside it), and no other output option is visible;
- the shared concepts have one name in every domain: ``--n-starts``, ``--seed``,
  ``--devices``, ``--chunk``, ``--config`` (no ``--starts``, ``--random-seed``,
  ``--chunk-size``, ...), each of one type;
- the old names live on only as hidden, deprecated aliases.

Plus the packaging of issue 17 item 4 (LICENSE, CHANGELOG, py.typed, the cuda extra, the
benchmarks package not installed).
"""

import re
import tomllib
from pathlib import Path

import pytest
from typer.main import get_command
from typer.testing import CliRunner

import jaxfit
from jaxfit.cli.main import app
from jaxfit.cli.state import DEPRECATED_ALIASES, SHARED_OPTIONS

REPO = Path(__file__).resolve().parents[1]
runner = CliRunner()

READ_ONLY = {
    "cosmo store show", "cosmo store history", "cosmo store check",  # print the store
    "cache info", "cache clear",  # the compile cache
}
"""Commands that write no results (every other command must take ``--out DIR``), besides
every ``jaxfit data`` command (they fill the data cache, $JAXFIT_DATA, not a results
folder)."""

CONCEPTS = {
    "--n-starts": re.compile(r"start"),
    "--seed": re.compile(r"seed|rng"),
    "--devices": re.compile(r"device|n-dev|ndev|gpus"),
    "--chunk": re.compile(r"chunk|batch-size"),
    "--config": re.compile(r"conf|cfg|settings"),
}
"""Canonical name -> the pattern of the option names that mean the same thing."""

OTHER_MEANINGS = {
    ("cosmo fit", "--warm-start"), ("cosmo fit-cmb", "--warm-start"),
    ("cosmo fit-bao", "--warm-start"), ("cosmo fit-sn", "--warm-start"),
    ("cosmo fit-joint", "--warm-start"),  # start from a stored fit, not a start count
    ("", "--device"),  # the global backend choice (cpu|gpu), not a device count
}

TYPES = {"--n-starts": int, "--seed": int, "--devices": int, "--chunk": int, "--config": Path}

HIDDEN_ALIASES = set(DEPRECATED_ALIASES) | {"--devices"}  # bench --devices -> --platforms


def commands(group=None, prefix=""):
    """``{"cosmo store export": click command, ...}`` for every leaf command, and the root
    group's own options under ``""``."""
    group = group or get_command(app)
    found = {} if prefix else {"": group}
    for name, command in group.commands.items():
        path = f"{prefix} {name}".strip()
        if hasattr(command, "commands"):
            found |= commands(command, path)
        else:
            found[path] = command
    return found


def options(command, hidden=False):
    """``{option name: click parameter}`` of the visible (or hidden) options."""
    return {name: p for p in command.params if p.param_type_name == "option"
            and bool(p.hidden) == hidden for name in p.opts + p.secondary_opts}


def annotation(param):
    """The Python type an option is declared with (typer keeps it on the parameter)."""
    return param.type_descriptor.annotation


ALL = commands()
LEAVES = {path: command for path, command in ALL.items() if path}
READ_ONLY = READ_ONLY | {path for path in LEAVES if path.startswith("data ")}


def test_the_walk_finds_every_domain():
    roots = {path.split()[0] for path in LEAVES}
    assert roots == {"demo", "bench", "cosmo", "gravity", "leptons", "lensing", "data",
                     "cache"}
    assert READ_ONLY <= set(LEAVES)


@pytest.mark.parametrize("path", sorted(set(LEAVES) - READ_ONLY))
def test_every_command_with_results_takes_out_as_a_folder(path):
    visible = options(LEAVES[path])
    assert "--out" in visible, f"{path}: a command that writes results takes --out DIR"
    out = visible["--out"]
    assert out.metavar == "DIR", f"{path}: --out is a folder (metavar DIR)"
    assert annotation(out) is Path, path
    default = out.default
    assert default is None or Path(default).suffix == "", (
        f"{path}: the default --out {default} looks like a file, not a folder")
    others = [name for name in visible if re.match(r"--?o(ut|utput)?(-|$)", name)
              and name != "--out"]
    assert not others, f"{path}: output options other than --out: {others}"


@pytest.mark.parametrize("path", sorted(READ_ONLY))
def test_read_only_commands_have_no_out(path):
    assert "--out" not in options(LEAVES[path])


@pytest.mark.parametrize("path", sorted(ALL))
def test_shared_concepts_use_only_the_canonical_names(path):
    for name, param in options(ALL[path]).items():
        for canonical, pattern in CONCEPTS.items():
            if pattern.search(name) and (path, name) not in OTHER_MEANINGS:
                assert name == canonical, f"{path}: {name} should be {canonical}"
                assert annotation(param) is TYPES[canonical], (path, name, annotation(param))


def test_every_shared_option_is_used_and_out_everywhere():
    used = {name for command in ALL.values() for name in options(command)}
    assert set(SHARED_OPTIONS) <= used


@pytest.mark.parametrize("path", sorted(ALL))
def test_hidden_options_are_only_the_deprecated_aliases(path):
    hidden = set(options(ALL[path], hidden=True))
    assert hidden <= HIDDEN_ALIASES, f"{path}: hidden options {hidden - HIDDEN_ALIASES}"
    if "--devices" in hidden:
        assert path == "bench"


def test_bench_devices_is_a_deprecated_alias_of_platforms(tmp_path):
    result = runner.invoke(app, ["bench", "--domains", "core", "--devices", "tpu", "--out",
                                 str(tmp_path / "b")])
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2, result.output
    assert lines[0].startswith("note: jaxfit bench --devices is deprecated")
    assert "--platforms" in lines[0]
    assert lines[1].startswith("error: ") and "tpu" in lines[1] and len(lines) == 2


def test_bench_without_the_source_checkout_says_so_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(jaxfit, "__file__", str(tmp_path / "site" / "jaxfit" / "__init__.py"))
    result = runner.invoke(app, ["bench", "--domains", "core", "--out", str(tmp_path / "b")])
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 1 and len(lines) == 1, result.output
    assert lines[0].startswith("error: jaxfit bench needs the source checkout")


# ---------------------------------------------------------------------- packaging (item 4)

def test_packaging_files_and_extras():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    setuptools = project["tool"]["setuptools"]
    assert "benchmarks" not in setuptools["packages"]  # runs from the checkout only
    assert "py.typed" in setuptools["package-data"]["jaxfit"]
    assert (REPO / "jaxfit" / "py.typed").is_file()
    jax_pin = next(d for d in project["project"]["dependencies"] if d.startswith("jax>="))
    assert project["project"]["optional-dependencies"]["cuda"] == [
        jax_pin.replace("jax", "jax[cuda12]", 1)]
    assert "BSD 3-Clause" in (REPO / "LICENSE").read_text()
    assert project["project"]["license"]["text"] == "BSD-3-Clause"
    changelog = (REPO / "CHANGELOG.md").read_text()
    assert "## [Unreleased]" in changelog and "keepachangelog.com" in changelog
