"""Sigma-Gravity kernels: the metric-fluctuation resonance theory kernel and the empirical ones.

Modified dynamics multiplies the baryonic acceleration by ``1 + K(R)``:
``g_eff = g_bar (1 + K)``, so a rotation curve is ``v_model^2 = v_bar^2 (1 + K(R))``.
Units: radii and wavelengths in kpc, speeds in km/s, masses in Msun
(:data:`G_NEWTON` in kpc km^2 s^-2 Msun^-1); accelerations of the published kernel in m/s^2.

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

Empirical kernels
-----------------
- Research multiplier (:func:`empirical_multiplier`): ``f = 1 + A C(R) W(2 pi R)`` with the
  Burr-XII coherence ``C(R)`` (:func:`burr_envelope`) and a log-normal window ``W`` around
  ``lam_peak``; ``K_emp = f - 1``.
- Published Sigma-Gravity galaxy kernel (:func:`sigma_gravity_kernel`):
  ``K = A0 (g_dag / g_bar)^p C(R; ell0, p, n_coh)``. Its optional bulge, shear and bar gates
  are left out. Clusters (:func:`cluster_kernel`): ``K = A_c C(R)``.

Every function is pure JAX in float64; ``jit``, ``vmap`` and ``grad`` apply to every
radius, dispersion and parameter. Arrays broadcast: radii ``R`` of shape ``(G, N)`` (padded
galaxies, with a ``mask``) and ``sigma_v`` of shape ``(G, 1)`` evaluate all galaxies in one
call. A :class:`KernelConfig` (frozen, hashable) is a static argument.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import numbers
from types import MappingProxyType

import jax
import jax.numpy as jnp
import numpy as np

from jaxfit.constants import GM_SUN_M3_S2, KPC_M
from jaxfit.core.precision import require_float64
from jaxfit.core.quadrature import gauss_legendre, trapezoid

G_NEWTON = GM_SUN_M3_S2 / KPC_M / 1.0e6
"""Newton's constant [kpc km^2 s^-2 Msun^-1] = GM_sun / (1 kpc) in km^2/s^2 = 4.30091727e-6,
the one value every gravity module uses. The spec's rounded 4.30091e-6 differs by 1.7e-6
relative; the unrounded value makes Sigma_crit match astropy's constants to 1e-6."""

KMS2_PER_KPC_TO_SI = 1e6 / KPC_M
"""One (km/s)^2 / kpc in m/s^2 (1e6 m^2/s^2 over one kpc in metres)."""

THEORY_PARAMS = ("A_global", "alpha", "lam_coh", "lam_cut", "burr_ell0", "Q_ref")
"""Parameters of :func:`theory_kernel`: amplitude, spectral slope, coherence and cut-off
wavelengths (kpc), Burr envelope scale (kpc), resonance-quality scale."""

THEORY_DEFAULTS = MappingProxyType(
    {
        "A_global": 1.0,
        "alpha": 3.5,
        "lam_coh": 5.0,
        "lam_cut": 300.0,
        # the empirical kernel's coherence length (research MW fit and published: ~5 kpc),
        # so with the default burr_p, burr_n the envelope is the empirical C(R)
        "burr_ell0": 5.0,
        "Q_ref": 1.0,
    }
)
"""Default theory parameters (read-only)."""

THEORY_BOUNDS = MappingProxyType(
    {
        "A_global": (-50.0, 50.0),
        "alpha": (-2.0, 8.0),
        "lam_coh": (0.5, 150.0),
        "lam_cut": (20.0, 3000.0),
        "burr_ell0": (2.0, 80.0),
        "Q_ref": (0.1, 10.0),
    }
)
"""Bounds of the research MW fit, ``name -> (lower, upper)`` (read-only; not enforced here)."""

EMPIRICAL_DEFAULTS = MappingProxyType(
    {"A": 1.5, "ell0": 5.0, "p": 0.75, "n_coh": 0.5, "lam_peak": 15.0, "sigma_ln": 1.0}
)
"""Defaults of the research multiplier (:func:`empirical_multiplier`; kpc for lengths)."""

RESEARCH_MW_EMPIRICAL = MappingProxyType(
    {"A": 5.6949, "ell0": 5.0, "p": 0.757, "n_coh": 0.5, "lam_peak": 94.452, "sigma_ln": 0.59009}
)
"""The research Milky Way fit of the multiplier (ell0, p, n_coh held fixed)."""

RULES = ("gauss-legendre", "trapezoid")
"""Quadrature rules of :class:`KernelConfig` (module doc)."""

NORMALIZATIONS = ("reference", "research")
"""Normalisations of :class:`KernelConfig` (module doc)."""

GL_PANELS = 5
"""Gauss-Legendre panels in ``ln lambda`` (edges: module doc)."""


def _check_real(config, name: str) -> None:
    value = getattr(config, name)
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite real number, got {value!r}")


def _check_int(config, name: str, minimum: int) -> None:
    # bool is an int subclass, but n_lambda=True is always a mistake
    value = getattr(config, name)
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")


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
        if self.rule not in RULES:
            raise ValueError(f"rule must be one of {', '.join(RULES)}; got {self.rule!r}")
        if self.normalization not in NORMALIZATIONS:
            raise ValueError(
                f"normalization must be one of {', '.join(NORMALIZATIONS)}; "
                f"got {self.normalization!r}"
            )
        for name in ("lam_min", "lam_max", "v_ref", "ref_r_min", "ref_r_max", "burr_p", "burr_n"):
            _check_real(self, name)
        for low, high in (("lam_min", "lam_max"), ("ref_r_min", "ref_r_max")):
            if not 0.0 < getattr(self, low) < getattr(self, high):
                raise ValueError(
                    f"{low} must satisfy 0 < {low} < {high}, got {low}={getattr(self, low)!r}, "
                    f"{high}={getattr(self, high)!r}"
                )
        for name in ("v_ref", "burr_p", "burr_n"):
            if getattr(self, name) <= 0.0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")
        _check_int(self, "n_lambda", 2)
        _check_int(self, "n_ref", 1)
        if not isinstance(self.burr, bool):
            raise ValueError(f"burr must be a bool, got {self.burr!r}")

    def reference_radii(self) -> np.ndarray:
        """The ``"reference"`` normalisation's radii, kpc, shape ``(n_ref,)``."""
        return np.geomspace(self.ref_r_min, self.ref_r_max, self.n_ref)


DEFAULT_CONFIG = KernelConfig()


def _param_values(params, defaults, what: str) -> dict:
    """``params`` completed with ``defaults`` as float64 arrays; unknown names raise."""
    params = {} if params is None else params
    unknown = [name for name in params if name not in defaults]
    if unknown:
        raise ValueError(
            f"unknown {what} parameter {', '.join(map(repr, unknown))}; "
            f"valid names: {', '.join(defaults)}"
        )
    return {name: require_float64(params.get(name, v), name) for name, v in defaults.items()}


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

    Gauss-Legendre: one loop over the nodes of a panel (all panels and radii at once), so
    each node's integrand is computed once and every sum accumulates from it; no
    (radii x nodes) array is ever stored. A vectorised sum would keep several such arrays
    for its gradient, which on a CPU made the value and gradient 7-10x the value alone.
    Derivatives are those of the quadrature sum itself (the nodes and weights move with
    the panel edges, :func:`_gl_panels`): ``sum(w f (d ln f + (d ln f/dt) dt) + f dw)``.
    The trapezoid (research rule) sums over a (radii x nodes) array of fixed nodes.
    """
    args = (R, Q, alpha, lam_cut, lam_coh)
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
    trailing = tuple(x[..., None] for x in args)  # against the panel axis

    def add_node(k, sums):
        t = mid + half * nodes[k]
        w = half * weights[k]
        lam, f = _integrand(t, *trailing, config)
        out = {"K0": sums["K0"] + w * f}
        if wrt:
            d = _log_derivatives(t, lam, *trailing, config)
        for name in wrt:
            term = w * f * d[name]
            if name in ("Q", "R"):  # the node and its weight move with the panel edges
                key = "Q" if name == "Q" else "ln_R"
                dt = panels[f"mid_{key}"] + panels[f"half_{key}"] * nodes[k]
                term = term + w * f * d["t"] * dt + f * panels[f"half_{key}"] * weights[k]
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
    values = _param_values(params, THEORY_DEFAULTS, "theory")
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
    values = _param_values(params, THEORY_DEFAULTS, "theory")
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
    values = _param_values(params, THEORY_DEFAULTS, "theory")
    R = require_float64(R, "R")
    sigma_values = require_float64(sigma_values, "sigma_values")
    index = jnp.asarray(sigma_index, dtype=jnp.int32)
    phase_sign = require_float64(phase_sign, "phase_sign")
    return _theory_kernel_points(R, index, sigma_values, values, phase_sign, config)


# ---------------------------------------------------------------------- empirical kernels
def orbital_window(R, lam_peak, sigma_ln):
    """Log-normal window ``exp(-0.5 ((ln(2 pi R) - ln lam_peak) / sigma_ln)^2)``; kpc."""
    return jnp.exp(-0.5 * ((jnp.log(2.0 * jnp.pi * R / lam_peak)) / sigma_ln) ** 2)


def empirical_kernel(R, params=None, sigma=None):
    """Research empirical kernel ``K_emp = f - 1 = A_eff C(R) W(2 pi R)`` (dimensionless).

    Computed directly, not as ``f - 1``, which would lose digits where ``K_emp`` is small.

    Args:
        R: radii, kpc (> 0).
        params: ``{name: value}`` over :data:`EMPIRICAL_DEFAULTS` (``A``, ``ell0`` kpc,
            ``p``, ``n_coh``, ``lam_peak`` kpc, ``sigma_ln``); missing names take the
            defaults, ``None`` all of them. :data:`RESEARCH_MW_EMPIRICAL` is the MW fit.
        sigma: optional velocity dispersion, km/s, broadcasting with ``R``: gates the
            amplitude, ``A_eff = A min(1, (30 / sigma)^0.4)``; ``None`` keeps ``A``.

    Raises:
        ValueError: an unknown parameter name.
    """
    v = _param_values(params, EMPIRICAL_DEFAULTS, "empirical")
    R = require_float64(R, "R")
    amplitude = v["A"]
    if sigma is not None:
        sigma = require_float64(sigma, "sigma")
        amplitude = amplitude * jnp.minimum(1.0, (30.0 / sigma) ** 0.4)
    coherence = burr_envelope(R, v["ell0"], v["p"], v["n_coh"])
    return amplitude * coherence * orbital_window(R, v["lam_peak"], v["sigma_ln"])


def empirical_multiplier(R, params=None, sigma=None):
    """Research multiplier ``f = 1 + A_eff C(R) W(2 pi R)``; arguments as
    :func:`empirical_kernel`."""
    return 1.0 + empirical_kernel(R, params, sigma)


def g_bar_si(v_bar_kms, R_kpc):
    """Baryonic acceleration ``v_bar^2 / R`` in m/s^2, from km/s and kpc."""
    v = require_float64(v_bar_kms, "v_bar_kms")
    return v**2 / require_float64(R_kpc, "R_kpc") * KMS2_PER_KPC_TO_SI


def sigma_gravity_kernel(R, g_bar, A0=0.591, ell0=4.993, p=0.757, n_coh=0.5, g_dag=1.2e-10):
    """Published Sigma-Gravity galaxy kernel ``K = A0 (g_dag/g_bar)^p C(R; ell0, p, n_coh)``.

    The optional bulge, shear and bar gates of the published kernel are left out.

    Args:
        R: radii, kpc.
        g_bar: baryonic acceleration, m/s^2 (> 0; :func:`g_bar_si`).
        A0: amplitude; ell0: coherence length, kpc; p, n_coh: exponents (``p`` is shared
            by the acceleration factor and the coherence ``C``, :func:`burr_envelope`).
        g_dag: acceleration scale, m/s^2.
    """
    R, g_bar = require_float64(R, "R"), require_float64(g_bar, "g_bar")
    return A0 * (g_dag / g_bar) ** p * burr_envelope(R, ell0, p, n_coh)


def cluster_kernel(R, A_c=4.6, ell0=200.0, p=0.757, n_coh=0.5):
    """Sigma-Gravity cluster kernel ``K = A_c C(R; ell0, p, n_coh)``; ``R``, ``ell0`` in kpc."""
    return A_c * burr_envelope(require_float64(R, "R"), ell0, p, n_coh)


# ------------------------------------------------------------------------ rotation curves
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
