"""Run the domain benchmarks on one or more devices: one table, JSON and a bar chart.

Used by ``python -m benchmarks`` and ``jaxfit bench``. Each domain module exposes
``run(size) -> list[dict]`` (rows of :func:`benchmarks.common.row`); here every domain runs
once per requested platform inside ``jax.default_device``, so jaxfit's batched work
(``core.parallel`` meshes follow the default device's platform) lands there, while the
numpy/scipy references run on the host as always.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import jax
import numpy as np
from rich.console import Console
from rich.table import Table

from jaxfit.core.checks import writable_folder
from jaxfit.core.io import json_bytes, png_bytes, write_files
from jaxfit.core.provenance import run_record

DOMAINS = ("core", "cosmo", "leptons", "gravity", "lensing")
PLATFORMS = ("cpu", "gpu")


def available_platforms(requested) -> tuple[list[str], list[str]]:
    """``(present, missing)`` among the requested platforms ("cpu", "gpu")."""
    unknown = [p for p in requested if p not in PLATFORMS]
    if unknown:
        raise ValueError(f"unknown platform(s) (--platforms {','.join(requested)}): "
                         f"{', '.join(PLATFORMS)} expected")
    present, missing = [], []
    for platform in requested:
        try:
            jax.devices(platform)
            present.append(platform)
        except RuntimeError:
            missing.append(platform)
    return present, missing


def _ratio_gpu_over_cpu(rows: list[dict]) -> None:
    """Add ``gpu_speedup`` = CPU warm / GPU warm to rows of tasks timed on both."""
    warm = {(r["task"], r["size"], r["platform"]): r["warm_s"] for r in rows}
    for r in rows:
        cpu, gpu = warm.get((r["task"], r["size"], "cpu")), warm.get((r["task"], r["size"], "gpu"))
        r["gpu_speedup"] = cpu / gpu if cpu and gpu else None


def _fmt(value, spec: str, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "-"
    return f"{value:{spec}}{unit}"


def print_table(rows: list[dict], title: str) -> None:
    table = Table(title=title)
    columns = ("task", "size", "device", "first call [s]", "warm [s]", "throughput",
               "smart baseline [s]", "vs smart", "research [s]", "vs research", "GPU/CPU")
    for column in columns:
        table.add_column(column)
    for r in rows:
        table.add_row(r["task"], r["size"], r["device"], _fmt(r["first_call_s"], ".2f"),
                      _fmt(r["warm_s"], ".3f"), r.get("throughput") or "-",
                      _fmt(r.get("smart_s"), ".2f"), _fmt(r.get("smart_ratio"), ".1f", "x"),
                      _fmt(r["reference_s"], ".2f"), _fmt(r["ratio"], ".1f", "x"),
                      _fmt(r.get("gpu_speedup"), ".1f", "x"))
    Console(width=220).print(table)
    for r in rows:
        if r.get("smart"):
            print(f"- {r['task']} [{r['platform']}]: smart baseline: {r['smart']}")
        if r["notes"]:
            print(f"- {r['task']} [{r['platform']}]: {r['notes']}")


def markdown_table(rows: list[dict], title: str) -> str:
    """The table of :func:`print_table` as Markdown, for benchmarks/RESULTS.md."""
    head = ("task", "size", "device", "first call [s]", "warm [s]", "throughput",
            "smart baseline [s]", "vs smart", "research [s]", "vs research", "GPU/CPU")
    lines = [f"### {title}", "", "| " + " | ".join(head) + " |",
             "|" + "---|" * len(head)]
    for r in rows:
        cells = (r["task"], r["size"], r["device"], _fmt(r["first_call_s"], ".2f"),
                 _fmt(r["warm_s"], ".3f"), r.get("throughput") or "-",
                 _fmt(r.get("smart_s"), ".2f"), _fmt(r.get("smart_ratio"), ".1f", "x"),
                 _fmt(r["reference_s"], ".2f"), _fmt(r["ratio"], ".1f", "x"),
                 _fmt(r.get("gpu_speedup"), ".1f", "x"))
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    notes = [f"- {r['task']} [{r['platform']}]: {text}" for r in rows
             for text in (r.get("smart") and f"smart baseline: {r['smart']}", r["notes"])
             if text]
    return "\n".join(lines + [""] + notes) + "\n"


def bar_chart(rows: list[dict]):
    """Warm time per task and device (log scale), with the reference where there is one:
    a new matplotlib figure."""
    import matplotlib.pyplot as plt

    tasks = list(dict.fromkeys(r["task"] for r in rows))
    platforms = list(dict.fromkeys(r["platform"] for r in rows))
    width = 0.8 / (len(platforms) + 2)
    fig, ax = plt.subplots(figsize=(10, 0.5 * len(tasks) + 2))
    y = np.arange(len(tasks))
    for k, platform in enumerate(platforms):
        warm = {r["task"]: r["warm_s"] for r in rows if r["platform"] == platform}
        ax.barh(y + k * width, [warm.get(t, np.nan) for t in tasks], width,
                label=f"jaxfit, {platform}")
    smart = {r["task"]: r.get("smart_s") or np.nan for r in rows}
    ax.barh(y + len(platforms) * width, [smart.get(t, np.nan) for t in tasks], width,
            label="smart baseline (careful scipy/numpy)", color="0.4")
    ref = {r["task"]: r["reference_s"] or np.nan for r in rows}
    ax.barh(y + (len(platforms) + 1) * width, [ref.get(t, np.nan) for t in tasks], width,
            label="research baseline", color="0.75")
    ax.set_yticks(y + width * (len(platforms) + 1) / 2, tasks, fontsize=7)
    ax.set(xscale="log", xlabel="warm time [s] (lower is better)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def checked_out(out, name: str = "bench") -> Path:
    """The path of the JSON file to write, ``out/NAME.json``, checked before any benchmark
    runs: the folder writable (created if missing), the file not a folder. A path ending
    in ``.json`` that is not a folder is the old file-valued ``--out`` (kept one release,
    one deprecation note): that file, its ``.md`` table and ``.png`` chart beside it."""
    from jaxfit.cli.state import deprecated

    out = Path(out).expanduser()
    if out.suffix == ".json" and not out.is_dir():
        deprecated("--out FILE.json", "--out DIR",
                   f"writes {out.name} and its .md, .png in {out.parent}")
        path, option = out, f"the folder of --out {out}"
    else:
        path, option = out / f"{name}.json", "--out"
    if path.is_dir():
        raise IsADirectoryError(f"a folder where a file is expected (--out {out}): {path} "
                                "must be a file, not a folder")
    writable_folder(path.parent, option)
    return path


def run_suite(domains=DOMAINS, size: str = "small", devices=("cpu", "gpu"),
              out: Path | None = None, say=print, name: str = "bench") -> list[dict]:
    """Run ``domains`` at ``size`` on every present platform of ``devices`` (the CLI's
    ``--platforms``); write ``NAME.json``, the ``NAME.md`` table and the ``NAME.png`` bar
    chart into the folder ``out``, all three or none; returns the rows. Every argument,
    ``out`` included, is checked before the first benchmark."""
    unknown = [d for d in domains if d not in DOMAINS]
    if unknown:
        raise ValueError(f"domains: unknown {unknown}; valid: {', '.join(DOMAINS)}")
    if size not in ("small", "full"):
        raise ValueError(f"size must be 'small' or 'full', got {size!r}")
    out = None if out is None else checked_out(out, name)
    present, missing = available_platforms(devices)
    for platform in missing:
        say(f"no {platform.upper()} present on this machine (JAX backends: "
            f"{jax.default_backend()}); running the other device(s) only")
    rows = []
    for platform in present:
        with jax.default_device(jax.devices(platform)[0]):
            for domain in domains:
                for r in importlib.import_module(f"benchmarks.bench_{domain}").run(size):
                    rows.append(r | {"platform": platform, "domain": domain})
    _ratio_gpu_over_cpu(rows)
    print_table(rows, f"jaxfit benchmarks ({size}; {', '.join(present)})")
    if out is not None:
        title = f"jaxfit benchmarks ({size}; {', '.join(present)})"
        contents = {
            out.name: json_bytes({"rows": rows, "missing_devices": missing,
                                  "provenance": run_record(size=size, domains=list(domains))}),
            out.with_suffix(".md").name: markdown_table(rows, title).encode(),
        }
        if rows:
            contents[out.with_suffix(".png").name] = png_bytes(bar_chart(rows))
        paths = list(write_files(out.parent, contents).values())
        say(f"wrote {', '.join(map(str, paths))}")
    return rows
