"""Objectives that take their data: ``fun(params, data)``.

Every jaxfit workflow minimises, scans or samples a pure JAX function
``fun(params, data) -> scalar`` where ``params`` is a ``{name: value}`` dict and ``data`` a
pytree of arrays (the optimistix ``fn(y, args)`` pattern). The core passes ``data`` to its
compiled programs as an *argument*, never as a constant baked into the program, so a
compiled fit, scan or Hessian depends only on the shapes and dtypes of ``data`` (and on any
static fields of its pytree nodes, e.g. a model name): another data set of the same shapes,
another frozen value or the same fit repeated from Python reuses it.

Strings and flags that choose *which* physics runs (a model name, a quadrature rule) belong
in static fields of the data pytree (``jax.tree_util.register_dataclass`` with
``meta_fields``), so they are part of the program's identity while the arrays are not.

An objective of the parameters alone, ``fun(params)``, still works: pass no ``data`` (or
``data=None``). It is then compiled once per function object, with whatever arrays it
closes over baked in.

A chi2 that is a sum of squared residuals can say so: ``least_squares(residuals)`` is the
objective ``chi2(params, data) = sum(residuals(params, data)**2)`` for every method, and
gives ``method="lm"`` (Levenberg-Marquardt, :mod:`jaxfit.core.lm`) the residual vector.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable

import jax.numpy as jnp

NO_DATA = ()
"""The data pytree given to a one-argument objective: an empty tuple, no leaves."""


def with_data(fun: Callable, data) -> tuple[Callable, object]:
    """``(f, data)`` with ``f(params, data)``, for ``fun`` given with or without data.

    ``data=None`` means ``fun`` is a function of the parameters alone; it is wrapped (once
    per function object, so compiled programs are reused) to ignore an empty data pytree.
    """
    if data is None:
        if isinstance(fun, LeastSquares):
            return least_squares(_ignoring_data(fun.residuals)), NO_DATA
        return _ignoring_data(fun), NO_DATA
    return fun, data


@functools.lru_cache(maxsize=256)
def _ignoring_data(fun: Callable) -> Callable:
    def fun_of_params(params, _data):
        return fun(params)

    return fun_of_params


@dataclasses.dataclass(frozen=True, eq=False)  # compared by identity: compiled programs
class LeastSquares:                             # are cached on the objective object
    """The objective ``chi2(params, data) = sum(residuals(params, data)**2)``.

    Called like any objective; ``method="lm"`` uses :attr:`residuals` (a 1-D array, e.g.
    the pulls ``(model - measured) / sigma``). Build it with :func:`least_squares`.
    """

    residuals: Callable

    def __call__(self, params, data):
        r = self.residuals(params, data)
        return jnp.dot(r, r)


@functools.lru_cache(maxsize=256)
def least_squares(residuals: Callable) -> LeastSquares:
    """The least-squares objective of ``residuals(params, data) -> 1-D array`` (one object
    per residual function, so compiled fits are reused)."""
    return LeastSquares(residuals)
