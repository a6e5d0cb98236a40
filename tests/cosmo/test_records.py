"""Tests of jaxfit.cosmo.records: the OptimizationRecord of one store update, timestamps,
data-set names, and apply_update (the pure content change of one update)."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from jaxfit.cosmo.records import (
    OptimizationRecord,
    apply_update,
    dataset_name,
    dataset_set,
    parse_timestamp,
    utc_iso,
)

BUILTINS = {"H0": 67.4, "Om0": 0.315}
EMPTY = {"defaults": {}, "history": []}


def test_record_dict_roundtrip():
    """OptimizationRecord.to_dict / from_dict are inverses."""
    rec = OptimizationRecord(
        "2025-10-22T14:42:00Z",
        "lcdm",
        "cmb",
        ["H0"],
        {"H0": 67.0},
        2.0,
        "success",
        10.0,
        {"covariance_scaling": 1.2},
    )
    assert OptimizationRecord.from_dict(json.loads(json.dumps(rec.to_dict()))) == rec
    assert rec.time == dt.datetime(2025, 10, 22, 14, 42, tzinfo=dt.UTC)


def test_record_from_dict_names_what_is_wrong():
    good = OptimizationRecord("2025-10-22T14:42:00Z", "lcdm", "cmb", ["H0"], {"H0": 67.0},
                              None, "success").to_dict()
    with pytest.raises(ValueError, match="lacks.*timestamp"):
        OptimizationRecord.from_dict({k: v for k, v in good.items() if k != "timestamp"})
    with pytest.raises(ValueError, match="final_values must map names to numbers"):
        OptimizationRecord.from_dict(good | {"final_values": {"H0": "fast"}})
    with pytest.raises(ValueError):
        OptimizationRecord.from_dict(good | {"timestamp": "yesterday"})
    # keys it does not know are kept in extra
    assert OptimizationRecord.from_dict(good | {"seed": 3}).extra == {"seed": 3}


def test_timestamps_are_utc_to_the_second():
    when = dt.datetime(2025, 10, 22, 16, 42, 7, 123456, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert utc_iso(when) == "2025-10-22T14:42:07Z"
    assert parse_timestamp("2025-10-22T14:42:07Z") == when.replace(microsecond=0)
    assert parse_timestamp("2025-10-22T14:42:07").tzinfo == dt.UTC  # naive: taken as UTC


def test_dataset_names_join_and_compare_unordered():
    assert dataset_name(["cmb", "bao"]) == "cmb+bao"
    assert dataset_name("cmb") == "cmb" and dataset_name(None) == "unknown"
    assert dataset_set("cmb+bao") == dataset_set(["bao", "cmb"])


def test_apply_update_is_pure_and_fills_the_metadata():
    content = {"defaults": {"H0": 68.0}, "history": []}
    meta = {"convergence_status": "success", "datasets": ["cmb", "bao"], "final_chi2": 3.5}
    new, record = apply_update("lcdm", content, BUILTINS, {"Om0": 0.3}, meta, None, 1)
    assert content == {"defaults": {"H0": 68.0}, "history": []}  # the input is untouched
    # stored values kept, the new one set, missing ones from the built-ins
    assert new["defaults"] == {"H0": 68.0, "Om0": 0.3}
    stored = new["optimization_metadata"]
    assert stored["source_dataset"] == "cmb+bao" == record.dataset
    assert stored["cmb+bao_optimized"] == stored["timestamp"] == record.timestamp
    assert stored["optimized_params"] == ["Om0"] and stored["optimizer_info"] == {}
    assert stored["chi2_improvement"] is None and stored["covariance_scaling"] == 1.0
    assert record.final_chi2 == 3.5 and record.final_values == new["defaults"]
    assert new["history"] == [record.to_dict()] and new["format_version"] == 1


def test_apply_update_keeps_the_newest_records():
    meta = {"convergence_status": "success", "source_dataset": "cmb"}
    content = EMPTY
    for value in (67.0, 68.0, 69.0):
        content, _ = apply_update("lcdm", content, BUILTINS, {"H0": value}, meta, 2, 1)
    assert [r["final_values"]["H0"] for r in content["history"]] == [68.0, 69.0]
