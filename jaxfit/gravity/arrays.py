"""Host-side helpers shared by the gravity rooms: float64 arrays, pytree containers, and
the parsing of one number from a data file.

The data containers of gravity (SPARC batches, Milky Way curves, cluster sets, the data of
the objectives) are frozen dataclasses registered as JAX pytrees: their arrays are
arguments of the compiled programs, so other values of the same shapes compile nothing
new, while their static fields (names, settings that choose the physics) are part of the
program's identity and must be hashable.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jaxfit.core.precision import require_float64


def pytree(data_fields: Sequence[str], meta_fields: Sequence[str] = ()):
    """Class decorator registering a frozen dataclass as a JAX pytree with ``data_fields``
    as leaves (arrays) and ``meta_fields`` as static settings (module doc)."""

    def register(cls):
        return jax.tree_util.register_dataclass(
            cls, data_fields=list(data_fields), meta_fields=list(meta_fields)
        )

    return register


def f64(x) -> jax.Array:
    """``x`` as a float64 JAX array."""
    return jnp.asarray(x, dtype=jnp.float64)


def loaded_f64(values, name: str) -> jax.Array:
    """Values read from a file as a float64 JAX array; refuses when float64 is switched off
    (``name`` says which values)."""
    return require_float64(np.asarray(values, dtype=np.float64), name)


def parse_finite(token: str, at: str) -> float:
    """``float(token)``, or a ValueError naming the place ``at`` (file, line, column)."""
    try:
        value = float(token)
    except ValueError:
        raise ValueError(f"{at}: not a number: {token!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"{at}: non-finite value {token!r}")
    return value
