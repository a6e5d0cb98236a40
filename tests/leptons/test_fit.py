"""Tests of jaxfit.leptons.fit: the profiled objectives against independent numpy formulas
and brute-force minimisation, synthetic recovery of beta by the profile likelihood, the
tension with the CODATA masses, the multi-start fit against scipy differential evolution on
an independent numpy implementation, jit/eager agreement and bad input.

Named references (tolerances in each test):
- the spec's formulas S_opt = sum(m E/s^2)/sum(E^2/s^2), chi2 = sum(((S E - m)/s)^2),
  s = sigma_model m, and C_mu the same for g against mu = 0.2 (R_c + w) U, written in numpy;
- scipy.optimize.minimize_scalar (Brent) over S and C_mu;
- scipy.optimize.differential_evolution (maxiter 1000, seed 42, polish) on the mass chi2 with
  an independent numpy energy (:func:`np_energies`: Gauss-Legendre interior, closed-form
  exterior, analytic slope of the density deficit), as the research optimised it;
- synthetic targets made by the model itself at beta = 3.10.
"""

import math

import jax
import numpy as np
import pytest
import scipy.optimize
from numpy.polynomial.legendre import leggauss

import jaxfit  # noqa: F401  (float64)
from jaxfit.leptons import fit as F
from jaxfit.leptons.data import load_targets
from jaxfit.leptons.model import BETA_REF, EnergyConfig, energies

TARGETS = load_targets()
M = np.asarray(TARGETS.masses)
G = np.asarray(TARGETS.g)
DEFAULT = EnergyConfig()
# cheaper quadrature for synthetic problems (targets come from the same config, so its
# quadrature error does not matter there)
FAST = EnergyConfig(n_nodes=12)

LEPTON_POINT = {
    "R_c_e": 1.0, "U_e": 0.05, "A_e": 0.9,
    "R_c_mu": 0.15, "U_mu": 0.1, "A_mu": 0.85,
    "R_c_tau": 0.5, "U_tau": 0.08, "A_tau": 0.75,
}
POINT = LEPTON_POINT | {"beta": BETA_REF, "w": 0.02}

# the objectives take their data: fun(params, data), one module-level function per kind
MASS, MASS_DATA = F.make_objective("mass", config=DEFAULT, sigma_model=1e-4)
CROSS, CROSS_DATA = F.make_objective("cross", config=DEFAULT, sigma_model=1e-5, sigma_g=1e-7)
# shared compiled objects (module level, so every test in a worker reuses them)
MASS_JIT = jax.jit(MASS)
CROSS_JIT = jax.jit(CROSS)
MASS_GRAD = jax.jit(jax.grad(MASS))
CROSS_GRAD = jax.jit(jax.grad(CROSS))
ENERGIES_FAST = jax.jit(F.lepton_energies, static_argnames="config")


def _energy_totals(point, config=DEFAULT):
    """E_total of e, mu, tau from jaxfit.leptons.model.energies, one lepton at a time."""
    return np.array([
        float(energies(point[f"R_c_{lep}"], point[f"U_{lep}"], point[f"A_{lep}"],
                       point["beta"], point["w"], config)["E_total"])
        for lep in ("e", "mu", "tau")
    ])


def _np_mass_chi2(E, m, sigma):
    S = np.sum(m * E / sigma**2) / np.sum(E**2 / sigma**2)
    return S, float(np.sum(((S * E - m) / sigma) ** 2))


# ------------------------------------------------------------ independent numpy energy
_X, _WT = leggauss(40)


def np_energies(R_c, U, A, beta, w, r_min=0.01, r_max=10.0, theta_min=0.01, eta=0.03,
                R_ref=0.88):
    """Independent numpy energy of the "vortex" flow (the spec's formulas), vectorised over
    leptons: 40-node Gauss-Legendre on [r_min, R_c] and [R_c, R] (exact: the integrands are
    polynomials of degree <= 20 there), the exterior velocity energy in closed form, and the
    slope of the density deficit written out analytically (jaxfit takes it by autodiff; its
    closed-form exterior is checked against scipy dblquad in test_model.py). Agrees with
    jaxfit to ~1e-13 relative."""
    R_c, U, A = (np.asarray(v, dtype=float) for v in (R_c, U, A))
    R = R_c + w
    cm = math.cos(theta_min)
    c_w, s_w = 2.0 / 3.0 * cm**3, 2.0 * cm - 2.0 / 3.0 * cm**3
    e_in = e_stab = e_grad = 0.0
    for a, b in ((np.full_like(R_c, r_min), R_c), (R_c, R)):
        half = 0.5 * (b - a)[:, None]
        r = a[:, None] + half * (_X + 1.0)
        wt = half * _WT
        Rr, Uu, Aa, Rc = R[:, None], U[:, None], A[:, None], R_c[:, None]
        q = (r / Rr) ** 2
        x = np.clip((r - Rc) / w, 0.0, 1.0)
        taper = 1.0 - (6 * x**5 - 15 * x**4 + 10 * x**3)
        dtaper = np.where((r > Rc) & (r < Rr), -(30 * x**4 - 60 * x**3 + 30 * x**2) / w, 0.0)
        P, dP = (1.0 - q) ** 2, -4.0 * (1.0 - q) * r / Rr**2
        drho, ddrho = -Aa * P * taper, -Aa * (dP * taper + P * dtaper)
        f, g = -1.5 * Uu * (1.0 - q), 1.5 * Uu * (1.0 - 2.0 * q)
        e_in = e_in + np.pi * np.sum(wt * r**2 * (1 + drho) * (c_w * f**2 + s_w * g**2), -1)
        e_stab = e_stab + 4 * np.pi * np.sum(wt * r**2 * drho**2, -1)
        e_grad = e_grad + 4 * np.pi * np.sum(wt * r**2 * ddrho**2, -1)
    R3 = R**3
    cube, log = (r_max**3 - R3) / 3.0, np.log(r_max / R)
    inv = R3**2 / 3.0 * (1.0 / R3 - 1.0 / r_max**3)
    e_ext = np.pi * U**2 * (c_w * (cube - 2 * R3 * log + inv) + s_w * (cube + R3 * log + inv / 4))
    lam = eta * beta * R_ref**2 / 11.0
    return e_in + e_ext - beta * e_stab + lam * e_grad


def np_mass_chi2_vector(x, beta, w, sigma_model=1e-4):
    """The mass chi2 of a flat (R_c, U, A) x (e, mu, tau) vector, numpy only."""
    x = np.asarray(x, dtype=float).reshape(3, 3)
    E = np_energies(x[:, 0], x[:, 1], x[:, 2], beta, w)
    return _np_mass_chi2(E, M, sigma_model * M)[1]


# ------------------------------------------------------------------- objectives
def test_numpy_reference_energy_agrees_with_model():
    E = _energy_totals(POINT)
    ref = np_energies([1.0, 0.15, 0.5], [0.05, 0.1, 0.08], [0.9, 0.85, 0.75], BETA_REF, 0.02)
    np.testing.assert_allclose(E, ref, rtol=1e-12)


def test_mass_chi2_equals_numpy_formula():
    """mass_chi2 and mass_summary = the spec's formulas on the model's energies (1e-12)."""
    E = _energy_totals(POINT)
    S, chi2 = _np_mass_chi2(E, M, 1e-4 * M)
    assert float(MASS(POINT, MASS_DATA)) == pytest.approx(chi2, rel=1e-12)
    # the closure form for use by hand is the same function with the data bound
    assert float(F.mass_chi2(DEFAULT, 1e-4)(POINT)) == pytest.approx(chi2, rel=1e-12)
    summary = F.mass_summary(POINT)
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
    summary = F.mass_summary(POINT, targets=targets)
    assert summary["S_opt"] == pytest.approx(brute.x, rel=1e-10)
    assert summary["chi2"] == pytest.approx(brute.fun, rel=1e-8)


def test_cross_chi2_and_C_mu_equal_brute_force():
    """cross_chi2 = numpy formulas (1e-12); C_mu = Brent minimum over C (1e-10) at a point
    whose magnetic moments are proportional to g within 3e-9 (so chi2_g ~ 0.1 and the
    brute-force minimum is resolved, see the S_opt test)."""
    point = dict(POINT)
    mu_e = 0.2 * (point["R_c_e"] + point["w"]) * point["U_e"]
    point["R_c_mu"] = 0.28
    point["U_mu"] = mu_e * (G[1] / G[0]) * (1 + 3e-9) / (0.2 * (0.28 + point["w"]))
    E = _energy_totals(point)
    _, chi2_mass = _np_mass_chi2(E, M, 1e-5 * M)
    mu = 0.2 * np.array([point["R_c_e"] + 0.02, 0.28 + 0.02]) * np.array(
        [point["U_e"], point["U_mu"]])
    C = np.sum(G * mu / 1e-7**2) / np.sum(mu**2 / 1e-7**2)
    chi2_g = float(np.sum(((C * mu - G) / 1e-7) ** 2))
    assert float(CROSS(point, CROSS_DATA)) == pytest.approx(chi2_mass + chi2_g, rel=1e-12)
    assert float(F.cross_chi2(DEFAULT, 1e-5, 1e-7)(point)) == pytest.approx(
        chi2_mass + chi2_g, rel=1e-12)

    brute = scipy.optimize.minimize_scalar(
        lambda c: float(np.sum(((c * mu - G) / 1e-7) ** 2)),
        bracket=(0.9 * C, 1.1 * C), method="brent", options={"xtol": 1e-14})
    summary = F.cross_summary(point, sigma_model=1e-5, sigma_g=1e-7)
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


# ------------------------------------------------------------------- recovery
TRUE_BETA = 3.10
S_TRUE = 20.0
TRUE_POINT = LEPTON_POINT | {"beta": TRUE_BETA, "w": 0.02}
SYNTH = TARGETS.with_masses(S_TRUE * np.asarray(ENERGIES_FAST(TRUE_POINT, FAST)["E_total"]))
# one free lepton parameter: with S profiled the masses give two ratios, so with more
# free lepton parameters beta is not identified at all (the research's 8-dimensional
# degeneracy); U_mu starts at its true value (start 0), the other starts are Sobol
RECOVERY_SPEC = F.lepton_spec(TRUE_BETA, 0.02, defaults=LEPTON_POINT).free_only(["U_mu"])
RECOVERY_GRID = np.linspace(3.06, 3.14, 9)
SCAN_KW = dict(config=FAST, targets=SYNTH, spec=RECOVERY_SPEC, n_starts=4, progress=False)


def test_synthetic_recovery_of_beta():
    """Targets made by the model at beta = 3.10: the profile minimum is at 3.10 to the
    grid step (0.01), chi2_min ~ 0, and the 1-sigma width shrinks ~10x when sigma_model goes
    from 1e-4 to 1e-5 (chi2 scales as 1/sigma_model^2)."""
    # the global fit (beta free within the grid) only for one: it costs a compilation
    wide = F.scan_beta(RECOVERY_GRID, w=0.02, sigma_model=1e-4, **SCAN_KW)
    narrow = F.scan_beta(RECOVERY_GRID, w=0.02, sigma_model=1e-5, global_fit=False, **SCAN_KW)
    assert wide.scan.global_fit is not None and narrow.scan.global_fit is None
    step = RECOVERY_GRID[1] - RECOVERY_GRID[0]
    for result in (wide, narrow):
        assert abs(result.beta_min - TRUE_BETA) <= step / 2
        assert result.chi2_min < 1e-6
        assert result.all_converged
        assert result.n_local_minima == 1
        assert result.S_opt == pytest.approx(S_TRUE, rel=1e-6)
        assert result.classification == "sharp"
        low, high = result.interval
        assert low < TRUE_BETA < high
    assert narrow.width < wide.width / 5
    assert narrow.width == pytest.approx(wide.width / 10, rel=0.05)
    # the checklist passes where the model does fit
    items = {it["item"]: it["passed"] for it in wide.checklist}
    assert items["chi2 magnitude"] and items["S_opt order of magnitude"]
    assert items["masses within sigma"] and items["every grid point converged"]


def test_scan_beta_w_and_save(tmp_path):
    result = F.scan_beta_w([3.06, 3.10, 3.14], [0.015, 0.02, 0.025], sigma_model=1e-4,
                           global_fit=False, **SCAN_KW)
    assert result.scan.chi2.shape == (3, 3) and result.ndim == 2
    assert result.profile.chi2.shape == (3,)
    assert result.chi2_min < 1e-6  # the truth (3.10, 0.02) is a grid point
    paths = result.save(tmp_path, "synthetic")
    assert all(p.exists() and p.stat().st_size > 0 for p in paths.values())
    import json

    saved = json.loads(paths["json"].read_text())
    assert saved["beta_ref"] == BETA_REF
    assert "provenance" in saved and saved["provenance"]["dtype"] == "float64"
    assert {"S_opt", "residual_tau", "scan_beta", "scan_w"} <= set(
        paths["csv"].read_text().splitlines()[0].split(","))


# ------------------------------------------------------------------- tension
@pytest.fixture(scope="module")
def tension_fit():
    return F.fit_fixed(BETA_REF, 0.02, n_starts=8, progress=False)


def test_tension_with_codata_masses_is_reported(tension_fit, tmp_path):
    """The spec: with its bounds no variant fits (chi2 ~ 1e7-1e8 at beta_ref, optimum on
    the bounds). The fit must say so: chi2 >> 10, the checklist's chi2 item fails, bounds
    named."""
    fit = tension_fit
    assert fit.chi2 > 1e6 and fit.in_tension
    assert fit.chi2 == pytest.approx(float(MASS_JIT(fit.params, MASS_DATA)), rel=1e-12)
    assert isinstance(fit.bounds_reached, list)
    assert fit.bounds_reached and set(fit.bounds_reached) <= set(F.LEPTON_PARAMS)
    items = {it["item"]: it for it in F.validation_checklist(fit)}
    assert not items["chi2 magnitude"]["passed"]
    assert not items["optimum inside the bounds"]["passed"]
    assert not items["masses within sigma"]["passed"]
    text = F.format_checklist(fit.checklist)
    assert "chi2" in text and "FAIL" in text and "TENSION" in text
    assert fit.bounds_reached[0] in text
    assert "TENSION" in str(fit)
    paths = fit.save(tmp_path, "tension")
    import json

    saved = json.loads(paths["json"].read_text())
    assert saved["in_tension"] is True and saved["bounds_reached"] == fit.bounds_reached
    assert saved["S_opt"] == pytest.approx(fit.S_opt)


# ------------------------------------------------------------------- vs scipy DE
DE_POINTS = [(BETA_REF, 0.02), (3.0, 0.01), (3.15, 0.03)]
DE_BOUNDS = [F.LEPTON_BOUNDS[lep][q] for lep in ("e", "mu", "tau") for q in ("R_c", "U", "A")]


@pytest.mark.slow
@pytest.mark.parametrize("beta, w", DE_POINTS)
def test_multistart_at_least_as_good_as_scipy_de(beta, w, tension_fit):
    """jaxfit's batched multi-start L-BFGS (8 starts) reaches a chi2 <= that of scipy's
    differential_evolution(maxiter=1000, seed=42, polish=True), the research optimiser, on
    the same objective implemented independently in numpy (np_energies), relative
    tolerance 1e-9. Measured: DE stops by its tolerance after ~150-180 generations
    (~4 s per point); its chi2 is ~0.4% above jaxfit's."""
    fit = tension_fit if (beta, w) == (BETA_REF, 0.02) else F.fit_fixed(
        beta, w, n_starts=8, progress=False)
    de = scipy.optimize.differential_evolution(np_mass_chi2_vector, DE_BOUNDS, args=(beta, w),
                                               maxiter=1000, seed=42, polish=True)
    assert fit.chi2 <= de.fun * (1 + 1e-9), (fit.chi2, de.fun)
    # the two implementations agree on jaxfit's optimum
    x = [fit.params[n] for n in F.LEPTON_PARAMS]
    assert np_mass_chi2_vector(x, beta, w) == pytest.approx(fit.chi2, rel=1e-10)


# ------------------------------------------------------------------- cross workflows
CROSS_KW = dict(config=FAST, sigma_model=1e-5, sigma_g=1e-7, n_starts=4, progress=False,
                maxiter=200)


def test_cross_multistart_and_profile_report():
    multi = F.cross_multistart(**CROSS_KW)
    assert multi.fit.kind == "cross" and "beta" in multi.fit.fit.free_names
    spread = multi.beta_spread
    assert spread["n_starts"] == 4 and 0 <= spread["n"] <= 4
    if spread["n"]:
        assert 2.5 <= spread["min"] <= spread["max"] <= 3.5
    assert multi.fit.C_mu is not None and np.isfinite(multi.fit.C_mu)
    items = [it["item"] for it in multi.checklist]
    assert "g-factors within sigma" in items

    prof = F.cross_profile([3.0, 3.1, 3.2], global_fit=False, **CROSS_KW)
    assert prof.kind == "cross" and np.isfinite(prof.C_mu)
    assert {"C_mu", "chi2_g"} <= set(prof.points.columns)
    assert prof.offset_from_ref == pytest.approx(prof.beta_min - BETA_REF)
    table = F.cross_report({"test3": prof}, multistart=multi)
    assert list(table["test"]) == ["test1", "test3"]
    assert table.loc[1, "research_beta_min"] == 3.180
    assert str(prof).startswith("LeptonScan (cross")


# ------------------------------------------------------------------- presets, bad input
def test_presets():
    assert set(F.PRESETS) == {"sanity-3x3", "scan-9x6", "default-16x10", "beta-41"}
    beta, w = F.PRESETS["default-16x10"]
    assert beta.shape == (16,) and w.shape == (10,)
    np.testing.assert_allclose(np.diff(np.log(w)), np.log(10.0) / 9)
    beta, w = F.PRESETS["beta-41"]
    assert beta.shape == (41,) and list(w) == [0.02]
    assert beta[0] == 2.85 and beta[-1] == 3.25
    with pytest.raises(ValueError, match="unknown preset"):
        F.run_preset("nope")


def test_lepton_spec():
    spec = F.lepton_spec()
    assert spec.names == (*F.LEPTON_PARAMS, "beta", "w")
    assert spec.free_names == F.LEPTON_PARAMS
    assert spec.defaults["A_e"] == 0.85 and spec.defaults["beta"] == BETA_REF
    assert F.lepton_spec(free_beta=True, free_w=True).n_free == 11


def test_bad_input_gets_clear_errors():
    with pytest.raises(ValueError, match="R_c_e"):  # inverted bounds
        F.lepton_spec().replace("R_c_e", lower=1.5, upper=0.5)
    with pytest.raises(ValueError, match="w"):
        F.lepton_spec(w=0.0)
    with pytest.raises(ValueError, match="A_e"):
        F.lepton_spec(defaults={"A_e": 1.0})
    with pytest.raises(ValueError, match="A_tau"):
        F.fit_fixed(x0={"A_tau": 1.2}, progress=False)
    with pytest.raises(ValueError, match="w"):
        F.fit_fixed(BETA_REF, -0.01, progress=False)
    with pytest.raises(ValueError, match="beta"):  # outside [2.5, 3.5]
        F.fit_fixed(4.0, 0.02, progress=False)
    with pytest.raises(ValueError, match="empty"):
        F.scan_beta([], progress=False)
    with pytest.raises(ValueError, match="empty"):
        F.scan_beta_w([3.0, 3.1], [], progress=False)
    with pytest.raises(ValueError, match="w grid"):
        F.scan_beta_w([3.0, 3.1], [0.0, 0.01], progress=False)
    with pytest.raises(ValueError, match="sigma_model"):
        F.mass_chi2(sigma_model=0.0)
    with pytest.raises(ValueError, match="sigma_g"):
        F.cross_chi2(sigma_g=math.nan)
    with pytest.raises(ValueError, match="tau"):
        F.cross_chi2(include_tau_g=True)
    with pytest.raises(ValueError, match=r"masses\[2\]"):
        TARGETS.with_masses((0.511, 105.66, math.nan))
    with pytest.raises(KeyError, match="U_mu"):
        F.mass_summary({k: v for k, v in POINT.items() if k != "U_mu"})
    with pytest.raises(ValueError, match="A_mu"):
        F.mass_summary(POINT | {"A_mu": 1.5})
    with pytest.raises(TypeError, match="LeptonFit"):
        F.validation_checklist({"chi2": 1.0})
    with pytest.raises(TypeError, match="EnergyConfig"):
        F.mass_chi2(config="vortex")
    with pytest.raises(ValueError, match="kind"):
        F.make_objective("masses")
    with pytest.raises(ValueError, match="cross data"):
        F.cross_chi2_of(POINT, MASS_DATA)
