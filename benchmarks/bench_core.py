"""Core: batched multi-start L-BFGS against a loop of scipy.optimize.minimize calls.

Workload: the 10-D Rosenbrock function in [-2, 2]^10 from N starts (N = 1000 full, 100
small). jaxfit runs all starts as one vmapped L-BFGS program. The smart baseline is what a
careful user writes: scipy L-BFGS-B from the same starts with the exact gradient of the same
function, jitted by JAX (:func:`benchmarks.common.scipy_multistart`). The research baseline
is what the research scripts did: a loop of scipy.optimize.minimize (L-BFGS-B, numerical
gradient) with the objective in numpy. Both loops are timed on a subset of the starts and
scaled linearly to N (each start is independent, so the scaling is exact up to the spread
of iteration counts); the subset size is in the notes.

Second task: the persistent compilation cache (on by default; ``JAXFIT_COMPILE_CACHE``).
The same first call in three fresh processes: with the cache switched off
(``JAXFIT_COMPILE_CACHE=0``), with an empty cache in a temporary folder (it is written) and
with that warm cache; "first call" is the first, "warm" the third (small: this Rosenbrock
fit with 100 starts; full: the LCDM CMB+BAO fit with 16 starts and its Hessian).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import scipy.optimize

from benchmarks.common import (
    numpy_value_and_grad,
    row,
    same_answer,
    scipy_multistart,
    time_first_and_warm,
    wall,
)
from jaxfit.core.objective import with_data
from jaxfit.core.optimize import minimize, sample_starts, value_and_grad_x
from jaxfit.core.parallel import default_platform
from jaxfit.core.params import Param, ParamSpec

DIM = 10
SPEC = ParamSpec([Param(f"x{i}", 0.0, -2.0, 2.0) for i in range(DIM)])


def rosenbrock(p):
    x = jnp.stack([p[n] for n in SPEC.names])
    return jnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def rosenbrock_np(x):
    return float(np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2))


CACHE_WORKLOADS = {
    "small": """
        from benchmarks.bench_core import SPEC, rosenbrock
        from jaxfit.core.optimize import minimize
        work = lambda: minimize(rosenbrock, SPEC, n_starts=100, progress=False).fun
    """,
    "full": """
        import tempfile
        from jaxfit.cosmo.fit import optimize_parameters
        from jaxfit.cosmo.store import OptimizedParameterStore
        store = OptimizedParameterStore(tempfile.mkdtemp())
        work = lambda: optimize_parameters("lcdm", "cmb,bao", store=store, progress=False,
                                           dry_run=True).final_chi2
    """,
}


def _first_call_in_fresh_process(size: str, cache: Path | None) -> tuple[float, float]:
    """(seconds of the workload's first call, its value) in a new Python process."""
    code = textwrap.dedent(CACHE_WORKLOADS[size]) + textwrap.dedent("""
        import json, time
        start = time.perf_counter()
        value = float(work())
        print(json.dumps([time.perf_counter() - start, value]))
    """)
    repo = Path(__file__).resolve().parents[1]
    env = dict(os.environ, JAX_PLATFORMS=default_platform(),
               PYTHONPATH=os.pathsep.join([str(repo), os.environ.get("PYTHONPATH", "")]))
    # the cache is on by default (user folder): "no cache" must switch it off explicitly
    env["JAXFIT_COMPILE_CACHE"] = "0" if cache is None else str(cache)
    done = subprocess.run([sys.executable, "-c", "import jaxfit\n" + code], env=env,
                          capture_output=True, text=True, cwd=repo, timeout=1800, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"compile-cache benchmark process failed:\n{done.stderr[-2000:]}")
    seconds, value = json.loads(done.stdout.strip().splitlines()[-1])
    return seconds, value


def _cache_rows(size: str) -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        without, value = _first_call_in_fresh_process(size, None)
        cold, _ = _first_call_in_fresh_process(size, Path(tmp))
        warm, value_cached = _first_call_in_fresh_process(size, Path(tmp))
    task = "100-start Rosenbrock fit" if size == "small" else "LCDM CMB+BAO fit + Hessian"
    return [row(f"core: first call with the compile cache, {task}", "fresh process",
                {"first_call_s": without, "warm_s": warm}, without, "same, without the cache",
                notes=f"first call: no cache {without:.1f} s, empty cache (written) "
                f"{cold:.1f} s, warm cache {warm:.1f} s; result equal: "
                f"{value == value_cached}")]


def run(size: str = "full") -> list[dict]:
    n_starts = 1000 if size == "full" else 100
    n_reference = 100 if size == "full" else 20
    fit, timings = time_first_and_warm(
        lambda: minimize(rosenbrock, SPEC, n_starts=n_starts, progress=False), repeats=2
    )
    starts = sample_starts(SPEC, n_reference, seed=1)
    results = []

    def scipy_loop():
        results.clear()
        for x0 in starts:
            res = scipy.optimize.minimize(rosenbrock_np, x0, method="L-BFGS-B",
                                          bounds=[(-2.0, 2.0)] * DIM)
            results.append(res.fun)

    reference_s = wall(scipy_loop) * n_starts / n_reference
    fun, data = with_data(rosenbrock, None)
    vg = value_and_grad_x(fun, SPEC.skeleton())
    exact = numpy_value_and_grad(jax.jit(lambda x: vg(x, SPEC.fixed_vector(), data)))
    exact(starts[0])  # compiled before it is timed
    smart = scipy_multistart(exact, starts, (SPEC.lower, SPEC.upper))
    smart_s = smart.seconds * n_starts / n_reference
    found = fit.starts["fun"] < 1e-8
    return [
        row(
            "core: multi-start L-BFGS, 10-D Rosenbrock",
            f"{n_starts} starts",
            timings,
            reference_s,
            "scipy.optimize.minimize L-BFGS-B loop (numerical gradient)",
            smart_s=smart_s,
            smart=f"scipy L-BFGS-B with the jitted exact gradient, {n_reference} of the "
            f"starts timed and scaled to {n_starts}; best f {smart.best_f:.3g} (jaxfit "
            f"{fit.fun:.3g}, same answer: {same_answer(fit.fun, smart.best_f, rtol=1e-9)}); "
            f"{smart.n_fev / n_reference:.0f} evaluations per start",
            notes=f"reference timed on {n_reference} starts and scaled to {n_starts}; "
            f"global minimum (f < 1e-8) reached by {found.mean():.0%} of jaxfit starts, "
            f"{np.mean(np.asarray(results) < 1e-8):.0%} of scipy starts "
            "(scipy stops at its default ftol)",
            best_fun=fit.fun,
        )
    ] + _cache_rows(size)
