"""Tests of jaxfit.cosmo.store_file: the checksum, the validation of a store file's bytes
(every reason it can be refused), the atomic write, moving a corrupt file aside and the
per-model lock. The store's use of them (repair, warnings) is tested in test_store.py."""

from __future__ import annotations

import hashlib
import json

import filelock
import pytest

from jaxfit.cosmo.store_file import (
    FORMAT_VERSION,
    CorruptStoreFile,
    StoreLockTimeout,
    StoreVersionError,
    checksum,
    fresh_content,
    hold_lock,
    move_aside,
    parse_content,
    read_bytes,
    write_content,
)


def test_checksum_is_sha256_of_the_canonical_json_without_itself():
    body = {"b": [1.5, None], "a": {"y": 2, "x": 1}}
    expected = hashlib.sha256(b'{"a":{"x":1,"y":2},"b":[1.5,null]}').hexdigest()
    assert checksum(body) == expected == checksum(body | {"checksum": "anything"})


def test_write_then_parse_round_trips_bit_for_bit(tmp_path):
    path = tmp_path / "lcdm.json"
    content = fresh_content("lcdm", {"H0": 67.4, "Om0": 0.1 + 0.2})  # 0.30000000000000004
    write_content(path, content)
    parsed = parse_content("lcdm", path, read_bytes(path))
    assert parsed["defaults"]["Om0"] == 0.1 + 0.2
    assert parsed["format_version"] == FORMAT_VERSION and parsed["history"] == []
    assert read_bytes(tmp_path / "absent.json") is None


def _with_checksum(body):
    return json.dumps({**body, "checksum": checksum(body)}).encode()


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"model": "pbuf"}, "file is for model 'pbuf', expected 'lcdm'"),
        ({"defaults": {"H0": "fast"}}, r"defaults \['H0'\] are not finite numbers"),
        ({"optimization_metadata": [1]}, "neither an object nor null"),
        ({"history": {}}, "history is not a list"),
        ({"history": [{"model": "lcdm"}]}, "history record 0 is malformed"),
        ({"format_version": 0}, "unsupported format_version 0"),
        ({"format_version": "1"}, "not an integer"),
    ],
)
def test_parse_content_names_the_reason(tmp_path, change, reason):
    body = fresh_content("lcdm", {"H0": 67.4}) | change
    with pytest.raises(CorruptStoreFile, match=reason):
        parse_content("lcdm", tmp_path / "lcdm.json", _with_checksum(body))


def test_parse_content_refuses_a_newer_format(tmp_path):
    body = fresh_content("lcdm", {"H0": 67.4}) | {"format_version": FORMAT_VERSION + 1}
    with pytest.raises(StoreVersionError, match=r"lcdm\.json.*newer jaxfit"):
        parse_content("lcdm", tmp_path / "lcdm.json", _with_checksum(body))


def test_move_aside_keeps_every_corrupt_copy(tmp_path):
    path = tmp_path / "lcdm.json"
    names = []
    for text in ("first", "second"):
        path.write_text(text)
        names.append(move_aside(path))
    assert not path.exists() and names[0] != names[1]
    assert [n.read_text() for n in names] == ["first", "second"]
    assert all(n.name.startswith("lcdm.json.corrupt-") for n in names)
    assert move_aside(path) is None  # nothing to move


def test_hold_lock_times_out_naming_the_lock_file(tmp_path):
    lock_path = tmp_path / "lcdm.lock"
    other = filelock.FileLock(lock_path, thread_local=False)
    with other, pytest.raises(StoreLockTimeout, match=r"lcdm\.lock.*'lcdm'"):
        with hold_lock(filelock.FileLock(lock_path, thread_local=False), 0.1, "lcdm"):
            pass
    with hold_lock(filelock.FileLock(lock_path), 0.1, "lcdm"):  # free again
        pass
