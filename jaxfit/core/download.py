"""Downloads of public data files into a local cache, for ``jaxfit data``.

The cache lives in ``$JAXFIT_DATA``, else ``$XDG_CACHE_HOME/jaxfit/data``, else
``~/.cache/jaxfit/data``. Each file is fetched to a temporary name and moved into place
atomically, so an interrupted download never leaves a truncated file that later looks
valid; files already present are kept unless ``force``.
"""

from __future__ import annotations

import http.client
import os
import urllib.request
from pathlib import Path

from jaxfit.core.io import atomic_write_bytes
from jaxfit.core.progress import progress_bar


def data_home() -> Path:
    """The cache folder for downloaded data (not created here)."""
    if os.environ.get("JAXFIT_DATA"):
        return Path(os.environ["JAXFIT_DATA"]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME")
    base = Path(cache) if cache and Path(cache).is_absolute() else Path.home() / ".cache"
    return base / "jaxfit" / "data"


def fetch(urls: dict[str, str], destination: Path, *, force: bool = False,
          timeout: float = 60.0) -> list[Path]:
    """Download ``{relative path: url}`` into ``destination``; returns the local paths.

    Raises:
        RuntimeError: a download failed (the message names the URL and the reason); files
            fetched before it are kept.
    """
    destination = Path(destination)
    paths = []
    with progress_bar(len(urls), f"downloading to {destination}") as advance:
        for relative, url in urls.items():
            path = destination / relative
            if force or not path.exists():
                try:
                    with urllib.request.urlopen(url, timeout=timeout) as response:
                        data = response.read()
                except (OSError, http.client.HTTPException) as err:  # incl. cut-off bodies
                    raise RuntimeError(f"download of {url} failed: {err}") from None
                atomic_write_bytes(path, data)
            paths.append(path)
            advance(1)
    return paths
