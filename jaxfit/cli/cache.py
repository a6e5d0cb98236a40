"""``jaxfit cache``: show or clear the persistent compilation cache.

Both commands act on the cache root chosen by the global options and the environment
(``jaxfit --compile-cache DIR cache info``, ``JAXFIT_COMPILE_CACHE=DIR``, else the user's
cache folder); with the cache off they show or clear the folder it would use.
"""

from __future__ import annotations

import typer

cache_app = typer.Typer(help="Show or clear the persistent compilation cache.",
                        no_args_is_help=True)


@cache_app.command("info")
def info():
    """Folder, on/off and why, and entries and size per JAX version folder."""
    from jaxfit.core.compile_cache import (
        human_size,
        loose_entries,
        state,
        version_folders,
        version_tag,
    )

    current = state()
    typer.echo(f"compile cache: {current.reason}")
    typer.echo(f"folder: {current.root}")
    versions = version_folders(current.root)
    if not any(v.current for v in versions):
        typer.echo(f"  {version_tag()} (current): empty")
    for version in versions:
        label = "current" if version.current else "other version, unused"
        typer.echo(f"  {version.path.name} ({label}): {version.entries} entries, "
                   f"{human_size(version.size)}")
    total = sum(v.size for v in versions)
    loose = loose_entries(current.root)
    if loose:
        size = sum(p.stat().st_size for p in loose)
        total += size
        typer.echo(f"  (old flat layout, unused): {len(loose)} files, {human_size(size)}")
    typer.echo(f"total: {human_size(total)} in {len(versions)} version folder(s)")


@cache_app.command("clear")
def clear(
    stale: bool = typer.Option(False, "--stale", help="Keep the current JAX version's "
                               "folder; remove only other versions' folders."),
):
    """Remove the cached programs of every JAX version (or, with --stale, of the others).
    Only version folders (jax-*) and JAX cache files are removed, never other files."""
    from jaxfit.core.compile_cache import clear as clear_cache
    from jaxfit.core.compile_cache import human_size, state

    root = state().root
    removed, freed = clear_cache(root, keep_current=stale)
    which = "other-version folder(s)" if stale else "version folder(s)"
    typer.echo(f"removed {removed} {which} from {root}; freed {human_size(freed)}")
