"""One update of a model's stored defaults: the :class:`OptimizationRecord` and how it is made.

:func:`apply_update` turns the stored content of a model, the new best-fit values and the
fit's metadata into the new content and its record, with no I/O: the store
(:mod:`jaxfit.cosmo.store`) calls it inside the model's lock and writes the result
atomically. Timestamps are ISO 8601 UTC to the second with a ``Z`` suffix
(``"2025-10-22T14:42:00Z"``, the seed's format); a combination of data sets is named by
joining them with ``"+"`` (``"cmb+bao"``).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from jaxfit.core.io import to_jsonable


def utc_now() -> _dt.datetime:
    """The current time, timezone-aware in UTC."""
    return _dt.datetime.now(_dt.UTC)


def utc_iso(ts: _dt.datetime) -> str:
    """ISO 8601 UTC with a ``Z`` suffix, to the second (the seed's format)."""
    return ts.astimezone(_dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def parse_timestamp(text: str) -> _dt.datetime:
    """Parse an ISO 8601 timestamp (``Z`` or offset; naive ones are taken as UTC)."""
    ts = _dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=_dt.UTC)


def is_number(value) -> bool:
    """Whether ``value`` is an int or float of JSON (a bool is not a number here)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def dataset_name(value) -> str:
    """``"cmb"``, ``["cmb", "bao"]`` -> ``"cmb+bao"``; missing -> ``"unknown"``."""
    if value is None or value == "" or value == []:
        return "unknown"
    if isinstance(value, str):
        return value
    return "+".join(str(v) for v in value)


def dataset_set(value) -> frozenset[str]:
    """``"cmb+bao"`` or ``["bao", "cmb"]`` -> ``{"bao", "cmb"}``: a combination, unordered."""
    if isinstance(value, str):
        return frozenset(p for p in value.split("+") if p)
    return frozenset(str(v) for v in value)


def float_or_none(value):
    """A JSON number as float; anything else (None, ``"nan"``) as it is."""
    return float(value) if is_number(value) else value


@dataclass
class OptimizationRecord:
    """One successful update of a model's defaults (the seed's data model, extended).

    Attributes:
        timestamp: ISO 8601 UTC time of the update (``"2025-10-22T14:42:00Z"``).
        model: the model name.
        dataset: the data set(s) optimised against, ``"+"``-joined (``"cmb"``, ``"cmb+bao"``).
        optimized_params: the parameters that were optimised, in the order given.
        final_values: every parameter of the model after the update (the stored defaults);
            the optimised ones are named in ``optimized_params``.
        chi2_improvement: starting chi2 minus final chi2 (``None`` when not given).
        convergence_status: ``"success"`` (failed optimisations are never recorded).
        final_chi2: the final chi2 (metadata ``final_chi2`` or ``chi2``), when given.
        extra: the rest of the optimisation metadata (optimizer_info, covariance_scaling,
            anything the caller passed).
    """

    timestamp: str
    model: str
    dataset: str
    optimized_params: list[str]
    final_values: dict[str, float]
    chi2_improvement: float | None
    convergence_status: str
    final_chi2: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def time(self) -> _dt.datetime:
        """The timestamp as an aware UTC datetime."""
        return parse_timestamp(self.timestamp)

    def to_dict(self) -> dict[str, Any]:
        return {
            "timestamp": self.timestamp,
            "model": self.model,
            "dataset": self.dataset,
            "optimized_params": list(self.optimized_params),
            "final_values": {k: float(v) for k, v in self.final_values.items()},
            "chi2_improvement": self.chi2_improvement,
            "convergence_status": self.convergence_status,
            "final_chi2": self.final_chi2,
            "extra": to_jsonable(dict(self.extra)),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OptimizationRecord:
        """Inverse of :meth:`to_dict`; unknown keys go to ``extra``.

        Raises:
            ValueError: a required key is missing or has the wrong type.
        """
        if not isinstance(data, Mapping):
            raise ValueError(f"a history record must be an object, got {type(data).__name__}")
        required = (
            "timestamp",
            "model",
            "dataset",
            "optimized_params",
            "final_values",
            "convergence_status",
        )
        missing = [k for k in required if k not in data]
        if missing:
            raise ValueError(f"history record lacks {missing}")
        values = data["final_values"]
        if not isinstance(values, Mapping) or not all(is_number(v) for v in values.values()):
            raise ValueError("history record: final_values must map names to numbers")
        if not isinstance(data["optimized_params"], list):
            raise ValueError("history record: optimized_params must be a list")
        parse_timestamp(data["timestamp"])  # raises ValueError when malformed
        known = {f.name for f in dataclasses.fields(cls)}
        extra = dict(data.get("extra") or {})
        extra.update({k: v for k, v in data.items() if k not in known})
        return cls(
            timestamp=str(data["timestamp"]),
            model=str(data["model"]),
            dataset=str(data["dataset"]),
            optimized_params=[str(p) for p in data["optimized_params"]],
            final_values={str(k): float(v) for k, v in values.items()},
            chi2_improvement=float_or_none(data.get("chi2_improvement")),
            convergence_status=str(data["convergence_status"]),
            final_chi2=float_or_none(data.get("final_chi2")),
            extra=extra,
        )


def apply_update(
    model: str,
    content: Mapping[str, Any],
    builtins: Mapping[str, float],
    values: Mapping[str, float],
    metadata: Mapping[str, Any],
    max_history: int | None,
    format_version: int,
) -> tuple[dict[str, Any], OptimizationRecord]:
    """The new content of ``model``'s store file and the record of one update (pure).

    Args:
        model: the model name.
        content: the stored content (``defaults``, ``history``, ...).
        builtins: the model's built-in defaults (every valid parameter).
        values: ``{parameter: best-fit value}``, already validated.
        metadata: the fit's metadata (JSON-able); the keys of the store's module doc are
            filled in.
        max_history: keep at most this many records (oldest dropped); None keeps all.
        format_version: the file format the content is written in.
    """
    now = utc_iso(utc_now())
    dataset = dataset_name(
        metadata.get("source_dataset", metadata.get("datasets", metadata.get("dataset")))
    )
    meta = dict(metadata)
    meta["timestamp"] = now
    meta[f"{dataset}_optimized"] = now
    meta["source_dataset"] = dataset
    # the caller's list when given: the stored values may also carry fixed parameters
    # the fit was run at (overrides), which were not optimised
    meta["optimized_params"] = list(metadata.get("optimized_params", values))
    meta.setdefault("chi2_improvement", None)
    meta.setdefault("optimizer_info", {})
    meta.setdefault("covariance_scaling", 1.0)
    defaults = {k: float(content["defaults"].get(k, v)) for k, v in builtins.items()}
    defaults.update(values)
    final_chi2 = meta.get("final_chi2", meta.get("chi2"))
    record_keys = {
        "timestamp",
        f"{dataset}_optimized",
        "source_dataset",
        "optimized_params",
        "chi2_improvement",
        "convergence_status",
        "final_chi2",
    }
    record = OptimizationRecord(
        timestamp=now,
        model=model,
        dataset=dataset,
        optimized_params=list(meta["optimized_params"]),
        final_values=dict(defaults),
        chi2_improvement=float_or_none(meta["chi2_improvement"]),
        convergence_status="success",
        final_chi2=float_or_none(final_chi2),
        extra={k: v for k, v in meta.items() if k not in record_keys},
    )
    history = [*content["history"], record.to_dict()]
    if max_history is not None and len(history) > max_history:
        history = history[-max_history:]
    new = {
        "format_version": format_version,
        "model": model,
        "defaults": defaults,
        "optimization_metadata": meta,
        "history": history,
    }
    return new, record
