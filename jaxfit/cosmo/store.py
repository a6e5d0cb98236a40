"""The persistent parameter store: per-model cosmological defaults with provenance.

Every fitter takes its starting values from :meth:`OptimizedParameterStore.get_model_defaults`
(the seed's injection rule); a successful optimisation writes its best fit back with
:meth:`~OptimizedParameterStore.update_model_defaults`, so later fits start from it.

Location (:func:`resolve_store_dir`)
    an explicit path (the CLI's ``--store``), else the environment variable ``JAXFIT_STORE``,
    else a per-user data directory: ``$XDG_DATA_HOME/jaxfit/store``, or
    ``~/.local/share/jaxfit/store`` when ``XDG_DATA_HOME`` is unset.

Layout
    one JSON file per model, ``<dir>/<model>.json``, and one lock per model,
    ``<dir>/<model>.lock`` (:class:`filelock.FileLock`, an OS-level lock released when its
    process dies). Because each model has its own file, a per-model lock is sufficient:
    concurrent updates of different models never touch the same file, and updates of the
    same model serialise on its lock, each one a read-modify-write inside the lock, so no
    update is lost. Waiting longer than ``lock_timeout`` (60 s) raises
    :class:`StoreLockTimeout` naming the lock file. Readers take no lock: files are only
    ever replaced atomically, so a reader sees the old content or the new, never a mix.

File content (``format_version`` 1)::

    {
      "format_version": 1,
      "model": "lcdm",
      "defaults": {"H0": 67.4, "Om0": 0.315, ...},
      "optimization_metadata": {...} | null,      # of the latest update (the seed's keys)
      "history": [OptimizationRecord dicts, oldest first, newest last],
      "checksum": "<sha256 hex>"
    }

    The checksum is the SHA-256 of the canonical JSON
    (``json.dumps(obj, sort_keys=True, separators=(",", ":"))``) of everything except
    ``"checksum"``. Python writes floats with ``repr``, which round-trips exactly, so a
    stored value reloads bit for bit (the seed's round-trip test asks for rtol 1e-12).

    ``optimization_metadata`` holds what the caller passed plus the keys the store fills in:
    ``timestamp`` and ``<dataset>_optimized`` (ISO 8601 UTC, e.g. ``cmb_optimized`` as in
    the seed), ``source_dataset``, ``optimized_params``, ``chi2_improvement``,
    ``convergence_status``, ``optimizer_info`` (default ``{}``) and ``covariance_scaling``
    (default 1.0). Non-finite numbers in the metadata are stored as the strings ``"inf"``,
    ``"nan"`` (strict JSON has no literal for them).

Defaults
    the built-in defaults (by default those of the model registry,
    :data:`jaxfit.cosmo.model.MODELS`) overlaid by the stored values; a parameter missing
    from the file takes its built-in value, a stored parameter the model no longer has is
    ignored. A model without a file simply has its built-in defaults (nothing is written).

Safety
    * Writes go through :func:`jaxfit.core.io.atomic_write_bytes` (temporary file, fsync,
      ``os.replace``): a crash never leaves a half-written store.
    * A failed optimisation (``convergence_status != "success"``) raises ``ValueError`` and
      never overwrites the stored defaults; ``dry_run=True`` computes the record and writes
      nothing at all.
    * A file that is unreadable, not valid JSON, lacks keys, has a wrong checksum or
      malformed content is moved aside to ``<model>.json.corrupt-<UTC time>`` (never
      deleted), a :class:`StoreCorruptionWarning` names the file and the reason, and a fresh
      file with the built-in defaults is written (under the lock).
    * A file written by a newer jaxfit (``format_version`` above :data:`FORMAT_VERSION`)
      raises :class:`StoreVersionError` and is left untouched.
    * The history keeps the newest ``max_history`` records (default 1000) so that the file
      stays small; the records of every update up to that number are kept.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import hashlib
import json
import math
import os
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import filelock

from jaxfit.core.io import atomic_write_bytes, to_jsonable, write_json

FORMAT_VERSION = 1
"""The store file format this version of jaxfit reads and writes."""

SHARED_PARAMETERS = ("H0", "Om0", "Obh2", "ns")
"""Parameters that LCDM and PBUF share and that should agree between models."""

_REQUIRED_KEYS = ("format_version", "model", "defaults", "optimization_metadata", "history")


# ------------------------------------------------------------------------ errors/warnings
class StoreError(RuntimeError):
    """A parameter-store operation that cannot proceed."""


class StoreVersionError(StoreError):
    """The store file was written by a newer jaxfit (a format version this one cannot read)."""


class StoreLockTimeout(StoreError, TimeoutError):
    """The per-model lock was not acquired within the timeout."""


class StoreCorruptionWarning(UserWarning):
    """A store file was corrupt; it was moved aside and rebuilt from the built-in defaults."""


class StoreConsistencyWarning(UserWarning):
    """Parameters shared between models differ by more than the tolerance."""


class UnknownModelError(KeyError):
    """A model name the store does not know (the message lists the valid ones)."""

    def __str__(self) -> str:  # KeyError would show the message in quotes
        return str(self.args[0]) if self.args else ""


class UnknownParameterError(KeyError):
    """A parameter name the model does not have (the message lists the valid ones)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class _Corrupt(Exception):
    """Internal: why a store file is unusable."""


# ---------------------------------------------------------------------------- location
def resolve_store_dir(path: str | os.PathLike | None = None) -> Path:
    """The store directory: ``path``, else ``$JAXFIT_STORE``, else the per-user data dir.

    The per-user directory is ``$XDG_DATA_HOME/jaxfit/store`` (``XDG_DATA_HOME`` when set
    to an absolute path) or ``~/.local/share/jaxfit/store``. Nothing is created here.
    """
    if path is not None and str(path) != "":
        return Path(path).expanduser()
    env = os.environ.get("JAXFIT_STORE", "")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME", "")
    if xdg and Path(xdg).is_absolute():
        base = Path(xdg)
    else:
        base = Path.home() / ".local" / "share"
    return base / "jaxfit" / "store"


# ------------------------------------------------------------------------------ helpers
def _utc_now() -> _dt.datetime:
    return _dt.datetime.now(_dt.UTC)


def _iso(ts: _dt.datetime) -> str:
    """ISO 8601 UTC with a ``Z`` suffix, to the second (the seed's format)."""
    return ts.astimezone(_dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def parse_timestamp(text: str) -> _dt.datetime:
    """Parse an ISO 8601 timestamp (``Z`` or offset; naive ones are taken as UTC)."""
    ts = _dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=_dt.UTC)


def _canonical(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def checksum(content: Mapping[str, Any]) -> str:
    """SHA-256 hex of the canonical JSON of ``content`` without its ``"checksum"`` key."""
    body = {k: v for k, v in content.items() if k != "checksum"}
    return hashlib.sha256(_canonical(body)).hexdigest()


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _dataset_name(value) -> str:
    """``"cmb"``, ``["cmb", "bao"]`` -> ``"cmb+bao"``; missing -> ``"unknown"``."""
    if value is None or value == "" or value == []:
        return "unknown"
    if isinstance(value, str):
        return value
    return "+".join(str(v) for v in value)


def _dataset_set(value) -> frozenset[str]:
    if isinstance(value, str):
        return frozenset(p for p in value.split("+") if p)
    return frozenset(str(v) for v in value)


def _float_or_none(value):
    return float(value) if _is_number(value) else value


# ------------------------------------------------------------------------- data models
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
        if not isinstance(values, Mapping) or not all(_is_number(v) for v in values.values()):
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
            chi2_improvement=_float_or_none(data.get("chi2_improvement")),
            convergence_status=str(data["convergence_status"]),
            final_chi2=_float_or_none(data.get("final_chi2")),
            extra=extra,
        )


def _registry_builtins() -> tuple[dict[str, dict[str, float]], dict[str, dict[str, tuple]]]:
    """Built-in defaults and bounds from the model registry (imported lazily)."""
    from jaxfit.cosmo.model import MODELS

    defaults, bounds = {}, {}
    for name, m in MODELS.items():
        spec = m.spec
        defaults[name] = {k: float(v) for k, v in dict(spec.defaults).items()}
        params = getattr(spec, "params", ())
        bounds[name] = {p.name: (float(p.lower), float(p.upper)) for p in params}
    return defaults, bounds


# ------------------------------------------------------------------------------- store
class OptimizedParameterStore:
    """Per-model defaults with optimisation metadata and history, on disk, locked.

    Args:
        root: the store directory (default: :func:`resolve_store_dir`).
        builtins: ``{model: {parameter: default}}``, the built-in defaults (and the set of
            valid models and parameters). Default: the model registry,
            ``{name: dict(m.spec.defaults) for name, m in jaxfit.cosmo.model.MODELS.items()}``.
        lock_timeout: seconds to wait for a model's lock before :class:`StoreLockTimeout`.
        bounds: optional ``{model: {parameter: (lower, upper)}}``; values outside are
            refused. Default: from the registry when ``builtins`` is None, else none.
        max_history: keep at most this many records per model (oldest dropped); None keeps
            all.
    """

    def __init__(
        self,
        root: str | os.PathLike | None = None,
        builtins: Mapping[str, Mapping[str, float]] | None = None,
        lock_timeout: float = 60.0,
        *,
        bounds: Mapping[str, Mapping[str, tuple[float, float]]] | None = None,
        max_history: int | None = 1000,
    ):
        self.root = resolve_store_dir(root)
        if builtins is None:
            builtins, registry_bounds = _registry_builtins()
            if bounds is None:
                bounds = registry_bounds
        self.builtins: dict[str, dict[str, float]] = {
            str(m): {str(k): float(v) for k, v in d.items()} for m, d in builtins.items()
        }
        if not self.builtins:
            raise ValueError("the parameter store needs at least one model in builtins")
        self.bounds = {m: dict(b) for m, b in (bounds or {}).items()}
        self.lock_timeout = float(lock_timeout)
        self.max_history = max_history
        self._locks: dict[str, filelock.FileLock] = {}

    def __repr__(self) -> str:
        return f"OptimizedParameterStore({str(self.root)!r}, models={self.models})"

    # ------------------------------------------------------------------ basics
    @property
    def models(self) -> list[str]:
        """The valid model names."""
        return list(self.builtins)

    def _check_model(self, model: str) -> str:
        if model not in self.builtins:
            raise UnknownModelError(
                f"unknown model {model!r}; valid models: {', '.join(self.builtins)}"
            )
        return model

    def path(self, model: str) -> Path:
        """The JSON file of ``model`` (it may not exist yet)."""
        return self.root / f"{self._check_model(model)}.json"

    def lock_path(self, model: str) -> Path:
        """The lock file of ``model``."""
        return self.root / f"{self._check_model(model)}.lock"

    @contextlib.contextmanager
    def _locked(self, model: str) -> Iterator[None]:
        """Hold ``model``'s file lock (re-entrant within this store object)."""
        lock_path = self.lock_path(model)
        lock = self._locks.get(model)
        if lock is None:
            lock = self._locks[model] = filelock.FileLock(lock_path)
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            lock.acquire(timeout=self.lock_timeout)
        except filelock.Timeout as exc:
            raise StoreLockTimeout(
                f"could not acquire the parameter-store lock {lock_path} within "
                f"{self.lock_timeout:g} s: another process is updating model {model!r}"
            ) from exc
        try:
            yield
        finally:
            lock.release()

    def _fresh(self, model: str) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "model": model,
            "defaults": dict(self.builtins[model]),
            "optimization_metadata": None,
            "history": [],
        }

    # ------------------------------------------------------------ read / write
    def _parse(self, model: str, path: Path, raw: bytes) -> dict[str, Any]:
        """Validate the bytes of a store file; raise _Corrupt(reason) or StoreVersionError."""
        try:
            content = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise _Corrupt(f"not valid JSON ({exc})") from None
        if not isinstance(content, dict):
            raise _Corrupt(f"top level is a {type(content).__name__}, not an object")
        version = content.get("format_version")
        if not isinstance(version, int) or isinstance(version, bool):
            raise _Corrupt(f"format_version is missing or not an integer ({version!r})")
        if version > FORMAT_VERSION:
            raise StoreVersionError(
                f"parameter store file {path} has format_version {version}, but this jaxfit "
                f"reads format_version {FORMAT_VERSION} at most; it was written by a newer "
                "jaxfit: upgrade jaxfit or use another store (--store / JAXFIT_STORE). "
                "The file was left untouched."
            )
        if version < 1:
            raise _Corrupt(f"unsupported format_version {version}")
        missing = [k for k in (*_REQUIRED_KEYS, "checksum") if k not in content]
        if missing:
            raise _Corrupt(f"missing keys {missing}")
        expected = checksum(content)
        if content["checksum"] != expected:
            raise _Corrupt(
                f"checksum mismatch (file says {str(content['checksum'])[:12]}..., "
                f"content hashes to {expected[:12]}...)"
            )
        if content["model"] != model:
            raise _Corrupt(f"file is for model {content['model']!r}, expected {model!r}")
        defaults = content["defaults"]
        if not isinstance(defaults, dict):
            raise _Corrupt(f"defaults is a {type(defaults).__name__}, not an object")
        bad = [k for k, v in defaults.items() if not (_is_number(v) and math.isfinite(v))]
        if bad:
            raise _Corrupt(f"defaults {bad} are not finite numbers")
        meta = content["optimization_metadata"]
        if meta is not None and not isinstance(meta, dict):
            raise _Corrupt("optimization_metadata is neither an object nor null")
        history = content["history"]
        if not isinstance(history, list):
            raise _Corrupt("history is not a list")
        for i, rec in enumerate(history):
            try:
                OptimizationRecord.from_dict(rec)
            except (ValueError, TypeError) as exc:
                raise _Corrupt(f"history record {i} is malformed ({exc})") from None
        return content

    def _read_raw(self, path: Path) -> bytes | None:
        """The file's bytes; None when absent; _Corrupt when unreadable."""
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise _Corrupt(f"unreadable ({exc})") from None

    def _load(self, model: str, *, repair: bool = True) -> dict[str, Any]:
        """The stored content of ``model`` (fresh built-ins when there is no file).

        A corrupt file is moved aside and rebuilt under the lock when ``repair`` (else only
        a warning is given and the built-ins are returned, writing nothing).
        """
        path = self.path(model)
        try:
            raw = self._read_raw(path)
            return self._fresh(model) if raw is None else self._parse(model, path, raw)
        except _Corrupt as exc:
            if not repair:
                warnings.warn(
                    StoreCorruptionWarning(
                        f"parameter store file {path} is corrupt: {exc}; using the built-in "
                        f"defaults of {model!r} (nothing written)"
                    ),
                    stacklevel=3,
                )
                return self._fresh(model)
        with self._locked(model):
            return self._load_locked(model)

    def _load_locked(self, model: str) -> dict[str, Any]:
        """Like :meth:`_load`, for a caller that holds the lock: repairs in place."""
        path = self.path(model)
        try:
            raw = self._read_raw(path)
            return self._fresh(model) if raw is None else self._parse(model, path, raw)
        except _Corrupt as exc:
            reason = str(exc)
        aside = self._move_aside(path)
        fresh = self._fresh(model)
        if aside is None:  # never overwrite a corrupt file that could not be kept
            where, rebuilt = "it could not be moved aside", "using the built-in defaults"
        else:
            where = f"moved aside to {aside}"
            try:
                self._write(model, fresh)
                rebuilt = f"rebuilt {path} from the built-in defaults"
            except OSError as exc:  # e.g. a read-only store: still usable in memory
                rebuilt = f"could not rebuild it ({exc}); using the built-in defaults"
        warnings.warn(
            StoreCorruptionWarning(
                f"parameter store file {path} was corrupt ({reason}); {where}; {rebuilt}"
            ),
            stacklevel=4,
        )
        return fresh

    def _move_aside(self, path: Path) -> Path | None:
        stamp = _utc_now().strftime("%Y%m%dT%H%M%S.%fZ")
        target = path.with_name(f"{path.name}.corrupt-{stamp}")
        n = 1
        while target.exists():
            target = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
            n += 1
        try:
            os.rename(path, target)
        except OSError:
            return None
        return target

    def _write(self, model: str, content: dict[str, Any]) -> Path:
        body = {k: content[k] for k in _REQUIRED_KEYS}
        body["checksum"] = checksum(body)
        text = json.dumps(body, indent=2, allow_nan=False) + "\n"
        return atomic_write_bytes(self.path(model), text.encode("utf-8"))

    # ------------------------------------------------------------- public API
    def get_state(self, model: str) -> dict[str, Any]:
        """The full stored content of ``model`` (as in the file; built-ins if none)."""
        self._check_model(model)
        return self._load(model)

    def get_model_defaults(self, model: str) -> dict[str, float]:
        """The model's defaults: stored values over the built-ins.

        Raises:
            UnknownModelError (a KeyError): the model is unknown (valid ones listed).
            StoreVersionError: the file was written by a newer jaxfit.
        """
        self._check_model(model)
        stored = self._load(model)["defaults"]
        return {k: float(stored.get(k, v)) for k, v in self.builtins[model].items()}

    def get_optimization_metadata(self, model: str) -> dict[str, Any] | None:
        """The metadata of the latest update of ``model`` (None if never optimised)."""
        self._check_model(model)
        return self._load(model)["optimization_metadata"]

    def _validate_values(self, model: str, params: Mapping[str, Any]) -> dict[str, float]:
        valid = self.builtins[model]
        unknown = [k for k in params if k not in valid]
        if unknown:
            raise UnknownParameterError(
                f"unknown parameter {', '.join(map(repr, unknown))} for model {model!r}; "
                f"valid parameters: {', '.join(valid)}"
            )
        out = {}
        bounds = self.bounds.get(model, {})
        for name, value in params.items():
            try:
                value = float(value)  # numpy / 0-d JAX arrays too
            except (TypeError, ValueError):
                raise ValueError(
                    f"parameter {name!r} of {model!r}: value must be a number, got {value!r}"
                ) from None
            if not math.isfinite(value):
                raise ValueError(
                    f"parameter {name!r} of {model!r}: value must be finite, got {value}"
                )
            if name in bounds:
                lo, hi = bounds[name]
                if not lo <= value <= hi:
                    raise ValueError(
                        f"parameter {name!r} of {model!r}: value {value} is outside its "
                        f"bounds [{lo}, {hi}]"
                    )
            out[name] = value
        return out

    def update_model_defaults(
        self,
        model: str,
        optimized_params: Mapping[str, float],
        optimization_metadata: Mapping[str, Any],
        dry_run: bool = False,
    ) -> OptimizationRecord | None:
        """Store an optimisation's best fit as the model's new defaults.

        Non-destructive: parameters not in ``optimized_params`` keep their stored values.
        The metadata is stored with the keys listed in the module doc filled in, and an
        :class:`OptimizationRecord` is appended to the history; the whole update is one
        atomic write under the model's lock.

        Args:
            model: the model name.
            optimized_params: ``{parameter: best-fit value}`` (finite numbers).
            optimization_metadata: must have ``convergence_status == "success"``; other keys
                (``source_dataset``, ``chi2_improvement``, ``final_chi2``,
                ``optimizer_info``, ``covariance_scaling``, ...) are kept.
            dry_run: compute and return the record, write nothing.

        Returns:
            The record of this update (also for a dry run).

        Raises:
            UnknownModelError / UnknownParameterError (KeyError): bad names.
            ValueError: non-finite or out-of-bounds values, no parameters, or a failed
                optimisation (the stored defaults are then left untouched).
        """
        self._check_model(model)
        values = self._validate_values(model, optimized_params)
        if not values:
            raise ValueError(f"no optimised parameters given for model {model!r}")
        if not isinstance(optimization_metadata, Mapping):
            raise TypeError("optimization_metadata must be a mapping")
        status = optimization_metadata.get("convergence_status")
        if status != "success":
            raise ValueError(
                f"optimisation of {model!r} has convergence_status {status!r}, not 'success': "
                "a failed optimisation never overwrites the stored defaults (nothing written)"
            )
        meta_in = to_jsonable(dict(optimization_metadata))
        _canonical(meta_in)  # refuse non-JSON content before touching anything
        if dry_run:
            content = self._load(model, repair=False)
            _, record = self._apply(model, content, values, meta_in)
            return record
        with self._locked(model):
            content = self._load_locked(model)
            new, record = self._apply(model, content, values, meta_in)
            try:
                self._write(model, new)
            except OSError as exc:
                raise StoreError(
                    f"could not write the parameter store file {self.path(model)}: {exc}"
                ) from exc
        return record

    def _apply(self, model, content, values, meta_in):
        """New content and record for one update (pure; no I/O)."""
        now = _iso(_utc_now())
        dataset = _dataset_name(
            meta_in.get("source_dataset", meta_in.get("datasets", meta_in.get("dataset")))
        )
        meta = dict(meta_in)
        meta["timestamp"] = now
        meta[f"{dataset}_optimized"] = now
        meta["source_dataset"] = dataset
        # the caller's list when given: the stored values may also carry fixed parameters
        # the fit was run at (overrides), which were not optimised
        meta["optimized_params"] = list(meta_in.get("optimized_params", values))
        meta.setdefault("chi2_improvement", None)
        meta.setdefault("optimizer_info", {})
        meta.setdefault("covariance_scaling", 1.0)
        defaults = {
            k: float(content["defaults"].get(k, v)) for k, v in self.builtins[model].items()
        }
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
            chi2_improvement=_float_or_none(meta["chi2_improvement"]),
            convergence_status="success",
            final_chi2=_float_or_none(final_chi2),
            extra={k: v for k, v in meta.items() if k not in record_keys},
        )
        history = [*content["history"], record.to_dict()]
        if self.max_history is not None and len(history) > self.max_history:
            history = history[-self.max_history :]
        new = {
            "format_version": FORMAT_VERSION,
            "model": model,
            "defaults": defaults,
            "optimization_metadata": meta,
            "history": history,
        }
        return new, record

    def get_optimization_history(self, model: str) -> list[OptimizationRecord]:
        """Every recorded update of ``model``, oldest first."""
        self._check_model(model)
        return [OptimizationRecord.from_dict(r) for r in self._load(model)["history"]]

    def is_optimized(self, model: str, dataset: str | Sequence[str]) -> bool:
        """Whether ``model`` has a successful optimisation against exactly ``dataset``.

        ``dataset`` is a name (``"cmb"``), a ``"+"``-joined combination or a list; the order
        of a combination does not matter.
        """
        want = _dataset_set(dataset)
        return any(
            r.convergence_status == "success" and _dataset_set(r.dataset) == want
            for r in self.get_optimization_history(model)
        )

    def get_warm_start_params(
        self,
        model: str,
        max_age_hours: float = 24.0,
        now: _dt.datetime | None = None,
    ) -> dict[str, float] | None:
        """The stored defaults if the latest successful optimisation is younger than
        ``max_age_hours`` (at ``now``, default the current UTC time), else None."""
        history = [
            r for r in self.get_optimization_history(model) if r.convergence_status == "success"
        ]
        if not history:
            return None
        now = _utc_now() if now is None else now
        if now.tzinfo is None:
            now = now.replace(tzinfo=_dt.UTC)
        age_h = (now - history[-1].time).total_seconds() / 3600.0
        if age_h >= max_age_hours:
            return None
        return self.get_model_defaults(model)

    def cross_model_differences(
        self, shared: Sequence[str] = SHARED_PARAMETERS, models: Sequence[str] | None = None
    ) -> dict[str, float]:
        """Relative spread ``(max - min) / max|value|`` of each shared parameter over the
        models that have it (parameters present in fewer than two models are left out)."""
        models = list(models) if models is not None else self.models
        defaults = {m: self.get_model_defaults(m) for m in models}
        out = {}
        for name in shared:
            vals = [d[name] for d in defaults.values() if name in d]
            if len(vals) < 2:
                continue
            scale = max(abs(v) for v in vals)
            out[name] = 0.0 if scale == 0 else (max(vals) - min(vals)) / scale
        return out

    def validate_cross_model_consistency(
        self,
        tolerance: float = 1e-3,
        shared: Sequence[str] = SHARED_PARAMETERS,
        models: Sequence[str] | None = None,
    ) -> dict[str, float]:
        """Relative differences of the shared parameters between models (see
        :meth:`cross_model_differences`); a :class:`StoreConsistencyWarning` names those
        above ``tolerance``."""
        diffs = self.cross_model_differences(shared, models)
        over = {k: v for k, v in diffs.items() if v > tolerance}
        if over:
            models = list(models) if models is not None else self.models
            defaults = {m: self.get_model_defaults(m) for m in models}
            parts = []
            for name, rel in over.items():
                vals = ", ".join(f"{m}={d[name]!r}" for m, d in defaults.items() if name in d)
                parts.append(f"{name} ({vals}; relative difference {rel:.3g})")
            warnings.warn(
                StoreConsistencyWarning(
                    f"shared parameters differ between models by more than {tolerance:g}: "
                    + "; ".join(parts)
                ),
                stacklevel=2,
            )
        return diffs

    def summary(self) -> dict[str, Any]:
        """The ``cmb_optimization_summary`` of the seed, per model, with the defaults and
        the latest metadata (what :meth:`export_optimization_summary` writes)."""
        per_model = {}
        for model in self.models:
            content = self._load(model)
            history = content["history"]
            last = OptimizationRecord.from_dict(history[-1]) if history else None
            per_model[model] = {
                "optimized": last is not None,
                "chi2": last.final_chi2 if last else None,
                "improvement": last.chi2_improvement if last else None,
                "date": last.timestamp if last else None,
                "dataset": last.dataset if last else None,
                "optimized_params": list(last.optimized_params) if last else [],
                "n_optimizations": len(history),
                "defaults": self.get_model_defaults(model),
                "optimization_metadata": content["optimization_metadata"],
            }
        return {
            "cmb_optimization_summary": per_model,
            "cross_model_consistency": self.cross_model_differences(),
            "store": str(self.root),
            "format_version": FORMAT_VERSION,
            "generated_utc": _iso(_utc_now()),
        }

    def export_optimization_summary(
        self, output_path: str | os.PathLike = "reports/optimization_summary.json"
    ) -> Path:
        """Write :meth:`summary` as JSON (atomically) and return its path."""
        return write_json(output_path, self.summary())

    def reset(self, model: str) -> None:
        """Put ``model`` back to its built-in defaults (history cleared), under the lock."""
        self._check_model(model)
        with self._locked(model):
            self._write(model, self._fresh(model))

    def check(self) -> dict[str, str]:
        """Inspect every model's file without changing anything: ``"ok"``, ``"missing"``
        (built-in defaults), ``"corrupt: <reason>"`` or ``"newer format: <message>"``."""
        out = {}
        for model in self.models:
            path = self.path(model)
            try:
                raw = self._read_raw(path)
                if raw is None:
                    out[model] = "missing"
                    continue
                self._parse(model, path, raw)
                out[model] = "ok"
            except _Corrupt as exc:
                out[model] = f"corrupt: {exc}"
            except StoreVersionError as exc:
                out[model] = f"newer format: {exc}"
        return out
