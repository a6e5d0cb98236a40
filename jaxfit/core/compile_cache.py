"""Persistent compilation cache, on by default: compiled XLA programs are saved on disk and
reused by later processes, so a second run of the same fit or scan skips most of its
first-call compile time.

Where: ``<user cache folder>/jaxfit/compile/jax-<jax version>-jaxlib-<jaxlib version>``
(``platformdirs.user_cache_dir``, e.g. ``~/.cache/jaxfit/compile/...`` on Linux). Each JAX
version has its own subfolder, so entries written by another version are never read; they
stay on disk until ``jaxfit cache clear`` removes them (``jaxfit cache info`` lists them).

Switching, read when ``jaxfit`` is imported and again by every ``jaxfit`` command:

* ``JAXFIT_COMPILE_CACHE`` unset: the default folder; ``0``, ``off``, ``false``, ``no``
  or empty: off; any other value: that folder (the version subfolder goes inside it);
* CLI: ``jaxfit --no-compile-cache ...`` or ``jaxfit --compile-cache DIR ...``;
* Python: :func:`disable_compile_cache` / :func:`enable_compile_cache`.

Every compiled program is written, however quick its compile (:data:`MIN_COMPILE_SECS`;
JAX's default is 1 s): ``jaxfit cosmo fit --datasets cmb,bao`` in a fresh process on 2
busy CPU cores took 11-12 s of CPU without the cache or filling it, and with a warm cache
4.4 s at threshold 0, 4.6 s at 0.1 s and 5.2 s at 1 s (wall 5.6, 6.6 and 7.3 s; medians of
3; 7, 3 and 2 entries, all about 0.45 MB). The current version folder is capped at
:data:`MAX_SIZE_BYTES` (least recently used entries go first). JAX's own environment variables
``JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS`` and ``JAX_COMPILATION_CACHE_MAX_SIZE``
override both. A folder that cannot be created or written leaves the cache off with a
one-line warning; unreadable entries (a truncated file, another build's bytes) are
recompiled and replaced, never an error.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import jax

ENV_VAR = "JAXFIT_COMPILE_CACHE"
OFF_VALUES = frozenset({"", "0", "off", "false", "no", "none", "disable", "disabled"})
#: programs that compiled faster than this are not written (JAX's default: 1 s)
MIN_COMPILE_SECS = 0.0
#: size cap of the current version folder, least recently used entries evicted first
MAX_SIZE_BYTES = 2 * 1024**3
VERSION_PREFIX = "jax-"
_JAX_FILE = re.compile(r".+-[0-9a-f]{64}-(cache|atime)")
_ENTRY_SUFFIX = "-cache"  # JAX's LRUCache: <key>-cache (+ <key>-atime with a size cap)
_JAX_ENV_OVERRIDES = {
    "jax_persistent_cache_min_compile_time_secs": "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS",
    "jax_compilation_cache_max_size": "JAX_COMPILATION_CACHE_MAX_SIZE",
}


@dataclass
class CacheState:
    """What the cache does in this process.

    Attributes:
        root: the cache root (version folders inside), also when the cache is off.
        folder: the version folder in use, or None when the cache is off.
        source: ``"default"``, ``"env"`` (JAXFIT_COMPILE_CACHE), ``"flag"`` (CLI) or
            ``"python"`` (a call of :func:`enable_compile_cache`/:func:`disable_compile_cache`).
        reason: one human line: why it is on or off.
    """

    root: Path
    folder: Path | None
    source: str
    reason: str

    @property
    def enabled(self) -> bool:
        return self.folder is not None


_STATE: CacheState | None = None
_WARNED: set[str] = set()


def version_tag() -> str:
    """The name of this JAX version's subfolder, ``jax-<version>-jaxlib-<version>``."""
    import jaxlib

    return f"{VERSION_PREFIX}{jax.__version__}-jaxlib-{jaxlib.__version__}"


def default_root() -> Path:
    """``<user cache folder>/jaxfit/compile`` (platformdirs; XDG_CACHE_HOME on Linux)."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("jaxfit", appauthor=False)) / "compile"


def is_off(value: str) -> bool:
    """Whether a JAXFIT_COMPILE_CACHE value switches the cache off."""
    return value.strip().lower() in OFF_VALUES


def resolve(path=None, *, enabled: bool | None = None, source: str = "python"):
    """(root, on, source, reason) for explicit arguments, else for the environment."""
    env = os.environ.get(ENV_VAR)
    if enabled is False:
        root = Path(path).expanduser().absolute() if path else _root_from_env(env)
        return root, False, source, "switched off (" + (
            "--no-compile-cache" if source == "flag" else "disable_compile_cache()") + ")"
    if path:
        where = "--compile-cache" if source == "flag" else "enable_compile_cache(path)"
        return Path(path).expanduser().absolute(), True, source, f"on ({where})"
    if env is None:
        return default_root(), True, "default", "on (default; JAXFIT_COMPILE_CACHE unset)"
    if is_off(env):
        return default_root(), False, "env", f"off ({ENV_VAR}={env!r})"
    return Path(env).expanduser().absolute(), True, "env", f"on ({ENV_VAR}={env})"


def _root_from_env(env: str | None) -> Path:
    return default_root() if env is None or is_off(env) else Path(env).expanduser().absolute()


def _warn_once(message: str) -> None:
    if message not in _WARNED:
        _WARNED.add(message)
        print(f"jaxfit: {message}", file=sys.stderr)


def _writable_folder(folder: Path) -> str | None:
    """Create ``folder`` and write a probe file in it; None when fine, else the error."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle, probe = tempfile.mkstemp(prefix=".probe-", dir=folder)
        os.close(handle)
        os.unlink(probe)
    except OSError as err:
        return f"{type(err).__name__}: {err.strerror or err}"
    return None


def _reset_jax_cache() -> None:
    """Forget an already initialised cache so that new settings apply to later compiles."""
    try:
        from jax._src import compilation_cache as cc

        if cc.is_initialized() or getattr(cc, "_cache_checked", False):
            cc.reset_cache()
    except Exception:  # noqa: BLE001  (internal API moved: settings apply to new processes)
        pass


def _jax_setting(name: str, value) -> None:
    if _JAX_ENV_OVERRIDES.get(name) not in os.environ:
        jax.config.update(name, value)


def configure(path=None, *, enabled: bool | None = None, source: str = "python") -> CacheState:
    """Apply a cache setting to JAX (see the module docstring) and return it.

    Args:
        path: the cache root (a version subfolder is used inside it); None: from
            ``JAXFIT_COMPILE_CACHE``, else the default folder.
        enabled: False switches the cache off; None/True follow ``path`` and the env.
        source: who asks (``"flag"`` for the CLI, ``"python"``), shown by ``cache info``.
    """
    global _STATE
    root, on, source, reason = resolve(path, enabled=enabled, source=source)
    folder = None
    if on:
        folder = root / version_tag()
        error = _writable_folder(folder)
        if error:
            _warn_once(f"compile cache off: cannot write {folder} ({error})")
            reason, folder = f"off: cannot write the folder ({error})", None
    _reset_jax_cache()
    if folder is None:
        jax.config.update("jax_compilation_cache_dir", None)
    else:
        jax.config.update("jax_compilation_cache_dir", str(folder))
        _jax_setting("jax_persistent_cache_min_compile_time_secs", MIN_COMPILE_SECS)
        _jax_setting("jax_compilation_cache_max_size", MAX_SIZE_BYTES)
        _install_bad_entry_cleanup()
    _STATE = CacheState(root, folder, source, reason)
    return _STATE


def enable_compile_cache(path=None) -> Path | None:
    """Cache compiled programs in ``path``/<version folder> (default: from
    ``JAXFIT_COMPILE_CACHE``, else the user's cache folder; an "off" value keeps it off).

    Returns:
        The version folder in use, or None when caching stays off.
    """
    return configure(path).folder


def disable_compile_cache() -> None:
    """Compile without the persistent cache for the rest of this process."""
    configure(enabled=False)


def state() -> CacheState:
    """The setting in force (resolved from the environment if nothing was applied yet)."""
    if _STATE is None:
        root, on, source, reason = resolve()
        return CacheState(root, root / version_tag() if on else None, source, reason)
    return _STATE


# --- corrupt entries --------------------------------------------------------------------


def _install_bad_entry_cleanup() -> None:
    """Make an unreadable cache entry a plain miss that gets rewritten.

    JAX already treats an entry that fails to decompress or deserialise as a miss (with
    a warning), but never overwrites it, so the warning and the compile would repeat in
    every later process. This wraps JAX's lookup to delete such an entry once; if the
    internal function has moved, JAX's own behaviour (warn, recompile) remains.
    """
    try:
        from jax._src import compilation_cache as cc
    except Exception:  # noqa: BLE001
        return
    original = getattr(cc, "get_executable_and_time", None)
    if original is None or getattr(original, "_jaxfit_cleanup", False):
        return

    def get_executable_and_time(cache_key, *args, **kwargs):
        try:
            return original(cache_key, *args, **kwargs)
        except OSError:  # a lock timeout or a file-system error: the entry may be fine
            raise
        except Exception:  # undecodable bytes: delete, so that this compile rewrites it
            folder = jax.config.jax_compilation_cache_dir
            if folder:
                for suffix in (_ENTRY_SUFFIX, "-atime"):
                    try:
                        (Path(folder) / f"{cache_key}{suffix}").unlink(missing_ok=True)
                    except OSError:
                        pass
            raise

    get_executable_and_time._jaxfit_cleanup = True
    cc.get_executable_and_time = get_executable_and_time


# --- info and clear ---------------------------------------------------------------------


@dataclass
class VersionFolder:
    path: Path
    entries: int
    size: int
    current: bool


def _size_and_entries(folder: Path) -> tuple[int, int]:
    size = entries = 0
    for item in folder.rglob("*"):
        try:
            if item.is_file() and not item.is_symlink():
                size += item.stat().st_size
                entries += item.name.endswith(_ENTRY_SUFFIX)
        except OSError:
            pass
    return size, entries


def version_folders(root: Path) -> list[VersionFolder]:
    """The version folders under ``root`` (current one first), with entries and bytes."""
    if not root.is_dir():
        return []
    current = version_tag()
    found = []
    for item in sorted(root.iterdir()):
        if item.is_dir() and not item.is_symlink() and item.name.startswith(VERSION_PREFIX):
            size, entries = _size_and_entries(item)
            found.append(VersionFolder(item, entries, size, item.name == current))
    return sorted(found, key=lambda v: not v.current)


def loose_entries(root: Path) -> list[Path]:
    """JAX cache files (``<name>-<64 hex>-cache|atime``) directly in ``root``: the flat
    layout of jaxfit before version folders, read by no version."""
    if not root.is_dir():
        return []
    return [p for p in root.iterdir() if p.is_file() and _JAX_FILE.fullmatch(p.name)]


def clear(root: Path, *, keep_current: bool = False) -> tuple[int, int]:
    """Remove the version folders under ``root`` (and loose JAX cache files in it);
    ``keep_current`` keeps this JAX version's folder. Nothing else in ``root`` is touched.

    Returns:
        (folders removed, bytes freed).
    """
    removed = freed = 0
    for version in version_folders(root):
        if keep_current and version.current:
            continue
        shutil.rmtree(version.path, ignore_errors=True)
        removed += 1
        freed += version.size
    for loose in loose_entries(root):
        try:
            size = loose.stat().st_size
            loose.unlink()
            freed += size
        except OSError:
            pass
    return removed, freed


def human_size(size: float) -> str:
    """``532 B``, ``1.4 MB``, ... (powers of 1000)."""
    if size < 1000:
        return f"{size:.0f} B"
    for unit in ("kB", "MB", "GB"):
        size /= 1000
        if size < 1000 or unit == "GB":
            break
    return f"{size:.1f} {unit}"
