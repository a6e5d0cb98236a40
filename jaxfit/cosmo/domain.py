"""The physical domain of the background models, checked at the eager API.

A redshift is ``z >= 0`` and a model is physical out to ``z`` only where it expands,
``E^2(z') = (H/H0)^2 > 0`` for every ``0 <= z' <= z``. Inside the parameter bounds this can
fail: LCDM with ``Ok0 = -0.3`` and ``Om0 <= 0.05`` has ``E^2 < 0`` around z ~ 3 (a closed
universe that recollapses before it could have expanded from there), where
``sqrt(E^2)`` -- and so every distance -- would be NaN.

Two rules, one per way of calling the model:

- **eager** calls with concrete values (a user asking for distances at given parameters)
  raise ``ValueError`` here, naming ``z`` or the parameters, before any NaN is computed;
- **traced** calls (inside ``jit``, ``grad``, ``vmap``) cannot raise on values; the chi2
  (:mod:`jaxfit.cosmo.objective`) then returns ``+inf``, with a finite gradient, for a point
  outside the domain: the point is excluded, and optimisers, scans and samplers treat it as
  infinitely bad. Values are taken on trust here.
"""

from __future__ import annotations

import numpy as np

from jaxfit.core import checks

GRID_POINTS = 512
"""Points of the ``ln(1+z)`` grid on which ``E^2 > 0`` is checked (plus the asked redshifts
themselves): E^2 is a low-order polynomial in ``1+z``, so a negative region narrower than
``1/512`` of the span would need parameters at a tangency, where the distances are finite."""


def redshifts(z, name: str = "z") -> np.ndarray | None:
    """``z`` as a float64 array after checking ``z >= 0`` and finite (the message names the
    first bad entry); None for a traced value (taken on trust)."""
    array = checks.host_array(z)
    if array is None:
        return None
    bad = ~(array >= 0.0) | ~np.isfinite(array)
    if np.any(bad):
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        where = f" at index {list(index)}" if index else ""
        raise ValueError(f"redshift ({name}{where}): must be finite and >= 0, "
                         f"got {float(array[index])!r}")
    return array


def require_expanding(z, v, model) -> None:
    """Raise ``ValueError`` unless ``E^2(z') > 0`` for ``0 <= z' <= max(z)`` (module doc).

    Args:
        z: the redshift(s) asked for (``z >= 0``); None or a traced value: nothing checked.
        v: the model's parameters ``{name: value}`` (traced values: nothing checked).
        model: the :class:`~jaxfit.cosmo.model.CosmoModel` whose ``E2`` is checked.
    """
    zs = None if z is None else checks.host_array(z)
    values = {n: checks.host_array(x) for n, x in v.items()}
    if zs is None or zs.size == 0 or any(x is None or x.ndim for x in values.values()):
        return  # traced, empty, or a batch of points (vmap by hand): the chi2's rule holds
    z_max = float(np.max(zs))
    grid = np.concatenate([np.expm1(np.linspace(0.0, np.log1p(z_max), GRID_POINTS)),
                           zs.ravel()])
    e2 = np.asarray(model.E2(grid, {n: float(x) for n, x in values.items()}))
    bad = ~(e2 > 0.0)
    if np.any(bad):
        i = int(np.argmax(bad))
        point = ", ".join(f"{n}={float(x):.6g}" for n, x in values.items())
        raise ValueError(
            f"{model.name} parameters ({point}): E^2(z) = (H/H0)^2 must be > 0 for "
            f"0 <= z <= {z_max:g}, got E^2({grid[i]:.4g}) = {e2[i]:.4g}: no expanding "
            "universe there, so the distances are undefined (e.g. raise Om0 or Ok0)"
        )
