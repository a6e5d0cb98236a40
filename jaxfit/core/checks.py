"""Validation of user input at the boundary: one helper per kind of check.

Every public function of every domain checks its arguments with these before any
computation, so a bad value fails at once with a message that names the input and says
what was expected, in one form everywhere::

    <name> must be <what was expected>, got <the value>

All helpers raise ``ValueError`` (``TypeError`` only where an object of the wrong class
was passed) and return the value in its checked form (float, int, float64 array, Path),
so a call reads ``sigma = checks.real(sigma, "sigma_v [km/s]", positive=True)``.

Traced JAX values cannot be inspected; :func:`host_array` returns None for them and the
array checks then take the value on trust (inside ``jit`` a bad value becomes NaN, which
the optimisers report as a failed start).
"""

from __future__ import annotations

import math
import numbers
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np


def _sign_text(positive: bool, nonnegative: bool) -> str:
    return " > 0" if positive else " >= 0" if nonnegative else ""


def real(
    value,
    name: str,
    *,
    positive: bool = False,
    nonnegative: bool = False,
    low: float | None = None,
    high: float | None = None,
) -> float:
    """``value`` as a finite float, optionally ``> 0``, ``>= 0`` or in ``[low, high]``.

    ``bool`` is refused (``True`` for a number is always a mistake), so is a string.
    """
    expected = f"a finite number{_sign_text(positive, nonnegative)}"
    if low is not None or high is not None:
        expected += f" in [{'-inf' if low is None else low}, {'inf' if high is None else high}]"
    if isinstance(value, (bool, np.bool_, str, bytes)):
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be {expected}, got {value!r}") from None
    if (
        not math.isfinite(out)
        or (positive and out <= 0.0)
        or (nonnegative and out < 0.0)
        or (low is not None and out < low)
        or (high is not None and out > high)
    ):
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    return out


def count(value, name: str, minimum: int = 1) -> int:
    """``value`` as a Python int ``>= minimum`` (a digit string is accepted, a bool or a
    float is not: ``n=2.5`` or ``n=True`` is a mistake, not a request to round)."""
    checked = int(value.strip()) if isinstance(value, str) and value.strip().isdigit() else value
    if isinstance(checked, (bool, np.bool_)) or not isinstance(checked, numbers.Integral) or (
        checked < minimum
    ):
        expected = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    return int(checked)


def host_array(value) -> np.ndarray | None:
    """``value`` as a float64 numpy array, or None when it is a JAX tracer (under jit)."""
    import jax

    if isinstance(value, jax.core.Tracer):
        return None
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"expected a number or an array of numbers, got {value!r}") from None


def finite_array(
    value,
    name: str,
    *,
    positive: bool = False,
    nonnegative: bool = False,
    ndim: int | None = None,
    nonempty: bool = True,
) -> np.ndarray:
    """``value`` as a float64 numpy array of finite numbers (optionally ``> 0`` or
    ``>= 0``, of a given ``ndim``, not empty); the message names the first bad entry."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an array of numbers, got {value!r}") from None
    if ndim is not None and array.ndim != ndim:
        raise ValueError(f"{name} must be a {ndim}-D array, got shape {array.shape}")
    if nonempty and array.size == 0:
        raise ValueError(f"{name} must not be empty")
    bad = ~np.isfinite(array)
    if positive:
        bad |= ~(array > 0.0)
    if nonnegative:
        bad |= ~(array >= 0.0)
    if np.any(bad):
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        where = f"[{', '.join(map(str, index))}]" if index else ""
        expected = f"finite{_sign_text(positive, nonnegative)}"
        raise ValueError(
            f"{name} must be {expected} everywhere, got {array[index]!r} at {name}{where}"
        )
    return array


def satisfies(value, name: str, condition, expected: str) -> None:
    """Check ``condition(array)`` on a host value (all entries, NaN fails); a traced value
    is taken on trust. ``expected`` completes "<name> must be ..."."""
    array = host_array(value)
    if array is None:
        return
    if not np.all(np.isfinite(array)) or not np.all(condition(array)):
        raise ValueError(f"{name} must be {expected}, got {array.tolist()!r}")


def one_of(value, name: str, choices: Iterable[str]) -> str:
    """``value`` if it is one of ``choices``."""
    choices = tuple(choices)
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(str, choices))}, got {value!r}")
    return value


def instance(value, name: str, cls: type | tuple[type, ...]):
    """``value`` if it is an instance of ``cls`` (``TypeError`` otherwise)."""
    if not isinstance(value, cls):
        expected = cls.__name__ if isinstance(cls, type) else " or ".join(c.__name__ for c in cls)
        raise TypeError(f"{name} must be a {expected}, got {type(value).__name__}")
    return value


def existing_file(path, what: str, hint: str = "") -> Path:
    """``path`` as a Path to an existing regular file (``FileNotFoundError`` naming ``what``
    when absent, followed by ``hint`` on where to get it; ``ValueError`` when it is a
    folder)."""
    path = Path(os.fspath(path)).expanduser()
    if path.is_dir():
        raise ValueError(f"{what} must be a file, got the folder {path}")
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}" + (f"; {hint}" if hint else ""))
    return path


def existing_folder(path, what: str) -> Path:
    """``path`` as a Path to an existing folder."""
    path = Path(os.fspath(path)).expanduser()
    if path.is_file():
        raise ValueError(f"{what} must be a folder, got the file {path}")
    if not path.is_dir():
        raise FileNotFoundError(f"{what} not found: {path}")
    return path


def writable_folder(path, what: str = "--out") -> Path:
    """``path`` as a Path to a folder this process can write into (it need not exist yet):
    checked before long work or a store write, so a run that cannot save its results fails
    before it costs anything or changes anything stored. Nothing is created: the check
    probes the nearest existing folder on the path (where the missing ones would be made),
    so a refused command leaves no empty folder behind.

    Raises:
        ValueError: ``path`` (or a parent) is a file.
        PermissionError: no file can be created there.
    """
    path = Path(os.fspath(path)).expanduser()
    existing = next(p for p in (path, *path.parents) if p.exists() or p == p.parent)
    if not existing.is_dir():
        raise ValueError(f"{what} must be a folder, got the file {existing}")
    # os.access ignores read-only mounts and says yes to root; a real probe file does not
    try:
        probe = tempfile.NamedTemporaryFile(dir=existing, prefix=".jaxfit-probe.")
    except OSError as err:
        raise PermissionError(f"{what} is not writable: {path} ({err.strerror})") from None
    probe.close()
    return path


def comma_list(text: str, name: str, choices: Iterable[str] | None = None) -> list[str]:
    """``"a, b,c"`` -> ``["a", "b", "c"]`` (empty items dropped; at least one required;
    each one of ``choices`` when given)."""
    items = [item.strip() for item in str(text).split(",") if item.strip()]
    if not items:
        raise ValueError(f"{name} must be a comma-separated list, got {text!r}")
    if choices is not None:
        for item in items:
            one_of(item, f"each item of {name}", choices)
    return items
