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

File content
    the format of :mod:`jaxfit.cosmo.store_file` (``format_version`` 1: the defaults, the
    latest optimisation metadata, the history of :class:`OptimizationRecord`, a SHA-256
    checksum); :func:`jaxfit.cosmo.records.apply_update` makes the content of one update.

    ``optimization_metadata`` holds what the caller passed plus the keys the store fills in:
    ``timestamp`` and ``<dataset>_optimized`` (ISO 8601 UTC, e.g. ``cmb_optimized`` as in
    the seed), ``source_dataset``, ``optimized_params``, ``chi2_improvement``,
    ``convergence_status``, ``optimizer_info`` (default ``{}``) and ``covariance_scaling``
    (default 1.0). Non-finite numbers in the metadata are stored as the strings ``"inf"``,
    ``"nan"`` (strict JSON has no literal for them).

One fit, one stored point
    the stored defaults are always the whole point of one successful fit, the one of the
    newest history record (``final_values``): a fit reads its start with
    :meth:`~OptimizedParameterStore.read_point`, which also gives the file's ``version``
    (its checksum), stores every parameter of its fitted point, and passes that version as
    ``expected_version`` to :meth:`~OptimizedParameterStore.update_model_defaults`. The
    write is a compare-and-swap under the lock: if another fit stored its point meanwhile,
    :class:`StoreConflict` is raised, nothing is written, and the fit is re-run from the new
    stored point (:func:`jaxfit.cosmo.fit.optimize_parameters`). So concurrent fits with
    different free parameters never leave a mix of their points, no fit is lost (each
    builds on the point before it) and the history has one record per fit. The version is
    the content's hash, not a counter: content equal to what the fit read is the state the
    fit started from, so accepting it is right.

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
      file with the built-in defaults is written (under the lock). Reads with
      ``repair=False`` (dry runs, the regression check) only warn and use the built-in
      defaults: the file stays byte for byte as it was and nothing new is written.
    * A file written by a newer jaxfit (``format_version`` above :data:`FORMAT_VERSION`)
      raises :class:`StoreVersionError` and is left untouched.
    * The history keeps the newest ``max_history`` records (default 1000) so that the file
      stays small; the records of every update up to that number are kept.
"""

from __future__ import annotations

import datetime as _dt
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import filelock

from jaxfit.core import checks
from jaxfit.core.io import to_jsonable, write_json
from jaxfit.cosmo.records import (
    OptimizationRecord,
    apply_update,
    dataset_set,
    parse_timestamp,
    utc_iso,
    utc_now,
)
from jaxfit.cosmo.store_file import (
    FORMAT_VERSION,
    CorruptStoreFile,
    StoreConflict,
    StoreCorruptionWarning,
    StoreError,
    StoreLockTimeout,
    StoreVersionError,
    canonical_json,
    checksum,
    fresh_content,
    hold_lock,
    move_aside,
    parse_content,
    read_bytes,
    write_content,
)

__all__ = [
    "FORMAT_VERSION",
    "SHARED_PARAMETERS",
    "OptimizationRecord",
    "OptimizedParameterStore",
    "StoreConflict",
    "StoreConsistencyWarning",
    "StoreCorruptionWarning",
    "StoredPoint",
    "StoreError",
    "StoreLockTimeout",
    "StoreVersionError",
    "UnknownModelError",
    "UnknownParameterError",
    "checksum",
    "parse_timestamp",
    "resolve_store_dir",
]

SHARED_PARAMETERS = ("H0", "Om0", "Obh2", "ns")
"""Parameters that LCDM and PBUF share and that should agree between models."""


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


@dataclass(frozen=True)
class StoredPoint:
    """One read of a model's file: the point a fit starts from and the version its result
    must find when it is written back.

    Attributes:
        model: the model name.
        defaults: every parameter's stored value over the built-ins (units of the model's
            spec: H0 in km/s/Mpc, ...).
        metadata: ``optimization_metadata`` of the fit that stored ``defaults`` (None when
            never optimised).
        version: SHA-256 of the content read (the file's checksum), the token of the
            compare-and-swap in :meth:`OptimizedParameterStore.update_model_defaults`.
    """

    model: str
    defaults: dict[str, float]
    metadata: dict[str, Any] | None
    version: str


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

    def _locked(self, model: str):
        """Hold ``model``'s file lock (re-entrant within this store object)."""
        lock = self._locks.get(model)
        if lock is None:
            lock = self._locks[model] = filelock.FileLock(self.lock_path(model))
        self.root.mkdir(parents=True, exist_ok=True)
        return hold_lock(lock, self.lock_timeout, model)

    def _fresh(self, model: str) -> dict[str, Any]:
        return fresh_content(model, self.builtins[model])

    # ------------------------------------------------------------ read / write
    def _load(self, model: str, *, repair: bool = True) -> dict[str, Any]:
        """The stored content of ``model`` (fresh built-ins when there is no file).

        A corrupt file is moved aside and rebuilt under the lock when ``repair`` (else only
        a warning is given and the built-ins are returned, writing nothing).
        """
        path = self.path(model)
        try:
            raw = read_bytes(path)
            return self._fresh(model) if raw is None else parse_content(model, path, raw)
        except CorruptStoreFile as exc:
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
            raw = read_bytes(path)
            return self._fresh(model) if raw is None else parse_content(model, path, raw)
        except CorruptStoreFile as exc:
            reason = str(exc)
        aside = move_aside(path)
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

    def _write(self, model: str, content: dict[str, Any]) -> Path:
        return write_content(self.path(model), content)

    # ------------------------------------------------------------- public API
    def get_state(self, model: str) -> dict[str, Any]:
        """The full stored content of ``model`` (as in the file; built-ins if none)."""
        self._check_model(model)
        return self._load(model)

    def read_point(self, model: str, *, repair: bool = True) -> StoredPoint:
        """The defaults, metadata and version of ``model`` from one read of its file.

        ``repair=False`` never writes: a corrupt file is warned about and read as the
        built-in defaults (what a repair would give), and left byte for byte as it is.
        """
        self._check_model(model)
        content = self._load(model, repair=repair)
        stored = content["defaults"]
        return StoredPoint(
            model=model,
            defaults={k: float(stored.get(k, v)) for k, v in self.builtins[model].items()},
            metadata=content["optimization_metadata"],
            version=checksum(content),
        )

    def get_model_defaults(self, model: str) -> dict[str, float]:
        """The model's defaults: stored values over the built-ins.

        Raises:
            UnknownModelError (a KeyError): the model is unknown (valid ones listed).
            StoreVersionError: the file was written by a newer jaxfit.
        """
        return self.read_point(model).defaults

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
            value = checks.real(value, f"parameter {name!r} of {model!r}")
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
        *,
        expected_version: str | None = None,
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
            expected_version: the :attr:`StoredPoint.version` the fit started from; the
                write happens only if the file still has it (compare-and-swap, checked
                under the lock). None writes unconditionally.

        Returns:
            The record of this update (also for a dry run).

        Raises:
            UnknownModelError / UnknownParameterError (KeyError): bad names.
            ValueError: non-finite or out-of-bounds values, no parameters, or a failed
                optimisation (the stored defaults are then left untouched).
            StoreConflict: the file no longer has ``expected_version`` (nothing written).
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
        canonical_json(meta_in)  # refuse non-JSON content before touching anything
        if dry_run:
            content = self._load(model, repair=False)
            _, record = self._update(model, content, values, meta_in)
            return record
        with self._locked(model):
            content = self._load_locked(model)
            if expected_version is not None and checksum(content) != expected_version:
                raise StoreConflict(
                    f"parameter store file {self.path(model)} changed since the fit read its "
                    f"starting point (another fit of {model!r} was stored meanwhile); "
                    "nothing written"
                )
            new, record = self._update(model, content, values, meta_in)
            try:
                self._write(model, new)
            except OSError as exc:
                raise StoreError(
                    f"could not write the parameter store file {self.path(model)}: {exc}"
                ) from exc
        return record

    def _update(self, model, content, values, metadata):
        return apply_update(model, content, self.builtins[model], values, metadata,
                            self.max_history, FORMAT_VERSION)

    def get_optimization_history(self, model: str) -> list[OptimizationRecord]:
        """Every recorded update of ``model``, oldest first."""
        self._check_model(model)
        return [OptimizationRecord.from_dict(r) for r in self._load(model)["history"]]

    def is_optimized(self, model: str, dataset: str | Sequence[str]) -> bool:
        """Whether ``model`` has a successful optimisation against exactly ``dataset``.

        ``dataset`` is a name (``"cmb"``), a ``"+"``-joined combination or a list; the order
        of a combination does not matter.
        """
        want = dataset_set(dataset)
        return any(
            r.convergence_status == "success" and dataset_set(r.dataset) == want
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
        now = utc_now() if now is None else now
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
            "generated_utc": utc_iso(utc_now()),
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
                raw = read_bytes(path)
                if raw is None:
                    out[model] = "missing"
                    continue
                parse_content(model, path, raw)
                out[model] = "ok"
            except CorruptStoreFile as exc:
                out[model] = f"corrupt: {exc}"
            except StoreVersionError as exc:
                out[model] = f"newer format: {exc}"
        return out
