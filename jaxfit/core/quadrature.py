"""Fixed-node quadrature that stays traceable under ``jit``, ``vmap`` and ``grad``.

Every rule here has a node count fixed by a static Python int, so the shapes of the node and
weight arrays are known at trace time; only the interval ends (and the integrand) may be
traced. An integral is then ``sum(w * f(x))``, which differentiates with respect to the ends
and to any parameter closed over by ``f``.

Which rule to use:

- **Gauss-Legendre** (:func:`gl_rule`, :func:`integrate` default): ``n`` nodes integrate a
  polynomial of degree ``2n - 1`` exactly, and smooth (analytic) integrands converge
  exponentially in ``n``. The right choice whenever you can evaluate ``f`` where you like.
- **Log axis** (``log=True``): substitutes ``x = e^t`` (``dx = x dt``) and puts the nodes
  evenly in ``ln x``. Use it for integrands over many decades (power laws, spectra, distances
  out to high redshift): ``1/x`` becomes the constant 1, and a uniform rule in ``x`` would
  waste nearly all nodes on the top decade. Needs ``0 < a`` and ``0 < b``.
- **Panels** (``panels=p`` or explicit edges with :func:`gl_panels`): ``p`` Gauss-Legendre
  rules on adjacent sub-intervals. Gauss-Legendre converges slowly across a kink, a step or a
  narrow peak; put a panel edge on the kink (or several edges around the peak) and each panel
  sees a smooth integrand again.
- **Simpson / trapezoid** (:func:`simpson`, :func:`trapezoid`): for values already sampled
  on a grid (tabulated data, an ODE solution). Errors fall only as ``h^4`` / ``h^2``; prefer
  Gauss-Legendre when ``f`` can be called at arbitrary points.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from jaxfit.core import checks
from jaxfit.core.precision import float_dtype

RULES = ("gauss-legendre", "simpson", "trapezoid")


@functools.cache  # = lru_cache(maxsize=None); few distinct n in practice
def _leggauss(n: int) -> tuple[np.ndarray, np.ndarray]:
    nodes, weights = np.polynomial.legendre.leggauss(n)
    # the cached arrays are shared by every caller; make accidental mutation an error
    nodes.flags.writeable = False
    weights.flags.writeable = False
    return nodes, weights


def gauss_legendre(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes and weights on ``[-1, 1]`` (read-only numpy float64, cached).

    Args:
        n: number of nodes (a positive Python int); exact for polynomials of degree
            ``2n - 1``.

    Returns:
        ``(nodes, weights)``, each of shape ``(n,)``, nodes increasing.
    """
    return _leggauss(checks.count(n, "n"))


def gl_panels(edges, n: int, *, log: bool = False):
    """Composite Gauss-Legendre rule on the panels between consecutive ``edges``.

    Args:
        edges: 1-D array of panel edges, increasing, at least two (may be traced). With
            ``log=True`` the edges are in ``x`` (not ``ln x``) and must be positive.
        n: Gauss-Legendre nodes per panel (static int).
        log: integrate in ``t = ln x`` within each panel (see the module doc).

    Returns:
        ``(x, w)``, shape ``(n * (len(edges) - 1),)`` each, with
        ``integral_{edges[0]}^{edges[-1]} f(x) dx ~= sum(w * f(x))``.

    Raises:
        ValueError: ``n`` not a positive int; ``edges`` not 1-D with >= 2 entries; host
            (list, tuple, numpy) ``edges`` not increasing, or (``log=True``) not positive.
            JAX-array edges, traced or not, are taken on trust: decreasing ones give a signed
            sum, non-positive ones NaN.
    """
    nodes, weights = gauss_legendre(n)
    if np.ndim(edges) != 1 or np.shape(edges)[0] < 2:
        raise ValueError(f"edges must be 1-D with at least 2 entries, got shape {np.shape(edges)}")
    if isinstance(edges, (list, tuple, np.ndarray)):
        host = np.asarray(edges, dtype=np.float64)
        if not np.all(np.diff(host) > 0):
            raise ValueError(f"edges must be strictly increasing, got {host}")
        if log:
            checks.satisfies(host, "edges", lambda v: v > 0, "> 0 for log=True (x = e^t)")
    return _edge_panel_rule(jnp.asarray(edges, dtype=float_dtype()), nodes, weights, log)


# The array work of each rule (and trapezoid, simpson) is one jitted function: called eagerly
# it compiles once per shape instead of dispatching, and compiling, a dozen small ops; inside a
# caller's jit it is inlined.
def _panel_nodes(t_edges, nodes, weights, log: bool):
    """GL nodes/weights on the panels between ``t_edges`` (in ``ln x`` when ``log``), in x."""
    lo, hi = t_edges[:-1, None], t_edges[1:, None]
    half = 0.5 * (hi - lo)
    t = (0.5 * (hi + lo) + half * nodes).reshape(-1)
    return _to_x(t, (half * weights).reshape(-1), log)


def _to_x(t, w, log: bool):
    if log:
        x = jnp.exp(t)
        return x, w * x  # dx = x dt
    return t, w


@functools.partial(jax.jit, static_argnames="log")
def _edge_panel_rule(edges, nodes, weights, log: bool):
    return _panel_nodes(jnp.log(edges) if log else edges, nodes, weights, log)


@functools.partial(jax.jit, static_argnames=("panels", "log"))
def _equal_panel_rule(a, b, nodes, weights, panels: int, log: bool):
    lo, hi = (jnp.log(a), jnp.log(b)) if log else (a, b)
    return _panel_nodes(lo + (hi - lo) * jnp.linspace(0.0, 1.0, panels + 1), nodes, weights, log)


@functools.partial(jax.jit, static_argnames="log")
def _uniform_rule(a, b, pattern, log: bool):
    """Evenly spaced samples (in ``ln x`` when ``log``) with weights ``h * pattern``."""
    lo, hi = (jnp.log(a), jnp.log(b)) if log else (a, b)
    count = pattern.shape[0]
    t = lo + (hi - lo) * jnp.linspace(0.0, 1.0, count)
    return _to_x(t, (hi - lo) / (count - 1) * pattern, log)


def _check_interval(a, b, log: bool) -> None:
    for value, name in ((a, "a"), (b, "b")):
        if np.ndim(value) != 0:
            raise ValueError(
                f"{name} must be a scalar (vmap for many intervals), got shape {np.shape(value)}"
            )
        if log:
            checks.satisfies(value, name, lambda v: v > 0, "> 0 for log=True (x = e^t)")


def gl_rule(a, b, n: int, *, log: bool = False, panels: int = 1):
    """Gauss-Legendre nodes and weights for ``[a, b]``, optionally in panels or in ``ln x``.

    Args:
        a, b: interval ends, scalars (may be traced; ``b < a`` gives the signed integral).
        n: Gauss-Legendre nodes per panel (static int).
        log: integrate in ``t = ln x``; requires ``a > 0`` and ``b > 0``. Host numbers are
            checked; traced ends cannot be, and a non-positive one silently yields NaN.
        panels: number of equal panels (equal in ``ln x`` when ``log``), static int.

    Returns:
        ``(x, w)``, shape ``(n * panels,)`` each, with
        ``integral_a^b f(x) dx ~= sum(w * f(x))``.

    Raises:
        ValueError: ``n`` or ``panels`` not a positive int, ``a``/``b`` not scalar, or a
            host ``a``/``b`` <= 0 with ``log=True``.
    """
    nodes, weights = gauss_legendre(n)
    panels = checks.count(panels, "panels")
    _check_interval(a, b, log)
    a, b = jnp.asarray(a, dtype=float_dtype()), jnp.asarray(b, dtype=float_dtype())
    return _equal_panel_rule(a, b, nodes, weights, panels, log)


def _sampled_rule(a, b, n: int, rule: str, log: bool):
    """Nodes and weights of composite Simpson/trapezoid on ``n`` evenly spaced samples."""
    n = checks.count(n, "n", minimum=3 if rule == "simpson" else 2)
    if rule == "simpson" and n % 2 == 0:
        raise ValueError(f"n must be odd for rule='simpson' (pairs of intervals), got {n}")
    _check_interval(a, b, log)
    pattern = np.ones(n)
    if rule == "simpson":
        pattern[1:-1:2], pattern[2:-1:2] = 4.0, 2.0
        pattern /= 3.0
    else:
        pattern[[0, -1]] = 0.5
    a, b = jnp.asarray(a, dtype=float_dtype()), jnp.asarray(b, dtype=float_dtype())
    return _uniform_rule(a, b, pattern, log)


def integrate(
    f, a, b, *, n: int = 64, rule: str = "gauss-legendre", log: bool = False, panels: int = 1
):
    """``integral_a^b f(x) dx`` with a fixed rule (traceable in ``a``, ``b`` and ``f``).

    Args:
        f: vectorised integrand: maps ``x`` of shape ``(m,)`` to shape ``(m,)`` or
            ``(m, ...)``; the result sums over axis 0, so trailing axes integrate
            component-wise.
        a, b: interval ends, scalars (may be traced).
        n: for ``"gauss-legendre"`` the nodes per panel; for ``"simpson"`` / ``"trapezoid"``
            the number of evenly spaced sample points (odd and >= 3 for Simpson).
        rule: one of ``RULES``.
        log: integrate in ``t = ln x`` (see :func:`gl_rule`; samples evenly spaced in
            ``ln x`` for the sampled rules).
        panels: equal panels for ``"gauss-legendre"``; must be 1 for the sampled rules,
            which are composite already.

    Returns:
        The integral, shape ``f(x).shape[1:]``.
    """
    if rule == "gauss-legendre":
        x, w = gl_rule(a, b, n, log=log, panels=panels)
    elif rule in RULES:
        if panels != 1:
            raise ValueError(f"panels applies only to rule='gauss-legendre', got {panels!r}")
        x, w = _sampled_rule(a, b, n, rule, log)
    else:
        raise ValueError(f"unknown rule {rule!r}; valid rules: {', '.join(RULES)}")
    return jnp.tensordot(w, f(x), axes=(0, 0))


def _prepare_samples(y, x, axis: int):
    y = jnp.moveaxis(jnp.asarray(y), axis, -1)
    x = jnp.asarray(x)
    # x is either the shared 1-D grid or one grid per row, shaped like y
    x = x if x.ndim == 1 else jnp.moveaxis(x, axis, -1)
    if x.shape[-1] != y.shape[-1]:
        raise ValueError(
            f"x has {x.shape[-1]} samples along the integration axis but y has {y.shape[-1]}"
        )
    return y, x


@functools.partial(jax.jit, static_argnames="axis")
def trapezoid(y, x, axis: int = -1):
    """Composite trapezoid rule over samples ``y`` at (any, possibly non-uniform) ``x``.

    Args:
        y: sampled values.
        x: sample points: 1-D of length ``y.shape[axis]``, or an array shaped like ``y``.
        axis: axis of ``y`` (and of a full-shape ``x``) to integrate over.

    Returns:
        ``y`` integrated over ``axis`` (that axis removed); equals
        ``scipy.integrate.trapezoid(y, x, axis=axis)``.
    """
    y, x = _prepare_samples(y, x, axis)
    return jnp.sum(jnp.diff(x, axis=-1) * 0.5 * (y[..., 1:] + y[..., :-1]), axis=-1)


@functools.partial(jax.jit, static_argnames="axis")
def simpson(y, x, axis: int = -1):
    """Composite Simpson 1/3 rule over an odd number of samples, uniform or not in ``x``.

    Each pair of intervals ``[x_{2i}, x_{2i+2}]`` is integrated with the parabola through its
    three samples (widths ``h0``, ``h1``)::

        (h0 + h1) / 6 * (y0 (2 - h1/h0) + y1 (h0 + h1)^2 / (h0 h1) + y2 (2 - h0/h1))

    which is the formula of ``scipy.integrate.simpson`` for an odd sample count, and reduces
    to ``h/3 (y0 + 4 y1 + y2)`` on a uniform grid. Exact for cubics.

    Args:
        y: sampled values; ``y.shape[axis]`` must be odd and >= 3.
        x: sample points: 1-D of length ``y.shape[axis]``, or an array shaped like ``y``.
            Consecutive points must differ (the formula divides by the widths).
        axis: axis to integrate over.

    Returns:
        ``y`` integrated over ``axis`` (that axis removed).

    Raises:
        ValueError: even or < 3 samples (scipy would patch the last interval; here an even
            count is refused so the rule and its error order stay those of Simpson 1/3).
    """
    y, x = _prepare_samples(y, x, axis)
    count = y.shape[-1]
    if count < 3 or count % 2 == 0:
        raise ValueError(f"simpson needs an odd number >= 3 of samples along axis, got {count}")
    h = jnp.diff(x, axis=-1)
    h0, h1 = h[..., 0::2], h[..., 1::2]
    hsum = h0 + h1
    y0, y1, y2 = y[..., 0:-2:2], y[..., 1::2], y[..., 2::2]
    pieces = (
        hsum / 6.0 * (y0 * (2.0 - h1 / h0) + y1 * hsum * hsum / (h0 * h1) + y2 * (2.0 - h0 / h1))
    )
    return jnp.sum(pieces, axis=-1)
