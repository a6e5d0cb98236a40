"""The ``jaxfit`` command: global options, ``demo``, ``bench``, and one sub-app per domain.

This module sits at the top of the CLI: it imports the domain command modules and adds their
sub-apps; they import their shared state from :mod:`jaxfit.cli.state`, never from here.
Every command runs inside the error boundary of :mod:`jaxfit.cli.boundary`.
"""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path

import typer

import jaxfit
from jaxfit.cli import cache, cosmo, data, gravity, lensing, leptons
from jaxfit.cli.boundary import BoundaryGroup
from jaxfit.cli.state import STATE, console, deprecated, out_option, parse_list, say
from jaxfit.core.checks import writable_folder
from jaxfit.core.progress import set_quiet

app = typer.Typer(
    cls=BoundaryGroup,
    help="jaxfit: batched, differentiable fits for research physics (CPU or GPU).",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(cosmo.cosmo_app, name="cosmo")
app.add_typer(gravity.gravity_app, name="gravity")
app.add_typer(leptons.leptons_app, name="leptons")
app.add_typer(lensing.lensing_app, name="lensing")
app.add_typer(data.data_app, name="data")
app.add_typer(cache.cache_app, name="cache")


def _core_tour(out, quiet):
    from jaxfit.cli import tour  # imports JAX: not at `jaxfit --help` time

    return tour.run(out, quiet)


DEMO_PARTS = {
    "core": _core_tour,
    "cosmo": cosmo.demo_part,
    "leptons": leptons.demo_part,
    "gravity": gravity.demo_part,
    "lensing": lensing.demo_part,
}
"""The demo's sections, in order: name -> run(outdir, quiet) -> {"section", "summary",
"provenance"}."""


def _version(value: bool):
    if value:
        import jax

        console.print(f"jaxfit {jaxfit.__version__} (jax {jax.__version__})")
        raise typer.Exit()


def select_device(device: str | None) -> None:
    """Pin JAX to ``cpu`` or ``gpu`` before any computation (None: JAX's default)."""
    import jax

    if device is None:
        return
    if device not in ("cpu", "gpu"):
        raise typer.BadParameter(f"--device must be 'cpu' or 'gpu', got {device!r}")
    if device == "cpu":
        jax.config.update("jax_platforms", "cpu")
        return
    try:
        jax.devices("gpu")
    except RuntimeError:
        raise typer.BadParameter(
            f"--device gpu: JAX sees no GPU on this machine (backend: {jax.default_backend()}); "
            "install a CUDA build of jaxlib (pip install 'jax[cuda12]') or use --device cpu"
        ) from None
    jax.config.update("jax_platforms", "cuda")


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars or summaries."),
    debug: bool = typer.Option(False, "--debug", help="Show the traceback of a failure "
                               "instead of its one-line message."),
    device: str = typer.Option(None, "--device", help="cpu or gpu (default: JAX's choice)."),
    compile_cache: Path = typer.Option(None, "--compile-cache", help="Keep compiled programs "
                                       "in DIR (default: the user's cache folder, or "
                                       "JAXFIT_COMPILE_CACHE)."),
    no_compile_cache: bool = typer.Option(False, "--no-compile-cache", help="Compile "
                                          "without the persistent cache (or set "
                                          "JAXFIT_COMPILE_CACHE=0)."),
    chunk: int = typer.Option(None, "--chunk", help="Items (grid points x starts, images, "
                              "parameter points) per compiled call of every batched job "
                              "(or set JAXFIT_CHUNK; default: from the device's free memory)."),
):
    """Global options apply to every command."""
    from jaxfit.core.compile_cache import configure as configure_compile_cache
    from jaxfit.core.parallel import set_default_chunk
    from jaxfit.core.precision import check_environment

    STATE["quiet"] = quiet
    STATE["debug"] = debug
    set_quiet(quiet)
    check_environment()
    select_device(device)
    if no_compile_cache and compile_cache is not None:
        raise typer.BadParameter("give --compile-cache DIR or --no-compile-cache, not both",
                                 param_hint="--no-compile-cache")
    # a cache folder that cannot be used (unwritable, a file in its path) switches the
    # cache off with one warning line: a convenience never stops a run (README)
    configure_compile_cache(compile_cache, enabled=False if no_compile_cache else None,
                            source="flag")
    try:
        set_default_chunk(chunk)
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="--chunk") from None


@app.command()
def demo(
    out: Path = out_option(Path("jaxfit-results/demo"), help="Results folder (index.html "
                           "and one subfolder per part)."),
):
    """Run the tour on embedded data and write a results folder with an HTML index."""
    from jaxfit.core.report import write_index

    writable_folder(out, "--out")  # before minutes of fitting, not after
    start = time.perf_counter()
    sections, provenance = [], {}
    for name, run in DEMO_PARTS.items():
        result = run(out, quiet=STATE["quiet"])
        sections.append(result["section"])
        provenance[name] = result["provenance"]
        for line in result["summary"]:
            say(line)
    index = write_index(out / "index.html", "jaxfit demo", sections, provenance)
    say(f"demo finished in {time.perf_counter() - start:.1f} s; open {index}")


def benchmarks_suite():
    """:mod:`benchmarks.suite` from the source checkout this jaxfit runs from.

    The ``benchmarks`` package is not installed with jaxfit (it times jaxfit against
    numpy/scipy references and is no part of the library): ``jaxfit bench`` imports it from
    the folder above the ``jaxfit`` package, i.e. from a clone installed with ``pip install
    -e .``; anywhere else it stops with one line saying so."""
    checkout = Path(jaxfit.__file__).resolve().parents[1]
    if not (checkout / "benchmarks" / "suite.py").is_file():
        raise RuntimeError(
            f"jaxfit bench needs the source checkout (no benchmarks/ next to {checkout / 'jaxfit'}"
            "): the benchmarks are not installed with jaxfit; clone the repository, `pip "
            "install -e .` there and run `jaxfit bench` (or `python -m benchmarks`) from it")
    if str(checkout) not in sys.path:
        sys.path.insert(0, str(checkout))
    return importlib.import_module("benchmarks.suite")


@app.command()
def bench(
    domains: str = typer.Option("core,cosmo,leptons,gravity,lensing", "--domains"),
    platforms: str = typer.Option("cpu,gpu", "--platforms", help="Comma list of cpu, gpu: "
                                  "run every benchmark once per platform present."),
    size: str = typer.Option("small", "--size", help="small (minutes) or full (research scale)."),
    out: Path = out_option(Path("jaxfit-results/bench"), help="Results folder: bench.json, "
                           "the table bench.md and the chart bench.png."),
    devices: str = typer.Option(None, "--devices", hidden=True),
):
    """Benchmark every domain on each available platform against numpy/scipy references:
    one table, JSON and a bar chart (no GPU: says so and runs the CPU part). Needs the
    source checkout (the benchmarks/ folder is not installed with jaxfit)."""
    if devices is not None:  # the old name, one release: --devices means a count elsewhere
        deprecated("jaxfit bench --devices", "--platforms")
        platforms = devices
    suite = benchmarks_suite()
    suite.run_suite(parse_list(domains, "--domains"), size, parse_list(platforms, "--platforms"),
                    out, say=say)
