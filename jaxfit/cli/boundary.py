"""The CLI's one error boundary: every failure of every command ends as one line.

:class:`BoundaryGroup` is the click group of the ``jaxfit`` command. Its
:meth:`~BoundaryGroup.make_context` parses the global options and its
:meth:`~BoundaryGroup.invoke` runs the callback and every sub-command, so no failure can
bypass it. A failure prints::

    error: <what> (<which input or file, which key or line>): <what was expected>

on stderr (also under --quiet) and exits with 2 for bad usage or input (a wrong option
value, a missing or malformed file, a folder where a file is expected, an unknown name) and
1 for a runtime failure (permissions, a full disk, a lock held too long, a newer store, a
failed computation). The traceback is shown only with ``jaxfit --debug``. An exception of
an unexpected type is a bug in jaxfit; its line says so.

Messages raised with that form (``jaxfit.core.checks``, ``jaxfit.core.io.read_json``) pass
through unchanged; an operating-system error carries only an errno and a path, so
:func:`message_of` writes its line from those.
"""

from __future__ import annotations

import errno
import json

import filelock
import typer
from typer._click.exceptions import NoArgsIsHelpError
from typer.core import TyperGroup
from typer.exceptions import TyperException

from jaxfit.cli.state import STATE

INPUT_ERRORS = (ValueError, KeyError, TypeError, FileNotFoundError, NotADirectoryError,
                IsADirectoryError, FileExistsError, LookupError)
"""Exit 2: the input (an option, a file, a name) is not what was expected."""

RUNTIME_ERRORS = (OSError, RuntimeError, TimeoutError, ArithmeticError)
"""Exit 1: the input was fine, the run failed (disk, permissions, locks, numerics)."""

OS_EXPECTED = {
    errno.ENOENT: "an existing file or folder was expected",
    errno.ENOTDIR: "a folder was expected there, not a file",
    errno.EISDIR: "a file was expected there, not a folder",
    errno.EEXIST: "a path not taken by another file was expected",
    errno.EACCES: "a location this user may write (and read) was expected",
    errno.EPERM: "a location this user may write (and read) was expected",
    errno.EROFS: "a writable file system was expected; choose another --out",
    errno.ENOSPC: "free disk space was expected; free some or choose another --out",
    errno.EDQUOT: "free disk quota was expected; free some or choose another --out",
    errno.ENAMETOOLONG: "a shorter path was expected",
    errno.ELOOP: "a path without a symbolic-link loop was expected",
}
"""What was expected, per errno, for the line of an operating-system error."""


def _os_message(err: OSError) -> str:
    """``<what> (<path[, path2]>): <expected>`` from an OSError's errno and paths."""
    paths = [str(p) for p in (err.filename, err.filename2) if p is not None]
    where = f" ({' -> '.join(paths)})" if paths else ""
    expected = OS_EXPECTED.get(err.errno)
    return f"{err.strerror.rstrip('.')}{where}" + (f": {expected}" if expected else "")


def message_of(err: BaseException) -> str:
    """The one-line message of ``err`` (module doc); never empty (an exception without a
    message is named by its type)."""
    if isinstance(err, TyperException):
        text = err.format_message()
    elif isinstance(err, filelock.Timeout):
        text = (f"lock not acquired in time ({err.lock_file}): the lock was expected to be "
                "free; another jaxfit process is using it, wait for it to finish")
    elif isinstance(err, OSError) and err.errno is not None and err.strerror:
        text = _os_message(err)
    elif isinstance(err, json.JSONDecodeError):
        text = f"invalid JSON (line {err.lineno} column {err.colno}): {err.msg}"
    elif isinstance(err, KeyError) and err.args:
        text = str(err.args[0])  # str(KeyError) quotes its message
    else:
        text = str(err)
        if isinstance(err, OSError) and err.filename and str(err.filename) not in text:
            text = f"{text} ({err.filename})"
    return " ".join(text.split()) or type(err).__name__


def exit_code_of(err: BaseException) -> int:
    """2 for bad usage or input, 1 for a runtime failure or a bug (module doc)."""
    if isinstance(err, TyperException):
        return getattr(err, "exit_code", 2)
    return 2 if isinstance(err, INPUT_ERRORS) else 1


def line_of(err: BaseException) -> str:
    """The ``error: ...`` line printed for ``err``."""
    if isinstance(err, TyperException):
        hint = "" if "--help" in message_of(err) else " (see --help)"
        return f"error: {message_of(err)}{hint}"
    if isinstance(err, INPUT_ERRORS + RUNTIME_ERRORS):
        return f"error: {message_of(err)}"
    return (f"error: internal error ({type(err).__name__}: {message_of(err)}): a bug in "
            "jaxfit, please report it with the output of --debug")


def _fail(err: BaseException):
    typer.echo(line_of(err), err=True)
    raise typer.Exit(exit_code_of(err))


class BoundaryGroup(TyperGroup):
    """``TyperGroup`` that turns every exception into one line (module doc)."""

    def make_context(self, info_name, args, parent=None, **extra):
        """Parse the global options; a bad one (``--chunk abc``) is one line too, not
        click's boxed usage message."""
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except NoArgsIsHelpError:
            raise  # `jaxfit` alone: click prints the help
        except TyperException as err:
            _fail(err)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, NoArgsIsHelpError):
            raise
        except Exception as err:
            if STATE["debug"] and not isinstance(err, TyperException):
                raise
            _fail(err)
