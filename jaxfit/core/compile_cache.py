"""Opt-in persistent compilation cache: compiled XLA programs saved on disk and reused by
later processes, so a second run of the same fit or scan skips most of its first-call
compile time.

Off by default (a cache directory grows, and a stale one after a JAX upgrade is merely
unused). Switch it on with the environment variable ``JAXFIT_COMPILE_CACHE=DIR`` (read when
``jaxfit`` is imported), the global CLI flag ``jaxfit --compile-cache DIR ...``, or
:func:`enable_compile_cache`. Benchmarks report first-call times with and without it
(benchmarks/RESULTS.md).
"""

from __future__ import annotations

import os
from pathlib import Path

import jax

ENV_VAR = "JAXFIT_COMPILE_CACHE"


def enable_compile_cache(path=None) -> Path | None:
    """Cache compiled programs in ``path`` (default: ``$JAXFIT_COMPILE_CACHE``; nothing
    happens when neither is set). Every program is cached, however quick its compile.

    Returns:
        The cache directory, created if needed, or None when caching stays off.
    """
    path = path or os.environ.get(ENV_VAR)
    if not path:
        return None
    folder = Path(path).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return folder
