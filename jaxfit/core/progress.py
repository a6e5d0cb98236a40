"""Progress bars and status lines for long work, silenced globally by ``--quiet``.

Chunked scans, multi-starts, sampling and training report through :func:`progress_bar`;
work with no natural count (a compilation, a single chunk, a NUTS run) through
:func:`status_line`, a one-line status with the elapsed seconds that appears only when the
work lasts longer than :data:`STATUS_DELAY` (so quick steps print nothing). One switch
(:func:`set_quiet`, the CLI's ``--quiet``) silences all of them. Everything goes to
stderr, so a command's printed result on stdout stays clean for pipes.
"""

from __future__ import annotations

import contextlib
import threading
import time

from rich.console import Console
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

STATUS_DELAY = 1.0
"""Seconds of work before :func:`status_line` shows anything."""

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
    with Progress(*columns, transient=False, console=Console(stderr=True)) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n=1: bar.advance(task, n)


class _Elapsed:
    """``"<text>... 3.1 s"``, the seconds counted at every redraw."""

    def __init__(self, text: str, start: float):
        self.text, self.start = text, start

    def __rich__(self) -> Text:
        return Text(f"{self.text}\u2026 {time.perf_counter() - self.start:.1f} s")


@contextlib.contextmanager
def status_line(text: str, enabled: bool = True, delay: float = STATUS_DELAY):
    """Show ``"<text>... <elapsed> s"`` on stderr while the block runs, if it runs longer
    than ``delay`` seconds; the line stays with the final time when the block ends (e.g.
    ``"compiling the 16-start lbfgs fit... 3.1 s"``). Silent under ``--quiet``."""
    if _QUIET or not enabled:
        yield
        return
    live = Live(_Elapsed(text, time.perf_counter()), console=Console(stderr=True),
                refresh_per_second=4, transient=False)
    lock = threading.Lock()
    state = {"shown": False, "done": False}

    def show():
        with lock:
            if not state["done"]:
                live.start()
                state["shown"] = True

    timer = threading.Timer(delay, show)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        with lock:
            state["done"] = True
            if state["shown"]:
                live.stop()
                if not live.console.is_terminal:
                    live.console.line()  # a terminal gets its newline from Live itself
