"""Shared helpers for the benchmark modules: timing, the careful user's baseline, the row.

Every row answers the user's question, "how long until I have the same answer?", against
two baselines:

- the *smart* baseline: what a careful user writes without jaxfit (scipy L-BFGS-B from
  several starts with exact gradients, :func:`scipy_multistart`; vectorised numpy/scipy for
  simulations), timed until it holds the same answer;
- the *research* baseline: what the research scripts do (differential evolution, quad
  point by point, a Python loop over galaxies or images).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import jax
import numpy as np

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


@dataclass
class Multistart:
    """The outcome of :func:`scipy_multistart`."""

    best_f: float
    best_x: np.ndarray
    seconds: float  # all starts
    seconds_to_best: float  # until the running best first reached best_f (1e-9 relative)
    n_fev: int
    f: np.ndarray  # final value of each start


def scipy_multistart(value_and_grad, starts, bounds, *, maxiter: int = 1000,
                     gtol: float = 1e-9, ftol: float = 1e-15) -> Multistart:
    """The careful user's fit: scipy L-BFGS-B from each row of ``starts`` in turn, with
    exact gradients (``value_and_grad(x) -> (f, grad)`` on numpy float64; e.g. a jitted JAX
    ``value_and_grad`` converted to numpy, compiled before this is timed).

    ``bounds``: ``(lower, upper)`` arrays. The tolerances are tight so that it stops where
    jaxfit's L-BFGS stops (not at scipy's default ftol 2e-9, which ends well short on
    large chi2 values).
    """
    from scipy.optimize import minimize

    lower, upper = (np.asarray(b, dtype=np.float64) for b in bounds)
    box = list(zip(lower, upper, strict=True))
    f_all, x_all, times, n_fev = [], [], [], 0
    start = time.perf_counter()
    for x0 in np.atleast_2d(starts):
        res = minimize(value_and_grad, np.asarray(x0, dtype=np.float64), jac=True,
                       method="L-BFGS-B", bounds=box,
                       options={"maxiter": maxiter, "gtol": gtol, "ftol": ftol})
        f_all.append(float(res.fun) if np.isfinite(res.fun) else np.inf)
        x_all.append(res.x)
        times.append(time.perf_counter() - start)
        n_fev += int(res.nfev)
    f_all = np.asarray(f_all)
    best = int(np.argmin(f_all))
    reached = np.minimum.accumulate(f_all) <= f_all[best] + 1e-9 * max(1.0, abs(f_all[best]))
    return Multistart(best_f=float(f_all[best]), best_x=np.asarray(x_all[best]),
                      seconds=times[-1], seconds_to_best=times[int(np.argmax(reached))],
                      n_fev=n_fev, f=f_all)


def numpy_value_and_grad(jitted):
    """``x -> (float f, numpy grad)`` from a jitted JAX ``x -> (f, grad)`` (scipy's form)."""
    def value_and_grad(x):
        f, g = jitted(x)
        return float(f), np.asarray(g, dtype=np.float64)

    return value_and_grad


def same_answer(f_jaxfit, f_reference, rtol: float = 1e-9) -> bool:
    """jaxfit's best is at least as good as the reference's, to ``rtol`` relative (elementwise
    for grids: every point)."""
    f_jaxfit, f_reference = np.asarray(f_jaxfit), np.asarray(f_reference)
    return bool(np.all(f_jaxfit <= f_reference + rtol * np.maximum(1.0, np.abs(f_reference))))


def row(task, size, timings, reference_s, reference, notes="", throughput=None,
        smart_s=None, smart=None, **extra) -> dict:
    """One table row. ``ratio`` = research reference time / jaxfit warm time and
    ``smart_ratio`` = smart-baseline time / jaxfit warm time (> 1: jaxfit faster)."""
    warm = timings["warm_s"]
    return {
        "task": task,
        "size": size,
        "device": device_name(),
        "first_call_s": timings["first_call_s"],
        "warm_s": warm,
        "smart": smart,
        "smart_s": smart_s,
        "smart_ratio": smart_s / warm if warm and smart_s else None,
        "reference": reference,
        "reference_s": reference_s,
        "ratio": reference_s / warm if warm and reference_s else None,
        "notes": notes,
        "throughput": throughput,
        **extra,
    }


__all__ = ["Multistart", "device_name", "numpy_value_and_grad", "row", "same_answer",
           "scipy_multistart", "time_first_and_warm", "wall"]
