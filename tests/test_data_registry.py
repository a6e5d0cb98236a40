"""Tests of the download registry (jaxfit/data/download_registry.json) and of
``jaxfit data status`` / ``jaxfit data verify``.

No network. References: the registry's own sources (commit SHAs, Zenodo record); hashes of
bytes written here; for the real files, the CobayaSampler copies in ../shared/data (a test
that needs them skips cleanly when absent).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

import jaxfit.core.download as download
from jaxfit.cli.main import app
from jaxfit.cosmo import datasets
from jaxfit.gravity import sparc_files

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "cosmology"
runner = CliRunner()
ENV = {"COLUMNS": "250"}


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("JAXFIT_DATA", str(tmp_path / "cache"))
    return tmp_path / "cache"


# ---------------------------------------------------------------------------- registry
def test_every_registry_entry_is_pinned_and_hashed():
    sources = download.registry_info()
    commits = {name: s["commit"] for name, s in sources.items() if "commit" in s}
    assert set(commits) == {"bao_data", "sn_data"}
    assert all(re.fullmatch(r"[0-9a-f]{40}", c) for c in commits.values())
    assert len(download.REGISTRY) == 18
    for key, entry in download.REGISTRY.items():
        assert entry.url.startswith("https://"), key
        assert not re.search(r"/(master|main|HEAD)/", entry.url), key  # no branch URL
        if entry.sha256 is None:  # no sha256 could be established here (see the note):
            # the commit's git blob hash, or the md5 that Zenodo publishes
            assert key in ("cosmology/sn_data/DESY5/covsys_000.txt", "sparc/Rotmod_LTG.zip")
            assert entry.note and (re.fullmatch(r"[0-9a-f]{40}", entry.git_blob_sha1 or "")
                                   or re.fullmatch(r"[0-9a-f]{32}", entry.md5 or ""))
        else:
            assert re.fullmatch(r"[0-9a-f]{64}", entry.sha256), key
        if key.startswith("cosmology/"):
            folder = key.split("/")[1]
            assert f"/CobayaSampler/{folder}/{commits[folder]}/" in entry.url, key
            assert re.fullmatch(r"[0-9a-f]{40}", entry.git_blob_sha1), key
        else:
            assert entry.url.startswith("https://zenodo.org/records/16284118/files/"), key


def test_the_registry_covers_every_download():
    keys = set()
    for entry in {**datasets.BAO_DATASETS, **datasets.SN_DATASETS}.values():
        keys |= {f"cosmology/{rel}" for rel in datasets.download_urls(entry)}
        for rel, url in datasets.download_urls(entry).items():
            assert url == download.REGISTRY[f"cosmology/{rel}"].url  # the pinned URL is used
    keys |= {f"sparc/{name}" for name in sparc_files.SPARC_URLS}
    assert keys == set(download.REGISTRY)
    for name, url in sparc_files.SPARC_URLS.items():
        assert url == download.REGISTRY[f"sparc/{name}"].url
        assert sparc_files.SPARC_HASHES[name] == download.REGISTRY[f"sparc/{name}"].hashes


def test_registered_hashes_match_the_shared_copies():
    if not SHARED.is_dir():
        pytest.skip(f"shared CobayaSampler copies not available ({SHARED})")
    checked = 0
    for key, entry in download.REGISTRY.items():
        local = SHARED.parent / key
        if key.startswith("cosmology/") and local.is_file():
            hashes = download.content_hashes(local.read_bytes())
            assert hashes["sha256"] == entry.sha256, key
            assert hashes["git_blob_sha1"] == entry.git_blob_sha1, key
            checked += 1
    assert checked >= 14


# -------------------------------------------------------------------- status and verify
@pytest.fixture
def small_registry(monkeypatch, cache):
    """Three registered files: one cached and good, one cached and changed, one missing."""
    content = {"set/good.txt": b"1 2 3\n", "set/changed.txt": b"4 5 6\n", "set/missing.txt": b"7"}
    registry = {
        key: download.RegistryEntry(key, f"https://example.org/{key}",
                                    hashlib.sha256(data).hexdigest())
        for key, data in content.items()
    }
    monkeypatch.setattr(download, "REGISTRY", registry)
    (cache / "set").mkdir(parents=True)
    (cache / "set" / "good.txt").write_bytes(content["set/good.txt"])
    (cache / "set" / "changed.txt").write_bytes(b"4 5 7\n")
    return registry


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args], env=ENV)


def test_status_lists_every_registered_file(small_registry, cache):
    result = invoke("data", "status")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["file", "cached", "size", "hash", "path"]
    rows = {line.split()[0]: line.split() for line in lines[1:4]}
    assert rows["set/good.txt"] == ["set/good.txt", "yes", "6", "B", "verified",
                                    str(cache / "set" / "good.txt")]
    assert rows["set/changed.txt"][1] == "yes" and rows["set/changed.txt"][4] == "MISMATCH"
    assert rows["set/missing.txt"] == ["set/missing.txt", "no", "-", "-", "-"]
    assert f"2 of 3 registered files cached in {cache}; 1 verified, 1 differ" in lines[4]


def test_verify_exits_1_naming_the_changed_file(small_registry, cache):
    result = invoke("data", "verify")
    assert result.exit_code == 1, result.output
    expected = small_registry["set/changed.txt"].sha256
    got = hashlib.sha256(b"4 5 7\n").hexdigest()
    assert (f"hash mismatch for set/changed.txt: expected sha256 {expected}, got {got}"
            in result.output)
    assert "1 of 2 cached data files" in result.output and "good.txt" not in result.output
    (cache / "set" / "changed.txt").write_bytes(b"4 5 6\n")
    result = invoke("data", "verify")
    assert result.exit_code == 0, result.output
    assert "2 cached data files" in result.output


def test_status_and_verify_on_an_empty_cache(cache):
    result = invoke("data", "status")
    assert result.exit_code == 0, result.output
    assert len(result.output.splitlines()) == 1 + len(download.REGISTRY) + 1
    assert f"0 of {len(download.REGISTRY)} registered files cached" in result.output
    assert invoke("data", "verify").exit_code == 0
    assert not cache.exists()  # neither creates the cache
