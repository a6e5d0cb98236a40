"""Shared helpers for the benchmark modules: timing and the result row."""

from __future__ import annotations

import time

import jax

from jaxfit.core.provenance import time_first_and_warm


def device_name() -> str:
    """The device jaxfit's work runs on: the default device (``jax.default_device``)."""
    from jaxfit.core.parallel import default_platform

    platform = default_platform()
    devices = jax.local_devices(backend=platform)
    return f"{platform}:{devices[0].device_kind} x{len(devices)}"


def wall(fn, *args, repeats: int = 1) -> float:
    """Best wall time of ``repeats`` calls of a host (numpy/scipy) function, seconds."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn(*args)
        best = min(best, time.perf_counter() - start)
    return best


def row(task, size, timings, reference_s, reference, notes="", throughput=None,
        **extra) -> dict:
    """One table row; ``ratio`` = reference time / jaxfit warm time (> 1: jaxfit faster)."""
    warm = timings["warm_s"]
    return {
        "task": task,
        "size": size,
        "device": device_name(),
        "first_call_s": timings["first_call_s"],
        "warm_s": warm,
        "reference": reference,
        "reference_s": reference_s,
        "ratio": reference_s / warm if warm else None,
        "notes": notes,
        "throughput": throughput,
        **extra,
    }


__all__ = ["device_name", "row", "time_first_and_warm", "wall"]
