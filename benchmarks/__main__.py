"""``python -m benchmarks [--size small|full] [--domains core ...]``: one table + JSON."""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path

from rich.console import Console
from rich.table import Table

import jaxfit  # noqa: F401  (precision policy)
from jaxfit.core.io import write_json
from jaxfit.core.provenance import run_record

DOMAINS = ("core", "cosmo", "leptons", "gravity", "lensing")


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--size", choices=("small", "full"), default="full")
    parser.add_argument("--domains", nargs="+", choices=DOMAINS, default=list(DOMAINS))
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("results.json"))
    args = parser.parse_args(argv)
    rows = []
    for domain in args.domains:
        rows += importlib.import_module(f"benchmarks.bench_{domain}").run(args.size)
    table = Table(title=f"jaxfit benchmarks ({args.size})")
    for column in ("task", "size", "device", "first call [s]", "warm [s]", "reference",
                   "reference [s]", "ratio"):
        table.add_column(column)
    for r in rows:
        table.add_row(r["task"], r["size"], r["device"], f"{r['first_call_s']:.2f}",
                      f"{r['warm_s']:.3f}", r["reference"], f"{r['reference_s']:.2f}",
                      "-" if r["ratio"] is None or r["ratio"] != r["ratio"] else
                      f"{r['ratio']:.1f}x")
    Console(width=200).print(table)
    for r in rows:
        if r["notes"]:
            print(f"- {r['task']}: {r['notes']}")
    write_json(args.out, {"rows": rows, "provenance": run_record(size=args.size)})
    print(f"wrote {args.out}")
    return rows


if __name__ == "__main__":
    main()
