"""``python -m benchmarks [--size small|full] [--domains core ...] [--platforms cpu,gpu]
[--out DIR]``: writes ``results.json``, ``results.md`` and ``results.png`` into ``--out``
(default: this folder). Runs from the source checkout only (the package is not installed
with jaxfit): ``python -m benchmarks`` in the repository root.

A failure ends as the one line ``jaxfit bench`` prints (:mod:`jaxfit.cli.boundary`), with
the same exit codes; ``--debug`` shows the traceback instead."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import jaxfit  # noqa: F401  (precision policy)
from benchmarks.suite import DOMAINS, run_suite
from jaxfit.cli.boundary import exit_code_of, line_of
from jaxfit.cli.state import deprecated
from jaxfit.core.precision import check_environment


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--size", choices=("small", "full"), default="full")
    parser.add_argument("--domains", nargs="+", choices=DOMAINS, default=list(DOMAINS))
    parser.add_argument("--platforms", default="cpu,gpu", help="comma list of cpu, gpu")
    parser.add_argument("--devices", dest="old_devices", help=argparse.SUPPRESS)  # one release
    parser.add_argument("--out", type=Path, default=Path(__file__).parent, metavar="DIR",
                        help="results folder (results.json, .md, .png)")
    parser.add_argument("--debug", action="store_true", help="show a failure's traceback")
    args = parser.parse_args(argv)
    if args.old_devices is not None:
        deprecated("--devices", "--platforms")
        args.platforms = args.old_devices
    platforms = [d.strip() for d in args.platforms.split(",") if d.strip()]
    try:
        check_environment()
        return run_suite(args.domains, args.size, platforms, args.out, name="results")
    except Exception as err:
        if args.debug:
            raise
        print(line_of(err), file=sys.stderr)
        raise SystemExit(exit_code_of(err)) from None


if __name__ == "__main__":
    main()
