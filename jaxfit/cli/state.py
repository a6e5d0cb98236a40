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
