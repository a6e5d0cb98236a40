"""Hill-vortex energy functional of a charged lepton.

A lepton is Hill's spherical vortex of radius ``R = R_c + w`` and speed ``U`` in a vacuum
fluid of unit density, with a density deficit ``drho(r)`` that is full (``-A``, times a bump)
in the core ``r <= R_c`` and tapers to zero across a boundary layer of width ``w``. Its
energy is

    E_total = E_circ - E_stab + E_grad,
    E_circ = int (1/2) rho |v|^2 dV,             rho = 1 + drho,
    E_stab = beta 4 pi int drho^2 r^2 dr,
    E_grad = lam  4 pi int (d drho/dr)^2 r^2 dr,  lam = eta beta R_ref^2 / 11.

Units are dimensionless: ``rho_vac = 1``, lengths (``R_c``, ``w``, ``r``) and speeds
(``U``) in the model's own units, energies in ``rho_vac U^2 L^3``. A mass is ``S * E_total``
with one global scale ``S`` profiled in the fit, so only energy ratios between leptons carry
information.

Every function here is pure JAX in float64; ``jit``, ``vmap`` and ``grad`` apply to every
lepton argument (``R_c``, ``U``, ``A``, ``w``) and to ``beta``. An :class:`EnergyConfig`
(frozen, hashable) is a static argument: close over it or pass it as ``static_argnames``.

Flows (``EnergyConfig.flow``, one of :data:`FLOWS`)
---------------------------------------------------
With ``v_r = f(r) cos th`` and ``v_th = g(r) sin th``, ``|v|^2 = f^2 cos^2 th + g^2 sin^2 th``,
and with ``q = (r/R)^2``, ``p = (R/r)^3``:

============  ================================  ================================
flow          inside, ``(f, g)``                outside, ``(f, g)``
============  ================================  ================================
``vortex``    ``(-3U/2 (1-q), 3U/2 (1-2q))``    ``(U (1-p), -U/2 (2+p))``
``research``  ``(-3U (1-q), 3U q)``             ``(U (1-p), -U/2 (2+p))``
``lab``       ``(-U (5/2 - 3q/2), U (5/2-3q))`` ``(-U p, -U p/2)``
============  ================================  ================================

- ``"vortex"`` (default): the exact derivatives of Hill's stream function in the vortex
  frame (uniform stream ``U`` at infinity), integrated over the research box
  ``r in [r_min, r_max]``, ``th in [theta_min, pi - theta_min]``. **The energy depends on
  the box**: the stream's kinetic energy grows like ``(2 pi / 3) U^2 r_max^3`` (about
  ``2094 U^2`` for ``r_max = 10``: 5.233 of E_circ = 5.236 at an electron-like point
  ``R_c = 1, U = 0.05, A = 0.9, w = 0.02``, whose interior holds only 0.0027), and
  ``r_min``, ``theta_min`` cut out a small part of the core.
- ``"research"``: the research code's inside expressions, which are *not* the derivatives
  of the stated stream function (``v_r`` is twice Hill's, ``v_th`` differs), kept to
  reproduce its numbers; outside and box as ``"vortex"``.
- ``"lab"``: the vortex frame minus the uniform stream (far fluid at rest), over all space
  and all angles; the box fields of the config are ignored. Outside ``R`` the density is 1,
  so the exterior energy is the closed form ``pi U^2 R^3 / 3``; with ``A = 0`` the total
  is ``(10/7) pi U^2 R^3``.

Quadrature
----------
``|v|^2`` is a polynomial in ``cos^2 th`` and ``sin^2 th``, so the angular integral is
analytic (``int cos^2 th sin th`` and ``int sin^3 th`` over ``[theta_min, pi - theta_min]``)
and every energy is a radial integral. Gauss-Legendre panels ``[r_lo, R_c]``, ``[R_c, R]``
(``n_nodes`` each) carry the interior, where every integrand is a polynomial in ``r`` of
degree <= 20 (``r^2 drho^2``), integrated exactly by 11 or more nodes (default 16). Outside
``R`` the density is 1 and ``r^2 |v|^2`` is a Laurent polynomial (``r^2, 1/r, 1/r^4``
terms), so the exterior is a closed form in every flow (:func:`_exterior_box`). Doubling
``n_nodes`` changes ``E_total`` by < 1e-12 relative (tests/leptons/test_model.py). Panel
edges are clipped to the radial domain, so a core smaller than ``r_min`` (or a vortex
beyond ``r_max``) gives empty panels, not a signed integral.

Why closed forms and 16 nodes: profile scans evaluate this functional ~10^8 times. The
earlier default (8 log panels x 32 nodes outside, 32 per interior panel) spent 80% of its
time on the exterior: (value, gradient) of the mass chi2 cost 70 us per parameter point on
two CPU cores (batch 3456); with the closed-form exterior and 16 nodes it costs ~21 us, and
E_total agrees with the old rule to < 1e-12 relative.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp

from jaxfit.core import checks
from jaxfit.core.precision import require_float64
from jaxfit.core.quadrature import gl_panels

FLOWS = ("vortex", "research", "lab")
"""Flow variants of :class:`EnergyConfig` (see the module doc)."""

BETA_REF = 3.043233053
"""Reference vacuum stiffness beta of the research question (dimensionless)."""

ENERGY_KEYS = ("E_circ", "E_stab", "E_grad", "E_total")
"""Keys of the dict returned by :func:`energies`."""


@dataclasses.dataclass(frozen=True)
class EnergyConfig:
    """Static settings of the energy functional (hashable, so usable as a static argument).

    Attributes:
        flow: velocity field, one of :data:`FLOWS`.
        r_min, r_max: radial extent of the box of ``"vortex"`` and ``"research"``
            (``0 <= r_min < r_max``); ``E_circ`` is integrated over it, ``E_stab`` and
            ``E_grad`` from ``r_min`` (their integrands vanish beyond ``R``). Ignored by
            ``"lab"``, which integrates from 0 to infinity.
        theta_min: polar cut of the box, which keeps
            ``theta_min <= th <= pi - theta_min`` (``0 <= theta_min < pi/2``) for ``E_circ``;
            ``E_stab`` and ``E_grad`` take the full ``4 pi`` as in the spec. Ignored by
            ``"lab"``.
        eta, R_ref: gradient coupling ``lam = eta beta R_ref^2 / 11``
            (:func:`gradient_coupling`); ``eta >= 0``, ``R_ref > 0``.
        n_nodes: Gauss-Legendre nodes per interior radial panel (>= 2; 11 integrate
            every interior polynomial exactly).

    Raises:
        ValueError: naming the field, for an unknown flow, a non-finite or out-of-range
            number, or a node/panel count that is not an int of at least its minimum.
    """

    flow: str = "vortex"
    r_min: float = 0.01
    r_max: float = 10.0
    theta_min: float = 0.01
    eta: float = 0.03
    R_ref: float = 0.88
    n_nodes: int = 16

    def __post_init__(self):
        checks.one_of(self.flow, "flow", FLOWS)
        # the checked values (plain float, int) replace the given ones, so a config stays
        # hashable and equal to the same numbers given in another form
        checked = {
            "r_min": checks.real(self.r_min, "r_min", nonnegative=True),
            "r_max": checks.real(self.r_max, "r_max"),
            "theta_min": checks.real(self.theta_min, "theta_min", nonnegative=True),
            "eta": checks.real(self.eta, "eta", nonnegative=True),
            "R_ref": checks.real(self.R_ref, "R_ref", positive=True),
            "n_nodes": checks.count(self.n_nodes, "n_nodes", minimum=2),
        }
        for name, value in checked.items():
            object.__setattr__(self, name, value)
        if not self.r_min < self.r_max:
            raise ValueError(f"r_min must be below r_max, got r_min={self.r_min!r}, "
                             f"r_max={self.r_max!r}")
        # the polar cut keeps theta_min <= th <= pi - theta_min: a non-empty band
        if not self.theta_min < math.pi / 2:
            raise ValueError(f"theta_min must satisfy 0 <= theta_min < pi/2, got "
                             f"{self.theta_min!r}")

    @property
    def boxed(self) -> bool:
        """Whether the flow is integrated over the research box (not ``"lab"``)."""
        return self.flow != "lab"


DEFAULT_CONFIG = EnergyConfig()


def gradient_coupling(beta, config: EnergyConfig = DEFAULT_CONFIG):
    """Gradient coupling ``lam = eta beta R_ref^2 / 11`` (dimensionless; 0.006427 at
    :data:`BETA_REF` with the default ``eta = 0.03``, ``R_ref = 0.88``)."""
    return config.eta * beta * config.R_ref**2 / 11.0


def magnetic_moment(R_c, U, w, K_geom=0.2, Q=1.0):
    """Magnetic-moment proxy ``mu = K_geom Q R U`` with ``R = R_c + w`` (model units; a
    profiled constant ``C_mu`` converts it to ``g``)."""
    return K_geom * Q * (R_c + w) * U


# ------------------------------------------------------------------------------- density
def density_deficit(r, R_c, w, A):
    """Density deficit ``drho(r) = -A (1 - (r/R)^2)^2 T(r)`` at radius ``r``, ``R = R_c + w``.

    ``T = 1`` for ``r <= R_c``, ``1 - s((r - R_c)/w)`` on ``(R_c, R]``, 0 beyond, with the
    smoothstep ``s(x) = 6x^5 - 15x^4 + 10x^3``. Elementwise (broadcasting) in all arguments.

    The three branches are one formula with ``x = (r - R_c)/w`` clipped to ``[0, 1]``:
    ``s(0) = 0`` and ``s(1) = 1`` give ``T`` exactly on both sides, and since ``s'`` and
    ``s''`` vanish at both ends, the clip adds no kink: ``drho`` is C^2 in ``r`` and its
    gradients with respect to every argument are finite everywhere, ``r = R_c`` and
    ``r = R`` included (no branch is ever evaluated where it would be NaN). Needs
    ``w > 0``.
    """
    x = jnp.clip((r - R_c) / w, 0.0, 1.0)
    taper = 1.0 - x**3 * (10.0 + x * (6.0 * x - 15.0))
    return -A * (1.0 - (r / (R_c + w)) ** 2) ** 2 * taper


def density_deficit_slope(r, R_c, w, A):
    """Radial derivative ``d drho / dr`` of :func:`density_deficit`, by forward-mode
    autodiff (no finite differences); elementwise, differentiable again."""
    r = jnp.asarray(r, dtype=jnp.result_type(float))
    return jax.jvp(lambda x: density_deficit(x, R_c, w, A), (r,), (jnp.ones_like(r),))[1]


def check_lepton_params(R_c, U, A, w) -> None:
    """Raise ``ValueError`` naming the parameter if a concrete value is outside its domain.

    Domains: ``R_c > 0``, ``U > 0``, ``0 <= A < 1`` (the density ``1 + drho`` stays
    positive), ``w > 0``, all finite. Scalars or arrays (every element is checked). Traced
    values (inside ``jit``, ``vmap``, ``grad``) cannot be inspected and are skipped: keep
    fitted parameters inside their bounds with the bounded transforms of
    :mod:`jaxfit.core.params`.
    """
    checks.satisfies(R_c, "R_c", lambda v: v > 0.0, "finite and > 0")
    checks.satisfies(U, "U", lambda v: v > 0.0, "finite and > 0")
    checks.satisfies(A, "A", lambda v: (v >= 0.0) & (v < 1.0), "finite with 0 <= A < 1")
    checks.satisfies(w, "w", lambda v: v > 0.0, "finite and > 0")


# ---------------------------------------------------------------------------------- flows
def _interior_velocity(r, R, U, flow: str):
    """``(f, g)`` with ``v_r = f cos th``, ``v_th = g sin th`` for ``r < R`` (module doc)."""
    q = (r / R) ** 2
    if flow == "vortex":
        return -1.5 * U * (1.0 - q), 1.5 * U * (1.0 - 2.0 * q)
    if flow == "research":
        return -3.0 * U * (1.0 - q), 3.0 * U * q
    return -U * (2.5 - 1.5 * q), U * (2.5 - 3.0 * q)


def _exterior_box(a, b, R, U, c, s):
    """Exterior ``E_circ`` of the box flows on ``[a, b]`` (``R <= a <= b``), closed form.

    With ``p = (R/r)^3``, ``f = U (1 - p)``, ``g = -U/2 (2 + p)`` (vortex frame, rho = 1):
    ``r^2 (c f^2 + s g^2) = U^2 [(c + s) r^2 + (s - 2c) R^3 / r + (c + s/4) R^6 / r^4]``,
    integrated term by term and times ``pi`` (the angular factor ``2 pi`` times 1/2).
    """
    cubes = (b**3 - a**3) / 3.0
    log = jnp.log(b / a)
    inverse_cubes = (1.0 / a**3 - 1.0 / b**3) / 3.0
    R3 = R**3
    return jnp.pi * U**2 * (
        (c + s) * cubes + (s - 2.0 * c) * R3 * log + (c + 0.25 * s) * R3**2 * inverse_cubes
    )


def _angular_weights(config: EnergyConfig) -> tuple[float, float]:
    """``(int cos^2 th sin th dth, int sin^3 th dth)`` over the config's polar range."""
    c = math.cos(config.theta_min) if config.boxed else 1.0
    return 2.0 / 3.0 * c**3, 2.0 * c - 2.0 / 3.0 * c**3


def _interior_rule(R_c, R, config: EnergyConfig):
    """GL nodes and weights on ``[r_lo, R_c]`` and ``[R_c, R]``, edges clipped to the
    radial domain (``[r_min, r_max]``, or ``[0, inf)`` for ``"lab"``); also the clipped
    ``R``, where the exterior starts."""
    lo, hi = (config.r_min, config.r_max) if config.boxed else (0.0, math.inf)
    edges = jnp.clip(jnp.stack([jnp.asarray(lo, dtype=R.dtype), R_c, R]), lo, hi)
    r, wt = gl_panels(edges, config.n_nodes)
    return r, wt, edges[-1]


# The array work is jitted here (config static): an eager call compiles once per config
# instead of dispatching a few hundred small ops; inside a caller's jit it is inlined.
@functools.partial(jax.jit, static_argnames="config")
def _circulation_parts(R_c, U, A, w, config: EnergyConfig):
    R = R_c + w
    c, s = _angular_weights(config)
    r, wt, r_edge = _interior_rule(R_c, R, config)
    f, g = _interior_velocity(r, R, U, config.flow)
    rho = 1.0 + density_deficit(r, R_c, w, A)
    # (1/2) rho |v|^2 dV with the angles integrated: (1/2) 2 pi r^2 rho (c f^2 + s g^2) dr
    interior = jnp.pi * jnp.sum(wt * r**2 * rho * (c * f**2 + s * g**2))
    if config.boxed:
        exterior = _exterior_box(r_edge, config.r_max, R, U, c, s)
    else:
        # rho = 1 and |v|^2 = U^2 (R/r)^6 (cos^2 + sin^2/4): pi U^2 R^6 int_R^inf r^-4 dr
        exterior = jnp.pi * U**2 * R**3 / 3.0
    return {"interior": interior, "exterior": exterior}


@functools.partial(jax.jit, static_argnames="config")
def _energies(R_c, U, A, beta, w, config: EnergyConfig):
    parts = _circulation_parts(R_c, U, A, w, config)
    e_circ = parts["interior"] + parts["exterior"]
    # drho and its slope vanish beyond R, so the interior panels carry all of E_stab, E_grad
    r, wt, _ = _interior_rule(R_c, R_c + w, config)
    shell = 4.0 * jnp.pi * wt * r**2
    e_stab = beta * jnp.sum(shell * density_deficit(r, R_c, w, A) ** 2)
    slope = density_deficit_slope(r, R_c, w, A)
    e_grad = gradient_coupling(beta, config) * jnp.sum(shell * slope**2)
    return {
        "E_circ": e_circ,
        "E_stab": e_stab,
        "E_grad": e_grad,
        "E_total": e_circ - e_stab + e_grad,
    }


def _prepare(R_c, U, A, w):
    check_lepton_params(R_c, U, A, w)
    return tuple(require_float64(v, n) for v, n in ((R_c, "R_c"), (U, "U"), (A, "A"), (w, "w")))


def circulation_energy_parts(R_c, U, A, w, config: EnergyConfig = DEFAULT_CONFIG):
    """``E_circ`` split at the vortex boundary: ``{"interior": r < R, "exterior": r > R}``.

    The interior is from ``r_min`` (0 for ``"lab"``) to ``R = R_c + w``; the exterior from
    ``R`` to ``r_max`` (the box variants) or the closed form ``pi U^2 R^3 / 3`` (``"lab"``).
    Scalar lepton parameters (``vmap`` for batches); concrete ones are checked with
    :func:`check_lepton_params`.
    """
    return _circulation_parts(*_prepare(R_c, U, A, w), config)


def energies(R_c, U, A, beta, w, config: EnergyConfig = DEFAULT_CONFIG) -> dict:
    """The energy functional of one lepton (module doc), dimensionless.

    Args:
        R_c: core radius (> 0).
        U: vortex speed (> 0).
        A: density-deficit amplitude (``0 <= A < 1``).
        beta: vacuum stiffness (multiplies ``E_stab``; ``E_grad`` through ``lam``).
        w: boundary-layer width (> 0); the vortex radius is ``R = R_c + w``.
        config: flow variant, box and quadrature (static).

    Returns:
        ``{"E_circ", "E_stab", "E_grad", "E_total"}`` (:data:`ENERGY_KEYS`), scalars for
        scalar inputs, ``E_total = E_circ - E_stab + E_grad``. Batch with ``jax.vmap``,
        e.g. over the three leptons' ``(R_c, U, A)`` with ``in_axes=(0, 0, 0, None, None)``.

    Raises:
        ValueError: a concrete lepton parameter outside its domain
            (:func:`check_lepton_params`); traced values are taken on trust.
        TypeError: float64 is off (:mod:`jaxfit.core.precision`).
    """
    R_c, U, A, w = _prepare(R_c, U, A, w)
    return _energies(R_c, U, A, require_float64(beta, "beta"), w, config)
