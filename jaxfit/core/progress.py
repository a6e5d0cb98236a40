"""Progress bars for long batched work, silenced globally by ``--quiet``.

Chunked scans, multi-starts, sampling and training report through :func:`progress_bar`, so
one switch (:func:`set_quiet`, the CLI's ``--quiet``) silences all of them.
"""

from __future__ import annotations

import contextlib

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

_QUIET = False


def set_quiet(quiet: bool) -> None:
    """Silence (True) or restore (False) every jaxfit progress bar."""
    global _QUIET
    _QUIET = bool(quiet)


def is_quiet() -> bool:
    return _QUIET


@contextlib.contextmanager
def progress_bar(total: int, description: str, enabled: bool = True):
    """Context manager yielding ``advance(n)``; draws a rich bar unless quiet or disabled."""
    if _QUIET or not enabled:
        yield lambda n=1: None
        return
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, transient=False) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n=1: bar.advance(task, n)
