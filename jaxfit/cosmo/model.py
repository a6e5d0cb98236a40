"""Background cosmology of LCDM and PBUF: expansion rate, distances, sound horizons, CMB
distance-prior observables.

Every function is pure JAX in float64 and takes a parameter dict ``p`` (``{name: value}``,
values may be tracers), so ``jax.jit``, ``jax.vmap`` over a dict of parameter arrays and
``jax.grad`` all apply. The model is a static Python argument (a name from :data:`MODELS` or
a :class:`CosmoModel`); under ``jit`` close over it or mark it static.

Units: H0 and H(z) in km/s/Mpc, distances in Mpc, Tcmb in K, m_nu in eV; densities are
dimensionless fractions of today's critical density (``O...``) or physical densities
``w = O h^2`` with ``h = H0 / (100 km/s/Mpc)``.

Energy content (the conventions others must know)
-------------------------------------------------
- **Photons**: ``Og h^2 = (4 sigma_SB / c^3) Tcmb^4 / rho_crit(h=1)``, with CODATA SI
  constants exactly as astropy computes its ``Ogamma0`` (2.4730e-5 at 2.7255 K).
- **Neutrinos**: ``Neff`` species shared equally among ``n = floor(Neff)`` neutrinos, each
  at ``T_nu = (4/11)^(1/3) Tcmb``; the massless density per photon density is
  ``(7/8)(4/11)^(4/3) Neff``. The summed mass ``m_nu`` sits in ONE massive species (astropy's
  ``m_nu=[0, 0, m_nu]``) whose density follows astropy's fitting function (Komatsu et al.
  2011, eq. 26). **The default is ``m_nu = 0`` (massless)**; Planck 2018's baseline is
  ``m_nu = 0.06``.
- **Radiation** ``Or = Og (1 + (7/8)(4/11)^(4/3) Neff)``: photons plus all neutrinos in
  their relativistic limit (a constant, the ``Or`` of ``OL`` and of the PBUF term).
- **Om0** counts baryons, CDM and massive neutrinos (the spec's meaning, not astropy's).
  The massive-neutrino share is ``Onu_mass = Onu(today) - Onu(today, as if massless)``:
  the present density of the massive species in excess of its relativistic value (so it is
  0 at ``m_nu = 0`` and continuous in ``m_nu``; for 0.06 eV ``Onu_mass h^2 = 6.42e-4``, and
  the full present density of the species, 6.48e-4, is larger by
  ``Og h^2 (7/8)(4/11)^(4/3) Neff/n = 5.7e-6``; CAMB's m_nu/93.14 eV is 6.44e-4). Hence
  ``OL = 1 - Om0 - Or - Ok0`` exactly as in the massless formula, and

      E^2 = (Om0 - Onu_mass)(1+z)^3 + Og (1+z)^4 [1 + Onu(z)/Og(z)] + Ok0 (1+z)^2 + OL.

  The astropy equivalent is ``LambdaCDM(H0, Om0=Om0 - Onu_mass, Ode0=OL, Tcmb0=Tcmb,
  Neff=Neff, m_nu=[0, ..., 0, m_nu])`` (``FlatLambdaCDM`` when ``Ok0 = 0``); the two agree
  to quadrature precision.
- The parameters (defaults, bounds, units, frozen flags) are declared in
  :mod:`jaxfit.cosmo.params`; ``Neff``, ``Tcmb``, ``m_nu`` and ``Ok0`` are frozen by default.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping

import jax
import jax.numpy as jnp
import numpy as np

from jaxfit.constants import (
    C_KM_S,
    C_M_S,
    E_CHARGE,
    G_NEWTON_SI,
    H_PLANCK,
    K_BOLTZMANN,
    MPC_M,
)
from jaxfit.core.params import ParamSpec
from jaxfit.core.precision import require_float64
from jaxfit.core.quadrature import gauss_legendre, gl_panels
from jaxfit.cosmo.domain import redshifts, require_expanding
from jaxfit.cosmo.params import LCDM_SPEC, PBUF_SPEC

# ----------------------------------------------------------------------------- constants

_SIGMA_SB = 2 * math.pi**5 * K_BOLTZMANN**4 / (15 * H_PLANCK**3 * C_M_S**2)  # W m^-2 K^-4
_KB_EV_K = K_BOLTZMANN / E_CHARGE  # eV/K
_H100_S = 1e5 / MPC_M  # 100 km/s/Mpc in 1/s
_RHO_CRIT_H1 = 3 * _H100_S**2 / (8 * math.pi * G_NEWTON_SI)  # kg/m^3 at h = 1
# Og h^2 per K^4: radiation constant / c^2 (astropy's a_B_c2, in kg m^-3 K^-4) over rho_crit
_OG_H2_PER_K4 = 4 * _SIGMA_SB / C_M_S**3 / _RHO_CRIT_H1

NU_FD_FACTOR = 7.0 / 8.0 * (4.0 / 11.0) ** (4.0 / 3.0)
"""(7/8)(4/11)^(4/3) = 0.22710731766: one massless neutrino species per photon density."""
_T_NU_OVER_T_CMB = (4.0 / 11.0) ** (1.0 / 3.0)
# Komatsu et al. 2011 (eq. 26) fitting constants, as in astropy (invp is astropy's literal)
_KOMATSU_P = 1.83
_KOMATSU_INVP = 0.54644808743
_KOMATSU_K = 0.3173

# Quadrature defaults (node counts checked against scipy quad at epsrel 1e-13 over the
# parameter box of tests/cosmo/test_quadrature.py: < 2e-10 relative everywhere).
#
# comoving_distance (elementwise, any z): Gauss-Legendre nodes per panel x equal panels of
# [0, ln(1+z)] for every z separately. Node doubling changes D_C (0.01 < z < 1100) by
# < 1e-12 relative (tests/cosmo/test_model.py).
DC_NODES, DC_PANELS = 16, 6
# comoving_distances (the chi2 path: many redshifts and z* at once, one merged node set):
# the data redshifts and DC_LOW_BACKBONE - 1 equally spaced points of [0, ln(1 + z_max)] are
# the panel edges (DC_LOW_NODES nodes each; D_C at every redshift is a cumulative sum of
# panel integrals), and [ln(1 + z_max), ln(1 + z_top)] is cut at DC_HIGH_EDGES (fractions)
# into panels of DC_HIGH_NODES nodes. Worst relative error over H0 50-90, Om0 0.1-0.6,
# Ok0 +-0.1, m_nu 0-1 eV, Neff 2-4.5 and PBUF: 1.4e-10 against scipy quad (epsrel 1e-13);
# against the same integrals with many more nodes 5e-13 (data redshifts) and 2e-11 (z*).
DC_LOW_NODES, DC_LOW_BACKBONE = 5, 4
DC_HIGH_NODES, DC_HIGH_EDGES = 12, (0.0, 0.3, 1.0)
# sound_horizon: RS_PANELS equal panels of RS_NODES nodes in s = ln a from a = RS_A_TAIL to
# 1/(1+z), plus [0, RS_A_TAIL] in a itself (RS_TAIL_NODES nodes; there the integrand
# c_s/(a^2 H) is nearly constant: radiation domination). Worst relative error 4e-11 at
# z* and z_drag, 3e-10 at z = 1e5, over the same parameter box.
RS_NODES, RS_PANELS = 10, 2
RS_A_TAIL, RS_TAIL_NODES = 1e-5, 4
# ... and, for z < 10, the part z' < RS_Z_LOW in RS_LOW_PANELS panels of RS_LOW_NODES nodes
RS_Z_LOW, RS_LOW_NODES, RS_LOW_PANELS = 10.0, 8, 2


# ----------------------------------------------------------------------------- densities
def omega_gamma_h2(Tcmb):
    """Physical photon density ``Og h^2`` (dimensionless) for a CMB temperature ``Tcmb`` in K.

    Same constants and formula as astropy's ``Ogamma0 * h^2``: 2.4730e-5 at 2.7255 K.
    """
    return _OG_H2_PER_K4 * Tcmb**4


def _h(p):
    return p["H0"] / 100.0


def omega_gamma(p):
    """Photon density today, ``Og`` (fraction of the critical density)."""
    return omega_gamma_h2(p["Tcmb"]) / _h(p) ** 2


def omega_radiation(p):
    """Radiation today in the relativistic limit, ``Or = Og (1 + 0.2271 Neff)``.

    Photons plus every neutrino species counted as massless: the constant ``Or`` of
    ``OL = 1 - Om0 - Or - Ok0`` and of the PBUF radiation term.
    """
    return omega_gamma(p) * (1.0 + NU_FD_FACTOR * p["Neff"])


def nu_relative_density(z, p):
    """Neutrino energy density over photon energy density at redshift ``z`` (dimensionless).

    astropy's ``FLRW.nu_relative_density`` for ``m_nu=[0, ..., 0, m_nu]``: ``Neff`` is shared
    equally among ``n = floor(Neff)`` species, one of which has mass ``m_nu`` (eV)::

        0.2271 (Neff / n) [f(m_nu / (k_B T_nu0 (1+z))) + n - 1],
        f(y) = (1 + (0.3173 y)^1.83)^(1/1.83)   (Komatsu et al. 2011, eq. 26).

    ``f(0) = 1``, so ``m_nu = 0`` gives ``0.2271 Neff`` with no special case. Since
    ``f'(0) = 0``, every derivative with respect to ``m_nu`` vanishes at ``m_nu = 0``: a fit
    that frees ``m_nu`` should not start it at exactly 0.
    """
    n_nu = jnp.floor(p["Neff"])
    y0 = p["m_nu"] / (_KB_EV_K * _T_NU_OVER_T_CMB * p["Tcmb"])  # y today
    # (k y)^p = (k y0)^p (1+z)^-p: one power per parameter point, and one per redshift, which
    # under vmap over parameters is computed once for redshifts that are data. double-where:
    # y0^1.83 has an infinite second derivative at 0, which would put 0 * inf = NaN into
    # every Hessian (even w.r.t. H0) at the massless default
    massive = y0 > 0.0
    scale = jnp.where(massive, (_KOMATSU_K * jnp.where(massive, y0, 1.0)) ** _KOMATSU_P, 0.0)
    # exp/log instead of x**y: XLA:CPU evaluates them vectorised, power ~2x slower
    f = jnp.exp(_KOMATSU_INVP * jnp.log1p(scale * jnp.exp(-_KOMATSU_P * jnp.log1p(z))))
    return NU_FD_FACTOR * p["Neff"] / n_nu * (f + n_nu - 1.0)


def omega_nu_mass(p):
    """Massive-neutrino share of ``Om0``: ``Onu(today) - Onu(today, massless)``.

    The present density of the massive species in excess of its relativistic value (0 for
    ``m_nu = 0``); see the module doc. ``omega_nu_mass(p) * h^2 = 6.42e-4`` for 0.06 eV.
    """
    return omega_gamma(p) * (nu_relative_density(0.0, p) - NU_FD_FACTOR * p["Neff"])


def omega_lambda(p):
    """Cosmological-constant density ``OL = 1 - Om0 - Or - Ok0`` (LCDM's closure)."""
    return 1.0 - p["Om0"] - omega_radiation(p) - p["Ok0"]


# ------------------------------------------------------------------------ expansion rates
def E2_lcdm(z, p):
    """LCDM ``E^2(z) = (H/H0)^2`` (dimensionless) at redshift(s) ``z``.

    ``(Om0 - Onu_mass)(1+z)^3 + Og (1+z)^4 [1 + Onu(z)/Og(z)] + Ok0 (1+z)^2 + OL``; for
    massless neutrinos this is ``Om0 (1+z)^3 + Or (1+z)^4 + Ok0 (1+z)^2 + OL``.
    """
    zp1 = 1.0 + z
    og = omega_gamma(p)
    matter = p["Om0"] - omega_nu_mass(p)
    return zp1**2 * (
        (og * (1.0 + nu_relative_density(z, p)) * zp1 + matter) * zp1 + p["Ok0"]
    ) + omega_lambda(p)


def sigma_eff(z, p):
    """PBUF ``sigma_eff(z) = alpha eps0 (1+z)^n_eps / sqrt(Rmax)`` (dimensionless, ~1e-8)."""
    return p["alpha"] * p["eps0"] * (1.0 + z) ** p["n_eps"] / jnp.sqrt(p["Rmax"])


def saturation(z, p):
    """PBUF saturation ``sat(z) = 1 / (1 + (z / (1 + 1000 k_sat))^4)`` (dimensionless)."""
    return 1.0 / (1.0 + (z / (1.0 + 1000.0 * p["k_sat"])) ** 4)


def E2_pbuf(z, p):
    """PBUF ``E^2(z) = E^2_LCDM + sigma_eff sat + Or (1+z)^4 (k_sat - 1) / (1 + (1+z)/1000)``.

    ``Or`` is the relativistic-limit radiation of :func:`omega_radiation`. ``H0`` keeps
    normalising the LCDM part, so ``E(0)`` differs from 1 by the two PBUF terms at z = 0
    (~2e-6 at the defaults).
    """
    zp1 = 1.0 + z
    radiation_term = omega_radiation(p) * zp1**4 * (p["k_sat"] - 1.0) / (1.0 + zp1 / 1000.0)
    return E2_lcdm(z, p) + sigma_eff(z, p) * saturation(z, p) + radiation_term


# ----------------------------------------------------------------------------- registry
@dataclasses.dataclass(frozen=True)
class CosmoModel:
    """A background model: its parameters and its ``E^2(z, p)``.

    Attributes:
        name: registry key.
        spec: parameters with defaults, bounds, frozen flags and units.
        E2: ``E2(z, p) -> (H(z)/H0)^2``, elementwise in ``z``.
        doc: one-line description.
    """

    name: str
    spec: ParamSpec
    E2: Callable[[jax.Array, Mapping[str, jax.Array]], jax.Array]
    doc: str


MODELS: dict[str, CosmoModel] = {
    "lcdm": CosmoModel("lcdm", LCDM_SPEC, E2_lcdm, "flat or curved LCDM"),
    "pbuf": CosmoModel(
        "pbuf",
        PBUF_SPEC,
        E2_pbuf,
        "LCDM + PBUF sigma_eff and saturated-radiation terms",
    ),
}


def get_model(name: str) -> CosmoModel:
    """The registered model ``name``; ``KeyError`` listing the valid names otherwise."""
    try:
        return MODELS[name]
    except KeyError:
        raise KeyError(
            f"unknown cosmology model {name!r}; valid models: {', '.join(MODELS)}"
        ) from None


def _resolve(model: str | CosmoModel) -> CosmoModel:
    return model if isinstance(model, CosmoModel) else get_model(model)


def _values(p: Mapping, model: CosmoModel) -> dict[str, jax.Array]:
    """The model's parameters from ``p`` as float64 (extra keys ignored, missing ones named)."""
    missing = [n for n in model.spec.names if n not in p]
    if missing:
        raise KeyError(
            f"model {model.name!r} needs parameters {missing}; it takes "
            f"{', '.join(model.spec.names)} (defaults: get_model({model.name!r}).spec.defaults)"
        )
    return {n: require_float64(p[n], n) for n in model.spec.names}


def _z(z):
    """``z`` as float64 after the eager check ``z >= 0`` (:func:`~jaxfit.cosmo.domain.
    redshifts`: a concrete negative redshift raises ``ValueError`` naming it)."""
    redshifts(z)
    return require_float64(z, "z")


def E(z, p, model: str | CosmoModel = "lcdm"):
    """Dimensionless expansion rate ``E(z) = H(z)/H0`` at redshift(s) ``z >= 0``.

    Eagerly, ``ValueError`` when ``E^2 <= 0`` somewhere on ``[0, max z]``
    (:mod:`jaxfit.cosmo.domain`)."""
    model = _resolve(model)
    z, v = _z(z), _values(p, model)
    require_expanding(z, v, model)
    return jnp.sqrt(model.E2(z, v))


def H(z, p, model: str | CosmoModel = "lcdm"):
    """Hubble rate ``H(z) = H0 E(z)`` in km/s/Mpc."""
    return require_float64(p["H0"], "H0") * E(z, p, model)


# ----------------------------------------------------------------------------- distances
def _unit_rule(n: int, panels: int):
    """Gauss-Legendre nodes/weights on [0, 1] in ``panels`` equal panels (scaled per call)."""
    return gl_panels(np.linspace(0.0, 1.0, panels + 1), n)


def comoving_distance(
    z, p, model: str | CosmoModel = "lcdm", *, n: int = DC_NODES, panels: int = DC_PANELS
):
    """Line-of-sight comoving distance ``D_C(z) = (c/H0) int_0^z dz'/E(z')`` in Mpc.

    Integrated in ``u = ln(1+z')`` (``dz' = (1+z') du``), where the integrand
    ``e^u / E`` is smooth and O(1) from z = 0 through matter-radiation equality; ``n``
    Gauss-Legendre nodes in each of ``panels`` equal panels of ``[0, ln(1+z)]``. Elementwise
    in ``z`` (any shape, ``z >= 0``). Eagerly, ``ValueError`` for ``z < 0`` or parameters
    with ``E^2 <= 0`` on ``[0, max z]`` (:mod:`jaxfit.cosmo.domain`).
    """
    model = _resolve(model)
    z = _z(z)
    v = _values(p, model)
    require_expanding(z, v, model)
    t, w = _unit_rule(n, panels)
    span = jnp.log1p(z)[..., None]
    return C_KM_S / v["H0"] * jnp.sum(span * w * _dc_integrand(span * t, v, model), axis=-1)


def _dc_integrand(u, v, model: CosmoModel):
    """``dD_C / du`` in Hubble lengths: ``e^u / E(e^u - 1)``, ``u = ln(1+z)``."""
    return jnp.exp(u) / jnp.sqrt(model.E2(jnp.expm1(u), v))


def _gl_nodes(lo, hi, n: int):
    """Nodes and weights of ``n``-node Gauss-Legendre rules on the panels ``[lo[k], hi[k]]``
    (shape ``lo.shape + (n,)`` each)."""
    x, w = gauss_legendre(n)
    half = 0.5 * (hi - lo)[..., None]
    return 0.5 * (hi + lo)[..., None] + half * x, half * w


def _safe_sqrt(e2):
    """``sqrt(E^2)`` where ``E^2 > 0``, else 1: the chi2 path's stand-in outside the physical
    domain, where the point is excluded (chi2 = +inf) and only a finite value and a finite
    gradient are needed (a double ``where``: sqrt never sees a value <= 0)."""
    return jnp.sqrt(jnp.where(e2 > 0.0, e2, 1.0))


def comoving_distances(
    z,
    p,
    model: str | CosmoModel = "lcdm",
    *,
    z_top=None,
    n_distinct: int | None = None,
    domain: bool = False,
):
    """``D_C`` in Mpc at every redshift of the 1-D array ``z`` (any order, repeats allowed)
    and, when given, at one more redshift ``z_top`` beyond them (the CMB's z*), from ONE
    merged set of Gauss-Legendre nodes: the chi2's way of computing many distances.

    In ``u = ln(1+z')`` the sorted redshifts, plus ``DC_LOW_BACKBONE - 1`` equally spaced
    points of ``[0, ln(1 + max z)]`` (so no panel is wider than a quarter of that span, however
    sparse the data), are the edges of panels of ``DC_LOW_NODES`` nodes, and ``D_C`` at every
    redshift is the cumulative sum of the panel integrals below it; ``[ln(1 + max z),
    ln(1 + z_top)]`` is cut at the fractions ``DC_HIGH_EDGES`` into panels of
    ``DC_HIGH_NODES`` nodes. DESI DR2 (13 entries at 7 distinct redshifts) plus z* takes
    74 integrand evaluations, where :func:`comoving_distance` takes 96 per redshift. Agrees
    with scipy quad to < 2e-10 relative (tests/cosmo/test_quadrature.py). The panel edges
    from ``z`` depend on the data only, so under ``vmap`` over parameters with ``z`` shared
    the sorting is done once.

    Args:
        z: redshifts, shape ``(m,)``, ``z >= 0`` (``m = 0`` allowed when ``z_top`` is given).
        p: parameters of ``model``.
        model: model name or :class:`CosmoModel`.
        z_top: optional scalar redshift, meant to be ``>= max(z)`` (a lower one still gives
            the right, signed, integral, with fewer nodes than it deserves).
        n_distinct: static count of distinct values in ``z`` (or any larger number): each
            distinct redshift is then a panel edge once (repeats would add panels of zero
            width, evaluated for nothing). Too small a count (fewer than the data have)
            gives NaN at the redshifts left out, never a wrong number. None: no
            deduplication.
        domain: the chi2's mode (:mod:`jaxfit.cosmo.domain`): no eager ``E^2`` check;
            nodes with ``E^2 <= 0`` use ``E = 1`` (finite value and gradient) and the
            smallest ``E^2`` over all nodes is returned too, so that the caller can
            exclude the point. False: eagerly, ``ValueError`` when ``E^2 <= 0`` on
            ``[0, max(z, z_top)]``.

    Returns:
        ``D_C(z)``, shape ``(m,)``; with ``z_top``, shape ``(m + 1,)``, ``D_C(z_top)`` last.
        With ``domain``, the pair ``(D_C, min E^2 over the nodes)``.
    """
    model = _resolve(model)
    v = _values(p, model)
    z = _z(z)
    if z.ndim != 1:
        raise ValueError(f"comoving_distances: z must be 1-D, got shape {z.shape}")
    if not domain:
        require_expanding(z if z_top is None else jnp.append(z, _z(z_top)), v, model)
    lowest = []  # min E^2 of each node set

    def integral(lo, hi, n):
        u, hw = _gl_nodes(lo, hi, n)
        e2 = model.E2(jnp.expm1(u), v)
        lowest.append(jnp.min(e2))
        root = _safe_sqrt(e2) if domain else jnp.sqrt(e2)
        return jnp.sum(hw * jnp.exp(u) / root, axis=-1)

    out = []
    u_max = jnp.zeros(())
    below = jnp.zeros(())
    if z.shape[0]:
        u = jnp.log1p(z)
        u_max = jnp.max(u)
        backbone = u_max * jnp.arange(1, DC_LOW_BACKBONE) / DC_LOW_BACKBONE
        ends = u if n_distinct is None else jnp.unique(u, size=n_distinct, fill_value=u_max)
        edges = jnp.concatenate([jnp.zeros(1), jnp.sort(jnp.concatenate([backbone, ends]))])
        cum = jnp.concatenate(
            [jnp.zeros(1), jnp.cumsum(integral(edges[:-1], edges[1:], DC_LOW_NODES))]
        )
        # a repeated redshift finds the first of its copies: the panels between copies have
        # zero width and add exactly 0
        where = jnp.searchsorted(edges, u, side="left")
        dc = cum[where]
        if n_distinct is not None:  # a redshift left out by too small a count: NaN
            dc = jnp.where(edges[where] == u, dc, jnp.nan)
        out.append(dc)
        below = cum[-1]
    if z_top is not None:
        u_top = jnp.log1p(_z(z_top))
        if u_top.ndim != 0:
            raise ValueError(f"comoving_distances: z_top must be a scalar, got {u_top.shape}")
        edges = u_max + (u_top - u_max) * jnp.asarray(DC_HIGH_EDGES)
        out.append((below + jnp.sum(integral(edges[:-1], edges[1:], DC_HIGH_NODES)))[None])
    dc = C_KM_S / v["H0"] * jnp.concatenate(out) if out else jnp.zeros(0)
    if domain:
        return dc, jnp.min(jnp.stack(lowest)) if lowest else jnp.inf
    return dc


def _sinhc_sqrt(y):
    """``sinh(sqrt(y))/sqrt(y)`` for y > 0, ``sin(sqrt(-y))/sqrt(-y)`` for y < 0, 1 at 0.

    Near 0 the exact forms are 0/0 and their gradient NaN, so a double ``where`` routes
    |y| < 1e-3 to the Taylor series (truncation ~y^4/9! < 3e-18) and feeds the exact branch
    a harmless dummy there: value and gradient (1/6 at y = 0) stay finite.
    """
    small = jnp.abs(y) < 1e-3
    y_safe = jnp.where(small, 1.0, y)
    r = jnp.sqrt(jnp.abs(y_safe))
    exact = jnp.where(y_safe > 0, jnp.sinh(r), jnp.sin(r)) / r
    series = 1.0 + y / 6.0 * (1.0 + y / 20.0 * (1.0 + y / 42.0))
    return jnp.where(small, series, exact)


def transverse_comoving_distance(z, p, model: str | CosmoModel = "lcdm", **quad):
    """``D_M(z)`` in Mpc: ``D_C`` bent by curvature, ``(c/H0)/sqrt(Ok0) sinh(sqrt(Ok0)
    D_C H0/c)`` (``sin`` for Ok0 < 0), with a gradient-safe limit at ``Ok0 = 0``.

    ``quad``: ``n``, ``panels`` of :func:`comoving_distance`.
    """
    model = _resolve(model)
    return bend(comoving_distance(z, p, model, **quad), p)


def bend(dc, p):
    """``D_M`` from ``D_C`` (both Mpc): ``(c/H0)/sqrt(Ok0) sinh(sqrt(Ok0) D_C H0/c)``
    (``sin`` for Ok0 < 0), gradient-safe at ``Ok0 = 0``."""
    x = dc * require_float64(p["H0"], "H0") / C_KM_S  # D_C in Hubble lengths
    return dc * _sinhc_sqrt(require_float64(p["Ok0"], "Ok0") * x**2)


def angular_diameter_distance(z, p, model: str | CosmoModel = "lcdm", **quad):
    """``D_A = D_M / (1+z)`` in Mpc."""
    return transverse_comoving_distance(z, p, model, **quad) / (1.0 + _z(z))


def luminosity_distance(z, p, model: str | CosmoModel = "lcdm", **quad):
    """``D_L = D_M (1+z)`` in Mpc."""
    return transverse_comoving_distance(z, p, model, **quad) * (1.0 + _z(z))


def hubble_distance(z, p, model: str | CosmoModel = "lcdm"):
    """``D_H(z) = c / H(z)`` in Mpc."""
    return C_KM_S / H(z, p, model)


def volume_distance(z, p, model: str | CosmoModel = "lcdm", **quad):
    """BAO isotropic distance ``D_V = (z D_M^2 D_H)^(1/3)`` in Mpc.

    Computed as ``z ((D_M/z)^2 D_H)^(1/3)`` with ``D_M/z -> D_H(0)`` at ``z = 0`` (double
    ``where``): ``cbrt`` of the product has an infinite slope at 0, so the direct form has a
    NaN gradient there, while ``D_V = (c/H0) z + O(z^2)`` has the finite slope ``c/H0``.
    """
    z = _z(z)
    dm = transverse_comoving_distance(z, p, model, **quad)
    dh = hubble_distance(z, p, model)
    positive = z > 0.0
    dm_over_z = jnp.where(positive, dm / jnp.where(positive, z, 1.0), dh)
    return z * jnp.cbrt(dm_over_z**2 * dh)


# -------------------------------------------------------------- recombination, drag epoch
def _wm(p):
    return p["Om0"] * _h(p) ** 2


def z_star(p):
    """Photon decoupling redshift of Hu & Sugiyama 1996 (eq. E1), with ``wb = Obh2`` and
    ``wm = Om0 h^2``; ~1090 at Planck 2018 values::

        z* = 1048 (1 + 0.00124 wb^-0.738) (1 + g1 wm^g2),
        g1 = 0.0783 wb^-0.238 / (1 + 39.5 wb^0.763),  g2 = 0.560 / (1 + 21.1 wb^1.81).
    """
    wb = require_float64(p["Obh2"], "Obh2")
    wm = _wm({n: require_float64(p[n], n) for n in ("H0", "Om0")})
    g1 = 0.0783 * wb**-0.238 / (1.0 + 39.5 * wb**0.763)
    g2 = 0.560 / (1.0 + 21.1 * wb**1.81)
    return 1048.0 * (1.0 + 0.00124 * wb**-0.738) * (1.0 + g1 * wm**g2)


def z_drag_eh98(p):
    """Baryon drag redshift of Eisenstein & Hu 1998 (eq. 4), with ``wb = Obh2`` and
    ``wm = Om0 h^2``; ~1021 at Planck 2018 values::

        z_d = 1291 wm^0.251 / (1 + 0.659 wm^0.828) (1 + b1 wb^b2),
        b1 = 0.313 wm^-0.419 (1 + 0.607 wm^0.674),  b2 = 0.238 wm^0.223.
    """
    wb = require_float64(p["Obh2"], "Obh2")
    wm = _wm({n: require_float64(p[n], n) for n in ("H0", "Om0")})
    b1 = 0.313 * wm**-0.419 * (1.0 + 0.607 * wm**0.674)
    b2 = 0.238 * wm**0.223
    return 1291.0 * wm**0.251 / (1.0 + 0.659 * wm**0.828) * (1.0 + b1 * wb**b2)


def sound_horizon(
    z,
    p,
    model: str | CosmoModel = "lcdm",
    *,
    n: int = RS_NODES,
    panels: int = RS_PANELS,
    low_z: bool = True,
):
    """Comoving sound horizon ``r_s(z) = int_z^inf c_s / H dz'`` in Mpc.

    ``c_s = c / sqrt(3 (1 + Rb))``, ``Rb = 3 wb / (4 wg (1+z'))`` (``wg = Og h^2``, photons
    only). Written in the scale factor, ``dz'/H = da / (a^2 H)``:

    - from ``a = RS_A_TAIL`` (1e-5) to ``1/(1+z)`` in ``s = ln a`` (``ds / (a H)``; ``n``
      nodes in each of ``panels`` equal panels), where the integrand is smooth through
      equality and falls like ``a`` before it; with ``low_z``, the part ``z' < RS_Z_LOW``
      (10) has its own ``RS_LOW_PANELS`` panels of ``RS_LOW_NODES`` nodes (zero width, so
      evaluated for nothing, when ``z >= 10``);
    - below ``RS_A_TAIL`` in ``a`` itself (``RS_TAIL_NODES`` nodes), where ``c_s / (a^2 H)``
      is nearly constant (radiation domination), so the lower end ``a = 0`` is exact.

    Elementwise in ``z``; < 1e-10 relative to scipy quad for every ``z`` (``low_z=True``)
    and for ``z >= 10`` with ``low_z=False`` (what :func:`cmb_observables` and
    :func:`r_drag` use at z* and z_d ~ 1000: 24 integrand evaluations).
    """
    model = _resolve(model)
    z = _z(z)
    v = _values(p, model)
    s_lo = math.log(RS_A_TAIL)
    s_z = -jnp.log1p(z)
    s_mid = jnp.minimum(s_z, -math.log1p(RS_Z_LOW)) if low_z else s_z
    parts = [(jnp.full_like(s_z, s_lo), s_mid, n, panels)]
    if low_z:
        parts.append((s_mid, s_z, RS_LOW_NODES, RS_LOW_PANELS))
    lo, hi, t, w = [], [], [], []
    for start, end, nodes, count in parts:  # nodes and weights on [0, 1] per part
        ti, wi = _unit_rule(nodes, count)
        lo.append(jnp.broadcast_to(start[..., None], start.shape + ti.shape))
        hi.append(jnp.broadcast_to(end[..., None], end.shape + ti.shape))
        t.append(ti)
        w.append(wi)
    lo, hi = jnp.concatenate(lo, axis=-1), jnp.concatenate(hi, axis=-1)
    t, w = jnp.concatenate(t), jnp.concatenate(w)
    ta, wa = _unit_rule(RS_TAIL_NODES, 1)
    # the ln-a nodes, then the tail nodes in a, integrated in one pass
    a_main = jnp.exp(lo + (hi - lo) * t)
    a = jnp.concatenate([a_main, jnp.broadcast_to(RS_A_TAIL * ta, z.shape + ta.shape)], axis=-1)
    g = _rs_integrand(a, v, model)  # c_s / (a^2 H)
    k = t.shape[0]
    main = jnp.sum((hi - lo) * w * a_main * g[..., :k], axis=-1)
    return main + RS_A_TAIL * jnp.sum(wa * g[..., k:], axis=-1)


def _rs_integrand(a, v, model: CosmoModel):
    """``c_s / (a^2 H)`` in Mpc (per unit scale factor)."""
    rb = 0.75 * v["Obh2"] / omega_gamma_h2(v["Tcmb"]) * a
    c_s = C_KM_S / jnp.sqrt(3.0 * (1.0 + rb))
    return c_s / (a * a * v["H0"] * jnp.sqrt(model.E2(1.0 / a - 1.0, v)))


R_DRAG_METHODS = ("aubourg", "eh98")


def r_drag(p, model: str | CosmoModel = "lcdm", method: str = "aubourg"):
    """Sound horizon at the baryon drag epoch, ``r_d``, in Mpc.

    Methods:
        ``"aubourg"`` (default): the calibrated fit of Aubourg et al. 2015 (eq. 16) to CAMB,
            ``55.154 exp(-72.3 (w_nu + 0.0006)^2) / (w_cb^0.25351 wb^0.12807)`` with
            ``w_nu = Onu_mass h^2`` (:func:`omega_nu_mass`), ``w_cb = Om0 h^2 - w_nu``
            (CDM + baryons); ~0.02% accurate near standard physics (Neff = 3.046, light
            neutrinos). It uses only the physical densities, so it is the same for every
            model.
        ``"eh98"``: the numerical :func:`sound_horizon` of the model at the Eisenstein & Hu
            1998 ``z_d`` (:func:`z_drag_eh98`). About 2.5% HIGH relative to ``"aubourg"``
            (150.75 vs 147.08 Mpc at the Planck 2018 point): the fitted z_d, ~1021, lies
            ~40 below the drag epoch of a full recombination calculation (~1060). For
            comparisons with the research code, not for precision BAO fits.
    """
    if method == "aubourg":
        v = {n: require_float64(p[n], n) for n in ("H0", "Om0", "Obh2", "Neff", "Tcmb", "m_nu")}
        w_nu = omega_nu_mass(v) * _h(v) ** 2
        w_cb = _wm(v) - w_nu
        return (
            55.154 * jnp.exp(-72.3 * (w_nu + 0.0006) ** 2) / (w_cb**0.25351 * v["Obh2"] ** 0.12807)
        )
    if method == "eh98":
        return sound_horizon(z_drag_eh98(p), p, model, low_z=False)
    raise ValueError(
        f"unknown r_drag method {method!r}; valid methods: {', '.join(R_DRAG_METHODS)}"
    )


def cmb_observables(p, model: str | CosmoModel = "lcdm", dm_star=None):
    """CMB distance-prior vector ``[R, l_A, wb, ns]`` (dimensionless), at ``z* =``
    :func:`z_star`:

    ``R = sqrt(Om0) H0 D_M(z*) / c`` (shift parameter), ``l_A = pi D_M(z*) / r_s(z*)``
    (acoustic scale), ``wb = Obh2``, ``ns``. These are the quantities of the Chen, Huang &
    Wang 2019 priors, but computed with the Hu-Sugiyama z* rather than the priors' full
    recombination history, so they do not reproduce the priors at the Planck 2018 best fit:
    there (massless neutrinos) R = 1.74875 and l_A = 302.560, 12 sigma above the prior's
    301.471; with m_nu = 0.06 eV counted in Om0, l_A = 302.121 (7 sigma).

    ``dm_star``: ``D_M(z*)`` [Mpc] when the caller has it already (the chi2 computes it with
    the data's distances in one :func:`comoving_distances`); None: computed here.
    """
    model = _resolve(model)
    v = _values(p, model)
    zs = z_star(v)
    if dm_star is None:
        dm_star = bend(comoving_distances(jnp.zeros(0), v, model, z_top=zs)[0], v)
    shift = jnp.sqrt(v["Om0"]) * v["H0"] * dm_star / C_KM_S
    acoustic = jnp.pi * dm_star / sound_horizon(zs, v, model, low_z=False)
    return jnp.stack([shift, acoustic, v["Obh2"], v["ns"]])
