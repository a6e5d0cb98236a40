"""Tests of jaxfit.leptons.checklist: the research checklist on plain numbers, no result
object needed: a model that fits passes, one in tension fails the items it should, a failed
fit fails instead of raising, and bad input names the argument."""

import math

import pytest

from jaxfit.leptons.checklist import format_checklist, validation_checklist

GOOD = dict(
    chi2=2.5, S_opt=20.0, pulls={"e": 0.1, "mu": -0.5, "tau": 0.9},
    residuals={"e": 1e-5, "mu": -5e-5, "tau": 9e-5}, sigma_model=1e-4,
    converged=True, convergence="best start: converged; 8/8 starts converged",
)


def _items(**values):
    return {it["item"]: it for it in validation_checklist(**values)}


def test_a_model_that_fits_passes_every_item():
    items = _items(**GOOD)
    assert list(items) == ["chi2 magnitude", "S_opt order of magnitude", "masses within sigma",
                           "converged", "optimum inside the bounds"]
    assert all(it["passed"] for it in items.values())
    assert "8/8 starts" in items["converged"]["detail"]
    assert format_checklist(list(items.values())).endswith("all 5 checks passed.")


def test_tension_fails_the_items_it_should_and_names_the_bounds():
    """The numbers of the fit at beta_ref (chi2 ~ 1.6e7, muon ~19% heavy, tau ~36% light,
    muon and tau parameters on their bounds)."""
    items = _items(**GOOD | dict(
        chi2=1.6497e7, S_opt=24.23, pulls={"e": 0.0, "mu": 1900.0, "tau": -3600.0},
        residuals={"e": 0.0, "mu": 0.19, "tau": -0.36}, bounds_reached=["R_c_mu", "U_tau"]))
    assert not items["chi2 magnitude"]["passed"]
    assert "TENSION" in items["chi2 magnitude"]["detail"]
    assert items["S_opt order of magnitude"]["passed"]
    assert not items["masses within sigma"]["passed"]
    assert "worst tau" in items["masses within sigma"]["detail"]
    assert not items["optimum inside the bounds"]["passed"]
    assert "R_c_mu, U_tau" in items["optimum inside the bounds"]["detail"]
    text = format_checklist(list(items.values()))
    assert "[FAIL] chi2 magnitude" in text and "3 of 5 checks FAILED" in text


def test_s_opt_outside_its_decades_fails():
    for s_opt in (1e-6, 1e6, -6.1):
        assert not _items(**GOOD | {"S_opt": s_opt})["S_opt order of magnitude"]["passed"]


def test_g_factors_and_profile_items():
    items = _items(**GOOD | dict(
        g_pulls={"e": 0.2, "mu": 3.0}, sigma_g=1e-7, C_mu=98.5,
        converged=False, convergence="7/9 grid points converged (best start per point)",
        n_local_minima=2, width=None, classification="open"))
    assert not items["g-factors within sigma"]["passed"]
    assert "C_mu = 98.5" in items["g-factors within sigma"]["detail"]
    # a profile's convergence item counts grid points
    assert not items["every grid point converged"]["passed"] and "converged" not in items
    assert not items["smooth profile"]["passed"]
    assert "2 local minima" in items["smooth profile"]["detail"]
    assert "width open -> open" in items["smooth profile"]["detail"]
    smooth = _items(**GOOD | dict(n_local_minima=1, width=0.004, classification="sharp"))
    assert smooth["smooth profile"]["passed"] and "1 local minimum" in (
        smooth["smooth profile"]["detail"])


def test_a_failed_fit_fails_instead_of_raising():
    items = _items(**GOOD | dict(chi2=math.inf, S_opt=math.nan,
                                 pulls={"e": math.nan, "mu": 0.0, "tau": 0.0}))
    assert not items["chi2 magnitude"]["passed"]
    assert not items["S_opt order of magnitude"]["passed"]
    assert not items["masses within sigma"]["passed"]


def test_bad_input_names_the_argument():
    with pytest.raises(TypeError, match="pulls"):
        validation_checklist(**GOOD | {"pulls": [0.1, 0.2, 0.3]})
    with pytest.raises(TypeError, match="chi2"):
        validation_checklist(**GOOD | {"chi2": "large"})
    with pytest.raises(ValueError, match="sigma_model"):
        validation_checklist(**GOOD | {"sigma_model": 0.0})
    with pytest.raises(ValueError, match="sigma_g"):
        validation_checklist(**GOOD | {"g_pulls": {"e": 0.1}, "C_mu": 1.0})
    with pytest.raises(TypeError, match="S_opt"):  # every number is required
        validation_checklist(**{k: v for k, v in GOOD.items() if k != "S_opt"})
    with pytest.raises(TypeError):  # plain values, by keyword: not a result object
        validation_checklist({"chi2": 1.0})
