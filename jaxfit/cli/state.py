"""What every command shares: the consoles, the global flags, and the comma-list parser.

The domain command modules import from here, never from :mod:`jaxfit.cli.main`, which
imports them to add their sub-apps (no import circle, no registration by side effect).
"""

from __future__ import annotations

from collections.abc import Iterable

import typer
from rich.console import Console

from jaxfit.core.checks import comma_list

console = Console()
"""Human summaries (stdout)."""

STATE = {"quiet": False, "debug": False}
"""Global flags, set by the ``jaxfit`` callback before any command runs."""


def say(message: str) -> None:
    """Print a human summary line unless --quiet."""
    if not STATE["quiet"]:
        console.print(message)


def show_progress() -> bool:
    """Whether long work should draw progress bars (not under --quiet)."""
    return not STATE["quiet"]


def parse_list(text: str, option: str, choices: Iterable[str] | None = None) -> list[str]:
    """``"a, b,c"`` -> ``["a", "b", "c"]`` for a comma-list option; a usage error naming
    ``option`` when it is empty or holds an item outside ``choices``."""
    try:
        return comma_list(text, option, choices)
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint=option) from None


def parse_numbers(text: str, option: str) -> list[float]:
    """``"1, 2.5"`` -> ``[1.0, 2.5]`` for a comma list of numbers."""
    items = parse_list(text, option)
    try:
        return [float(item) for item in items]
    except ValueError:
        raise typer.BadParameter(f"expected comma-separated numbers, got {text!r}",
                                 param_hint=option) from None


# ------------------------------------------------------------------ the shared options
# One CLI convention (README, "The command line"): every command that writes results takes
# `--out DIR` and names its files inside it; the same things have the same names in every
# domain (--n-starts, --seed, --devices, --chunk, --config). Old names are hidden aliases
# for one release (DEPRECATED_ALIASES), each printing one note on stderr.

SHARED_OPTIONS = {
    "--out": "results folder (created if missing); the command names the files inside it",
    "--n-starts": "starts of a multi-start fit (per grid point in scans)",
    "--seed": "seed of the random starts / draws / simulations (an integer >= 0)",
    "--devices": "shard batched work over the first N local devices (default: all)",
    "--chunk": "items per compiled call of a batched job (global, or per command)",
    "--config": "a JSON config file; explicit options win over it",
}
"""The canonical option names and what they mean in every command."""

DEPRECATED_ALIASES = {
    "--out-json": "--out",
    "--out-csv": "--out",
}
"""Old option -> new option; kept working (hidden) for one release. ``jaxfit bench
--devices cpu,gpu`` (now ``--platforms``) is the one alias declared where it is used."""


def out_option(default, help: str = "Results folder (created if missing).", **kwargs):
    """The ``--out DIR`` option of a command that writes results."""
    return typer.Option(default, "--out", metavar="DIR", help=help, **kwargs)


def alias_option(old: str):
    """A hidden, deprecated option name (value None when not given)."""
    return typer.Option(None, old, hidden=True)


def deprecated(old: str, new: str, how: str = "") -> None:
    """One note on stderr (also under --quiet) that ``old`` is a deprecated name of ``new``."""
    typer.echo(f"note: {old} is deprecated and goes in the next release; use {new}"
               + (f" ({how})" if how else ""), err=True)
