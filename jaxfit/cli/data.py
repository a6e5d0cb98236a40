"""``jaxfit data``: download public data sets into the local cache (needs network), and
report or re-check what is cached.

Every file comes from a pinned URL and must match the sha256 (and git blob) hash of the
download registry (``jaxfit/data/download_registry.json``); a file that differs is refused
with one line naming it and both hashes. ``jaxfit data status`` lists every registered file
(cached or not, path, size, hash verified); ``jaxfit data verify`` re-checks the cached ones
and exits 1 if any differs. The cache folder is checked writable before the first download;
a failed download or an unreadable file ends in the error boundary's one line (also under
--quiet).
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


data_app = typer.Typer(help="Download public data sets (pinned URLs, sha256-checked) into "
                       "the jaxfit cache; report and verify what is cached.",
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
    """BAO and SN files in the cobaya formats (CobayaSampler/bao_data and sn_data at pinned
    commits), each checked against its registered sha256."""
    from jaxfit.core.download import fetch
    from jaxfit.cosmo.datasets import BAO_DATASETS, SN_DATASETS, download_hashes, download_urls

    registry = {**BAO_DATASETS, **SN_DATASETS}
    names = list(registry) if sets == "all" else parse_list(sets, "--sets", registry)
    urls, hashes = {}, {}
    for name in names:
        urls |= download_urls(registry[name])
        hashes |= download_hashes(registry[name])
    destination = _writable_data_folder("cosmology")
    paths = fetch(urls, destination, force=force, hashes=hashes)
    say(f"{len(paths)} files for {', '.join(names)} in {destination}; the cosmo loaders "
        "find them there without --data-dir")


@data_app.command("sparc")
def sparc(
    force: bool = typer.Option(False, "--force", help="Download again even if present."),
):
    """SPARC rotation curves (Rotmod_LTG.zip) and galaxy table (SPARC_Lelli2016c.mrt) from
    their Zenodo record 10.5281/zenodo.16284118 (Lelli, McGaugh & Schombert 2016, AJ 152,
    157), each checked against its registered sha256."""
    from jaxfit.gravity.data import SPARC_MASTER_FILE, download_sparc, load_sparc

    folder = download_sparc(_writable_data_folder("sparc"), force=force, check=False)
    try:
        batch = load_sparc(folder, master=folder / SPARC_MASTER_FILE)
    except ValueError as err:  # the files the download kept: a runtime failure, not input
        raise RuntimeError(f"{err}; `jaxfit data sparc --force` downloads them again") from None
    say(f"SPARC: {batch.n_galaxies} galaxies ({batch.n_total} points) in {folder}; the "
        "gravity loaders find them there without --rotmod-dir")


def _size(n) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n} B" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"  # pragma: no cover


_STATE_WORD = {"missing": "no", "verified": "yes", "MISMATCH": "yes"}
_HASH_WORD = {"missing": "-", "verified": "verified", "MISMATCH": "MISMATCH"}


@data_app.command("status")
def status():
    """List every registered data file: cached or not, path, size, hash verified or not."""
    from jaxfit.core.download import cache_status, data_home

    rows = cache_status()
    header = ("file", "cached", "size", "hash", "path")
    table = [header] + [
        (r.key, _STATE_WORD[r.state], _size(r.size), _HASH_WORD[r.state],
         str(r.path) if r.state != "missing" else "-")
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header) - 1)]
    for row in table:
        typer.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False))
                   + "  " + row[-1])
    cached = [r for r in rows if r.state != "missing"]
    bad = [r for r in rows if r.state == "MISMATCH"]
    typer.echo(f"{len(cached)} of {len(rows)} registered files cached in {data_home()}; "
               f"{len(cached) - len(bad)} verified, {len(bad)} differ from the registry"
               + (" (`jaxfit data verify` names them)" if bad else ""))


@data_app.command("verify")
def verify():
    """Re-check the hash of every cached data file; exit 1 if any differs from the registry."""
    from jaxfit.core.download import DataHashError, cache_status, data_home

    rows = [r for r in cache_status() if r.state != "missing"]
    bad = [r for r in rows if r.state == "MISMATCH"]
    for row in bad:
        typer.echo(row.problem)
    if bad:
        raise DataHashError(
            f"{len(bad)} of {len(rows)} cached data files in {data_home()} differ from the "
            "registry: download them again with `jaxfit data cosmo --force` or "
            "`jaxfit data sparc --force`")
    say(f"{len(rows)} cached data files in {data_home()} match their registered hashes")
