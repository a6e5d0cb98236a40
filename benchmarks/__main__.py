"""``python -m benchmarks [--size small|full] [--domains core ...] [--devices cpu,gpu]``."""

from __future__ import annotations

import argparse
from pathlib import Path

import jaxfit  # noqa: F401  (precision policy)
from benchmarks.suite import DOMAINS, run_suite


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--size", choices=("small", "full"), default="full")
    parser.add_argument("--domains", nargs="+", choices=DOMAINS, default=list(DOMAINS))
    parser.add_argument("--devices", default="cpu,gpu", help="comma list of cpu, gpu")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("results.json"))
    args = parser.parse_args(argv)
    devices = [d.strip() for d in args.devices.split(",") if d.strip()]
    return run_suite(args.domains, args.size, devices, args.out)


if __name__ == "__main__":
    main()
