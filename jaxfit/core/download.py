"""Downloads of public data files into a local cache, for ``jaxfit data``; pinned and hashed.

The cache lives in ``$JAXFIT_DATA``, else ``$XDG_CACHE_HOME/jaxfit/data``, else
``~/.cache/jaxfit/data``.

**Registry.** Every file ``jaxfit data`` downloads is listed in the packaged
``jaxfit/data/download_registry.json`` (:data:`REGISTRY`, keyed by the path under the cache):
a URL pinned to a release or commit (CobayaSampler/bao_data and sn_data at a commit SHA,
SPARC in its Zenodo record, never a branch) and its content hashes (``sha256``, and for files
in a git repository the ``git_blob_sha1`` of the pinned commit's tree).

**Downloads.** :func:`fetch` retrieves each file through :func:`pooch.retrieve` into a
private staging folder; a file whose hash differs from the registered one is refused with one
line (:class:`DataHashError`: the file, the expected and the received hash) and never moved
into the cache. A verified file is written atomically (temporary name, rename), so an
interrupted download never leaves a truncated file that later looks valid. A cached file is
kept unless ``force``, or unless it no longer matches its hash (then it is fetched again).
"""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import os
import shutil
import tempfile
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from jaxfit.core.io import atomic_write_bytes
from jaxfit.core.progress import progress_bar

REGISTRY_RESOURCE = "download_registry.json"
"""The registry file inside the ``jaxfit.data`` package."""

HASH_ALGORITHMS = ("sha256", "git_blob_sha1", "md5")
"""Hashes a registry entry (or an expected-hash string ``"alg:hex"``) may name."""


class DataHashError(RuntimeError):
    """A file whose content hash differs from the registered one (refused, not used)."""


def data_home() -> Path:
    """The cache folder for downloaded data (not created here)."""
    if os.environ.get("JAXFIT_DATA"):
        return Path(os.environ["JAXFIT_DATA"]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME")
    base = Path(cache) if cache and Path(cache).is_absolute() else Path.home() / ".cache"
    return base / "jaxfit" / "data"


# --------------------------------------------------------------------------------- hashes
def _git_blob_sha1(data: bytes) -> str:
    """The object name git gives ``data`` as a blob (the hash in a commit's tree)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def content_hashes(data: bytes) -> dict[str, str]:
    """``{"sha256": hex, "git_blob_sha1": hex, "md5": hex}`` of ``data`` (md5 only because
    it is the checksum Zenodo publishes for its records' files)."""
    return {"sha256": hashlib.sha256(data).hexdigest(), "git_blob_sha1": _git_blob_sha1(data),
            "md5": hashlib.md5(data, usedforsecurity=False).hexdigest()}


def sha256_of(path) -> str:
    """The sha256 hex digest of a file."""
    import pooch

    return pooch.file_hash(str(path), alg="sha256")


def _expected(spec) -> dict[str, str]:
    """Normalise an expected hash: ``"hex"`` (sha256), ``"alg:hex"``, a sequence of those,
    a ``{alg: hex}`` mapping, a :class:`RegistryEntry` or None -> ``{alg: hex}``."""
    if spec is None:
        return {}
    if isinstance(spec, RegistryEntry):
        return spec.hashes
    if isinstance(spec, Mapping):  # {alg: hex}, as RegistryEntry.hashes gives
        spec = [f"{alg}:{value}" for alg, value in spec.items()]
    if isinstance(spec, str):
        spec = (spec,)
    hashes = {}
    for item in spec:
        alg, sep, value = item.rpartition(":")
        alg = alg if sep else "sha256"
        if alg not in HASH_ALGORITHMS:
            raise ValueError(f"unknown hash algorithm {alg!r} in {item!r}; "
                             f"valid: {', '.join(HASH_ALGORITHMS)}")
        hashes[alg] = value.lower()
    return hashes


def _mismatch(name: str, expected: Mapping[str, str], got: Mapping[str, str]) -> str | None:
    """The one-line refusal when ``got`` differs from ``expected`` in any algorithm."""
    for alg, want in expected.items():
        if got.get(alg) != want:
            return (f"hash mismatch for {name}: expected {alg} {want}, got {got.get(alg)}; "
                    "the file is refused and not used")
    return None


_VERIFIED: dict[tuple, dict[str, str]] = {}


def file_hashes(path) -> dict[str, str]:
    """:func:`content_hashes` of a file, remembered while its size and mtime stay the same."""
    path = Path(path)
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _VERIFIED:
        _VERIFIED[key] = content_hashes(path.read_bytes())
    return _VERIFIED[key]


def check_file(path, expected, name: str | None = None) -> None:
    """Raise :class:`DataHashError` (one line) when ``path`` differs from ``expected``."""
    line = _mismatch(name or str(path), _expected(expected), file_hashes(path))
    if line:
        raise DataHashError(line)


# ------------------------------------------------------------------------------- registry
@dataclass(frozen=True)
class RegistryEntry:
    """One downloadable file: ``key`` (path under :func:`data_home`), pinned ``url`` and
    hashes (``sha256``, ``git_blob_sha1`` for files of a pinned git commit, ``md5`` where
    Zenodo's published checksum is the one authoritative hash); ``size`` in bytes."""

    key: str
    url: str
    sha256: str | None
    git_blob_sha1: str | None = None
    size: int | None = None
    note: str = ""
    md5: str | None = None

    @property
    def hashes(self) -> dict[str, str]:
        """``{alg: hex}`` of the hashes this entry pins."""
        return {alg: getattr(self, alg) for alg in HASH_ALGORITHMS if getattr(self, alg)}


def load_registry(path=None) -> dict[str, RegistryEntry]:
    """Read the registry (default: the packaged ``jaxfit/data/download_registry.json``)."""
    if path is None:
        text = resources.files("jaxfit.data").joinpath(REGISTRY_RESOURCE).read_text("utf-8")
    else:
        text = Path(path).read_text("utf-8")
    files = json.loads(text)["files"]
    return {
        key: RegistryEntry(key, item["url"], item.get("sha256"), item.get("git_blob_sha1"),
                           item.get("size"), item.get("note", ""), item.get("md5"))
        for key, item in files.items()
    }


REGISTRY: dict[str, RegistryEntry] = load_registry()
"""Every file ``jaxfit data`` downloads, by its path under :func:`data_home`."""


def registry_info() -> dict:
    """The registry file's ``sources`` (repository, commit or record of each source)."""
    text = resources.files("jaxfit.data").joinpath(REGISTRY_RESOURCE).read_text("utf-8")
    return json.loads(text)["sources"]


# ------------------------------------------------------------------------------ downloads
def _read_url(url: str, timeout: float) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.read()
    except (OSError, http.client.HTTPException) as err:  # incl. cut-off bodies
        raise RuntimeError(f"download of {url} failed: {err}") from None


def _retrieve(url: str, name: str, expected: Mapping[str, str], timeout: float) -> bytes:
    """Download ``url`` through :func:`pooch.retrieve` into a private staging folder and
    return its bytes once every hash in ``expected`` matches; else :class:`DataHashError`."""
    import pooch

    got: dict[str, str] = {}

    def downloader(source_url, output_file, _pooch):
        data = _read_url(source_url, timeout)
        got.update(content_hashes(data))
        if hasattr(output_file, "write"):
            output_file.write(data)
        else:
            Path(output_file).write_bytes(data)

    sha = expected.get("sha256")
    staging = Path(tempfile.mkdtemp(prefix=".jaxfit-download."))
    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel(logging.WARNING)  # pooch's "Downloading ..." and "use this hash" notes
    try:
        try:
            local = pooch.retrieve(url, known_hash=f"sha256:{sha}" if sha else None,
                                   fname="download", path=staging, downloader=downloader,
                                   progressbar=False)
        except ValueError:
            line = _mismatch(name, expected, got) if got else None
            if line:
                raise DataHashError(line) from None
            raise
        line = _mismatch(name, expected, got)
        if line:
            raise DataHashError(line)
        return Path(local).read_bytes()
    finally:
        logger.setLevel(level)
        shutil.rmtree(staging, ignore_errors=True)


def fetch(urls: Mapping[str, str], destination: Path, *, force: bool = False,
          timeout: float = 60.0, hashes: Mapping[str, object] | None = None) -> list[Path]:
    """Download ``{relative path: url}`` into ``destination``; returns the local paths.

    Args:
        hashes: ``{relative path: expected}`` with ``expected`` a sha256 hex string,
            ``"alg:hex"`` (``sha256`` or ``git_blob_sha1``), a sequence of those or a
            :class:`RegistryEntry`. A download that differs is refused (not written); a
            cached file that differs is fetched again. Paths without an entry are not
            checked (use :func:`fetch_registered` for the registry's files).

    Raises:
        RuntimeError: a download failed (the message names the URL and the reason); files
            fetched before it are kept.
        DataHashError: a downloaded file's hash differs from the expected one (one line:
            file, expected hash, got hash); nothing is written for it.
    """
    destination = Path(destination)
    hashes = hashes or {}
    paths = []
    with progress_bar(len(urls), f"downloading to {destination}") as advance:
        for relative, url in urls.items():
            path = destination / relative
            expected = _expected(hashes.get(relative))
            stale = (path.exists() and bool(expected)
                     and _mismatch(relative, expected, file_hashes(path)) is not None)
            if force or stale or not path.exists():
                data = _retrieve(url, relative, expected, timeout)
                atomic_write_bytes(path, data)
            paths.append(path)
            advance(1)
    return paths


def fetch_registered(keys: Iterable[str], *, force: bool = False,
                     urls: Mapping[str, str] | None = None) -> list[Path]:
    """Fetch registry entries (paths under :func:`data_home`) with their pinned hashes.

    ``urls`` may replace an entry's URL (a mirror); the registered hashes still apply.
    """
    keys = list(keys)
    unknown = [k for k in keys if k not in REGISTRY]
    if unknown:
        raise KeyError(f"not in the download registry: {', '.join(unknown)}")
    urls = urls or {}
    return fetch({k: urls.get(k, REGISTRY[k].url) for k in keys}, data_home(), force=force,
                 hashes={k: REGISTRY[k] for k in keys})


# --------------------------------------------------------------------------- cache status
@dataclass(frozen=True)
class CacheStatus:
    """One registry file in the cache: ``state`` is ``missing``, ``verified`` or
    ``MISMATCH``; ``size`` in bytes (None when missing); ``problem`` the mismatch line."""

    key: str
    path: Path
    state: str
    size: int | None
    problem: str = ""


def cache_status(keys: Sequence[str] | None = None) -> list[CacheStatus]:
    """Check every (or each given) registry file in :func:`data_home` against its hashes."""
    root = data_home()
    rows = []
    for key in (keys if keys is not None else sorted(REGISTRY)):
        path = root / key
        if not path.is_file():
            rows.append(CacheStatus(key, path, "missing", None))
            continue
        line = _mismatch(key, REGISTRY[key].hashes, file_hashes(path))
        rows.append(CacheStatus(key, path, "MISMATCH" if line else "verified",
                                path.stat().st_size, line or ""))
    return rows
