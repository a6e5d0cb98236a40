"""Tests of the simulator's noise (jaxfit.lensing.rng): the same numbers as jax.random.normal
and jax.random.bits, bit for bit, for single and batched keys, jitted or not, and the
fallback to jax.random.normal for other key implementations."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxfit  # noqa: F401  (switches on float64)
from jaxfit.lensing import rng


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
@pytest.mark.parametrize("shape", [(2, 16, 16), (7,), (3, 5), ()])
def test_normal_is_jax_random_normal_bit_for_bit(shape, dtype):
    for seed in (0, 1, 123456789):
        key = jax.random.key(seed)
        want = np.asarray(jax.random.normal(key, shape, dtype))
        got = rng.normal(key, shape, dtype)
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(np.asarray(got), want)
        jitted = jax.jit(rng.normal, static_argnums=(1, 2))(key, shape, dtype)
        np.testing.assert_array_equal(np.asarray(jitted), want)


@pytest.mark.parametrize("width, dtype", [(32, jnp.uint32), (64, jnp.uint64)])
def test_threefry_bits_are_jax_random_bits(width, dtype):
    key = jax.random.key(42)
    for shape in [(2, 8, 8), (5,), ()]:
        got = rng.threefry_bits(jax.random.key_data(key), shape, width)
        want = jax.random.bits(key, shape, dtype)
        np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
    with pytest.raises(ValueError, match="width"):
        rng.threefry_bits(jax.random.key_data(key), (3,), 16)


def test_normal_of_batched_and_vmapped_keys():
    keys = jax.random.split(jax.random.key(5), 4)
    want = np.asarray(jax.vmap(lambda k: jax.random.normal(k, (2, 8, 8), jnp.float32))(keys))
    np.testing.assert_array_equal(np.asarray(rng.normal(keys, (2, 8, 8), jnp.float32)), want)
    vmapped = jax.vmap(lambda k: rng.normal(k, (2, 8, 8), jnp.float32))(keys)
    np.testing.assert_array_equal(np.asarray(vmapped), want)


def test_legacy_keys_and_other_implementations():
    legacy = jax.random.PRNGKey(3)  # raw uint32 key data (threefry)
    np.testing.assert_array_equal(np.asarray(rng.normal(legacy, (4, 4), jnp.float32)),
                                  np.asarray(jax.random.normal(legacy, (4, 4), jnp.float32)))
    rbg = jax.random.key(0, impl="rbg")  # not Threefry: falls back to jax.random.normal
    assert not rng._is_threefry(rbg)
    np.testing.assert_array_equal(np.asarray(rng.normal(rbg, (4, 4), jnp.float32)),
                                  np.asarray(jax.random.normal(rbg, (4, 4), jnp.float32)))
    keys = jax.random.split(jax.random.key(1, impl="rbg"), 3)
    want = jax.vmap(lambda k: jax.random.normal(k, (2, 3), jnp.float32))(keys)
    np.testing.assert_array_equal(np.asarray(rng.normal(keys, (2, 3), jnp.float32)),
                                  np.asarray(want))


def test_normal_statistics():
    """Not only equal to JAX's: standard normal (mean, variance, tails) over 2^20 draws."""
    x = np.asarray(rng.normal(jax.random.key(7), (1024, 1024), jnp.float32), np.float64)
    assert abs(x.mean()) < 5e-3 and abs(x.var() - 1.0) < 5e-3
    assert abs((np.abs(x) > 3).mean() - 2.6998e-3) < 3e-4
