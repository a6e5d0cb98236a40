"""The theory kernel of Sigma-Gravity: a metric-fluctuation resonance, integrated over wavelength.

Modified dynamics multiplies the baryonic acceleration by ``1 + K(R)``:
``g_eff = g_bar (1 + K)``, so a rotation curve is ``v_model^2 = v_bar^2 (1 + K(R))``.
Units: radii and wavelengths in kpc, speeds in km/s. The parameters (names, defaults,
bounds, units) are declared in :mod:`jaxfit.gravity.params` (:data:`THEORY_PARAMS`).

Theory kernel
-------------
A spectrum of metric fluctuations of wavelength ``lambda`` boosts an orbit of radius ``R``
when ``lambda`` resonates with the orbital circumference ``lambda_m = 2 pi R``::

    K0(R) = int d(ln lambda) P(lambda) C_res(lambda, R) C_coh(lambda) W_geom(R, lambda)

    P      = (lam_ref / lambda)^alpha exp(-lambda / lam_cut),   lam_ref = lam_min
    C_res  = Q^2 / (Q^2 + (lambda/lambda_m - lambda_m/lambda)^2), Q = (v_ref/sigma_v) / Q_ref
    C_coh  = exp(-(lambda / lam_coh)^2)
    W_geom = min(1, (R / lambda)^2)

over ``lambda`` in ``[lam_min, lam_max]`` (0.1-500 kpc). The seed writes an extra
``1/lambda`` inside the ``d(ln lambda)`` integral, but the research code integrates
``f / lambda`` over ``lambda``, i.e. ``f`` over ``ln lambda``, which is what is done here.
``sigma_v`` is the system's velocity dispersion (km/s): 30 for the Milky Way, 25 (or per
galaxy) for SPARC, 1000 for clusters. The kernel is ``K = phase_sign * A_global *
K0 / max|K0|``, times the Burr-XII envelope ``1 - (1 + (R/burr_ell0)^p)^(-n)`` when
``KernelConfig.burr`` is set.

Normalisation (``KernelConfig.normalization``): the research code took ``max|K0|`` over
whatever radii it was given, so ``K`` at a given ``R`` changed with the evaluation grid.
``"reference"`` (default) takes it over a fixed log-spaced grid of ``n_ref`` radii in
``[ref_r_min, ref_r_max]`` (256 in 0.1-50 kpc) at the same ``sigma_v`` and parameters, so
``K(R)`` is a function of ``R`` alone; ``"research"`` reproduces the research behaviour
(max over the last axis of the radii passed, padded entries excluded).

Quadrature (``KernelConfig.rule``): ``"trapezoid"`` is the research rule, ``n_lambda``
nodes evenly spaced in ``ln lambda``. ``"gauss-legendre"`` (default) is piecewise
Gauss-Legendre in ``ln lambda`` on five panels with edges at ``ln R`` (the kink of
``W_geom``) and ``ln lambda_m + (-Q, 0, +Q)`` (the resonance; its half maximum lies at
``|ln(lambda/lambda_m)| = asinh(Q/2)``, about ``Q/2`` for small ``Q``), clipped to the
``lambda`` range and sorted; each panel gets ``ceil(n_lambda / 5)`` nodes (80 for the
default 400). Why panels: a single 400-node rule across the kink at ``lambda = R`` is only
good to ~1e-5 relative at R = 0.3 kpc (~1e-6 at 1 kpc) and converges algebraically. Against
``scipy.integrate.quad`` the panels give 2e-15 at the default parameters (R 0.1-400 kpc,
sigma_v 10-1000 km/s) and < 1e-8 over the whole MW-fit parameter box, the worst case being
the narrow cluster resonance ``Q = 0.02`` (sigma_v = 1000 km/s, Q_ref = 10) at R = 0.2 kpc.
The research trapezoid is off by up to 1e-3 relative at the default parameters.

Derivatives: the Gauss-Legendre sum runs as one loop over the nodes of a panel (all panels
and radii at once), and its derivatives in the parameters, ``R`` and ``sigma_v`` are summed
in the same pass (a custom JVP, :func:`_wavelength_integral`), the nodes and weights moving
with the panel edges. They are the exact derivatives of the quadrature sum, equal to autodiff
through it to rounding (tested, Hessian included), at a fraction of the cost: autodiff kept
several (radii x nodes) arrays and made value + gradient ~7x the value on a CPU (~3x here),
and its long chain of node-wise operations dominated the compile time of every fit.

Cost (XLA:CPU, measured for issue 14): each node costs two exponentials and one division,
derivatives included (``C_res`` and the log-derivatives written in ``s = x^2``, ``x =
lambda / lambda_m``; every per-radius factor is computed once before the loop); value +
gradient in the four fitted spectrum parameters is ~2.4x the value. The loop runs over a
multiple of :data:`NODE_BLOCK` radii (padded, the copies dropped): over an odd number of
radii XLA:CPU's loop was 4-10x slower per radius (3391 SPARC points: ~20-45 ms, 3392:
~5 ms, same values).

Every function is pure JAX in float64; ``jit``, ``vmap`` and ``grad`` apply to every
radius, dispersion and parameter. Arrays broadcast: radii ``R`` of shape ``(G, N)`` (padded
galaxies, with a ``mask``) and ``sigma_v`` of shape ``(G, 1)`` evaluate all galaxies in one
call. A :class:`KernelConfig` (frozen, hashable) is a static argument.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from jaxfit.core import checks
from jaxfit.core.precision import require_float64
from jaxfit.core.quadrature import gauss_legendre, trapezoid
from jaxfit.gravity.params import THEORY_DEFAULTS, param_values

RULES = ("gauss-legendre", "trapezoid")
"""Quadrature rules of :class:`KernelConfig` (module doc)."""

NORMALIZATIONS = ("reference", "research")
"""Normalisations of :class:`KernelConfig` (module doc)."""

GL_PANELS = 5
"""Gauss-Legendre panels in ``ln lambda`` (edges: module doc)."""


@dataclasses.dataclass(frozen=True)
class KernelConfig:
    """Static settings of the theory kernel (hashable, so usable as a static argument).

    Attributes:
        lam_min, lam_max: wavelength range of the integral, kpc (``0 < lam_min < lam_max``);
            ``lam_min`` is also the spectrum's ``lam_ref``.
        n_lambda: quadrature nodes (>= 2): the trapezoid's samples, or the Gauss-Legendre
            budget, ``ceil(n_lambda / 5)`` per panel.
        rule: one of :data:`RULES`.
        v_ref: reference speed of the resonance quality ``Q``, km/s (> 0).
        normalization: one of :data:`NORMALIZATIONS`.
        ref_r_min, ref_r_max, n_ref: the ``"reference"`` normalisation's log-spaced radii,
            kpc (``0 < ref_r_min < ref_r_max``, ``n_ref >= 1``).
        burr: multiply the kernel by the Burr-XII envelope.
        burr_p, burr_n: envelope exponents (> 0).

    Raises:
        ValueError: naming the field, for an unknown rule or normalisation, a non-finite
            or out-of-range number, or a count that is not an int of at least its minimum.
    """

    lam_min: float = 0.1
    lam_max: float = 500.0
    n_lambda: int = 400
    rule: str = "gauss-legendre"
    v_ref: float = 200.0
    normalization: str = "reference"
    ref_r_min: float = 0.1
    ref_r_max: float = 50.0
    n_ref: int = 256
    burr: bool = True
    burr_p: float = 0.757
    burr_n: float = 0.5

    def __post_init__(self):
        checks.one_of(self.rule, "rule", RULES)
        checks.one_of(self.normalization, "normalization", NORMALIZATIONS)
        # stored in their checked form (float, int), so equal settings hash alike
        for name in ("lam_min", "lam_max", "ref_r_min", "ref_r_max", "v_ref", "burr_p", "burr_n"):
            object.__setattr__(self, name, checks.real(getattr(self, name), name, positive=True))
        for low, high in (("lam_min", "lam_max"), ("ref_r_min", "ref_r_max")):
            if not getattr(self, low) < getattr(self, high):
                raise ValueError(
                    f"{low} must satisfy 0 < {low} < {high}, got {low}={getattr(self, low)!r}, "
                    f"{high}={getattr(self, high)!r}"
                )
        for name, minimum in (("n_lambda", 2), ("n_ref", 1)):
            object.__setattr__(self, name, checks.count(getattr(self, name), name, minimum))
        if not isinstance(self.burr, bool):
            raise ValueError(f"burr must be a bool, got {self.burr!r}")

    def reference_radii(self) -> np.ndarray:
        """The ``"reference"`` normalisation's radii, kpc, shape ``(n_ref,)``."""
        return np.geomspace(self.ref_r_min, self.ref_r_max, self.n_ref)


DEFAULT_CONFIG = KernelConfig()


# --------------------------------------------------------------------- theory components
def spectrum_P(lam, alpha, lam_cut, lam_ref):
    """Fluctuation spectrum ``P = (lam_ref/lam)^alpha exp(-lam/lam_cut)`` (dimensionless).

    Args:
        lam: wavelength, kpc (> 0).
        alpha: spectral slope.
        lam_cut: exponential cut-off wavelength, kpc.
        lam_ref: wavelength where the power law is 1, kpc (the kernel uses ``lam_min``).
    """
    return (lam_ref / lam) ** alpha * jnp.exp(-lam / lam_cut)


def resonance_C_res(lam, R, Q):
    """Resonance filter ``Q^2 / (Q^2 + (x - 1/x)^2)``, ``x = lam / (2 pi R)`` (in [0, 1]).

    A Lorentzian in ``x - 1/x = 2 sinh(ln x)``: 1 at the orbital circumference
    ``lam = 2 pi R``, 1/2 where ``|x - 1/x| = Q``.

    Args:
        lam: wavelength, kpc (> 0).
        R: orbital radius, kpc (> 0).
        Q: quality ``(v_ref / sigma_v) / Q_ref`` (dimensionless); small ``Q`` = narrow.
    """
    lam_m = 2.0 * jnp.pi * R
    detune = lam / lam_m - lam_m / lam
    return Q**2 / (Q**2 + detune**2)


def coherence_C_coh(lam, lam_coh):
    """Coherence cut-off ``exp(-(lam/lam_coh)^2)``; lengths in kpc."""
    return jnp.exp(-((lam / lam_coh) ** 2))


def geometry_W(R, lam):
    """Geometric weight ``min(1, (R/lam)^2)``: 1 for ``lam < R``, ``(R/lam)^2`` beyond; kpc.

    Written as a minimum, not a branch, so it is continuous at ``lam = R`` and its gradient
    is defined everywhere (the kink is a panel edge of the Gauss-Legendre rule).
    """
    return jnp.minimum(1.0, (R / lam) ** 2)


def burr_envelope(R, ell0, p, n):
    """Burr-XII envelope ``1 - (1 + (R/ell0)^p)^(-n)``: 0 at ``R = 0``, rising to 1.

    Also the empirical kernels' coherence ``C(R; ell0, p, n_coh)``. Lengths in kpc;
    ``R >= 0`` (the gradient in ``R`` is infinite at ``R = 0`` for ``p < 1``).
    """
    return 1.0 - (1.0 + (R / ell0) ** p) ** (-n)


def resonance_quality(sigma_v, Q_ref, v_ref=DEFAULT_CONFIG.v_ref):
    """Resonance quality ``Q = (v_ref / sigma_v) / Q_ref``; speeds in km/s."""
    return v_ref / sigma_v / Q_ref


# -------------------------------------------------------------------------- theory kernel
def _gl_panels(R, Q, config: KernelConfig):
    """Gauss-Legendre panels in ``t = ln lambda`` at radii ``R`` and resonance quality
    ``Q`` (one shape S): their midpoints and half-widths, shape ``S + (5,)``, and the
    derivatives of both with respect to ``Q`` and ``ln R`` (for :func:`_node_sums`).

    Edges ``[a, min(ln R, ln lambda_m - Q), max(...), ln lambda_m, ln lambda_m + Q, b]``
    (``ln lambda_m = ln 2 pi + ln R``, ``a, b = ln lam_min, ln lam_max``; module doc) are
    clipped to ``[a, b]``: an edge outside collapses onto an end (empty panel, zero
    weights) and no longer moves. Inside, the edges move with ``Q`` by ``(0, -[first],
    -[second], 0, 1, 0)`` (whichever of the first two is ``ln lambda_m - Q``) and with
    ``ln R`` by ``(0, 1, 1, 1, 1, 0)``.
    """
    a, b = math.log(config.lam_min), math.log(config.lam_max)
    ln_R, ln_m = jnp.log(R), jnp.log(2.0 * jnp.pi * R)
    # ln R < ln lambda_m always, so only ln R and ln lambda_m - Q need ordering (a sort here
    # would be constant-folded, slowly, by XLA when R and Q are compile-time constants)
    edges = jnp.stack([jnp.full_like(R, a), jnp.minimum(ln_R, ln_m - Q),
                       jnp.maximum(ln_R, ln_m - Q), ln_m, ln_m + Q, jnp.full_like(R, b)], -1)
    zero, one = jnp.zeros_like(R), jnp.ones_like(R)
    first = (ln_m - Q < ln_R).astype(R.dtype)
    by_Q = jnp.stack([zero, -first, first - 1.0, zero, one, zero], -1)
    by_ln_R = jnp.stack([zero, one, one, one, one, zero], -1)
    inside = (edges > a) & (edges < b)
    edges = jnp.clip(edges, a, b)

    def mid_half(e):
        return 0.5 * (e[..., 1:] + e[..., :-1]), 0.5 * (e[..., 1:] - e[..., :-1])

    panels = dict(zip(("mid", "half"), mid_half(edges), strict=True))
    for name, moves in (("Q", by_Q), ("ln_R", by_ln_R)):
        d_mid, d_half = mid_half(jnp.where(inside, moves, 0.0))
        panels[f"mid_{name}"], panels[f"half_{name}"] = d_mid, d_half
    return panels


def _integrand(t, R, Q, alpha, lam_cut, lam_coh, config: KernelConfig):
    """``(lambda, f)`` at ``t = ln lambda``: ``f = P C_res C_coh W_geom`` of the module doc;
    the arguments broadcast together."""
    lam = jnp.exp(t)
    # P C_coh W_geom as one exponential of its logarithm: the same product as
    # spectrum_P * coherence_C_coh * geometry_W, but ~4x faster than three powers and
    # exponentials per node (this loop dominates every fit)
    log_smooth = (
        alpha * (math.log(config.lam_min) - t)
        - lam / lam_cut
        - (lam / lam_coh) ** 2
        + 2.0 * jnp.minimum(0.0, jnp.log(R) - t)
    )
    return lam, jnp.exp(log_smooth) * resonance_C_res(lam, R, Q)


NODE_BLOCK = 8
"""The node loop of :func:`_node_sums` runs over a multiple of this many radii (padded)."""

DERIVATIVES = ("R", "Q", "alpha", "lam_cut", "lam_coh")
"""Arguments of :func:`_wavelength_integral`, in order."""


def _log_derivatives(t, lam, R, Q, alpha, lam_cut, lam_coh, config: KernelConfig):
    """Derivatives of ``ln f`` at a fixed node ``t`` with respect to each of
    :data:`DERIVATIVES` (``ln R`` for ``R``), and along ``t`` (``"t"``)::

        d/d alpha   = ln lam_min - t
        d/d lam_cut = lambda / lam_cut^2
        d/d lam_coh = 2 lambda^2 / lam_coh^3
        d/d Q       = 2 u^2 / (Q (Q^2 + u^2)),          u = lambda/lambda_m - lambda_m/lambda
        d/d ln R    = 2 [lambda > R] + 2 u v / (Q^2 + u^2),  v = lambda/lambda_m + lambda_m/lambda
        d/d t       = -alpha - lambda/lam_cut - 2 (lambda/lam_coh)^2 - d/d ln R
    """
    lam_m = 2.0 * jnp.pi * R
    u, v = lam / lam_m - lam_m / lam, lam / lam_m + lam_m / lam
    by_ln_R = jnp.where(jnp.log(R) < t, 2.0, 0.0) + 2.0 * u * v / (Q**2 + u**2)
    return {
        "alpha": math.log(config.lam_min) - t,
        "lam_cut": lam / lam_cut**2,
        "lam_coh": 2.0 * lam**2 / lam_coh**3,
        "Q": 2.0 * u**2 / (Q * (Q**2 + u**2)),
        "R": by_ln_R,
        "t": -alpha - lam / lam_cut - 2.0 * (lam / lam_coh) ** 2 - by_ln_R,
    }


def _node_sums(R, Q, alpha, lam_cut, lam_coh, config: KernelConfig, wrt=()):
    """``{"K0": K0, name: dK0/d name}`` for ``name`` in ``wrt`` (a subset of
    :data:`DERIVATIVES`), all of the arguments' common shape S (``d/dR`` is returned as
    ``d/d ln R``, the caller divides by R).

    Gauss-Legendre: one loop over the nodes of a panel (all panels and radii at once, padded
    to a multiple of :data:`NODE_BLOCK` radii), so
    each node's integrand is computed once and every sum accumulates from it; no
    (radii x nodes) array is ever stored. A vectorised sum would keep several such arrays
    for its gradient, which on a CPU made the value and gradient 7-10x the value alone.
    Derivatives are those of the quadrature sum itself (the nodes and weights move with
    the panel edges, :func:`_gl_panels`): ``sum(w f (d ln f + (d ln f/dt) dt) + f dw)``.
    The trapezoid (research rule) sums over a (radii x nodes) array of fixed nodes.
    """
    args = (R, Q, alpha, lam_cut, lam_coh)
    shape = R.shape
    size = math.prod(shape)
    if size % NODE_BLOCK:
        # an odd number of radii made the node loop 4-10x slower per radius on XLA:CPU
        # (3391 SPARC points: 40 ms, 3392: 7 ms; module doc): flatten and pad to a multiple
        # of NODE_BLOCK with copies of the first radius, then drop the copies
        extra = NODE_BLOCK - size % NODE_BLOCK
        flat = [jnp.concatenate([x.reshape(-1), jnp.broadcast_to(x.reshape(-1)[:1], (extra,))])
                for x in args]
        sums = _node_sums(*flat, config, wrt)
        return {name: value[:size].reshape(shape) for name, value in sums.items()}
    if config.rule == "trapezoid":
        t = jnp.linspace(math.log(config.lam_min), math.log(config.lam_max), config.n_lambda)
        trailing = tuple(x[..., None] for x in args)
        lam, f = _integrand(t, *trailing, config)
        sums = {"K0": trapezoid(f, t, axis=-1)}
        if wrt:
            d = _log_derivatives(t, lam, *trailing, config)
            sums |= {name: trapezoid(f * d[name], t, axis=-1) for name in wrt}
        return sums

    panels = _gl_panels(R, Q, config)
    mid, half = panels["mid"], panels["half"]
    nodes, weights = (jnp.asarray(v) for v in gauss_legendre(-(-config.n_lambda // GL_PANELS)))
    # everything that does not change along the nodes, against the panel axis; the node
    # loop then costs two exponentials and one division per node, derivatives included
    # (the same f and d ln f as _integrand and _log_derivatives, written in s = x^2,
    # x = lambda / lambda_m: x - 1/x = (s - 1)/x, so C_res = Q^2 s / (Q^2 s + (s - 1)^2))
    ln_min = math.log(config.lam_min)
    ln_R, Q, alpha = jnp.log(R)[..., None], Q[..., None], alpha[..., None]
    inv_m = (1.0 / (2.0 * jnp.pi * R))[..., None]
    inv_cut, inv_coh = (1.0 / lam_cut)[..., None], (1.0 / lam_coh)[..., None]
    Q2 = Q * Q
    moves = {name: (panels[f"mid_{key}"], panels[f"half_{key}"])
             for name, key in (("Q", "Q"), ("R", "ln_R")) if name in wrt}
    factor = {"Q": 2.0 / Q, "lam_cut": inv_cut, "lam_coh": 2.0 * inv_coh}

    def add_node(k, sums):
        t = mid + half * nodes[k]
        lam = jnp.exp(t)
        s = jnp.square(lam * inv_m)
        detune = s - 1.0
        inv_d = 1.0 / (Q2 * s + detune * detune)
        cut, coh = lam * inv_cut, jnp.square(lam * inv_coh)
        f = jnp.exp(alpha * (ln_min - t) - cut - coh + 2.0 * jnp.minimum(0.0, ln_R - t)) * (
            Q2 * s * inv_d)
        wf = (half * weights[k]) * f
        out = {"K0": sums["K0"] + wf}
        if not wrt:
            return out
        by_ln_R = jnp.where(ln_R < t, 2.0, 0.0) + 2.0 * detune * (s + 1.0) * inv_d
        d = {"alpha": ln_min - t, "lam_cut": cut, "lam_coh": coh,
             "Q": detune * detune * inv_d, "R": by_ln_R}
        by_t = -alpha - cut - 2.0 * coh - by_ln_R
        for name in wrt:
            term = wf * (d[name] * factor[name] if name in factor else d[name])
            if name in moves:  # the node and its weight move with the panel edges
                d_mid, d_half = moves[name]
                term = term + wf * by_t * (d_mid + d_half * nodes[k]) + f * d_half * weights[k]
            out[name] = sums[name] + term
        return out

    zeros = {name: jnp.zeros_like(mid) for name in ("K0", *wrt)}
    sums = jax.lax.fori_loop(0, nodes.shape[0], add_node, zeros)
    return {name: jnp.sum(value, axis=-1) for name, value in sums.items()}  # over panels


@functools.partial(jax.custom_jvp, nondiff_argnums=(5,))
def _wavelength_integral(R, Q, alpha, lam_cut, lam_coh, config: KernelConfig):
    """``K0 = int d(ln lambda) f`` (module doc) at radii ``R`` (kpc), resonance quality
    ``Q`` and spectrum parameters ``alpha``, ``lam_cut``, ``lam_coh`` (kpc), all of one
    shape; by the quadrature rule of ``config``."""
    return _node_sums(R, Q, alpha, lam_cut, lam_coh, config)["K0"]


def _wavelength_integral_jvp(config: KernelConfig, primals, tangents):
    """Derivatives of ``K0`` from the same pass over the nodes as its value
    (:func:`_node_sums`), only for the arguments that are differentiated. Reverse mode
    then keeps one number per radius and argument instead of autodiff's (radii x nodes)
    arrays; forward mode (Hessians) differentiates this rule in turn."""
    zero = jax.custom_derivatives.SymbolicZero
    moving = [name for name, dx in zip(DERIVATIVES, tangents, strict=True)
              if not isinstance(dx, zero)]
    sums = _node_sums(*primals, config, wrt=tuple(moving))
    R = primals[0]
    terms = [sums[name] * (1.0 / R if name == "R" else 1.0) * tangents[DERIVATIVES.index(name)]
             for name in moving]
    tangent = functools.reduce(jnp.add, terms) if terms else jnp.zeros_like(sums["K0"])
    return sums["K0"], tangent


_wavelength_integral.defjvp(_wavelength_integral_jvp, symbolic_zeros=True)


@functools.partial(jax.jit, static_argnames="config")
def _kernel_K0(R, sigma_v, values, config: KernelConfig):
    Q = resonance_quality(sigma_v, values["Q_ref"], config.v_ref)
    args = jnp.broadcast_arrays(R, Q, *(values[k] for k in ("alpha", "lam_cut", "lam_coh")))
    return _wavelength_integral(*args, config)


def kernel_K0(R, sigma_v, params, config: KernelConfig = DEFAULT_CONFIG):
    """Unnormalised kernel ``K0(R)``: the ``ln lambda`` integral of the module doc.

    Args:
        R: radii, kpc (> 0).
        sigma_v: velocity dispersion, km/s (> 0); broadcasts with ``R``.
        params: ``{name: value}`` over :data:`THEORY_PARAMS` (missing names take
            :data:`THEORY_DEFAULTS`); uses ``alpha``, ``lam_coh``, ``lam_cut``, ``Q_ref``.
            Values may be arrays broadcasting with ``R``.
        config: wavelength range, quadrature rule and ``v_ref`` (static).

    Returns:
        ``K0`` (dimensionless), shape ``broadcast(R, sigma_v, params).shape``.

    Raises:
        ValueError: an unknown parameter name (the message lists the valid ones).
        TypeError: float32 input or float64 switched off.
    """
    values = param_values(params, THEORY_DEFAULTS, "theory")
    R, sigma_v = require_float64(R, "R"), require_float64(sigma_v, "sigma_v")
    return _kernel_K0(R, sigma_v, values, config)


def _normalisation(K0, sigma_v, values, mask, config: KernelConfig):
    """``max|K0|`` over the reference radii or, for ``"research"``, over the last axis."""
    if config.normalization == "reference":
        # sigma_v and the parameters get a trailing axis that runs over the reference radii
        expanded = {k: v[..., None] for k, v in values.items()}
        reference = _kernel_K0(config.reference_radii(), sigma_v[..., None], expanded, config)
        # the barrier keeps XLA from fusing the lambda sum into this max, which made the
        # pair ~3x slower on CPU than the sum alone
        return jnp.max(jnp.abs(jax.lax.optimization_barrier(reference)), axis=-1)
    if K0.ndim == 0:
        raise ValueError("normalization='research' needs radii along a last axis, got a scalar R")
    magnitude = jnp.abs(K0) if mask is None else jnp.where(mask, jnp.abs(K0), 0.0)
    norm = jnp.max(magnitude, axis=-1, keepdims=True)
    # a galaxy with no valid radius has nothing to normalise; avoid 0/0
    return jnp.where(norm > 0.0, norm, 1.0)


@functools.partial(jax.jit, static_argnames="config")
def _theory_kernel(R, sigma_v, values, phase_sign, mask, config: KernelConfig):
    if mask is not None:
        # padded radii may be 0 or NaN; a harmless stand-in keeps values and gradients finite
        R = jnp.where(mask, R, 1.0)
    K0 = _kernel_K0(R, sigma_v, values, config)
    K = phase_sign * values["A_global"] * K0 / _normalisation(K0, sigma_v, values, mask, config)
    if config.burr:
        K = K * burr_envelope(R, values["burr_ell0"], config.burr_p, config.burr_n)
    return K if mask is None else jnp.where(mask, K, 0.0)


def theory_kernel(
    R, sigma_v, params, config: KernelConfig = DEFAULT_CONFIG, phase_sign=1.0, mask=None
):
    """Theory kernel ``K = phase_sign A_global K0/max|K0|`` (times the Burr envelope).

    Args:
        R: radii, kpc (> 0 where valid), e.g. ``(G, N)`` padded galaxies.
        sigma_v: velocity dispersion, km/s; broadcasts with ``R`` (e.g. ``(G, 1)``).
        params: ``{name: value}`` over :data:`THEORY_PARAMS`; missing names take
            :data:`THEORY_DEFAULTS`. Values broadcast like ``sigma_v``.
        config: quadrature, normalisation and envelope (static; module doc).
        phase_sign: +1 or -1 (the MW fit reports the sign that aligns with its target).
        mask: optional bool array broadcasting with ``R``, True where a radius is real.
            Padded entries return 0, never enter the ``"research"`` maximum, and may hold
            any value (0, NaN) without spoiling values or gradients.

    Returns:
        ``K`` (dimensionless), shape ``broadcast(R, sigma_v, params).shape``. With
        ``"reference"`` normalisation ``K`` at a radius does not depend on the other
        radii passed; with ``"research"`` it is normalised along the last axis.

    Raises:
        ValueError: an unknown parameter name, or a scalar ``R`` with ``"research"``.
        TypeError: float32 input or float64 switched off.
    """
    values = param_values(params, THEORY_DEFAULTS, "theory")
    R, sigma_v = require_float64(R, "R"), require_float64(sigma_v, "sigma_v")
    phase_sign = require_float64(phase_sign, "phase_sign")
    mask = None if mask is None else jnp.asarray(mask, dtype=bool)
    return _theory_kernel(R, sigma_v, values, phase_sign, mask, config)


@functools.partial(jax.jit, static_argnames="config")
def _theory_kernel_points(R, sigma_index, sigma_values, values, phase_sign,
                          config: KernelConfig):
    K0 = _kernel_K0(R, sigma_values[sigma_index], values, config)
    # one reference maximum per distinct dispersion, gathered to the points
    norm = _normalisation(None, sigma_values, values, None, config)[sigma_index]
    K = phase_sign * values["A_global"] * K0 / norm
    if config.burr:
        K = K * burr_envelope(R, values["burr_ell0"], config.burr_p, config.burr_n)
    return K


def theory_kernel_points(R, sigma_index, sigma_values, params,
                         config: KernelConfig = DEFAULT_CONFIG, phase_sign=1.0):
    """:func:`theory_kernel` at a flat list of points whose dispersions take few values.

    For many galaxies with ragged radii (SPARC: 3391 points in 175 galaxies, padded to
    175 x 115 = 20125) this evaluates only the real points, and the ``"reference"``
    maximum once per distinct ``sigma_v`` instead of once per galaxy: with the default
    25 km/s for every galaxy, 1 x 256 reference radii instead of 175 x 256.

    Args:
        R: radii, kpc, shape ``(P,)``.
        sigma_index: int array ``(P,)``, the index into ``sigma_values`` of each point.
        sigma_values: distinct dispersions, km/s, shape ``(U,)``.
        params, config, phase_sign: as :func:`theory_kernel`; ``config.normalization``
            must be ``"reference"`` (the research maximum depends on the grouping).

    Returns:
        ``K`` at each point, shape ``(P,)``; equal to :func:`theory_kernel` there.
    """
    if config.normalization != "reference":
        raise ValueError("theory_kernel_points needs normalization='reference'; use "
                         "theory_kernel with a mask for the research normalisation")
    values = param_values(params, THEORY_DEFAULTS, "theory")
    R = require_float64(R, "R")
    sigma_values = require_float64(sigma_values, "sigma_values")
    index = jnp.asarray(sigma_index, dtype=jnp.int32)
    phase_sign = require_float64(phase_sign, "phase_sign")
    return _theory_kernel_points(R, index, sigma_values, values, phase_sign, config)
