"""Tests of what the CNN sees (jaxfit.lensing.batches): channel modes, the 8 symmetries of
the square as augmentation, and the split by galaxy."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxfit.lensing import batches


def test_channel_modes_zero_the_right_channel():
    x = jnp.asarray(np.random.default_rng(6).random((3, 2, 8, 8)) + 0.1, jnp.float32)
    both = batches.apply_channel_mode(x, "both")
    flux = batches.apply_channel_mode(x, "flux_only")
    vel = batches.apply_channel_mode(x, "vel_only")
    np.testing.assert_array_equal(np.asarray(both), np.asarray(x))
    np.testing.assert_array_equal(np.asarray(flux[:, 0]), np.asarray(x[:, 0]))
    assert np.all(np.asarray(flux[:, 1]) == 0)
    np.testing.assert_array_equal(np.asarray(vel[:, 1]), np.asarray(x[:, 1]))
    assert np.all(np.asarray(vel[:, 0]) == 0)
    assert flux.dtype == jnp.float32
    jitted = jax.jit(batches.apply_channel_mode, static_argnums=1)
    np.testing.assert_array_equal(np.asarray(jitted(x, "vel_only")), np.asarray(vel))
    with pytest.raises(ValueError, match="channels"):
        batches.apply_channel_mode(x, "velocity")


def _d4(image):
    """The 8 symmetries of the square applied to a (C, N, N) image (numpy reference)."""
    out = []
    for k in range(4):
        r = np.rot90(image, k, axes=(-2, -1))
        out += [r, np.flip(r, axis=-1)]
    return out


def test_augmentation_permutes_pixels_and_keeps_labels(sources):
    images = jnp.asarray(np.random.default_rng(7).random((64, 2, 9, 9)), jnp.float32)
    labels = jnp.arange(64) % 2
    aug = np.asarray(batches.augment_batch(jax.random.key(0), images))
    seen = set()
    for i in range(64):
        # each output is one of the 8 rot90/flip images of its own input (so its label holds)
        matches = [j for j, t in enumerate(_d4(np.asarray(images[i])))
                   if np.array_equal(aug[i], t)]
        assert len(matches) == 1
        seen.add(matches[0])
        # a permutation of pixels: same multiset of values per channel
        np.testing.assert_array_equal(np.sort(aug[i].reshape(2, -1), axis=1),
                                      np.sort(np.asarray(images[i]).reshape(2, -1), axis=1))
    assert len(seen) == 8  # all symmetries occur in 64 draws
    # batch statistics are unchanged exactly; labels are not touched by augmentation
    np.testing.assert_allclose(aug.mean(axis=(0, 2, 3)), np.asarray(images).mean(axis=(0, 2, 3)),
                               rtol=1e-6)
    np.testing.assert_array_equal(np.asarray(labels), np.arange(64) % 2)
    jitted = jax.jit(batches.augment_batch)
    np.testing.assert_array_equal(np.asarray(jitted(jax.random.key(0), images)), aug)
    # on a real lensing source the flux stays non-negative and sums to the same total
    s = jnp.asarray(np.repeat(sources[:1], 4, axis=0))
    a = np.asarray(batches.augment_batch(jax.random.key(1), s))
    np.testing.assert_allclose(a.sum(axis=(2, 3)), np.asarray(s).sum(axis=(2, 3)), rtol=1e-5,
                               atol=1e-4)


def test_split_by_galaxy():
    sizes = lambda s: tuple(len(p) for p in batches.split_galaxies(s))  # noqa: E731
    assert sizes(6) == (4, 1, 1)
    assert sizes(3) == (1, 1, 1)
    assert sizes(10) == (6, 2, 2)
    assert sizes(4) == (2, 1, 1)
    train, val, test = batches.split_galaxies(8)
    assert set(train) | set(val) | set(test) == set(range(8))
    assert len(set(train) | set(val) | set(test)) == len(train) + len(val) + len(test)
    with pytest.raises(ValueError, match="sources.*at least 3"):
        batches.split_galaxies(2)


def test_split_sources_checks_and_names_the_split(sources):
    src, parts, split = batches.split_sources(sources, [f"g{i}" for i in range(6)])
    assert src.dtype == np.float32 and [len(p) for p in parts] == [4, 1, 1]
    assert split == {"train": ["g0", "g1", "g2", "g3"], "val": ["g4"], "test": ["g5"]}
    with pytest.raises(ValueError, match="sources"):
        batches.split_sources(sources.astype(np.int32))
    with pytest.raises(ValueError, match="source_ids"):
        batches.split_sources(sources, ["a"] * 6)
