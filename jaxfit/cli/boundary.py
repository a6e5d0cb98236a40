"""The CLI's one error boundary: every failure of every command ends as one line.

:class:`BoundaryGroup` is the click group of the ``jaxfit`` command; all sub-commands run
inside its :meth:`~BoundaryGroup.invoke`, so no command can bypass it. A failure prints::

    error: <message>

on stderr (also under --quiet) and exits with 2 for bad usage or input (a wrong option
value, a missing or malformed file, an unknown name) and 1 for a runtime failure (an
operating-system error, a locked or newer store, a failed computation). The traceback is
shown only with ``jaxfit --debug``. An exception of an unexpected type is a bug in jaxfit;
its line says so.
"""

from __future__ import annotations

import typer
from typer.core import TyperGroup
from typer.exceptions import TyperException

from jaxfit.cli.state import STATE

INPUT_ERRORS = (ValueError, KeyError, TypeError, FileNotFoundError, NotADirectoryError,
                IsADirectoryError, LookupError)
"""Exit 2: the input (an option, a file, a name) is not what was expected."""

RUNTIME_ERRORS = (OSError, RuntimeError, TimeoutError, ArithmeticError)
"""Exit 1: the input was fine, the run failed (disk, permissions, locks, numerics)."""


def message_of(err: BaseException) -> str:
    """The human message of ``err`` (KeyError's ``str`` quotes it; an empty message names
    the exception type instead of printing nothing)."""
    if isinstance(err, TyperException):
        text = err.format_message()
    elif isinstance(err, KeyError) and err.args:
        text = str(err.args[0])
    else:
        text = str(err)
    if isinstance(err, OSError) and err.filename and str(err.filename) not in text:
        text = f"{text} ({err.filename})"
    return text.strip() or type(err).__name__


def _fail(text: str, code: int):
    typer.echo(f"error: {text}", err=True)
    raise typer.Exit(code)


class BoundaryGroup(TyperGroup):
    """``TyperGroup`` whose invoke turns every exception into one line (module doc)."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort):
            raise
        except Exception as err:
            if STATE["debug"]:
                raise
            if isinstance(err, TyperException):  # usage errors: bad option values
                hint = "" if "--help" in message_of(err) else " (see --help)"
                _fail(message_of(err) + hint, getattr(err, "exit_code", 2))
            if isinstance(err, INPUT_ERRORS):
                _fail(message_of(err), 2)
            if isinstance(err, RUNTIME_ERRORS):
                _fail(message_of(err), 1)
            _fail(f"internal error ({type(err).__name__}: {message_of(err)}); this is a bug "
                  "in jaxfit, please report it with the output of --debug", 1)
