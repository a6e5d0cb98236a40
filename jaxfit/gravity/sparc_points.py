"""The SPARC points as flat arrays: every real point of a padded
:class:`~jaxfit.gravity.sparc.SparcBatch` once, with everything that does not depend on the
theory parameters precomputed on the host (baryonic ``v_bar^2``, the sigma gates, the
distinct dispersions). The SPARC objectives (:mod:`jaxfit.gravity.objective`) take them as
an argument. Units: kpc, km/s.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from jaxfit.core.parallel import constrain_batch, local_devices
from jaxfit.gravity.arrays import pytree
from jaxfit.gravity.rotation import sigma_gate
from jaxfit.gravity.sparc import SparcBatch


@pytree(["R", "Vobs", "errV", "v_bar2", "gas2", "disk2", "bulge2", "galaxy", "sigma_index",
          "gate", "n_points", "sigma_values"])
@dataclasses.dataclass(frozen=True, eq=False)
class SparcPoints:
    """The SPARC points as flat arrays, shape (P,), with everything that does not depend on
    the theory parameters precomputed (:func:`sparc_points`). A pytree of arrays only: the
    SPARC objectives take it as an argument, so another set of galaxies with the same
    shapes (P points, G galaxies, U distinct dispersions) reuses their compiled programs.

    Attributes:
        R, Vobs, errV: radius (kpc), observed speed and its error (km/s) of each point.
        v_bar2: baryonic ``v_bar^2`` ((km/s)^2) with the chosen M/L and sign convention;
            gas2, disk2, bulge2: the components at M/L = 1 (same convention), for
            :func:`fit_upsilon`.
        galaxy: index of each point's galaxy (0..G-1); n_points: real points per galaxy (G,).
        sigma_index, sigma_values: each point's dispersion as an index into the distinct
            values (km/s, shape (U,)), so the kernel normalisation runs once per distinct
            value.
        gate: per-point amplitude gate (1 without sigma gating).

    The real points come first; the arrays are padded after them (to a multiple of the
    local device count, or to ``n_points_total`` of :func:`sparc_points`) with copies of
    the last point assigned to the non-existent galaxy ``G``, which ``segment_sum`` drops,
    so :meth:`spread` can lay them over the devices.
    """

    R: jax.Array
    Vobs: jax.Array
    errV: jax.Array
    v_bar2: jax.Array
    gas2: jax.Array
    disk2: jax.Array
    bulge2: jax.Array
    galaxy: jax.Array
    sigma_index: jax.Array
    gate: jax.Array
    n_points: jax.Array
    sigma_values: jax.Array

    _PER_POINT = ("R", "Vobs", "errV", "v_bar2", "gas2", "disk2", "bulge2", "galaxy",
                  "sigma_index", "gate")

    @property
    def n_galaxies(self) -> int:
        """Number of galaxies ``G`` (a shape, so also known while tracing)."""
        return int(self.n_points.shape[0])

    @property
    def n_real(self) -> int:
        """Number of real (unpadded) points, from concrete ``n_points`` (not under jit)."""
        return int(np.sum(np.asarray(self.n_points)))

    def spread(self) -> SparcPoints:
        """Inside ``jit``: the per-point arrays laid over the local devices, so each
        computes the kernel at its share of the points (a no-op on one device)."""
        arrays = constrain_batch(tuple(getattr(self, k) for k in self._PER_POINT))
        return dataclasses.replace(self, **dict(zip(self._PER_POINT, arrays, strict=True)))


def _pad_points(arrays: dict, n_galaxies: int, size: int) -> dict:
    """Pad per-point arrays to ``size`` points with copies of the last point (valid inputs:
    no NaNs) assigned to the non-existent galaxy ``n_galaxies``."""
    extra = size - len(arrays["R"])
    if not extra:
        return arrays
    out = {k: np.concatenate([v, np.repeat(v[-1:], extra)]) for k, v in arrays.items()}
    out["galaxy"][-extra:] = n_galaxies
    return out


def _v_bar_squared_host(Vgas, Vdisk, Vbul, Y_d, Y_b, signed: bool) -> np.ndarray:
    """:func:`~jaxfit.gravity.model.v_bar_squared` in numpy ((km/s)^2), for the host-side
    preparation of the points: a JAX call would compile small programs for every new
    batch shape, so a second galaxy set would recompile even when its points do not."""
    square = (lambda v: v * np.abs(v)) if signed else np.square
    return square(Vgas) + Y_d * square(Vdisk) + Y_b * square(Vbul)


def sparc_points(
    batch: SparcBatch,
    *,
    Y_d: float = 1.0,
    Y_b: float = 1.0,
    signed: bool = True,
    use_sigma_gating: bool = False,
    beta_sigma: float = 1.0,
    n_points_total: int | None = None,
    n_dispersions: int | None = None,
) -> SparcPoints:
    """Flatten a padded :class:`~jaxfit.gravity.data.SparcBatch` (on the host, once).

    ``v_bar^2 = Vgas|Vgas| + Y_d Vdisk|Vdisk| + Y_b Vbul|Vbul|`` (``signed=False``: plain
    squares, the research code). With ``use_sigma_gating`` each galaxy's amplitude is
    multiplied by ``G = Q^beta / (1 + Q^beta)``, ``Q = v_flat / sigma_v``
    (:func:`~jaxfit.gravity.model.sigma_gate`; galaxies without a summary value have the
    default 25 km/s = sigma_ref); ``G`` depends on the baryons only, so it is fixed here.

    ``n_points_total`` pads the flat arrays to that many points (at least the real count;
    default: the next multiple of the local device count) and ``n_dispersions`` the
    distinct dispersions to that many (copies of the largest, whose normalisation is then
    computed but never used), so that different galaxy sets of G galaxies give arrays of
    the same shapes and share one compiled fit.
    """
    mask = np.asarray(batch.mask)
    galaxy, _ = np.nonzero(mask)
    parts = {name: np.asarray(getattr(batch, name), dtype=np.float64)
             for name in ("Vgas", "Vdisk", "Vbul")}
    v_bar2 = _v_bar_squared_host(parts["Vgas"], parts["Vdisk"], parts["Vbul"], Y_d, Y_b, signed)
    gate = np.ones(batch.n_galaxies)
    if use_sigma_gating:
        v_bar = np.sqrt(np.maximum(v_bar2, 0.0))
        gate = np.asarray(sigma_gate(v_bar, batch.mask, batch.sigma_v, beta_sigma))
    sigma_values, inverse = np.unique(np.asarray(batch.sigma_v), return_inverse=True)
    if n_dispersions is not None:
        if n_dispersions < len(sigma_values):
            raise ValueError(f"n_dispersions={n_dispersions} is below the {len(sigma_values)} "
                             "distinct sigma_v of the batch")
        sigma_values = np.concatenate(
            [sigma_values, np.repeat(sigma_values[-1:], n_dispersions - len(sigma_values))])
    flat = {name: np.asarray(getattr(batch, name))[mask]
            for name in ("R", "Vobs", "errV", "Vgas", "Vdisk", "Vbul")}
    arrays = {
        "R": flat["R"], "Vobs": flat["Vobs"], "errV": flat["errV"],
        "v_bar2": v_bar2[mask],
        **{k: _v_bar_squared_host(flat[c], 0.0, 0.0, 1.0, 1.0, signed)
           for k, c in (("gas2", "Vgas"), ("disk2", "Vdisk"), ("bulge2", "Vbul"))},
        "galaxy": galaxy, "sigma_index": inverse[galaxy], "gate": np.asarray(gate)[galaxy],
    }
    n_devices = len(local_devices())
    size = len(galaxy) + (-len(galaxy) % n_devices)
    if n_points_total is not None:
        if n_points_total < len(galaxy):
            raise ValueError(f"n_points_total={n_points_total} is below the {len(galaxy)} "
                             "real points of the batch")
        size = int(n_points_total)
    arrays = _pad_points(arrays, batch.n_galaxies, size)
    return SparcPoints(
        **{k: jnp.asarray(v) for k, v in arrays.items()},
        n_points=jnp.asarray(mask.sum(axis=1)),
        sigma_values=jnp.asarray(sigma_values),
    )
