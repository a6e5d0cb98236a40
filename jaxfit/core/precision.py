"""Precision policy.

Physics in jaxfit runs in float64: lepton mass targets are known to 1e-8 relative and
cosmological distances are compared with astropy at 1e-6, both below float32's 1.2e-7
resolution once an integral has summed a few hundred terms. Importing :mod:`jaxfit` therefore
switches JAX to 64-bit (``jax_enable_x64``). Neural networks (the lensing CNN) choose
float32 explicitly for their own arrays.

The explicit switch is :func:`set_precision` (or ``JAXFIT_PRECISION=float32`` in the
environment before import). Functions that need float64 call :func:`require_float64`, which
raises instead of silently computing in float32.

A ``JAXFIT_PRECISION`` outside float64/float32 does not fail the import: that would be a
traceback before the CLI's error boundary exists. Import keeps float64 and remembers the
mistake; :func:`check_environment` raises it, and the CLI (before any command) and
:func:`require_float64` (before any physics) call it, so the value is never ignored.
"""

import os

import jax
import jax.numpy as jnp

_VALID = ("float64", "float32")
ENV_VAR = "JAXFIT_PRECISION"

_env_error: list[str] = []
"""The message about a bad ``JAXFIT_PRECISION`` seen at import (empty: none)."""


def set_precision(precision: str) -> None:
    """Select the default floating-point width for new JAX arrays.

    Args:
        precision: ``"float64"`` (default, required by the physics domains) or
            ``"float32"`` (faster on GPUs; physics functions will refuse to run).
    """
    if precision not in _VALID:
        raise ValueError(f"precision must be one of {_VALID}, got {precision!r}")
    jax.config.update("jax_enable_x64", precision == "float64")


def apply_default_policy() -> None:
    """Apply ``JAXFIT_PRECISION`` (default ``float64``); called once on import. A value
    outside float64/float32 keeps float64 and is raised by :func:`check_environment`."""
    value = os.environ.get(ENV_VAR, "").strip() or "float64"
    _env_error.clear()
    if value not in _VALID:
        _env_error.append(f"unknown precision (environment variable {ENV_VAR}={value!r}): "
                          f"{' or '.join(_VALID)} was expected (unset means float64)")
        value = "float64"
    set_precision(value)


def check_environment() -> None:
    """Raise ``ValueError`` when ``JAXFIT_PRECISION`` held a bad value at import."""
    if _env_error:
        raise ValueError(_env_error[0])


def float_dtype():
    """The floating dtype new arrays get under the current policy."""
    return jnp.float64 if jax.config.jax_enable_x64 else jnp.float32


def require_float64(x, name: str):
    """Return ``x`` as a float64 array, or raise if that is impossible.

    Raises:
        ValueError: if ``JAXFIT_PRECISION`` held a bad value at import.
        TypeError: if 64-bit mode is off, or ``x`` is a float32/float16 array (converting it
            would pretend to a precision the values do not have).
    """
    check_environment()
    if not jax.config.jax_enable_x64:
        raise TypeError(
            f"{name}: float64 is required but jaxfit's precision is float32; "
            "call jaxfit.core.precision.set_precision('float64')"
        )
    dtype = getattr(x, "dtype", None)
    if dtype is not None and jnp.issubdtype(dtype, jnp.floating) and jnp.dtype(dtype).itemsize < 8:
        raise TypeError(f"{name}: expected float64 values, got {jnp.dtype(dtype).name}")
    return jnp.asarray(x, dtype=jnp.float64)
