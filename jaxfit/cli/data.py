"""``jaxfit data``: download public data sets into the local cache (needs network).

The cache folder is checked writable before the first download; a failed download or an
unreadable file ends in the error boundary's one line (also under --quiet).
"""

from __future__ import annotations

import os

import typer

from jaxfit.cli.state import parse_list, say
from jaxfit.core.checks import writable_folder


def _writable_data_folder(sub: str):
    """``data_home() / sub``, created and checked writable before any download."""
    from jaxfit.core.download import data_home

    what = "JAXFIT_DATA" if os.environ.get("JAXFIT_DATA") else "the data folder"
    return writable_folder(data_home() / sub, what)


data_app = typer.Typer(help="Download public data sets into the jaxfit cache.",
                       no_args_is_help=True)


@data_app.command("path")
def path():
    """Print the cache folder ($JAXFIT_DATA, else ~/.cache/jaxfit/data)."""
    from jaxfit.core.download import data_home

    typer.echo(str(data_home()))


@data_app.command("cosmo")
def cosmo(
    sets: str = typer.Option(
        "all", "--sets", help="Comma list of BAO/SN data sets (desi_dr1, union3, ...) or all."
    ),
    force: bool = typer.Option(False, "--force", help="Download again even if present."),
):
    """BAO and SN files in the cobaya formats (CobayaSampler/bao_data and sn_data)."""
    from jaxfit.core.download import fetch
    from jaxfit.cosmo.datasets import BAO_DATASETS, SN_DATASETS, download_urls

    registry = {**BAO_DATASETS, **SN_DATASETS}
    names = list(registry) if sets == "all" else parse_list(sets, "--sets", registry)
    urls = {}
    for name in names:
        urls |= download_urls(registry[name])
    destination = _writable_data_folder("cosmology")
    paths = fetch(urls, destination, force=force)
    say(f"{len(paths)} files for {', '.join(names)} in {destination}; the cosmo loaders "
        "find them there without --data-dir")


@data_app.command("sparc")
def sparc(
    force: bool = typer.Option(False, "--force", help="Download again even if present."),
):
    """SPARC rotation curves (Rotmod_LTG.zip) and galaxy table (SPARC_Lelli2016c.mrt) from
    astroweb.case.edu (Lelli, McGaugh & Schombert 2016, AJ 152, 157)."""
    from jaxfit.gravity.data import SPARC_MASTER_FILE, download_sparc, load_sparc

    folder = download_sparc(_writable_data_folder("sparc"), force=force, check=False)
    try:
        batch = load_sparc(folder, master=folder / SPARC_MASTER_FILE)
    except ValueError as err:  # the files the download kept: a runtime failure, not input
        raise RuntimeError(f"{err}; `jaxfit data sparc --force` downloads them again") from None
    say(f"SPARC: {batch.n_galaxies} galaxies ({batch.n_total} points) in {folder}; the "
        "gravity loaders find them there without --rotmod-dir")
