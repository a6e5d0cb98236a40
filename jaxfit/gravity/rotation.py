"""Rotation curves of modified dynamics: ``v_model^2 = v_bar^2 (1 + K(R))``.

The baryonic speed ``v_bar`` comes from the SPARC components (:func:`v_bar_squared`), the
kernel ``K`` from :mod:`jaxfit.gravity.kernel`; the sigma gate (:func:`sigma_gate`) scales a
galaxy's amplitude by how cold its disc is. Speeds in km/s, radii in kpc; pure JAX in
float64.
"""

from __future__ import annotations

import jax.numpy as jnp

from jaxfit.core.precision import require_float64


def v_bar_squared(Vgas, Vdisk, Vbul, Y_d=1.0, Y_b=1.0, signed: bool = True):
    """Baryonic ``v_bar^2`` in (km/s)^2 from the SPARC components (km/s).

    ``signed=True``: ``Vgas|Vgas| + Y_d Vdisk|Vdisk| + Y_b Vbul|Vbul|``, so a negative
    component (net outward pull, e.g. a central gas hole) subtracts. ``signed=False``:
    plain squares, as the research code did. ``Y_d``, ``Y_b`` are mass-to-light ratios
    (research 1; SPARC convention 0.5 / 0.7).
    """
    parts = [require_float64(v, n) for v, n in ((Vgas, "Vgas"), (Vdisk, "Vdisk"), (Vbul, "Vbul"))]
    squares = [v * jnp.abs(v) if signed else v**2 for v in parts]
    return squares[0] + Y_d * squares[1] + Y_b * squares[2]


def v_model(v_bar2, K):
    """Model speed ``sqrt(max(v_bar2 (1 + K), 0))``, km/s, from ``v_bar2`` in (km/s)^2.

    Double-where: the square root only ever sees positive arguments, so the gradient is
    finite (zero) where ``v_bar2 (1 + K) <= 0`` instead of infinite or NaN.
    """
    boosted = require_float64(v_bar2, "v_bar2") * (1.0 + K)
    positive = boosted > 0.0
    return jnp.where(positive, jnp.sqrt(jnp.where(positive, boosted, 1.0)), 0.0)


def v_flat(v_bar, mask, n_last: int = 5):
    """Flat speed: median of the last ``n_last`` valid ``v_bar`` of each galaxy, km/s.

    Args:
        v_bar: speeds, km/s, shape ``(..., N)`` (radii increasing along the last axis).
        mask: bool, same shape, True where valid; valid entries need not be contiguous.
        n_last: how many of the outermost valid points to take (static int >= 1).

    Returns:
        Shape ``v_bar.shape[:-1]``; 0 for a galaxy with no valid point. A galaxy with
        fewer than ``n_last`` valid points takes the median of all of them.
    """
    v_bar = require_float64(v_bar, "v_bar")
    mask = jnp.asarray(mask, dtype=bool)
    count = jnp.sum(mask, axis=-1, keepdims=True)
    rank = jnp.cumsum(mask, axis=-1) - 1  # position among the valid points
    chosen = mask & (rank >= count - n_last)
    # unchosen entries sort to the end, so the k chosen values lead
    ordered = jnp.sort(jnp.where(chosen, v_bar, jnp.inf), axis=-1)
    k = jnp.clip(jnp.minimum(count, n_last), 1, None)
    low = jnp.take_along_axis(ordered, (k - 1) // 2, axis=-1)
    high = jnp.take_along_axis(ordered, k // 2, axis=-1)
    return jnp.where(count > 0, 0.5 * (low + high), 0.0)[..., 0]


def sigma_gate(v_bar, mask, sigma, beta_sigma=1.0):
    """Sigma gate ``G = Q^beta / (1 + Q^beta)``, ``Q = v_flat / sigma`` (in [0, 1]).

    Multiplies the amplitude of a galaxy: cold, fast discs (large ``Q``) keep it, hot ones
    lose it.

    Args:
        v_bar, mask: as :func:`v_flat` (``(..., N)``, km/s).
        sigma: velocity dispersion, km/s, broadcasting with ``v_bar.shape[:-1]`` (e.g.
            ``(G,)``, not ``(G, 1)``; use ``G[..., None]`` against ``(G, N)`` kernels).
        beta_sigma: exponent ``beta``.

    Returns:
        ``G``, shape ``broadcast(v_bar.shape[:-1], sigma.shape)``.
    """
    Q = v_flat(v_bar, mask) / require_float64(sigma, "sigma")
    # 1 / (1 + Q^-beta) equals Q^beta / (1 + Q^beta) and stays finite at Q = 0 and Q = inf
    return 1.0 / (1.0 + Q ** (-beta_sigma))
