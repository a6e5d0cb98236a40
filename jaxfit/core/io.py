"""Result files: atomic writes of JSON, CSV and PNG, one file or a whole set.

Every file jaxfit writes goes through :func:`atomic_write_bytes` or :func:`write_files`:
the content goes to a temporary file in the destination folder, is flushed and fsynced,
then moved over the target with ``os.replace`` (atomic on POSIX), and the folder is
fsynced so the rename itself survives a power cut. A crash mid-write leaves the old file
or the new one, never half of either.

Temporary names are ``.<name>.jaxfit-tmp.<pid>@<host>.<random>.tmp``: hidden, marked as
jaxfit's own, and naming the writer, so :func:`remove_stale_temps` can tell a temp whose
writer was killed (``kill -9``, a power cut) from one being written right now. Writing
into a folder first removes its stale temps (once per folder and process).

Files get the mode the umask gives (0644 under the usual 022, 0640 under 027), like any
file a program creates, instead of ``tempfile.mkstemp``'s private 0600 which would make
a shared results folder unreadable to the group: the temp is created with
``os.open(..., 0o666)`` and the kernel applies the umask (and any default ACL) itself.
"""

from __future__ import annotations

import errno
import io
import json
import math
import os
import re
import secrets
import shutil
import socket
import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np

TEMP_TAG = ".jaxfit-tmp."
"""Marks jaxfit's temporary files and folders (see the module doc)."""

STALE_AFTER_S = 3600.0
"""A temp older than this is stale whoever wrote it: jaxfit's writes take seconds."""

_HOST = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:32]
_TEMP_NAME = re.compile(r"^\..*\.jaxfit-tmp\.(\d+)@([A-Za-z0-9-]*)\.[0-9a-f]+\.tmp$")
_NAME_MAX_PART = 100  # keeps temp names below the 255-byte limit of a file name

_swept: set[str] = set()
"""Folders already swept by this process: sweeping lists the folder, and a folder written
thousands of times (checkpoints, downloads) must not be listed thousands of times."""


def temp_path(target: Path) -> Path:
    """A fresh temporary path next to ``target``, named as in the module doc."""
    return target.with_name(f".{target.name[:_NAME_MAX_PART]}{TEMP_TAG}{os.getpid()}@{_HOST}."
                            f"{secrets.token_hex(6)}.tmp")


def _writer_is_gone(pid: int, host: str) -> bool:
    """Whether the process ``pid`` that made a temp on ``host`` has ended (only knowable
    on this host; a zombie counts as alive until it is reaped)."""
    if host != _HOST or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # EPERM: alive, another user's
        return False
    return False


def remove_stale_temps(folder, older_than_s: float = STALE_AFTER_S) -> list[Path]:
    """Remove jaxfit temps in ``folder`` whose writer on this host has ended, or that are
    older than ``older_than_s`` (a writer on another host, or a reused pid); returns the
    removed paths. Other files, and temps of live writers, are never touched."""
    folder = Path(folder)
    removed = []
    try:
        entries = list(os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return removed
    now = time.time()
    for entry in entries:
        match = _TEMP_NAME.match(entry.name)
        if match is None:
            continue
        try:
            age = now - entry.stat(follow_symlinks=False).st_mtime
        except FileNotFoundError:  # its writer just renamed or removed it
            continue
        if not (_writer_is_gone(int(match[1]), match[2]) or age > older_than_s):
            continue
        path = Path(entry.path)
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    return removed


def _prepare_folder(folder: Path) -> None:
    """Create ``folder`` if missing and, the first time this process writes there, remove
    its stale temps."""
    folder.mkdir(parents=True, exist_ok=True)
    key = os.fspath(folder.resolve())
    if key not in _swept:
        remove_stale_temps(folder)
        _swept.add(key)


def fsync_folder(folder) -> None:
    """fsync ``folder`` so renames into it are durable (a no-op where the file system
    cannot sync a folder)."""
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    except OSError as err:
        if err.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(fd)


def _write_new_file(path: Path, data: bytes) -> None:
    """Create ``path`` (which must not exist) with ``data``, flushed and fsynced; the
    mode is 0o666 less the umask. On failure the partial file is removed."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0),
                 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            fd = None  # the handle closes it from here on
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        if fd is not None:
            os.close(fd)
        path.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (parent folders are created)."""
    path = Path(path)
    _prepare_folder(path.parent)
    tmp = temp_path(path)
    _write_new_file(tmp, data)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_folder(path.parent)
    return path


def write_files(directory, contents: Mapping[str, bytes]) -> dict[str, Path]:
    """Write a set of files ``{name: bytes}`` into ``directory`` so that the set is
    complete or absent; returns ``{name: path}``.

    Every file is first written into one temporary folder inside ``directory`` (same file
    system, so the final moves are renames). Only when all are written and fsynced are
    they renamed into place, one by one, and the folder fsynced. A failure while writing
    (a full disk, a read-only folder, an interrupt) removes the temporary folder and
    leaves the old set untouched. Renames allocate no data blocks, so a full disk cannot
    strike between them; only a crash in that window of microseconds leaves some files
    of the old set beside the new ones (each file whole). Renaming files rather than the
    folder itself is the choice because a set shares its folder with other sets.
    """
    directory = Path(directory)
    _prepare_folder(directory)
    for name in contents:  # a folder in a file's place would fail mid-way through renames
        if (directory / name).is_dir():
            raise IsADirectoryError(errno.EISDIR, "a folder is where a result file goes",
                                    os.fspath(directory / name))
    staging = temp_path(directory / (next(iter(contents), "set") + ".set"))
    staging.mkdir()
    try:
        for name, data in contents.items():
            _write_new_file(staging / name, data)
        fsync_folder(staging)
        paths = {}
        for name in contents:
            os.replace(staging / name, directory / name)
            paths[name] = directory / name
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    fsync_folder(directory)
    return paths


def read_json(path, what: str, expected: type = dict):
    """The JSON value in the file ``path`` (``what`` names it in messages), which must be
    of type ``expected`` (dict: a JSON object, list: an array).

    Raises:
        FileNotFoundError: no such file.
        ValueError: not UTF-8 JSON, or a value of another type (the message names the
            file, the line and column, and what was expected).
    """
    path = Path(path)
    kind = {dict: "an object", list: "an array"}.get(expected, expected.__name__)
    try:
        value = json.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"{what} not found: {path}") from None
    except IsADirectoryError:
        raise ValueError(f"not a file ({what} {path}): a JSON file was expected") from None
    except UnicodeDecodeError as err:
        raise ValueError(f"not UTF-8 text ({what} {path}, byte {err.start}): a JSON file "
                         "was expected") from None
    except json.JSONDecodeError as err:
        raise ValueError(f"invalid JSON ({what} {path}, line {err.lineno} column "
                         f"{err.colno}): {err.msg}") from None
    if not isinstance(value, expected):
        got = "null" if value is None else type(value).__name__
        raise ValueError(f"wrong JSON shape ({what} {path}): {kind} was expected, got {got}")
    return value


def to_jsonable(obj):
    """Convert numpy/JAX scalars and arrays, tuples and non-finite floats for JSON.

    Non-finite floats become the strings ``"inf"``, ``"-inf"``, ``"nan"`` (strict JSON
    has no literal for them).
    """
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if hasattr(obj, "__array__") and not isinstance(obj, (str, bytes)):
        arr = np.asarray(obj)
        return to_jsonable(arr.item() if arr.ndim == 0 else arr.tolist())
    if isinstance(obj, (np.bool_, bool)):
        return bool(obj)
    if isinstance(obj, (np.integer, int)):
        return int(obj)
    if isinstance(obj, (np.floating, float)):
        value = float(obj)
        return value if math.isfinite(value) else str(value)
    return obj


def json_bytes(obj) -> bytes:
    """``obj`` (after :func:`to_jsonable`) as indented strict JSON, newline-terminated."""
    return (json.dumps(to_jsonable(obj), indent=2, allow_nan=False) + "\n").encode()


def write_json(path, obj) -> Path:
    """Atomically write ``obj`` (after :func:`to_jsonable`) as indented JSON."""
    return atomic_write_bytes(path, json_bytes(obj))


def csv_bytes(frame) -> bytes:
    """A pandas DataFrame as CSV bytes (index included when it is named)."""
    return frame.to_csv(index=frame.index.name is not None).encode()


def write_csv(path, frame) -> Path:
    """Atomically write a pandas DataFrame as CSV (index included when it is named)."""
    return atomic_write_bytes(path, csv_bytes(frame))


def png_bytes(fig, dpi: int = 120) -> bytes:
    """A matplotlib figure rendered as PNG bytes; the figure is closed."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    finally:
        plt.close(fig)
    return buffer.getvalue()


def save_figure(fig, path, dpi: int = 120) -> Path:
    """Atomically save a matplotlib figure as PNG and close it."""
    return atomic_write_bytes(path, png_bytes(fig, dpi))


def write_result_set(directory, stem: str, record: dict, frame, fig) -> dict[str, Path]:
    """Write ``stem.json`` (``record``), ``stem.csv`` (``frame``) and ``stem.png`` (``fig``)
    into ``directory``; returns ``{"json": path, "csv": path, "png": path}``.

    All three are rendered in memory before the first byte is written, so an error while
    serialising or plotting (a NaN axis limit, an object JSON cannot hold) leaves the
    folder as it was; they are then written with :func:`write_files`, so a full disk or
    a crash leaves the old set or the new one, never a JSON without its CSV and figure.
    """
    contents = {"json": json_bytes(record), "csv": csv_bytes(frame), "png": png_bytes(fig)}
    paths = write_files(directory, {f"{stem}.{kind}": data for kind, data in contents.items()})
    return {kind: paths[f"{stem}.{kind}"] for kind in contents}
