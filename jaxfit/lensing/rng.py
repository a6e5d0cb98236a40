"""Gaussian noise for the simulator: the numbers of ``jax.random.normal``, drawn faster.

The simulator draws ``2 N^2`` normals per image, and with JAX's own sampler that was the
largest cost of a simulated image on a CPU: JAX lowers the Threefry-2x32 hash on CPUs as a
rolled loop of five steps over the whole array (``use_rolled_loops``), so every step
writes and re-reads the full array of counters. :func:`normal` computes the *same numbers*
(bit for bit: same key, same shape, same values as ``jax.random.normal``, tested) with the
20 rounds unrolled into one elementwise expression that XLA fuses with its consumers (the
uniform's bit trick, ``erf_inv``, the image sum and the clip): no change of random stream.

It applies where ``jax.random.normal`` itself hashes counters with Threefry-2x32 in the
partitionable layout (the default since JAX 0.5, ``jax_threefry_partitionable``): each
output ``i`` (row-major) is ``threefry2x32(key, (hi(i), lo(i)))``, the two output words
XORed (32-bit) or concatenated (64-bit). For any other key implementation (``rbg``...),
the non-partitionable layout, or more than ``2^32`` outputs it calls ``jax.random.normal``.
Pure ``jax.numpy`` integer and float operations: the same program runs on GPUs (where it
is one fused kernel, as JAX's own unrolled GPU lowering is).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["normal", "threefry_bits"]

_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
_PARITY = np.uint32(0x1BD11BDA)


def _rotl(x, d: int):
    return (x << np.uint32(d)) | (x >> np.uint32(32 - d))


def _threefry2x32(k1, k2, x0, x1):
    """The Threefry-2x32 hash (20 rounds), unrolled: as JAX's
    ``_threefry2x32_lowering(..., use_rolled_loops=False)``; all arguments uint32,
    broadcast together."""
    ks = (k1, k2, k1 ^ k2 ^ _PARITY)
    x0, x1 = x0 + ks[0], x1 + ks[1]
    for step in range(5):
        for r in _ROTATIONS[step % 2]:
            x0 = x0 + x1
            x1 = _rotl(x1, r) ^ x0
        x0 = x0 + ks[(step + 1) % 3]
        x1 = x1 + ks[(step + 2) % 3] + np.uint32(step + 1)
    return x0, x1


def _is_threefry(key) -> bool:
    try:
        impl = jax.random.key_impl(key)
    except (TypeError, ValueError):
        return False
    return str(impl) == "threefry2x32" and jax.config.jax_threefry_partitionable


def threefry_bits(key_data, shape, width: int = 32):
    """``jax.random.bits(key, shape, uint{width})`` of Threefry keys from their key data
    (partitionable layout), shape ``key_data.shape[:-1] + shape``.

    Args:
        key_data: ``(..., 2)`` uint32, ``jax.random.key_data`` of Threefry keys.
        shape: the per-key shape (at most ``2^32`` elements).
        width: 32 or 64.
    """
    shape = tuple(shape)
    size = math.prod(shape)
    if size > 2**32:
        raise ValueError("threefry_bits draws at most 2^32 numbers per key")
    key_data = jnp.asarray(key_data, jnp.uint32)
    lead = key_data.shape[:-1]
    expand = (...,) + (None,) * len(shape)
    k1, k2 = key_data[..., 0][expand], key_data[..., 1][expand]
    lo = jax.lax.iota(jnp.uint32, size).reshape(shape) if shape else jnp.uint32(0)
    hi = jnp.zeros((), jnp.uint32)  # the counter's high word (< 2^32 outputs)
    b1, b2 = _threefry2x32(k1, k2, hi, lo)
    b1, b2 = (jnp.broadcast_to(b, lead + shape) for b in (b1, b2))
    if width == 32:
        return b1 ^ b2
    if width == 64:
        return (b1.astype(jnp.uint64) << np.uint64(32)) | b2.astype(jnp.uint64)
    raise ValueError(f"width must be 32 or 64, got {width}")


def normal(key, shape, dtype=jnp.float32):
    """``jax.random.normal(key, shape, dtype)``, the same numbers (module doc), for a
    single key or a batch of keys (then the result is ``key.shape + shape``, entry ``b``
    equal to ``jax.random.normal(key[b], shape, dtype)``).

    Args:
        key: typed PRNG key(s) or legacy uint32 key data.
        shape: per-key shape.
        dtype: float32 or float64 (others: ``jax.random.normal``).
    """
    shape = tuple(shape)
    dtype = jnp.dtype(dtype)
    if (not _is_threefry(key) or dtype not in (jnp.float32, jnp.float64)
            or math.prod(shape) > 2**32):
        return _fallback(key, shape, dtype)
    typed = jnp.issubdtype(getattr(key, "dtype", None), jax.dtypes.prng_key)
    key_data = jax.random.key_data(key) if typed else jnp.asarray(key)
    finfo = jnp.finfo(dtype)
    nbits, nmant = finfo.bits, finfo.nmant
    uint = jnp.uint32 if nbits == 32 else jnp.uint64
    bits = threefry_bits(key_data, shape, nbits)
    # jax.random.uniform(key, shape, dtype, lo, 1) with lo = nextafter(-1, 0), bit for bit
    one_bits = np.array(1.0, dtype).view(uint)
    floats = jax.lax.bitcast_convert_type((bits >> uint(nbits - nmant)) | one_bits, dtype)
    floats = floats - jnp.asarray(1.0, dtype)
    lo = np.nextafter(np.array(-1.0, dtype), np.array(0.0, dtype), dtype=dtype)
    lo_a, hi_a = jnp.asarray(lo, dtype), jnp.asarray(1.0, dtype)
    u = jax.lax.max(lo_a, floats * (hi_a - lo_a) + lo_a)
    return jnp.asarray(np.sqrt(2), dtype) * jax.lax.erf_inv(u)


def _fallback(key, shape, dtype):
    typed = jnp.issubdtype(getattr(key, "dtype", None), jax.dtypes.prng_key)
    batch = key.shape if typed else jnp.shape(key)[:-1]
    draw = lambda k: jax.random.normal(k, shape, dtype)  # noqa: E731
    for _ in batch:
        draw = jax.vmap(draw)
    return draw(key)
