"""The Flax (nnx) networks that detect lensing and subhalos in flux + velocity maps.

The research question (spec ``lensing.md``): given a MaNGA-like source (an H-alpha flux map
and a velocity field, shape ``(2, N, N)``) lensed by a foreground SIS, can a small CNN tell

* ``"lensed"``: a lensed image from the unlensed source (easy; research: ~100 %),
* ``"subhalo"``: a smooth SIS from SIS + subhalo (research: ~100 % with a strong, clean
  subhalo from flux; velocity alone near chance),
* ``"kinematic"``: the "kinematic advantage" design, where both classes share the flux map
  and differ only in velocity,

and does the velocity channel add anything beyond the flux morphology?

This module holds the networks (:class:`ResearchCNN`, :class:`DeepCNN`, :func:`make_model`),
in **float32** (``param_dtype`` float32, inputs cast to float32) even though importing jaxfit
switches JAX to 64-bit for the physics domains. The rest of the workflow lives one room up:
:mod:`~jaxfit.lensing.batches` (channel modes, augmentation, the split by galaxy),
:mod:`~jaxfit.lensing.metrics`, :mod:`~jaxfit.lensing.training`,
:mod:`~jaxfit.lensing.checkpoints`, :mod:`~jaxfit.lensing.sweep` and
:mod:`~jaxfit.lensing.results`; their public names stay importable from here.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from jaxfit.core import checks
from jaxfit.lensing import forward_moved_names

__all__ = ["ARCHS", "DeepCNN", "ResearchCNN", "count_params", "make_model"]

# moved to the modules of the training workflow, which import this one: forwarded on use
__getattr__ = forward_moved_names(__name__, {
    "jaxfit.lensing.batches": ("CHANNEL_MODES", "apply_channel_mode", "augment_batch",
                               "split_galaxies"),
    "jaxfit.lensing.checkpoints": ("load_checkpoint", "save_checkpoint"),
    "jaxfit.lensing.metrics": ("classification_metrics", "roc_auc"),
    "jaxfit.lensing.params": ("EXPERIMENTS",),
    "jaxfit.lensing.results": ("SweepResult", "TrainResult"),
    "jaxfit.lensing.sweep": ("sweep",),
    "jaxfit.lensing.training": ("TrainConfig", "train", "training_losses",
                                "training_throughput"),
})

ARCHS = ("research", "deep")
"""Architectures of :func:`make_model`."""


class ResearchCNN(nnx.Module):
    """The research architecture (float32).

    ``Conv(2->16, 3x3, pad 1) ReLU MaxPool2 Conv(16->32, 3x3, pad 1) ReLU
    global-average-pool Linear(32->2)``; 5,010 parameters for 2 input channels
    (2*16*9+16 + 16*32*9+32 + 32*2+2).

    Input: images ``(n, C, H, W)`` (NCHW, as simulated); output: logits ``(n, 2)``.
    Works for any H, W >= 2 (the pooling is global).
    """

    def __init__(self, rngs: nnx.Rngs, in_channels: int = 2, n_classes: int = 2):
        pad = ((1, 1), (1, 1))
        self.conv1 = nnx.Conv(in_channels, 16, (3, 3), padding=pad, param_dtype=jnp.float32,
                              rngs=rngs)
        self.conv2 = nnx.Conv(16, 32, (3, 3), padding=pad, param_dtype=jnp.float32, rngs=rngs)
        self.head = nnx.Linear(32, n_classes, param_dtype=jnp.float32, rngs=rngs)

    def __call__(self, x):
        x = jnp.transpose(jnp.asarray(x, jnp.float32), (0, 2, 3, 1))  # NCHW -> NHWC
        x = nnx.relu(self.conv1(x))
        x = nnx.max_pool(x, window_shape=(2, 2), strides=(2, 2))
        x = nnx.relu(self.conv2(x))
        x = jnp.mean(x, axis=(1, 2))
        return self.head(x)


class DeepCNN(nnx.Module):
    """A deeper option (float32): four conv blocks with batch normalisation.

    ``[Conv3x3 -> BatchNorm -> ReLU -> MaxPool2] x 3`` with ``widths[:3]`` channels, then
    ``Conv3x3 -> BatchNorm -> ReLU`` with ``widths[3]``, global-average-pool,
    ``Linear(widths[3] -> 64) ReLU Linear(64 -> 2)``. Default widths (16, 32, 64, 64).
    BatchNorm uses batch statistics in training (:meth:`train`) and running averages in
    evaluation (:meth:`eval`); the running averages are part of the checkpoint.
    Needs H, W >= 8 (three poolings).
    """

    def __init__(self, rngs: nnx.Rngs, in_channels: int = 2, n_classes: int = 2,
                 widths: tuple[int, int, int, int] = (16, 32, 64, 64)):
        pad = ((1, 1), (1, 1))
        chans = (in_channels, *widths)
        self.convs = nnx.List([
            nnx.Conv(chans[i], chans[i + 1], (3, 3), padding=pad, use_bias=False,
                     param_dtype=jnp.float32, rngs=rngs)
            for i in range(len(widths))
        ])
        self.norms = nnx.List([
            nnx.BatchNorm(w, momentum=0.9, param_dtype=jnp.float32, rngs=rngs) for w in widths
        ])
        self.fc = nnx.Linear(widths[-1], 64, param_dtype=jnp.float32, rngs=rngs)
        self.head = nnx.Linear(64, n_classes, param_dtype=jnp.float32, rngs=rngs)

    def __call__(self, x):
        x = jnp.transpose(jnp.asarray(x, jnp.float32), (0, 2, 3, 1))
        last = len(self.convs) - 1
        for i, (conv, norm) in enumerate(zip(self.convs, self.norms, strict=True)):
            x = nnx.relu(norm(conv(x)))
            if i < last:
                x = nnx.max_pool(x, window_shape=(2, 2), strides=(2, 2))
        x = jnp.mean(x, axis=(1, 2))
        return self.head(nnx.relu(self.fc(x)))


def make_model(arch: str = "research", rngs: nnx.Rngs | int = 0) -> nnx.Module:
    """Build ``ResearchCNN`` (``arch="research"``) or ``DeepCNN`` (``"deep"``).

    Args:
        arch: ``"research"`` or ``"deep"``.
        rngs: an ``nnx.Rngs`` or an integer seed for the parameter initialisation.
    """
    checks.one_of(arch, "arch", ARCHS)
    if not isinstance(rngs, nnx.Rngs):
        rngs = nnx.Rngs(params=int(rngs))
    return ResearchCNN(rngs) if arch == "research" else DeepCNN(rngs)


def count_params(model: nnx.Module) -> int:
    """Number of trainable parameters (``nnx.Param`` leaves) of ``model``."""
    return int(sum(np.size(v) for v in jax.tree_util.tree_leaves(nnx.state(model, nnx.Param))))
