"""Opening the cosmo data files: plain or gzip-compressed text, and the packaged tables.

The readers of :mod:`jaxfit.cosmo.cmb`, :mod:`jaxfit.cosmo.bao` and :mod:`jaxfit.cosmo.sn`
share these two primitives; every format-specific check lives with its reader.
"""

from __future__ import annotations

import gzip
import importlib.resources
import io
import json
import zlib
from pathlib import Path


def open_text(path: Path) -> io.StringIO:
    """The text of ``path`` (UTF-8, decompressed when it ends in ``.gz``), as a file object.

    Read whole (the data files are small), so that a file that is not what its name says --
    binary, a broken or truncated gzip stream -- fails here, as ``ValueError`` naming the
    file, and never halfway through a reader's loop as ``EOFError`` or ``BadGzipFile``.
    """
    gzipped = path.suffix == ".gz"
    raw = path.read_bytes()
    try:
        return io.StringIO((gzip.decompress(raw) if gzipped else raw).decode("utf-8"))
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as err:
        kind = "gzip-compressed UTF-8 text" if gzipped else "UTF-8 text"
        raise ValueError(f"{path}: must be {kind}, got unreadable content ({err})") from None


def packaged_json(filename: str) -> dict:
    """The JSON table ``filename`` shipped in the :mod:`jaxfit.data` package."""
    resource = importlib.resources.files("jaxfit.data").joinpath(filename)
    return json.loads(resource.read_text(encoding="utf-8"))
