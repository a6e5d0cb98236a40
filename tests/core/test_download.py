"""Tests of jaxfit.core.download: the cache folder, fetch() and its hash checks.

No network: every download is a ``file://`` URL of a file written under ``tmp_path``, and
``HOME`` / ``JAXFIT_DATA`` / ``XDG_CACHE_HOME`` are set per test, so the user's cache is
never touched. References: the precedence documented in the module
(``$JAXFIT_DATA`` > absolute ``$XDG_CACHE_HOME``/jaxfit/data > ``~/.cache/jaxfit/data``) and
the source files' own bytes.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import urllib.request
from pathlib import Path

import pytest

from jaxfit.core.download import DataHashError, check_file, content_hashes, data_home, fetch


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A fake home folder; no JAXFIT_DATA, no XDG_CACHE_HOME."""
    folder = tmp_path / "home"
    folder.mkdir()
    monkeypatch.setenv("HOME", str(folder))
    monkeypatch.delenv("JAXFIT_DATA", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    return folder


@pytest.fixture
def sources(tmp_path):
    """Three source files (text, binary with every byte value, empty) and their URLs."""
    folder = tmp_path / "src"
    (folder / "sub").mkdir(parents=True)
    content = {
        "a.txt": b"# z value\n0.295 7.94\n",
        "sub/b.bin": bytes(range(256)) * 40,
        "empty.txt": b"",
    }
    for name, data in content.items():
        (folder / name).write_bytes(data)
    urls = {f"set/{name}": (folder / name).as_uri() for name in content}
    return {"folder": folder, "content": content, "urls": urls}


def _temporary_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name.endswith(".tmp") or p.name.startswith(".")]


# --------------------------------------------------------------------------- data_home
def test_data_home_defaults_to_the_user_cache(home):
    assert data_home() == home / ".cache" / "jaxfit" / "data"


def test_data_home_uses_an_absolute_xdg_cache_home(home, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert data_home() == tmp_path / "xdg" / "jaxfit" / "data"


def test_data_home_ignores_a_relative_xdg_cache_home(home, monkeypatch):
    # the XDG base directory spec: relative paths are invalid and must be ignored
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")
    assert data_home() == home / ".cache" / "jaxfit" / "data"


def test_jaxfit_data_wins_over_xdg(home, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("JAXFIT_DATA", str(tmp_path / "mine"))
    assert data_home() == tmp_path / "mine"  # taken as is: no jaxfit/data appended
    monkeypatch.setenv("JAXFIT_DATA", "~/cache-here")
    assert data_home() == home / "cache-here"  # ~ expanded


def test_empty_jaxfit_data_is_ignored(home, monkeypatch):
    monkeypatch.setenv("JAXFIT_DATA", "")
    assert data_home() == home / ".cache" / "jaxfit" / "data"


def test_data_home_creates_nothing(home):
    data_home()
    assert list(home.iterdir()) == []


# ------------------------------------------------------------------------------- fetch
def test_fetch_copies_the_bytes(sources, tmp_path):
    destination = tmp_path / "cache"
    paths = fetch(sources["urls"], destination)
    assert paths == [destination / rel for rel in sources["urls"]]  # in the order given
    for name, data in sources["content"].items():
        assert (destination / "set" / name).read_bytes() == data, name
    assert _temporary_files(destination) == []


def test_fetch_keeps_existing_files_unless_forced(sources, tmp_path):
    destination = tmp_path / "cache"
    target = destination / "set" / "a.txt"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"an older copy")
    old = 1_000_000_000  # 2001: any change of the file would move its mtime to now
    os.utime(target, (old, old))

    fetch(sources["urls"], destination)
    assert target.read_bytes() == b"an older copy"
    assert target.stat().st_mtime == old
    # the missing ones were fetched
    assert (destination / "set" / "sub" / "b.bin").read_bytes() == sources["content"]["sub/b.bin"]

    fetch(sources["urls"], destination, force=True)
    assert target.read_bytes() == sources["content"]["a.txt"]
    assert target.stat().st_mtime > old
    assert _temporary_files(destination) == []


def test_fetch_of_a_missing_url_names_it_and_keeps_earlier_files(sources, tmp_path):
    destination = tmp_path / "cache"
    missing = (tmp_path / "src" / "not-there.txt").as_uri()
    urls = {
        "set/a.txt": sources["urls"]["set/a.txt"],
        "set/not-there.txt": missing,
        "set/empty.txt": sources["urls"]["set/empty.txt"],
    }
    with pytest.raises(RuntimeError, match=re.escape(f"download of {missing} failed")):
        fetch(urls, destination)
    assert (destination / "set" / "a.txt").read_bytes() == sources["content"]["a.txt"]
    assert not (destination / "set" / "not-there.txt").exists()
    assert not (destination / "set" / "empty.txt").exists()  # fetch stops at the failure
    assert _temporary_files(destination) == []


class _TruncatedResponse:
    """Stands in for an HTTP response whose connection drops mid-body."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def read(self, *args):
        raise http.client.IncompleteRead(b"0.295 7.9", 100)


def test_a_truncated_download_is_a_runtime_error_and_leaves_no_file(sources, tmp_path,
                                                                    monkeypatch):
    # http.client.IncompleteRead is an HTTPException, not an OSError: fetch() must still
    # turn it into the documented RuntimeError naming the URL (`jaxfit data` catches that)
    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: _TruncatedResponse())
    destination = tmp_path / "cache"
    url = sources["urls"]["set/a.txt"]
    with pytest.raises(RuntimeError, match=re.escape(f"download of {url} failed")):
        fetch({"set/a.txt": url}, destination)
    assert not (destination / "set" / "a.txt").exists()
    assert _temporary_files(tmp_path) == []


# ------------------------------------------------------------------ fetch: pinned hashes
def test_fetch_with_matching_hashes_writes_the_files(sources, tmp_path):
    destination = tmp_path / "cache"
    hashes = {rel: hashlib.sha256(sources["content"][rel[4:]]).hexdigest()
              for rel in sources["urls"]}
    hashes["set/a.txt"] = ("git_blob_sha1:" + content_hashes(sources["content"]["a.txt"])[
        "git_blob_sha1"], "sha256:" + hashes["set/a.txt"])
    fetch(sources["urls"], destination, hashes=hashes)
    for name, data in sources["content"].items():
        assert (destination / "set" / name).read_bytes() == data, name
    assert _temporary_files(destination) == []


@pytest.mark.parametrize("alg", ["sha256", "git_blob_sha1"])
def test_a_download_with_another_hash_is_refused_with_one_line(sources, tmp_path, alg):
    destination = tmp_path / "cache"
    wrong = "0" * (64 if alg == "sha256" else 40)
    got = content_hashes(sources["content"]["a.txt"])[alg]
    with pytest.raises(DataHashError) as info:
        fetch({"set/a.txt": sources["urls"]["set/a.txt"]}, destination,
              hashes={"set/a.txt": f"{alg}:{wrong}"})
    assert str(info.value) == (f"hash mismatch for set/a.txt: expected {alg} {wrong}, "
                               f"got {got}; the file is refused and not used")
    assert not (destination / "set" / "a.txt").exists()  # not used
    assert _temporary_files(tmp_path) == []


def test_a_cached_file_with_another_hash_is_fetched_again(sources, tmp_path):
    destination = tmp_path / "cache"
    target = destination / "set" / "a.txt"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"changed since")
    good = hashlib.sha256(sources["content"]["a.txt"]).hexdigest()
    fetch({"set/a.txt": sources["urls"]["set/a.txt"]}, destination, hashes={"set/a.txt": good})
    assert target.read_bytes() == sources["content"]["a.txt"]
    check_file(target, good)  # no error
    target.write_bytes(b"changed again")
    with pytest.raises(DataHashError, match=f"expected sha256 {good}, got "):
        check_file(target, good)


def test_unknown_hash_algorithm_is_named(sources, tmp_path):
    with pytest.raises(ValueError, match="unknown hash algorithm 'md4'"):
        fetch({"set/a.txt": sources["urls"]["set/a.txt"]}, tmp_path / "c",
              hashes={"set/a.txt": "md4:00"})


def test_fetch_goes_through_pooch_retrieve(sources, tmp_path, monkeypatch):
    import pooch

    calls = []
    real = pooch.retrieve

    def spy(url, known_hash, **kwargs):
        calls.append((url, known_hash))
        return real(url, known_hash, **kwargs)

    monkeypatch.setattr(pooch, "retrieve", spy)
    good = hashlib.sha256(sources["content"]["a.txt"]).hexdigest()
    fetch({"set/a.txt": sources["urls"]["set/a.txt"]}, tmp_path / "c",
          hashes={"set/a.txt": good})
    assert calls == [(sources["urls"]["set/a.txt"], f"sha256:{good}")]
