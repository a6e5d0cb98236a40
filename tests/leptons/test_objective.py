"""Tests of jaxfit.leptons.objective: the profiled objectives against independent numpy
formulas and brute-force minimisation, jit/eager agreement, finite gradients and bad input.

Named references (tolerances in each test):
- the spec's formulas S_opt = sum(m E/s^2)/sum(E^2/s^2), chi2 = sum(((S E - m)/s)^2),
  s = sigma_model m, and C_mu the same for g against mu = 0.2 (R_c + w) U, written in numpy;
- scipy.optimize.minimize_scalar (Brent) over S and C_mu;
- the independent numpy energy of conftest.py (np_energies).
"""

import math

import jax
import numpy as np
import pytest
import scipy.optimize

import jaxfit  # noqa: F401  (float64)
from jaxfit.leptons import objective as O
from jaxfit.leptons.data import load_targets
from jaxfit.leptons.model import BETA_REF, EnergyConfig, energies

TARGETS = load_targets()
M = np.asarray(TARGETS.masses)
G = np.asarray(TARGETS.g)
DEFAULT = EnergyConfig()

POINT = {
    "R_c_e": 1.0, "U_e": 0.05, "A_e": 0.9,
    "R_c_mu": 0.15, "U_mu": 0.1, "A_mu": 0.85,
    "R_c_tau": 0.5, "U_tau": 0.08, "A_tau": 0.75,
    "beta": BETA_REF, "w": 0.02,
}

# the objectives take their data: fun(params, data), one module-level function per kind
MASS, MASS_DATA = O.make_objective("mass", config=DEFAULT, sigma_model=1e-4)
CROSS, CROSS_DATA = O.make_objective("cross", config=DEFAULT, sigma_model=1e-5, sigma_g=1e-7)
# shared compiled objects (module level, so every test in a worker reuses them)
MASS_JIT = jax.jit(MASS)
CROSS_JIT = jax.jit(CROSS)
MASS_GRAD = jax.jit(jax.grad(MASS))
CROSS_GRAD = jax.jit(jax.grad(CROSS))


def _energy_totals(point, config=DEFAULT):
    """E_total of e, mu, tau from jaxfit.leptons.model.energies, one lepton at a time."""
    return np.array([
        float(energies(point[f"R_c_{lep}"], point[f"U_{lep}"], point[f"A_{lep}"],
                       point["beta"], point["w"], config)["E_total"])
        for lep in ("e", "mu", "tau")
    ])


def test_numpy_reference_energy_agrees_with_model(numpy_energies):
    E = _energy_totals(POINT)
    ref = numpy_energies([1.0, 0.15, 0.5], [0.05, 0.1, 0.08], [0.9, 0.85, 0.75], BETA_REF, 0.02)
    np.testing.assert_allclose(E, ref, rtol=1e-12)


def test_mass_chi2_equals_numpy_formula(numpy_profiled_chi2):
    """mass_chi2 and mass_summary = the spec's formulas on the model's energies (1e-12)."""
    E = _energy_totals(POINT)
    S, chi2 = numpy_profiled_chi2(E, M, 1e-4 * M)
    assert float(MASS(POINT, MASS_DATA)) == pytest.approx(chi2, rel=1e-12)
    # the closure form for use by hand is the same function with the data bound
    assert float(O.mass_chi2(DEFAULT, 1e-4)(POINT)) == pytest.approx(chi2, rel=1e-12)
    summary = O.mass_summary(POINT)
    assert summary["S_opt"] == pytest.approx(S, rel=1e-12)
    assert summary["chi2"] == pytest.approx(chi2, rel=1e-12)
    for i, lep in enumerate(("e", "mu", "tau")):
        assert summary["energies"][lep] == pytest.approx(E[i], rel=1e-12)
        assert summary["masses_model"][lep] == pytest.approx(S * E[i], rel=1e-12)
        assert summary["residuals"][lep] == pytest.approx((S * E[i] - M[i]) / M[i],
                                                          rel=1e-9, abs=1e-15)


def test_profile_scale_equals_brute_force_minimum():
    """S_opt = argmin over S of the mass chi2 (Brent, scipy.optimize.minimize_scalar) to
    1e-10. Brent can locate a minimum only to ~sqrt(eps * chi2_min / curvature), so the
    targets are the model's own masses at POINT times S = 7.5 with relative offsets of a few
    1e-5 (chi2_min ~ 0.1): then the brute-force minimum is resolved far below 1e-10."""
    E = _energy_totals(POINT)
    masses = 7.5 * E * (1.0 + np.array([2e-5, -3e-5, 1e-5]))
    targets = TARGETS.with_masses(masses)
    sigma = 1e-4 * masses
    chi2 = lambda S: float(np.sum(((S * E - masses) / sigma) ** 2))  # noqa: E731
    brute = scipy.optimize.minimize_scalar(chi2, bracket=(7.0, 8.0), method="brent",
                                           options={"xtol": 1e-14})
    summary = O.mass_summary(POINT, targets=targets)
    assert summary["S_opt"] == pytest.approx(brute.x, rel=1e-10)
    assert summary["chi2"] == pytest.approx(brute.fun, rel=1e-8)


def test_cross_chi2_and_C_mu_equal_brute_force(numpy_profiled_chi2):
    """cross_chi2 = numpy formulas (1e-12); C_mu = Brent minimum over C (1e-10) at a point
    whose magnetic moments are proportional to g within 3e-9 (so chi2_g ~ 0.1 and the
    brute-force minimum is resolved, see the S_opt test)."""
    point = dict(POINT)
    mu_e = 0.2 * (point["R_c_e"] + point["w"]) * point["U_e"]
    point["R_c_mu"] = 0.28
    point["U_mu"] = mu_e * (G[1] / G[0]) * (1 + 3e-9) / (0.2 * (0.28 + point["w"]))
    E = _energy_totals(point)
    _, chi2_mass = numpy_profiled_chi2(E, M, 1e-5 * M)
    mu = 0.2 * np.array([point["R_c_e"] + 0.02, 0.28 + 0.02]) * np.array(
        [point["U_e"], point["U_mu"]])
    C = np.sum(G * mu / 1e-7**2) / np.sum(mu**2 / 1e-7**2)
    chi2_g = float(np.sum(((C * mu - G) / 1e-7) ** 2))
    assert float(CROSS(point, CROSS_DATA)) == pytest.approx(chi2_mass + chi2_g, rel=1e-12)
    assert float(O.cross_chi2(DEFAULT, 1e-5, 1e-7)(point)) == pytest.approx(
        chi2_mass + chi2_g, rel=1e-12)

    brute = scipy.optimize.minimize_scalar(
        lambda c: float(np.sum(((c * mu - G) / 1e-7) ** 2)),
        bracket=(0.9 * C, 1.1 * C), method="brent", options={"xtol": 1e-14})
    summary = O.cross_summary(point, sigma_model=1e-5, sigma_g=1e-7)
    assert summary["C_mu"] == pytest.approx(brute.x, rel=1e-10)
    assert summary["chi2_g"] == pytest.approx(chi2_g, rel=1e-6, abs=1e-9)
    assert summary["chi2"] == pytest.approx(chi2_mass + chi2_g, rel=1e-12)
    assert set(summary["g_pred"]) == {"e", "mu"}  # tau left out by default


def test_jit_equals_eager_and_gradients_finite():
    for fun, jitted, grad, data in ((MASS, MASS_JIT, MASS_GRAD, MASS_DATA),
                                    (CROSS, CROSS_JIT, CROSS_GRAD, CROSS_DATA)):
        assert float(jitted(POINT, data)) == pytest.approx(float(fun(POINT, data)), rel=1e-12)
        # at the point and at a corner on the bounds (A = 1, the sigmoid's limit)
        corner = POINT | {"A_e": 1.0, "A_mu": 1.0, "R_c_mu": 0.3, "U_tau": 0.15}
        for p in (POINT, corner):
            g = grad(p, data)
            assert set(g) == set(POINT)
            assert all(np.isfinite(float(v)) for v in g.values())



def test_lepton_energies_vmaps_the_model():
    """lepton_energies = model.energies lepton by lepton (one vmap, same numbers)."""
    parts = O.lepton_energies(POINT)
    np.testing.assert_allclose(parts["E_total"], _energy_totals(POINT), rtol=1e-13)


def test_summaries_of_a_point():
    """lepton_summary checks a point given by hand; point_summary takes an optimiser's
    point as given; both give the same plain floats, per lepton."""
    checked = O.lepton_summary(POINT, MASS_DATA)
    trusted = O.point_summary(POINT, MASS_DATA)
    assert checked == trusted
    assert set(checked["pulls"]) == {"e", "mu", "tau"} and isinstance(checked["chi2"], float)
    batch = {k: np.full(3, v) for k, v in POINT.items()}
    parts = O.parts_at_points(batch, MASS_DATA)
    assert parts["chi2"].shape == (3,)
    np.testing.assert_allclose(parts["chi2"], checked["chi2"], rtol=1e-12)


def test_bad_input_gets_clear_errors():
    with pytest.raises(ValueError, match="sigma_model"):
        O.mass_chi2(sigma_model=0.0)
    with pytest.raises(ValueError, match="sigma_g"):
        O.cross_chi2(sigma_g=math.nan)
    with pytest.raises(ValueError, match="tau"):
        O.cross_chi2(include_tau_g=True)
    with pytest.raises(ValueError, match=r"masses\[2\]"):
        TARGETS.with_masses((0.511, 105.66, math.nan))
    with pytest.raises(KeyError, match="U_mu"):
        O.mass_summary({k: v for k, v in POINT.items() if k != "U_mu"})
    with pytest.raises(ValueError, match="A_mu"):
        O.mass_summary(POINT | {"A_mu": 1.5})
    with pytest.raises(TypeError, match="EnergyConfig"):
        O.mass_chi2(config="vortex")
    with pytest.raises(TypeError, match="targets"):
        O.lepton_data(targets={"e": 0.511})
    with pytest.raises(ValueError, match="kind"):
        O.make_objective("masses")
    with pytest.raises(ValueError, match="cross data"):
        O.cross_chi2_of(POINT, MASS_DATA)
