"""Run records: what produced a result, on what, and how long it took.

Every saved result carries :func:`run_record`: package versions, the JAX devices, the
precision policy, seeds, the command line, and timings split into the first call (which
includes tracing and XLA compilation) and warm calls (compiled code only) measured by
:func:`time_first_and_warm`.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import platform
import socket
import sys
import time
from collections.abc import Callable

import jax

PACKAGES = ("jaxfit", "jax", "jaxlib", "numpy", "scipy", "optax", "flax", "numpyro", "astropy")


def package_versions() -> dict[str, str | None]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def device_info() -> dict:
    """Backend, device kinds and count (local to this process)."""
    devices = jax.local_devices()
    return {
        "backend": jax.default_backend(),
        "devices": [f"{d.platform}:{d.device_kind}" for d in devices],
        "n_devices": len(devices),
        "process_index": jax.process_index(),
        "process_count": jax.process_count(),
    }


def block(tree):
    """Wait for every array in ``tree`` (JAX dispatch is asynchronous)."""
    return jax.block_until_ready(tree)


def time_first_and_warm(fn: Callable, *args, repeats: int = 3) -> tuple[object, dict]:
    """Call ``fn(*args)`` once (first call: trace + compile + run), then ``repeats`` more.

    Returns:
        (result of the last call, {"first_call_s", "warm_s" (best of repeats), "repeats"}).
    """
    start = time.perf_counter()
    out = block(fn(*args))
    first = time.perf_counter() - start
    warm = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = block(fn(*args))
        warm.append(time.perf_counter() - start)
    return out, {"first_call_s": first, "warm_s": min(warm) if warm else None, "repeats": repeats}


def run_record(*, seeds=None, timings=None, command=None, **extra) -> dict:
    """Provenance for a saved result.

    Args:
        seeds: the random seeds used (dict or int).
        timings: e.g. from :func:`time_first_and_warm` or measured by the caller.
        command: the command line (default: ``sys.argv``).
        **extra: anything else worth keeping (settings, data files and their checksums).
    """
    return {
        "created_utc": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": " ".join(command if command is not None else sys.argv),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "host": socket.gethostname(),
        "packages": package_versions(),
        "device": device_info(),
        "dtype": "float64" if jax.config.jax_enable_x64 else "float32",
        "seeds": seeds,
        "timings": timings,
        **extra,
    }
