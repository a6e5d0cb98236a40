"""First calls of the CLI workflows: how long from typing the command to the printed result.

Every run is a fresh process, as a user's is. Each workflow runs four times:

1. ``profile``: compile cache off, with ``JAX_LOG_COMPILES`` and ``JAXFIT_COMPILE_PROFILE``:
   trace, lowering and XLA compile seconds summed over programs, the largest programs by
   XLA compile time, and the size of every batched program (StableHLO lines);
2. ``cold``: compile cache off (``JAXFIT_COMPILE_CACHE=0``): what every first run cost
   before the cache was on by default, and what a user with a new jax version pays;
3. ``empty cache``: the default cache in a new temporary folder (the entries are written);
4. ``warm cache``: the same folder again (a user's second run).

Results with a fresh parameter store and output folder per run, so every run computes the
same answer. Run: ``python -m benchmarks.bench_startup [--workflows cosmo-fit,demo]
[--out FILE.json]``; the table goes to stdout and benchmarks/RESULTS.md keeps it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

# the SPARC rotation curves: $JAXFIT_BENCH_SPARC, else the team's shared copy beside the
# repository (a user has them from `jaxfit data sparc`)
SPARC = Path(os.environ.get("JAXFIT_BENCH_SPARC",
                            Path(__file__).resolve().parents[2] / "shared" / "data" / "sparc"))
WORKFLOWS = {
    "cosmo-fit": ["cosmo", "fit", "--datasets", "cmb,bao", "--store", "{tmp}/store"],
    "leptons-fit": ["leptons", "fit", "--out", "{tmp}/out"],
    "gravity-joint": ["gravity", "joint", "--rotmod-dir", str(SPARC / "Rotmod_LTG"),
                      "--out", "{tmp}/joint"],
    "demo": ["demo", "--out", "{tmp}/demo"],
}
TARGETS_S = {  # issue 12: (first call, warm cache)
    "cosmo-fit": (6.0, 3.5),
    "leptons-fit": (8.0, None),
    "gravity-joint": (25.0, None),
    "demo": (45.0, 25.0),
}
_LOG = {
    "trace": re.compile(r"Finished tracing (?:\+ transforming )?(\S+) for \S+ in ([\d.e-]+) sec"),
    "lower": re.compile(r"Finished jaxpr to MLIR module conversion (\S+) in ([\d.e-]+) sec"),
    "compile": re.compile(r"Finished XLA compilation of (\S+) in ([\d.e-]+) sec"),
}
_PROFILE = re.compile(r"\[compile-profile\] (.*): trace\+lower ([\d.]+) s, compile ([\d.]+) s, "
                      r"(\d+) StableHLO lines")


def run_once(args: list[str], env: dict) -> tuple[float, str, int]:
    """Wall seconds of one fresh ``jaxfit`` process, its stderr, its exit code."""
    with tempfile.TemporaryDirectory(prefix="jaxfit-startup-") as tmp:
        argv = [sys.executable, "-c", "from jaxfit.cli.main import app; app()"]
        argv += [a.format(tmp=tmp) for a in args]
        start = time.perf_counter()
        done = subprocess.run(argv, env=env, capture_output=True, text=True, cwd=tmp)
        return time.perf_counter() - start, done.stderr, done.returncode


def compile_profile(log: str) -> dict:
    """Seconds by phase summed over programs, the five slowest XLA compilations and the
    batched programs' sizes, from one run's stderr."""
    totals, per_program = defaultdict(float), defaultdict(float)
    for phase, pattern in _LOG.items():
        for name, seconds in pattern.findall(log):
            totals[phase] += float(seconds)
            if phase == "compile":
                per_program[name] += float(seconds)
    slowest = sorted(per_program.items(), key=lambda kv: -kv[1])[:5]
    batched = [
        {"program": d, "trace_lower_s": float(t), "compile_s": float(c), "hlo_lines": int(n)}
        for d, t, c, n in _PROFILE.findall(log)
    ]
    return {"seconds": dict(totals), "slowest_xla": slowest, "batched_programs": batched,
            "n_programs": sum(1 for _ in _LOG["compile"].finditer(log))}


def bench_workflow(name: str) -> dict:
    base = {k: v for k, v in os.environ.items() if not k.startswith("JAXFIT_COMPILE")}
    base.pop("JAX_LOG_COMPILES", None)
    off = base | {"JAXFIT_COMPILE_CACHE": "0"}
    args = WORKFLOWS[name]
    shown = [a for a in args if "{tmp}" not in a and not a.startswith("/")]
    result = {"workflow": "jaxfit " + " ".join(shown)}
    wall, log, code = run_once(args, off | {"JAX_LOG_COMPILES": "1",
                                            "JAXFIT_COMPILE_PROFILE": "1"})
    if code != 0:
        raise RuntimeError(f"{result['workflow']} failed (exit {code}): {log[-600:]}")
    result["profile"] = compile_profile(log) | {"wall_s": wall, "exit_code": code}
    result["cold_s"], _, result["cold_exit"] = run_once(args, off)
    with tempfile.TemporaryDirectory(prefix="jaxfit-startup-cache-") as cache:
        cached = base | {"JAXFIT_COMPILE_CACHE": cache}
        result["empty_cache_s"], _, _ = run_once(args, cached)
        result["warm_cache_s"], _, result["warm_exit"] = run_once(args, cached)
    result["targets_s"] = TARGETS_S[name]
    return result


def table(results: list[dict]) -> str:
    lines = [
        "| workflow | cache off (first call) | empty cache | warm cache | target first / warm |"
        " trace / lower / XLA compile (s, cache off) | programs |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        s = r["profile"]["seconds"]
        first, warm = r["targets_s"]
        lines.append(
            f"| `{r['workflow']}` | {r['cold_s']:.1f} s | {r['empty_cache_s']:.1f} s | "
            f"{r['warm_cache_s']:.1f} s | {first:g} s / {'-' if warm is None else f'{warm:g} s'}"
            f" | {s.get('trace', 0):.1f} / {s.get('lower', 0):.1f} / {s.get('compile', 0):.1f}"
            f" | {r['profile']['n_programs']} |"
        )
    lines.append("")
    lines.append("Batched programs (cache off): description, trace+lower s, XLA compile s, "
                 "StableHLO lines; the five slowest XLA compilations:")
    for r in results:
        programs = "; ".join(
            f"{p['program']}: {p['trace_lower_s']:.1f} + {p['compile_s']:.1f} s, "
            f"{p['hlo_lines']} lines" for p in r["profile"]["batched_programs"])
        slowest = ", ".join(f"{n} {t:.1f} s" for n, t in r["profile"]["slowest_xla"])
        lines.append(f"- `{r['workflow']}`: {programs or 'none'}. Slowest: {slowest}.")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workflows", default=",".join(WORKFLOWS))
    parser.add_argument("--out", type=Path, default=Path("jaxfit-results/bench/startup.json"))
    options = parser.parse_args(argv)
    names = [n.strip() for n in options.workflows.split(",") if n.strip()]
    unknown = [n for n in names if n not in WORKFLOWS]
    if unknown:
        parser.error(f"unknown workflows {unknown}; valid: {list(WORKFLOWS)}")
    results = []
    for name in names:
        print(f"timing {name} (4 fresh processes)...", file=sys.stderr, flush=True)
        results.append(bench_workflow(name))
    from jaxfit.core.provenance import run_record

    options.out.parent.mkdir(parents=True, exist_ok=True)
    options.out.write_text(json.dumps({"results": results, "provenance": run_record()},
                                      indent=2, default=str))
    print(table(results))


if __name__ == "__main__":
    main()
