"""Saving and loading trained CNNs, with what is needed to resume their training.

A checkpoint is one ``.npz``, written atomically after every epoch by
:func:`~jaxfit.lensing.training.train`:

- the model state (parameters and batch statistics) under its state paths joined by ``/``
  (``conv1/kernel``, ...), as in the first format, so :func:`load_checkpoint` reads both;
- the optimizer state under ``optimizer/`` (Adam's step count and first and second moments
  ``mu``, ``nu``, and its learning rate): resuming with the same moments is what makes
  ``N + M`` steps in two runs equal ``N + M`` steps in one;
- ``__meta__``, JSON: the format, the architecture, the training config and the
  ``progress`` of the run (steps and epochs done, the per-epoch metrics and per-step
  losses so far, the split and a hash of the sources), which :func:`load_training_state`
  returns for the training loop to continue from.

The data stream needs no state of its own: the training images of step ``i`` are drawn
from ``fold_in(train_key, i)``, so the step number and the seed in the config place it.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import TYPE_CHECKING

import jax.numpy as jnp
import numpy as np
from flax import nnx

from jaxfit.core import checks
from jaxfit.core.io import atomic_write_bytes
from jaxfit.lensing.cnn import make_model

if TYPE_CHECKING:
    from jaxfit.lensing.training import TrainConfig

__all__ = ["checkpoint_config", "checkpoint_meta", "load_checkpoint", "load_training_state",
           "save_checkpoint"]

CHECKPOINT_NAME = "checkpoint.npz"
"""The file name :func:`~jaxfit.lensing.training.train` writes in its ``out_dir``."""

_FORMAT = "jaxfit.lensing.cnn/2"  # model + optimizer state + progress
_MODEL_ONLY_FORMAT = "jaxfit.lensing.cnn/1"  # checkpoints written before resuming existed
_OPTIMIZER = "optimizer/"
_PROGRESS_KEYS = {"epoch", "sources_sha256"}  # what resuming reads before the arrays


def _flat(state: nnx.State) -> dict[str, nnx.Variable]:
    """The variables of an nnx state by their path joined with ``/``."""
    return {"/".join(map(str, k)): v for k, v in nnx.to_flat_state(state)}


def save_checkpoint(path, model: nnx.Module, optimizer: nnx.Optimizer, config: TrainConfig,
                    progress: dict) -> Path:
    """Write the model and optimizer state and the run's progress as ``.npz``, atomically.

    Args:
        path: the file to write (replaced whole or not at all).
        model, optimizer: the training state after the last completed step.
        config: the run's :class:`~jaxfit.lensing.training.TrainConfig`.
        progress: JSON-able dict of the training loop (``step``, ``epoch``, ...), returned
            as is by :func:`load_training_state`.
    """
    arrays = {name: np.asarray(v.get_value()) for name, v in _flat(nnx.state(model)).items()}
    arrays |= {_OPTIMIZER + name: np.asarray(v.get_value())
               for name, v in _flat(nnx.state(optimizer)).items()}
    meta = {"format": _FORMAT, "arch": config.arch, "config": config.to_dict(),
            "progress": progress}
    buffer = io.BytesIO()
    np.savez(buffer, __meta__=np.asarray(json.dumps(meta, default=str)), **arrays)
    return atomic_write_bytes(path, buffer.getvalue())


def _checkpoint_file(path) -> Path:
    """``path``, or ``path/checkpoint.npz`` when ``path`` is a run's folder."""
    path = Path(path).expanduser()
    return checks.existing_file(path / CHECKPOINT_NAME if path.is_dir() else path,
                                "checkpoint")


def _read(path) -> tuple[dict, dict[str, np.ndarray]]:
    """``(meta, arrays)`` of a jaxfit CNN checkpoint of either format."""
    try:
        with np.load(path, allow_pickle=False) as data:
            if not isinstance(data, np.lib.npyio.NpzFile):
                raise ValueError("a single .npy array, not an .npz archive")
            arrays = {k: data[k] for k in data.files}
    except Exception as exc:  # zipfile, zlib, numpy's format parser: each its own error
        raise ValueError(f"checkpoint {path}: corrupt file, not a readable .npz archive "
                         f"({type(exc).__name__}: {exc})") from None
    try:
        meta = json.loads(str(arrays.pop("__meta__")))
    except (KeyError, ValueError) as exc:
        raise ValueError(f"checkpoint {path}: no jaxfit CNN metadata (__meta__)") from exc
    if not isinstance(meta, dict):
        raise ValueError(f"checkpoint {path}: __meta__ must be a JSON object, got "
                         f"{type(meta).__name__}")
    if meta.get("format") not in (_FORMAT, _MODEL_ONLY_FORMAT):
        raise ValueError(f"checkpoint {path}: unknown format {meta.get('format')!r}")
    if not isinstance(meta.get("config"), dict):
        raise ValueError(f"checkpoint {path}: __meta__ has no config object")
    if meta["format"] == _FORMAT and not (
            isinstance(meta.get("progress"), dict) and _PROGRESS_KEYS <= set(meta["progress"])):
        raise ValueError(f"checkpoint {path}: __meta__ progress must be an object with "
                         f"{', '.join(sorted(_PROGRESS_KEYS))}")
    return meta, arrays


def _restore(path, node, arrays: dict[str, np.ndarray]) -> None:
    """Set every variable of ``node`` from ``arrays`` (names and shapes checked, dtypes
    kept)."""
    state = nnx.state(node)
    flat = _flat(state)
    if set(flat) != set(arrays):
        missing = sorted(set(flat) - set(arrays))
        extra = sorted(set(arrays) - set(flat))
        raise ValueError(f"checkpoint {path}: missing {missing}, unexpected {extra}")
    for name, variable in flat.items():
        expected = np.shape(variable.get_value())
        if arrays[name].shape != expected:
            raise ValueError(f"checkpoint {path}: {name} has shape {arrays[name].shape}, "
                             f"expected {expected}")
        variable.set_value(jnp.asarray(arrays[name], dtype=variable.get_value().dtype))
    nnx.update(node, state)


def checkpoint_meta(path) -> dict:
    """The ``__meta__`` of a checkpoint (format, ``arch``, ``config`` as a dict, and for a
    resumable one ``progress``); ``path`` is the ``.npz`` or the run's folder."""
    path = _checkpoint_file(path)
    return _read(path)[0]


def checkpoint_config(path) -> TrainConfig:
    """The :class:`~jaxfit.lensing.training.TrainConfig` a checkpoint was trained with
    (``path``: the ``.npz`` or the run's folder), validated like one given by hand.

    Raises:
        ValueError: naming the file: not a jaxfit CNN checkpoint, or a config record that
            is not a valid config (a missing or unknown field, a value out of range).
    """
    from jaxfit.lensing.training import TrainConfig  # training imports this module

    path = _checkpoint_file(path)
    record = _read(path)[0]["config"]
    try:
        return TrainConfig.from_dict(record)
    except (KeyError, TypeError, ValueError) as exc:
        text = f"missing field {exc.args[0]!r}" if isinstance(exc, KeyError) else str(exc)
        raise ValueError(f"checkpoint {path}: its training config is not valid ({text})"
                         ) from None


def load_checkpoint(path, config: TrainConfig | str) -> nnx.Module:
    """Rebuild the model of ``config.arch`` and restore the state saved by :func:`train`.

    Args:
        path: a ``checkpoint.npz`` written by :func:`save_checkpoint` / :func:`train` (either
            format), or the folder holding it.
        config: the run's :class:`TrainConfig` (or just the architecture name).

    Returns:
        The restored model, in evaluation mode.

    Raises:
        ValueError: not a jaxfit CNN checkpoint, another architecture, or missing /
            unexpected / wrongly shaped arrays.
    """
    arch = config if isinstance(config, str) else config.arch
    path = _checkpoint_file(path)
    meta, arrays = _read(path)
    if meta.get("arch") != arch:
        raise ValueError(
            f"checkpoint {path}: architecture {meta.get('arch')!r}, config asks {arch!r}")
    model = make_model(arch, nnx.Rngs(params=0))
    _restore(path, model, {k: v for k, v in arrays.items() if not k.startswith(_OPTIMIZER)})
    model.eval()
    return model


def load_training_state(path, model: nnx.Module, optimizer: nnx.Optimizer) -> dict:
    """Restore ``model`` and ``optimizer`` in place from a checkpoint; return its progress.

    Args:
        path: a checkpoint of the current format (``.npz`` or the run's folder).
        model, optimizer: freshly built for the checkpoint's config (the arrays must match
            their variables one to one).

    Returns:
        The ``progress`` dict given to :func:`save_checkpoint`.

    Raises:
        ValueError: a model-only checkpoint (written before optimizer state was saved), or
            arrays that do not match.
    """
    path = _checkpoint_file(path)
    meta, arrays = _read(path)
    if meta["format"] != _FORMAT:
        raise ValueError(f"checkpoint {path}: format {meta['format']!r} holds no optimizer "
                         f"state; training can resume only from {_FORMAT!r}")
    _restore(path, model, {k: v for k, v in arrays.items() if not k.startswith(_OPTIMIZER)})
    _restore(path, optimizer, {k[len(_OPTIMIZER):]: v for k, v in arrays.items()
                               if k.startswith(_OPTIMIZER)})
    return meta["progress"]
