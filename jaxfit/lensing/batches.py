"""What the CNN sees: channel modes, augmentation, and the split of the galaxies.

Channel modes ``"both"``, ``"flux_only"`` and ``"vel_only"`` zero the unused channel, to ask
whether the velocity adds anything beyond the flux morphology. Augmentation draws one of the
8 symmetries of the square per image. Galaxies are split by source (the research's split by
plateifu: 4 train / 1 val / 1 test for 6 galaxies), so the test score measures
generalisation to an unseen galaxy.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxfit.core import checks

__all__ = ["CHANNEL_MODES", "apply_channel_mode", "augment_batch", "channel_weights",
           "split_galaxies", "split_sources"]

CHANNEL_MODES = ("both", "flux_only", "vel_only")
"""Which channels the CNN sees; the other one is zeroed."""

_CHANNEL_WEIGHTS = {"both": (1.0, 1.0), "flux_only": (1.0, 0.0), "vel_only": (0.0, 1.0)}


def channel_weights(channels: str):
    """The (flux, velocity) weights of a channel mode, float32 ``(2,)``: a traced argument
    of the compiled train step, so every mode shares one compilation."""
    checks.one_of(channels, "channels", CHANNEL_MODES)
    return jnp.asarray(_CHANNEL_WEIGHTS[channels], dtype=jnp.float32)


def apply_channel_mode(images, channels: str):
    """Zero the unused channel: ``"flux_only"`` zeroes channel 1, ``"vel_only"`` channel 0.

    Args:
        images: ``(n, 2, N, N)`` (flux, velocity).
        channels: ``"both"``, ``"flux_only"`` or ``"vel_only"``.
    """
    checks.one_of(channels, "channels", CHANNEL_MODES)
    if channels == "both":
        return images
    weights = jnp.asarray(_CHANNEL_WEIGHTS[channels], dtype=images.dtype)
    return images * weights[None, :, None, None]


def augment_batch(key, images):
    """Random element of the symmetry group of the square (rot90s and flips) per image.

    Each image is independently transposed, flipped vertically and flipped horizontally
    with probability 1/2 each; the 8 combinations are exactly the 4 rotations by 90 degrees
    and their mirror images, equally likely. Pixels are permuted, never changed, and both
    channels move together (the velocity is a line-of-sight scalar, so it needs no sign
    change). Vectorised over the batch (no Python loop over images).

    Args:
        key: a JAX PRNG key.
        images: ``(n, C, N, N)`` square images.
    """
    if images.ndim != 4 or images.shape[-1] != images.shape[-2]:
        raise ValueError(f"images: expected (n, C, N, N) square images, got {images.shape}")
    n = images.shape[0]
    flips = jax.random.bernoulli(key, 0.5, (3, n, 1, 1, 1))
    x = jnp.where(flips[0], jnp.swapaxes(images, -1, -2), images)
    x = jnp.where(flips[1], jnp.flip(x, axis=-2), x)
    return jnp.where(flips[2], jnp.flip(x, axis=-1), x)


def split_galaxies(n_sources: int, weights=(4.0, 1.0, 1.0)) -> tuple[np.ndarray, ...]:
    """Indices of the (train, val, test) galaxies, in the order the sources were given.

    ``n_val = max(1, round(S w_val / sum w))``, likewise ``n_test``, and the train split
    takes the rest (at least one galaxy). 6 galaxies with the default weights: 4 / 1 / 1.

    Raises:
        ValueError: fewer than 3 galaxies.
    """
    if n_sources < 3:
        raise ValueError(
            f"sources: the split by galaxy needs at least 3 galaxies (train/val/test), "
            f"got {n_sources}"
        )
    w = np.asarray(weights, dtype=np.float64)
    n_val = max(1, int(round(n_sources * w[1] / w.sum())))
    n_test = max(1, int(round(n_sources * w[2] / w.sum())))
    while n_sources - n_val - n_test < 1:
        if n_val >= n_test:
            n_val -= 1
        else:
            n_test -= 1
    n_train = n_sources - n_val - n_test
    idx = np.arange(n_sources)
    return idx[:n_train], idx[n_train:n_train + n_val], idx[n_train + n_val:]


def split_sources(sources, source_ids=None, weights=(4.0, 1.0, 1.0)):
    """Check the training sources and split them by galaxy (:func:`split_galaxies`).

    Args:
        sources: ``(S, 2, H, W)`` finite floating source tensors, ``S >= 3``.
        source_ids: ``S`` unique names (e.g. plateifu); default ``source0``, ``source1``...
        weights: relative (train, val, test) sizes.

    Returns:
        ``(sources as float32, (train, val, test) indices, {split: [ids]})``.
    """
    arr = np.asarray(sources)
    if arr.ndim != 4 or arr.shape[1] != 2 or min(arr.shape[2:]) < 2:
        raise ValueError(f"sources: expected shape (S, 2, H, W), got {arr.shape}")
    if not np.issubdtype(arr.dtype, np.floating):
        raise ValueError(f"sources: expected floating-point values, got dtype {arr.dtype}")
    checks.finite_array(arr, "sources")
    if source_ids is None:
        source_ids = [f"source{i}" for i in range(arr.shape[0])]
    source_ids = [str(s) for s in source_ids]
    if len(source_ids) != arr.shape[0]:
        raise ValueError(
            f"source_ids: expected {arr.shape[0]} ids (one per source), got {len(source_ids)}"
        )
    if len(set(source_ids)) != len(source_ids):
        raise ValueError("source_ids: ids must be unique")
    parts = split_galaxies(arr.shape[0], weights)
    split = {name: [source_ids[i] for i in p]
             for name, p in zip(("train", "val", "test"), parts, strict=True)}
    return arr.astype(np.float32), parts, split
