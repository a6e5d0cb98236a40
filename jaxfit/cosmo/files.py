"""Opening the cosmo data files: plain or gzip-compressed text, and the packaged tables.

The readers of :mod:`jaxfit.cosmo.cmb`, :mod:`jaxfit.cosmo.bao` and :mod:`jaxfit.cosmo.sn`
share these two primitives; every format-specific check lives with its reader.
"""

from __future__ import annotations

import gzip
import importlib.resources
import json
from pathlib import Path


def open_text(path: Path):
    """``path`` opened for reading as UTF-8 text, decompressed when it ends in ``.gz``."""
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


def packaged_json(filename: str) -> dict:
    """The JSON table ``filename`` shipped in the :mod:`jaxfit.data` package."""
    resource = importlib.resources.files("jaxfit.data").joinpath(filename)
    return json.loads(resource.read_text(encoding="utf-8"))
