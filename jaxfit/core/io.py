"""Result files: atomic writes of JSON, CSV and PNG.

Every file jaxfit writes goes through :func:`atomic_write_bytes`: the content is written to
a temporary file in the same folder, flushed and fsynced, then moved over the target with
``os.replace`` (atomic on POSIX). A crash mid-write leaves the old file or the new one,
never half of either.
"""

from __future__ import annotations

import io
import json
import math
import os
import tempfile
from pathlib import Path

import numpy as np


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (parent folders are created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


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


def write_json(path, obj) -> Path:
    """Atomically write ``obj`` (after :func:`to_jsonable`) as indented JSON."""
    text = json.dumps(to_jsonable(obj), indent=2, allow_nan=False)
    return atomic_write_bytes(path, (text + "\n").encode())


def write_csv(path, frame) -> Path:
    """Atomically write a pandas DataFrame as CSV (index included when it is named)."""
    text = frame.to_csv(index=frame.index.name is not None)
    return atomic_write_bytes(path, text.encode())


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
    folder as it was instead of holding a JSON without its CSV and figure.
    """
    directory = Path(directory)
    contents = {
        "json": (json.dumps(to_jsonable(record), indent=2, allow_nan=False) + "\n").encode(),
        "csv": frame.to_csv(index=frame.index.name is not None).encode(),
        "png": png_bytes(fig),
    }
    return {kind: atomic_write_bytes(directory / f"{stem}.{kind}", data)
            for kind, data in contents.items()}
