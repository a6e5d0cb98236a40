"""One model's file of the parameter store: its format, checksum, validation, atomic write
and lock.

File content (``format_version`` 1)::

    {
      "format_version": 1,
      "model": "lcdm",
      "defaults": {"H0": 67.4, "Om0": 0.315, ...},
      "optimization_metadata": {...} | null,      # of the latest update (the seed's keys)
      "history": [OptimizationRecord dicts, oldest first, newest last],
      "checksum": "<sha256 hex>"
    }

The checksum is the SHA-256 of the canonical JSON
(``json.dumps(obj, sort_keys=True, separators=(",", ":"))``) of everything except
``"checksum"``. Python writes floats with ``repr``, which round-trips exactly, so a stored
value reloads bit for bit (the seed's round-trip test asks for rtol 1e-12).

:func:`parse_content` says why a file is unusable (:class:`CorruptStoreFile`) or that a
newer jaxfit wrote it (:class:`StoreVersionError`); :func:`write_content` replaces a file
atomically; :func:`move_aside` keeps a corrupt file next to its rebuilt one;
:func:`hold_lock` holds a model's OS-level lock. The store itself
(:mod:`jaxfit.cosmo.store`) decides when to do which.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import filelock

from jaxfit.core.io import atomic_write_bytes
from jaxfit.cosmo.records import OptimizationRecord, is_number, utc_now

FORMAT_VERSION = 1
"""The store file format this version of jaxfit reads and writes."""

REQUIRED_KEYS = ("format_version", "model", "defaults", "optimization_metadata", "history")


class StoreError(RuntimeError):
    """A parameter-store operation that cannot proceed."""


class StoreVersionError(StoreError):
    """The store file was written by a newer jaxfit (a format version this one cannot read)."""


class StoreLockTimeout(StoreError, TimeoutError):
    """The per-model lock was not acquired within the timeout."""


class StoreConflict(StoreError):
    """The model's file changed between a fit's read of its starting point and the write of
    its result (the compare-and-swap of :meth:`~jaxfit.cosmo.store.OptimizedParameterStore.
    update_model_defaults` failed); nothing was written."""


class StoreCorruptionWarning(UserWarning):
    """A store file was corrupt; it was moved aside and rebuilt from the built-in defaults."""


class CorruptStoreFile(Exception):
    """Why a store file is unusable (the store turns it into a repair and a warning)."""


def canonical_json(obj) -> bytes:
    """The canonical JSON bytes the checksum is taken of (sorted keys, no spaces)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def checksum(content: Mapping[str, Any]) -> str:
    """SHA-256 hex of the canonical JSON of ``content`` without its ``"checksum"`` key."""
    body = {k: v for k, v in content.items() if k != "checksum"}
    return hashlib.sha256(canonical_json(body)).hexdigest()


def fresh_content(model: str, defaults: Mapping[str, float]) -> dict[str, Any]:
    """The content of a model never optimised: its built-in ``defaults``, no history."""
    return {
        "format_version": FORMAT_VERSION,
        "model": model,
        "defaults": dict(defaults),
        "optimization_metadata": None,
        "history": [],
    }


def parse_content(model: str, path: Path, raw: bytes) -> dict[str, Any]:
    """The validated content of ``model``'s file ``path`` from its bytes ``raw``.

    Raises:
        CorruptStoreFile: not JSON, keys missing, wrong checksum, malformed content (the
            message says which).
        StoreVersionError: written by a newer jaxfit (``format_version`` above
            :data:`FORMAT_VERSION`).
    """
    try:
        content = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorruptStoreFile(f"not valid JSON ({exc})") from None
    if not isinstance(content, dict):
        raise CorruptStoreFile(f"top level is a {type(content).__name__}, not an object")
    version = content.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise CorruptStoreFile(f"format_version is missing or not an integer ({version!r})")
    if version > FORMAT_VERSION:
        raise StoreVersionError(
            f"parameter store file {path} has format_version {version}, but this jaxfit "
            f"reads format_version {FORMAT_VERSION} at most; it was written by a newer "
            "jaxfit: upgrade jaxfit or use another store (--store / JAXFIT_STORE). "
            "The file was left untouched."
        )
    if version < 1:
        raise CorruptStoreFile(f"unsupported format_version {version}")
    missing = [k for k in (*REQUIRED_KEYS, "checksum") if k not in content]
    if missing:
        raise CorruptStoreFile(f"missing keys {missing}")
    expected = checksum(content)
    if content["checksum"] != expected:
        raise CorruptStoreFile(
            f"checksum mismatch (file says {str(content['checksum'])[:12]}..., "
            f"content hashes to {expected[:12]}...)"
        )
    if content["model"] != model:
        raise CorruptStoreFile(f"file is for model {content['model']!r}, expected {model!r}")
    defaults = content["defaults"]
    if not isinstance(defaults, dict):
        raise CorruptStoreFile(f"defaults is a {type(defaults).__name__}, not an object")
    bad = [k for k, v in defaults.items() if not (is_number(v) and math.isfinite(v))]
    if bad:
        raise CorruptStoreFile(f"defaults {bad} are not finite numbers")
    meta = content["optimization_metadata"]
    if meta is not None and not isinstance(meta, dict):
        raise CorruptStoreFile("optimization_metadata is neither an object nor null")
    history = content["history"]
    if not isinstance(history, list):
        raise CorruptStoreFile("history is not a list")
    for i, rec in enumerate(history):
        try:
            OptimizationRecord.from_dict(rec)
        except (ValueError, TypeError) as exc:
            raise CorruptStoreFile(f"history record {i} is malformed ({exc})") from None
    return content


def read_bytes(path: Path) -> bytes | None:
    """The file's bytes; None when absent; :class:`CorruptStoreFile` when unreadable."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CorruptStoreFile(f"unreadable ({exc})") from None


def write_content(path: Path, content: Mapping[str, Any]) -> Path:
    """Write ``content`` with its checksum to ``path`` atomically (temporary file, fsync,
    ``os.replace``): a crash never leaves a half-written file."""
    body = {k: content[k] for k in REQUIRED_KEYS}
    body["checksum"] = checksum(body)
    text = json.dumps(body, indent=2, allow_nan=False) + "\n"
    return atomic_write_bytes(path, text.encode("utf-8"))


def move_aside(path: Path) -> Path | None:
    """Rename ``path`` to ``<name>.corrupt-<UTC time>`` (never deleted); None when the
    rename fails."""
    stamp = utc_now().strftime("%Y%m%dT%H%M%S.%fZ")
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while target.exists():
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
        n += 1
    try:
        os.rename(path, target)
    except OSError:
        return None
    return target


@contextlib.contextmanager
def hold_lock(lock: filelock.FileLock, timeout: float, model: str) -> Iterator[None]:
    """Hold ``model``'s file ``lock``; :class:`StoreLockTimeout` naming the lock file after
    ``timeout`` seconds. A :class:`filelock.FileLock` is re-entrant and released by the OS
    when its process dies."""
    try:
        lock.acquire(timeout=timeout)
    except filelock.Timeout as exc:
        raise StoreLockTimeout(
            f"could not acquire the parameter-store lock {lock.lock_file} within "
            f"{timeout:g} s: another process is updating model {model!r}"
        ) from exc
    try:
        yield
    finally:
        lock.release()
