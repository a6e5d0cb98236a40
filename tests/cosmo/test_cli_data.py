"""Tests of ``jaxfit data path`` and ``jaxfit data cosmo`` and of the loaders' use of the
download (jaxfit.cosmo.datasets._downloaded).

No network: ``jaxfit.cosmo.datasets.RAW_URLS`` maps each repository to a ``file://`` URL of the
real CobayaSampler copies in ../shared/data/cosmology (tests that need them skip cleanly
when that folder is absent); their bytes must match the download registry's hashes, as a
download from the pinned commit would. ``JAXFIT_DATA`` and ``JAXFIT_STORE`` point into ``tmp_path``.

References: the source files' bytes; the same loaders reading the shared folder through
``data_dir`` / ``path``; the documented sizes (DESI DR1: 12 points, Union3: 22 bins).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import jaxfit  # noqa: F401  (switches on float64)
from jaxfit.cli.main import app
from jaxfit.core.download import REGISTRY, DataHashError, data_home
from jaxfit.cosmo import datasets

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "cosmology"
BAO_DIR = SHARED / "bao_data"
SN_DIR = SHARED / "sn_data"

runner = CliRunner()
ENV = {"COLUMNS": "250"}


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args], env=ENV)


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch) -> Path:
    """An empty download cache of this test (and never the user's store)."""
    monkeypatch.setenv("JAXFIT_DATA", str(tmp_path / "cache"))
    monkeypatch.setenv("JAXFIT_STORE", str(tmp_path / "store"))
    return tmp_path / "cache"


@pytest.fixture
def local_urls(monkeypatch):
    """RAW_URLS pointing at the shared copies of bao_data and sn_data."""
    if not (BAO_DIR.is_dir() and SN_DIR.is_dir()):
        pytest.skip(f"shared CobayaSampler copies not available ({SHARED})")
    monkeypatch.setitem(datasets.RAW_URLS, datasets.BAO_REPOSITORY, BAO_DIR.as_uri() + "/")
    monkeypatch.setitem(datasets.RAW_URLS, datasets.SN_REPOSITORY, SN_DIR.as_uri() + "/")


def test_data_path_prints_data_home(cache, tmp_path, monkeypatch):
    result = invoke("data", "path")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == str(cache) == str(data_home())
    monkeypatch.delenv("JAXFIT_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    result = invoke("data", "path")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == str(tmp_path / "xdg" / "jaxfit" / "data")


def test_data_cosmo_downloads_and_the_loaders_find_it(cache, local_urls):
    # before: DESI DR1 is not packaged, and nothing is downloaded
    with pytest.raises(FileNotFoundError, match="fetch it with `jaxfit data`"):
        datasets.load_bao("desi_dr1")

    # desi_dr2 is fetched too, so that the packaged-table check below can fail
    result = invoke("data", "cosmo", "--sets", "desi_dr1,desi_dr2,union3")
    assert result.exit_code == 0, result.output
    root = cache / "cosmology"
    expected = {
        **{f"bao_data/{f}": BAO_DIR / f for f in datasets.BAO_DATASETS["desi_dr1"].files},
        **{f"bao_data/{f}": BAO_DIR / f for f in datasets.BAO_DATASETS["desi_dr2"].files},
        **{f"sn_data/{f}": SN_DIR / f for f in datasets.SN_DATASETS["union3"].files},
    }
    assert len(expected) == 6
    for relative, source in expected.items():
        assert (root / relative).read_bytes() == source.read_bytes(), relative
    assert sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) == sorted(
        expected
    )
    summary = f"6 files for desi_dr1, desi_dr2, union3 in {root}"
    assert "".join(summary.split()) in "".join(result.output.split())  # rich wraps lines

    # after: no data_dir needed, and the numbers equal those read from the shared folder
    bao = datasets.load_bao("desi_dr1")
    assert bao.name == "desi_dr1" and len(bao) == 12
    assert str(root) in bao.source
    reference = datasets.load_bao("desi_dr1", data_dir=SHARED)
    np.testing.assert_array_equal(bao.value, reference.value)
    np.testing.assert_array_equal(bao.cov, reference.cov)
    sn = datasets.load_sn("union3")
    assert sn.name == "union3" and len(sn) == 22
    assert str(root) in sn.source
    np.testing.assert_array_equal(sn.mu_or_mb, datasets.load_sn("union3", path=SHARED).mu_or_mb)

    # the packaged default is never silently replaced by a download
    dr2 = datasets.load_bao("desi_dr2")
    assert dr2.source == "jaxfit.data/desi_dr2_bao.json"
    assert len(dr2) == 13


def test_data_cosmo_keeps_files_and_force_fetches_again(cache, local_urls):
    assert invoke("data", "cosmo", "--sets", "union3").exit_code == 0
    target = cache / "cosmology" / "sn_data" / "Union3" / "lcparam_full.txt"
    source = (SN_DIR / "Union3" / "lcparam_full.txt").read_bytes()
    old = 1_000_000_000  # 2001: a rewrite of the file would move its mtime to now
    os.utime(target, (old, old))
    assert invoke("data", "cosmo", "--sets", "union3").exit_code == 0
    assert target.stat().st_mtime == old  # present and verified: kept
    assert invoke("data", "cosmo", "--sets", "union3", "--force").exit_code == 0
    assert target.read_bytes() == source and target.stat().st_mtime > old

    # a cached file that no longer matches its registered hash is never used: the loader
    # refuses it with one line, and the next `jaxfit data cosmo` fetches it again
    target.write_bytes(b"locally changed")
    with pytest.raises(DataHashError) as info:
        datasets.load_sn("union3")
    line = str(info.value)
    assert "\n" not in line and str(target) in line
    assert REGISTRY["cosmology/sn_data/Union3/lcparam_full.txt"].sha256 in line
    assert hashlib.sha256(b"locally changed").hexdigest() in line
    assert invoke("data", "cosmo", "--sets", "union3").exit_code == 0
    assert target.read_bytes() == source


def test_data_cosmo_refuses_a_changed_upstream_file(cache, tmp_path, monkeypatch):
    """A source whose bytes differ from the registry (as if upstream changed the file) is
    refused with one line (file, expected hash, got hash) and nothing is written."""
    if not SN_DIR.is_dir():
        pytest.skip(f"shared CobayaSampler copy not available ({SN_DIR})")
    mirror = tmp_path / "mirror"
    (mirror / "Union3").mkdir(parents=True)
    for name in ("lcparam_full.txt", "mag_covmat.txt"):
        (mirror / "Union3" / name).write_bytes((SN_DIR / "Union3" / name).read_bytes())
    changed = (mirror / "Union3" / "mag_covmat.txt").read_bytes() + b"0\n"
    (mirror / "Union3" / "mag_covmat.txt").write_bytes(changed)
    monkeypatch.setitem(datasets.RAW_URLS, datasets.SN_REPOSITORY, mirror.as_uri() + "/")
    result = runner.invoke(app, ["-q", "data", "cosmo", "--sets", "union3"], env=ENV)
    assert result.exit_code == 1, result.output
    squeezed = "".join(result.output.split())
    expected = REGISTRY["cosmology/sn_data/Union3/mag_covmat.txt"].sha256
    assert "hashmismatchforsn_data/Union3/mag_covmat.txt" in squeezed
    assert f"expectedsha256{expected}" in squeezed
    assert f"got{hashlib.sha256(changed).hexdigest()}" in squeezed
    assert "Traceback" not in result.output
    assert not (cache / "cosmology" / "sn_data" / "Union3" / "mag_covmat.txt").exists()
    with pytest.raises(FileNotFoundError):  # so the loader does not find a partial copy
        datasets.load_sn("union3")


def test_data_cosmo_unknown_set_is_a_usage_error(cache):
    result = invoke("data", "cosmo", "--sets", "desi_dr1,bogus")
    assert result.exit_code == 2
    text = flat(result.output)
    assert "got 'bogus'" in text and "'desi_dr1'" not in text  # names it (and only it)
    assert "must be one of desi_dr2, desi_dr1, boss_dr12" in text  # and the valid ones
    assert not cache.exists()  # nothing fetched, not even desi_dr1


def test_data_cosmo_missing_source_exits_1_naming_the_url(cache, tmp_path, monkeypatch):
    empty = tmp_path / "empty-repository"
    empty.mkdir()
    monkeypatch.setitem(datasets.RAW_URLS, datasets.SN_REPOSITORY, empty.as_uri() + "/")
    result = invoke("data", "cosmo", "--sets", "union3")
    assert result.exit_code == 1, result.output
    squeezed = "".join(result.output.split())  # rich may wrap the URL anywhere
    assert (empty / "Union3" / "lcparam_full.txt").as_uri() in squeezed
    assert not (cache / "cosmology" / "sn_data" / "Union3" / "lcparam_full.txt").exists()
