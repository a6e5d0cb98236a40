"""The lepton objectives ``fun(params, data)`` and everything derived at a parameter point.

An objective is a pure JAX function of a ``{name: value}`` dict (the 9 lepton parameters
``R_c_e, U_e, A_e, R_c_mu, ..., A_tau`` and the shared ``beta``, ``w``;
:mod:`jaxfit.leptons.params`) and a :class:`LeptonData` pytree (targets, uncertainties,
energy config; built by :func:`lepton_data`), one module-level function per kind:

- :func:`mass_chi2_of`: the three energies
  ``E_l = energies(R_c_l, U_l, A_l, beta, w)["E_total"]`` (one ``jax.vmap`` over the
  leptons) against the masses ``m_l`` with the global scale ``S`` profiled analytically
  (:func:`jaxfit.core.likelihood.profile_scale`):
  ``S_opt = sum(m E / sigma^2) / sum(E^2 / sigma^2)``,
  ``chi2 = sum(((S_opt E_l - m_l) / sigma_l)^2)``, ``sigma_l = sigma_model m_l``.
- :func:`cross_chi2_of`: the mass chi2 plus the g-factors, ``g_pred = C_mu mu_l`` with
  ``mu_l = K_geom Q (R_c_l + w) U_l`` and ``C_mu`` profiled the same way, absolute
  ``sigma_g``; tau is left out unless ``include_tau_g`` (CODATA gives no tau anomaly).

Every workflow passes the data to the core as ``data=``, an argument of the compiled
programs, so other targets and ``sigma_model`` compile nothing new
(tests/leptons/test_compile_once.py). Static, part of the program: the kind, which leptons
have a g term, and the energy config (flow and quadrature choose the program; the box
numbers are kept as constants for speed, see :class:`LeptonData`). :func:`make_objective`
returns the ``(fun, data)`` pair; :func:`mass_chi2` and :func:`cross_chi2` return the
one-argument closure ``fun(params)`` for use by hand. :func:`lepton_summary` and its
``mass_`` / ``cross_`` forms give every derived quantity at one point as plain floats.

Units: masses in MeV, ``S`` in MeV per dimensionless model energy unit, ``C_mu`` in g per
model magnetic-moment unit, lengths and speeds in model units (:mod:`jaxfit.leptons.model`).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping

import jax
import jax.numpy as jnp
import numpy as np

from jaxfit.core import checks
from jaxfit.core.likelihood import profile_scale
from jaxfit.core.objective import least_squares
from jaxfit.leptons.data import LEPTONS, LeptonTargets, check_sigma, check_targets, mass_sigmas
from jaxfit.leptons.model import DEFAULT_CONFIG, EnergyConfig, energies, magnetic_moment
from jaxfit.leptons.params import LEPTON_PARAMS, check_values, lepton_spec

KINDS = ("mass", "cross")
"""The objectives: the masses alone, or masses and g-factors (cross-lepton)."""


def _lepton_arrays(params):
    stack = lambda q: jnp.stack([jnp.asarray(params[f"{q}_{lep}"]) for lep in LEPTONS])  # noqa: E731
    return stack("R_c"), stack("U"), stack("A")


def lepton_energies(params, config: EnergyConfig = DEFAULT_CONFIG) -> dict:
    """``{"E_circ", "E_stab", "E_grad", "E_total"}``, each shape (3,) in e, mu, tau order:
    :func:`jaxfit.leptons.model.energies` vmapped over the leptons (pure JAX)."""
    R_c, U, A = _lepton_arrays(params)
    beta, w = jnp.asarray(params["beta"]), jnp.asarray(params["w"])
    return jax.vmap(lambda r, u, a: energies(r, u, a, beta, w, config))(R_c, U, A)


@dataclasses.dataclass(frozen=True, eq=False)
class LeptonData:
    """What a lepton objective reads besides the parameters: a JAX pytree, passed to the
    compiled fits, scans and Hessians as an argument (never baked in as constants), so
    other targets and uncertainties of the same shapes compile nothing new.

    Built and validated by :func:`lepton_data`.

    Array leaves:
        masses: target masses ``m_l c^2`` (MeV), shape (3,), in :data:`LEPTONS` order.
        sigma: their model uncertainties ``sigma_l = sigma_model m_l`` (MeV), shape (3,).
        g: g-factor targets ``2 (1 + a_l)`` of the leptons in ``g_index``
            (dimensionless), shape (n_g,); empty for ``kind="mass"``.
        sigma_g: their absolute uncertainties, shape (n_g,).

    Static (part of the compiled program's identity):
        kind: ``"mass"`` or ``"cross"`` (mass chi2 plus the g-factor chi2).
        g_index: positions in :data:`LEPTONS` of the leptons with a g term (``()`` for mass).
        config: the energy functional (:class:`~jaxfit.leptons.model.EnergyConfig`, frozen
            and hashable). Its flow and node count choose the program; its box and coupling
            numbers are static too, on purpose: as constants XLA folds them into the
            quadrature, and as array arguments every evaluation of (chi2, gradient) cost
            ~45% more (64 points, 2 CPU cores: 0.89 against 0.61 ms; a warm 64-start fit
            10-20% more), while no workflow varies the box. Another box compiles a new
            program.
    """

    masses: np.ndarray
    sigma: np.ndarray
    g: np.ndarray
    sigma_g: np.ndarray
    config: EnergyConfig = DEFAULT_CONFIG
    kind: str = "mass"
    g_index: tuple[int, ...] = ()

    @property
    def g_names(self) -> tuple[str, ...]:
        """The leptons with a g-factor term, in ``g`` order."""
        return tuple(LEPTONS[i] for i in self.g_index)


jax.tree_util.register_dataclass(
    LeptonData, data_fields=["masses", "sigma", "g", "sigma_g"],
    meta_fields=["config", "kind", "g_index"],
)


def _g_index(targets: LeptonTargets, include_tau_g: bool) -> tuple[tuple[int, ...], np.ndarray]:
    names = [n for n in targets.g_names if include_tau_g or n != "tau"]
    if include_tau_g and "tau" not in targets.g_names:
        raise ValueError(
            "include_tau_g=True but the targets have no tau g-factor: CODATA gives none (the "
            "tau anomaly is only bounded, -0.052 < a_tau < 0.013 at 95% CL, DELPHI 2004); add "
            "a hypothesised one with targets.with_g('tau', a_tau, sigma)"
        )
    if not names:
        raise ValueError("the targets have no g-factor to fit")
    index = tuple(LEPTONS.index(n) for n in names)
    g = np.asarray([targets.g[targets.g_names.index(n)] for n in names], dtype=np.float64)
    return index, g


def lepton_data(kind: str = "mass", *, config: EnergyConfig = DEFAULT_CONFIG,
                sigma_model: float = 1e-4, sigma_g: float = 2e-8, include_tau_g: bool = False,
                targets: LeptonTargets | None = None) -> LeptonData:
    """The validated :class:`LeptonData` of the ``kind`` objective.

    Args:
        kind: ``"mass"`` (:func:`mass_chi2_of`) or ``"cross"`` (:func:`cross_chi2_of`).
        config: energy functional settings (flow, box, quadrature).
        sigma_model: relative model uncertainty of the masses (> 0).
        sigma_g: absolute uncertainty of g (> 0; ``kind="cross"`` only).
        include_tau_g: also fit the tau g (the targets must carry one; CODATA has none).
        targets: masses and g-factors (default: CODATA 2022,
            :func:`jaxfit.leptons.data.load_targets`).

    Raises:
        ValueError: unknown kind; ``sigma_model`` or ``sigma_g`` not finite and > 0; targets
            not for (e, mu, tau); no g-factor to fit. TypeError: ``config`` or ``targets``
            of the wrong type.
    """
    checks.one_of(kind, "kind", KINDS)
    checks.instance(config, "config", EnergyConfig)
    targets = check_targets(targets)
    sigma = mass_sigmas(targets, sigma_model)  # checks sigma_model
    if kind == "cross":
        sigma_g = check_sigma(sigma_g, "sigma_g")
        g_index, g = _g_index(targets, bool(include_tau_g))
        sigma_g = np.full(len(g), sigma_g)
    else:
        g_index, g, sigma_g = (), np.zeros(0), np.zeros(0)
    return LeptonData(masses=targets.mass_array, sigma=sigma, g=g, sigma_g=sigma_g,
                      config=config, kind=kind, g_index=g_index)


def lepton_parts(params, data: LeptonData) -> dict:
    """Every derived quantity of the objective at one parameter point (pure JAX; ``vmap``
    over ``params`` for batches).

    Returns:
        ``{"S_opt" (MeV per model energy unit), "chi2_mass", "chi2", "E_circ", "E_stab",
        "E_grad", "E_total" (shape (3,)), "masses_model" (MeV), "residuals" ((S E - m) / m),
        "pulls" ((S E - m) / sigma)}``; for ``data.kind == "cross"`` also ``"C_mu"``,
        ``"chi2_g"``, ``"magnetic_moments"``, ``"g_pred"``, ``"g_residuals"``
        (absolute), ``"g_pulls"``, and ``"chi2"`` is the sum of the two.
    """
    m = data.masses
    comp = lepton_energies(params, data.config)
    e_total = comp["E_total"]
    scale, chi2_mass = profile_scale(e_total, m, sigma=data.sigma)
    model = scale * e_total
    out = {
        "S_opt": scale,
        "chi2_mass": chi2_mass,
        "chi2": chi2_mass,
        **comp,
        "masses_model": model,
        "residuals": (model - m) / m,
        "pulls": (model - m) / data.sigma,
    }
    if data.kind == "cross":
        R_c, U, _ = _lepton_arrays(params)
        idx = np.asarray(data.g_index)  # static: which leptons have a g term
        mu = magnetic_moment(R_c[idx], U[idx], jnp.asarray(params["w"]))
        c_mu, chi2_g = profile_scale(mu, data.g, sigma=data.sigma_g)
        g_pred = c_mu * mu
        out |= {
            "C_mu": c_mu,
            "chi2_g": chi2_g,
            "chi2": chi2_mass + chi2_g,
            "magnetic_moments": mu,
            "g_pred": g_pred,
            "g_residuals": g_pred - data.g,
            "g_pulls": (g_pred - data.g) / data.sigma_g,
        }
    return out


def mass_chi2_of(params, data: LeptonData):
    """The mass chi2 with the global scale profiled, ``fun(params, data) -> chi2``.

    ``chi2 = sum(((S_opt E_l - m_l) / sigma_l)^2)`` with ``E_l`` the ``E_total`` of lepton
    l, ``m_l = data.masses``, ``sigma_l = data.sigma`` (MeV) and
    ``S_opt = sum(m E / sigma^2) / sum(E^2 / sigma^2)`` (module doc). The g fields of
    ``data`` are not read. Pure JAX; one module-level function, so compiled fits are cached
    on it and on the shapes of ``data``.
    """
    e_total = lepton_energies(params, data.config)["E_total"]
    return profile_scale(e_total, data.masses, sigma=data.sigma)[1]


def cross_chi2_of(params, data: LeptonData):
    """Mass chi2 (S profiled) plus g chi2 with ``C_mu`` profiled, ``fun(params, data)``.

    ``g_pred_l = C_mu mu_l``, ``mu_l = 0.2 (R_c_l + w) U_l`` (K_geom = 0.2, Q = 1),
    ``C_mu = sum(g mu / sigma_g^2) / sum(mu^2 / sigma_g^2)``, absolute ``sigma_g``, over the
    leptons of ``data.g_index``. ``data`` must be of ``kind="cross"``.
    """
    if data.kind != "cross":
        raise ValueError(f"cross_chi2_of needs cross data (lepton_data('cross')), got "
                         f"kind {data.kind!r}")
    return lepton_parts(params, data)["chi2"]


def mass_pulls_of(params, data: LeptonData):
    """The residual vector of :func:`mass_chi2_of`: the pulls ``(S_opt E_l - m_l) /
    sigma_l`` of the three leptons (their squares sum to the mass chi2)."""
    return lepton_parts(params, data)["pulls"]


def cross_pulls_of(params, data: LeptonData):
    """The residual vector of :func:`cross_chi2_of`: the mass pulls, then the g pulls."""
    parts = lepton_parts(params, data)
    return jnp.concatenate([parts["pulls"], parts["g_pulls"]])


OBJECTIVES = {"mass": least_squares(mass_pulls_of), "cross": least_squares(cross_pulls_of)}
"""The objective ``fun(params, data)`` of each kind: the sum of the squared pulls, as a
:func:`jaxfit.core.objective.least_squares` objective, so ``method="lm"``
(Levenberg-Marquardt) can use the pulls themselves. Equal to :func:`mass_chi2_of` /
:func:`cross_chi2_of` to rounding."""

# The derived quantities of results files, compiled once per data structure (kind, energy
# config, which g terms) whatever the targets and uncertainties.
_parts_at_point = jax.jit(lepton_parts)
_parts_at_points = jax.jit(jax.vmap(lepton_parts, in_axes=(0, None)))


def make_objective(kind: str = "mass", *, config: EnergyConfig = DEFAULT_CONFIG,
                   sigma_model: float = 1e-4, sigma_g: float = 2e-8,
                   include_tau_g: bool = False, targets: LeptonTargets | None = None):
    """``(fun, data)``: the chi2 of :data:`OBJECTIVES` (``kind="mass"``: the sum of
    :func:`mass_pulls_of` squared, :func:`mass_chi2_of`; ``"cross"``: of
    :func:`cross_pulls_of`) and its :func:`lepton_data`. Pass both to the core, e.g.
    ``minimize(fun, spec, data=data)`` or ``map_batched(fun, batch, shared=data)``: a second
    call with other targets, ``sigma_model`` or ``sigma_g`` (same shapes, same config)
    returns the same ``fun`` and reuses every compiled program. Arguments as
    :func:`lepton_data`."""
    data = lepton_data(kind, config=config, sigma_model=sigma_model, sigma_g=sigma_g,
                       include_tau_g=include_tau_g, targets=targets)
    return OBJECTIVES[kind], data


def mass_chi2(config: EnergyConfig = DEFAULT_CONFIG, sigma_model: float = 1e-4,
              targets: LeptonTargets | None = None):
    """The mass chi2 as a function of the parameters alone, ``fun(params) -> chi2``:
    :func:`mass_chi2_of` with its :func:`lepton_data` bound (``functools.partial``).

    For evaluating or differentiating the chi2 by hand and for code written before the
    data style. A closure bakes the data into every program it is compiled into, and each
    call returns a new closure, so fits, scans and batches should take
    ``make_objective("mass", ...)`` and pass the data as ``data=`` / ``shared=``.

    Args:
        config: energy functional settings (flow, box, quadrature).
        sigma_model: relative model uncertainty (> 0).
        targets: masses (default: CODATA 2022, :func:`jaxfit.leptons.data.load_targets`).

    Raises:
        ValueError: ``sigma_model`` not finite and > 0; targets not for (e, mu, tau).
    """
    data = lepton_data("mass", config=config, sigma_model=sigma_model, targets=targets)
    return functools.partial(mass_chi2_of, data=data)


def cross_chi2(config: EnergyConfig = DEFAULT_CONFIG, sigma_model: float = 1e-4,
               sigma_g: float = 2e-8, include_tau_g: bool = False,
               targets: LeptonTargets | None = None):
    """:func:`cross_chi2_of` with its data bound, ``fun(params) -> chi2`` (the closure form,
    see :func:`mass_chi2`; fits should use ``make_objective("cross", ...)``).

    Args:
        config, sigma_model, targets: as :func:`mass_chi2`.
        sigma_g: absolute uncertainty of g (> 0; research: 2e-8, and 1e-7 with
            sigma_model = 1e-5).
        include_tau_g: also fit the tau g (the targets must then carry one; CODATA has none).
    """
    data = lepton_data("cross", config=config, sigma_model=sigma_model, sigma_g=sigma_g,
                       include_tau_g=include_tau_g, targets=targets)
    return functools.partial(cross_chi2_of, data=data)


def _checked_point(params: Mapping[str, float]) -> dict[str, float]:
    """Every parameter of ``params`` as a float, checked against its domain and bounds."""
    spec = lepton_spec(free_beta=True, free_w=True)
    missing = [n for n in spec.names if n not in params]
    if missing:
        raise KeyError(f"params lacks {missing}; needed: {', '.join(spec.names)}")
    values = check_values({n: params[n] for n in spec.names if not n.startswith("A_")}, "params")
    # A = 1 exactly is the closure of the bounds a fit can reach; inside [lower, upper] else
    values |= {n: checks.real(params[n], f"params: {n}") for n in spec.names if n.startswith("A_")}
    return spec.validate(values)


def _to_python(arrays, data: LeptonData) -> dict:
    arrays = {k: np.asarray(v) for k, v in arrays.items()}
    by = lambda key: {lep: float(v) for lep, v in zip(LEPTONS, arrays[key], strict=True)}  # noqa: E731
    out = {
        "chi2": float(arrays["chi2"]),
        "chi2_mass": float(arrays["chi2_mass"]),
        "S_opt": float(arrays["S_opt"]),
        "energies": by("E_total"),
        "energy_parts": {
            lep: {k: float(arrays[k][i]) for k in ("E_circ", "E_stab", "E_grad", "E_total")}
            for i, lep in enumerate(LEPTONS)
        },
        "masses_model": by("masses_model"),
        "masses_target": dict(zip(LEPTONS, data.masses.tolist(), strict=True)),
        "residuals": by("residuals"),
        "pulls": by("pulls"),
    }
    if data.kind == "cross":
        names = data.g_names
        per = lambda key: {n: float(v) for n, v in zip(names, arrays[key], strict=True)}  # noqa: E731
        out |= {
            "C_mu": float(arrays["C_mu"]),
            "chi2_g": float(arrays["chi2_g"]),
            "magnetic_moments": per("magnetic_moments"),
            "g_pred": per("g_pred"),
            "g_target": dict(zip(names, data.g.tolist(), strict=True)),
            "g_residuals": per("g_residuals"),
            "g_pulls": per("g_pulls"),
        }
    return out


def point_summary(params: Mapping[str, float], data: LeptonData) -> dict:
    """:func:`lepton_parts` at one parameter point as plain floats and per-lepton dicts (the
    ``summary`` of fits and scans). The point is taken as given, e.g. an optimiser's output,
    inside its bounds by construction; :func:`lepton_summary` checks it first."""
    point = {n: float(params[n]) for n in (*LEPTON_PARAMS, "beta", "w")}
    return _to_python(_parts_at_point(point, data), data)


def parts_at_points(batch: Mapping[str, np.ndarray], data: LeptonData) -> dict[str, np.ndarray]:
    """:func:`lepton_parts` at every point of ``batch`` (``{name: array}``, all of one
    shape, flattened), one compiled vmapped call; numpy arrays with a leading point axis."""
    flat = {n: jnp.asarray(np.asarray(v, dtype=np.float64).ravel()) for n, v in batch.items()}
    return {k: np.asarray(v) for k, v in _parts_at_points(flat, data).items()}


def lepton_summary(params: Mapping[str, float], data: LeptonData) -> dict:
    """:func:`point_summary` of a point given by hand, checked as in :func:`mass_summary`."""
    return point_summary(_checked_point(params), data)


def mass_summary(params: Mapping[str, float], config: EnergyConfig = DEFAULT_CONFIG,
                 sigma_model: float = 1e-4, targets: LeptonTargets | None = None) -> dict:
    """Everything derived from the mass objective at one parameter point.

    Returns:
        ``{"chi2", "chi2_mass", "S_opt" (MeV per model energy unit), "energies"
        {lepton: E_total}, "energy_parts" {lepton: {E_circ, E_stab, E_grad, E_total}},
        "masses_model", "masses_target" (MeV), "residuals" (relative, (S E - m) / m),
        "pulls" ((S E - m) / sigma)}``, plain floats.

    Raises:
        KeyError: a parameter missing.
        ValueError: a value NaN, non-positive where it must be positive, or outside its
            bounds (``A = 1``, the bound a fit can reach, is allowed).
    """
    data = lepton_data("mass", config=config, sigma_model=sigma_model, targets=targets)
    return lepton_summary(params, data)


def cross_summary(params: Mapping[str, float], config: EnergyConfig = DEFAULT_CONFIG,
                  sigma_model: float = 1e-4, sigma_g: float = 2e-8,
                  include_tau_g: bool = False, targets: LeptonTargets | None = None) -> dict:
    """:func:`mass_summary` plus ``C_mu``, ``chi2_g``, ``magnetic_moments``, ``g_pred``,
    ``g_target``, ``g_residuals`` (absolute) and ``g_pulls``; ``chi2`` is the total."""
    data = lepton_data("cross", config=config, sigma_model=sigma_model, sigma_g=sigma_g,
                       include_tau_g=include_tau_g, targets=targets)
    return lepton_summary(params, data)
