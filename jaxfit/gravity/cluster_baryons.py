"""A cluster's baryons as pytree containers: gas and stellar components, each giving its
enclosed mass in a sphere (``"3d"``) or a cylinder (``"projected"``), and their sum
(:class:`BaryonModel`).

Components: :class:`BetaGas` (isothermal beta model), :class:`TabulatedDensity` (gas
``n_e(r)`` or stellar ``rho(r)`` tables, ACCEPT shells), :class:`DPIEGas` (dPIE
components, possibly offset), :class:`HernquistStars` (a BCG) and :class:`ApertureMasses`
(projected stellar masses used directly); the physics of each is
:mod:`jaxfit.gravity.cluster_profiles`. The constructors (:func:`beta_gas`,
:func:`gas_from_ne_table`, :func:`stars_from_rho_table`, :func:`gas_from_shells`) check
their inputs on the host. Units: kpc, Msun, cm^-3, m_p.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from jaxfit.core import checks
from jaxfit.gravity.arrays import f64, pytree
from jaxfit.gravity.cluster_profiles import (
    INTERPOLATIONS,
    MU_E_DEFAULT,
    R_MAX_DEFAULT,
    aperture_mass,
    beta_model_density,
    dpie_density,
    dpie_mass_3d,
    dpie_mass_projected,
    dpie_surface_density,
    enclosed_mass_3d,
    enclosed_mass_projected,
    hernquist_mass_3d,
    hernquist_mass_projected,
    ne_to_rho,
    offset_mass_3d,
    offset_mass_projected,
    tabulated_density,
    tabulated_mass_3d,
    tabulated_mass_projected,
)

PROJECTIONS = ("3d", "projected")
"""Enclosed-mass geometries: ``"3d"`` sphere of radius r, ``"projected"`` cylinder of radius R."""



@functools.partial(jax.jit, static_argnames="projection")
def _component_mass(component, R, projection: str):
    return component._mass(R, projection)


class _Component:
    """Shared ``mass`` of the profile containers: validates ``projection`` and runs the
    component's ``_mass`` under one ``jit`` (compiled once per component type and shape)."""

    def mass(self, R, projection: str = "projected"):
        """Enclosed mass [Msun] within radius r (``"3d"``) or R (``"projected"``) [kpc]."""
        projection = checks.one_of(projection, "projection", PROJECTIONS)
        return _component_mass(self, jnp.asarray(R, jnp.float64), projection)


@pytree(["n_e0", "r_c", "beta", "mu_e", "r_max"])
@dataclass(frozen=True, eq=False)
class BetaGas(_Component):
    """Isothermal beta-model gas: ``n_e0`` [cm^-3], ``r_c`` [kpc], ``beta``, ``mu_e`` [m_p],
    truncated at ``r_max`` [kpc] in projected masses (the 3-D mass is untruncated)."""

    n_e0: jax.Array
    r_c: jax.Array
    beta: jax.Array
    mu_e: jax.Array
    r_max: jax.Array

    def density(self, r):
        return beta_model_density(r, self.n_e0, self.r_c, self.beta, self.mu_e)

    def _mass(self, R, projection: str):
        if projection == "3d":
            return enclosed_mass_3d(self.density, R)
        return enclosed_mass_projected(self.density, R, self.r_max)


@pytree(["r_nodes", "rho_nodes", "r_max"], ["interp"])
@dataclass(frozen=True, eq=False)
class TabulatedDensity(_Component):
    """Tabulated density (gas ``mu_e m_p n_e`` or stars), see :func:`tabulated_density`.

    Attributes:
        r_nodes: node radii (``"loglog"``) or shell edges (``"shells"``) [kpc].
        rho_nodes: densities [Msun/kpc^3].
        r_max: truncation radius [kpc] (the table's outer edge by default).
        interp: ``"loglog"`` or ``"shells"``.
    """

    r_nodes: jax.Array
    rho_nodes: jax.Array
    r_max: jax.Array
    interp: str = "loglog"

    def density(self, r):
        return tabulated_density(r, self.r_nodes, self.rho_nodes, self.r_max, self.interp)

    def _mass(self, R, projection: str):
        args = (self.r_nodes, self.rho_nodes, self.r_max, self.interp)
        if projection == "3d":
            return tabulated_mass_3d(R, *args)
        return tabulated_mass_projected(R, *args)


@pytree(["rho0", "r_core", "r_cut", "offset"])
@dataclass(frozen=True, eq=False)
class DPIEGas(_Component):
    """Sum of spherical dPIE gas components, arrays of shape (K,): ``rho0`` [Msun/kpc^3],
    ``r_core``, ``r_cut`` [kpc], ``offset`` = projected distance of each centre from the
    aperture centre [kpc] (0: concentric)."""

    rho0: jax.Array
    r_core: jax.Array
    r_cut: jax.Array
    offset: jax.Array

    def _mass(self, R, projection: str):
        # closed forms; offset components by quadrature
        projected = projection == "projected"

        def component(rho0, a, s, d):
            if projected:
                return offset_mass_projected(
                    lambda p: dpie_surface_density(p, rho0, a, s),
                    lambda x: dpie_mass_projected(x, rho0, a, s),
                    R,
                    d,
                )
            return offset_mass_3d(
                lambda p: dpie_density(p, rho0, a, s),
                lambda x: dpie_mass_3d(x, rho0, a, s),
                R,
                d,
            )

        masses = jax.vmap(component)(self.rho0, self.r_core, self.r_cut, self.offset)
        return jnp.sum(masses, axis=0)


@pytree(["total_mass", "a"])
@dataclass(frozen=True, eq=False)
class HernquistStars(_Component):
    """Hernquist BCG: total stellar mass ``total_mass`` [Msun], scale radius ``a`` [kpc]."""

    total_mass: jax.Array
    a: jax.Array

    def _mass(self, R, projection: str):
        if projection == "3d":
            return hernquist_mass_3d(R, self.total_mass, self.a)
        return hernquist_mass_projected(R, self.total_mass, self.a)


@pytree(["radii", "masses"])
@dataclass(frozen=True, eq=False)
class ApertureMasses(_Component):
    """Projected stellar masses ``masses`` [Msun] within apertures ``radii`` [kpc]
    (:func:`aperture_mass`); the same values are used for ``"3d"`` (see the module doc)."""

    radii: jax.Array
    masses: jax.Array

    def _mass(self, R, projection: str):
        return aperture_mass(R, self.radii, self.masses)


@pytree(["components"], ["labels"])
@dataclass(frozen=True, eq=False)
class BaryonModel:
    """A cluster's baryons: a tuple of components (gas and stars) and their labels."""

    components: tuple
    labels: tuple[str, ...] = ()

    def mass(self, R, projection: str = "projected"):
        """Total baryon mass [Msun] within r (``"3d"``) or R (``"projected"``)."""
        checks.one_of(projection, "projection", PROJECTIONS)
        R = jnp.asarray(R, jnp.float64)
        total = jnp.zeros_like(R)
        for component in self.components:  # a few components of different types
            total = total + component.mass(R, projection)
        return total

    def component_masses(self, R, projection: str = "projected") -> dict[str, jax.Array]:
        """``{label: mass}`` of each component at R."""
        return {
            label: c.mass(R, projection)
            for label, c in zip(self.labels, self.components, strict=True)
        }


def beta_gas(n_e0, r_c, beta, *, mu_e=MU_E_DEFAULT, r_max=R_MAX_DEFAULT) -> BetaGas:
    """A :class:`BetaGas` after checking the parameters (each must be finite and > 0)."""
    values = {"n_e0": n_e0, "r_c": r_c, "beta": beta, "mu_e": mu_e, "r_max": r_max}
    for name, value in values.items():
        checks.real(value, name, positive=True)
    return BetaGas(*(f64(v) for v in values.values()))


def gas_from_ne_table(r_kpc, n_e_cm3, *, mu_e=MU_E_DEFAULT, r_max=None) -> TabulatedDensity:
    """Log-log tabulated gas from node radii [kpc] and ``n_e`` [cm^-3]; ``r_max`` defaults to
    the last node (no extrapolation)."""
    r = np.asarray(r_kpc, dtype=np.float64)
    ne = np.asarray(n_e_cm3, dtype=np.float64)
    check_table(r, ne, "r_kpc", "n_e_cm3")
    checks.real(mu_e, "mu_e", positive=True)
    r_max = r[-1] if r_max is None else checks.real(r_max, "r_max", positive=True)
    return TabulatedDensity(f64(r), f64(ne_to_rho(ne, mu_e)), f64(r_max), "loglog")


def stars_from_rho_table(r_kpc, rho_Msun_kpc3, *, r_max=None) -> TabulatedDensity:
    """Log-log tabulated stellar density [Msun/kpc^3] at radii [kpc]."""
    r = np.asarray(r_kpc, dtype=np.float64)
    rho = np.asarray(rho_Msun_kpc3, dtype=np.float64)
    check_table(r, rho, "r_kpc", "rho_Msun_kpc3")
    r_max = r[-1] if r_max is None else checks.real(r_max, "r_max", positive=True)
    return TabulatedDensity(f64(r), f64(rho), f64(r_max), "loglog")


def gas_from_shells(r_in_kpc, r_out_kpc, n_e_cm3, *, mu_e=MU_E_DEFAULT, interp="loglog"):
    """Tabulated gas from deprojected shells (ACCEPT): ``"loglog"`` puts nodes at the shell
    mid-points ``(r_in + r_out)/2``, ``"shells"`` keeps the density constant in each shell;
    ``r_max`` is the outer edge of the last shell."""
    r_in = np.asarray(r_in_kpc, dtype=np.float64)
    r_out = np.asarray(r_out_kpc, dtype=np.float64)
    ne = np.asarray(n_e_cm3, dtype=np.float64)
    checks.real(mu_e, "mu_e", positive=True)
    checks.one_of(interp, "interp", INTERPOLATIONS)
    rho = ne_to_rho(ne, mu_e)
    if interp == "shells":
        edges = np.concatenate([r_in[:1], r_out])
        return TabulatedDensity(f64(edges), f64(rho), f64(r_out[-1]), "shells")
    mid = 0.5 * (r_in + r_out)
    return TabulatedDensity(f64(mid), f64(rho), f64(r_out[-1]), "loglog")


def check_table(r, values, r_name: str, v_name: str, where: str = "table") -> None:
    """Check a profile table for log-log interpolation: radii ``r`` 1-D, > 0 and increasing,
    ``values`` > 0 and of the same length >= 2 (the message names ``where`` and columns)."""
    if r.ndim != 1 or r.shape != values.shape or r.size < 2:
        raise ValueError(
            f"{where}: {r_name} and {v_name} must be 1-D of equal length >= 2, got shapes "
            f"{r.shape} and {values.shape}"
        )
    if not (np.all(np.isfinite(r)) and np.all(np.isfinite(values))):
        raise ValueError(f"{where}: non-finite values in {r_name} or {v_name}")
    if not (np.all(r > 0) and np.all(np.diff(r) > 0)):
        raise ValueError(f"{where}: {r_name} must be > 0 and strictly increasing")
    if not np.all(values > 0):
        raise ValueError(f"{where}: {v_name} must be > 0 (log-log interpolation)")
