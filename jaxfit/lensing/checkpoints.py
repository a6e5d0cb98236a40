"""Saving and loading trained CNNs: the model state as one ``.npz``, written atomically."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import TYPE_CHECKING

import jax.numpy as jnp
import numpy as np
from flax import nnx

from jaxfit.core.io import atomic_write_bytes
from jaxfit.lensing.cnn import make_model

if TYPE_CHECKING:
    from jaxfit.lensing.training import TrainConfig

__all__ = ["load_checkpoint", "save_checkpoint"]

_CHECKPOINT_FORMAT = "jaxfit.lensing.cnn/1"  # the format's name: unchanged since the split


def save_checkpoint(path, model: nnx.Module, config: TrainConfig) -> Path:
    """Write the model state (parameters and batch statistics) as ``.npz``, atomically.

    Keys are the state paths joined by ``/``; ``__meta__`` holds the format, the
    architecture and the training config as JSON.
    """
    flat = {"/".join(map(str, k)): np.asarray(v.get_value())
            for k, v in nnx.to_flat_state(nnx.state(model))}
    meta = {"format": _CHECKPOINT_FORMAT, "arch": config.arch, "config": config.to_dict()}
    buffer = io.BytesIO()
    np.savez(buffer, __meta__=np.asarray(json.dumps(meta, default=str)), **flat)
    return atomic_write_bytes(path, buffer.getvalue())


def load_checkpoint(path, config: TrainConfig | str) -> nnx.Module:
    """Rebuild the model of ``config.arch`` and restore the state saved by :func:`train`.

    Args:
        path: a ``checkpoint.npz`` written by :func:`save_checkpoint` / :func:`train`.
        config: the run's :class:`TrainConfig` (or just the architecture name).

    Returns:
        The restored model, in evaluation mode.

    Raises:
        ValueError: not a jaxfit CNN checkpoint, another architecture, or missing /
            unexpected / wrongly shaped arrays.
    """
    arch = config if isinstance(config, str) else config.arch
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError) as exc:
        raise ValueError(f"checkpoint {path}: cannot read ({exc})") from exc
    try:
        meta = json.loads(str(arrays.pop("__meta__")))
    except (KeyError, json.JSONDecodeError) as exc:
        raise ValueError(f"checkpoint {path}: no jaxfit CNN metadata") from exc
    if meta.get("format") != _CHECKPOINT_FORMAT:
        raise ValueError(f"checkpoint {path}: unknown format {meta.get('format')!r}")
    if meta.get("arch") != arch:
        raise ValueError(
            f"checkpoint {path}: architecture {meta.get('arch')!r}, config asks {arch!r}")
    model = make_model(arch, nnx.Rngs(params=0))
    state = nnx.state(model)
    flat = dict(nnx.to_flat_state(state))
    names = {"/".join(map(str, k)): k for k in flat}
    if set(names) != set(arrays):
        missing = sorted(set(names) - set(arrays))
        extra = sorted(set(arrays) - set(names))
        raise ValueError(f"checkpoint {path}: missing {missing}, unexpected {extra}")
    for name, k in names.items():
        variable = flat[k]
        value = arrays[name]
        if value.shape != np.shape(variable.get_value()):
            raise ValueError(f"checkpoint {path}: {name} has shape {value.shape}, "
                             f"expected {np.shape(variable.get_value())}")
        variable.set_value(jnp.asarray(value, dtype=variable.get_value().dtype))
    nnx.update(model, state)
    model.eval()
    return model
