"""Tests of jaxfit.leptons.params: the 11 parameters declared once (bounds, units, docs),
the spec built from them, the domain checks of values, and the bound helpers."""

import math

import pytest

from jaxfit.core.params import Param
from jaxfit.leptons import params as P
from jaxfit.leptons.model import BETA_REF


def test_parameters_are_declared_once_with_units_and_docs():
    assert all(isinstance(p, Param) and p.doc for p in P.PARAMS)
    names = [p.name for p in P.PARAMS]
    assert names == [*P.LEPTON_PARAMS, "beta", "w"]
    by_name = {p.name: p for p in P.PARAMS}
    assert by_name["R_c_mu"].unit == "model length" and by_name["U_tau"].unit == "model speed"
    assert by_name["w"].unit == "model length" and by_name["beta"].unit == ""
    # the bounds tables are the declared bounds
    for lep, table in P.LEPTON_BOUNDS.items():
        for q, (lo, hi) in table.items():
            p = by_name[f"{q}_{lep}"]
            assert (p.lower, p.upper) == (lo, hi)
            assert p.default == 0.5 * (lo + hi)  # mid-range starts
    assert P.SHARED_BOUNDS == {"beta": (2.5, 3.5), "w": (0.005, 0.05)}
    assert by_name["beta"].frozen and by_name["w"].frozen


def test_lepton_spec():
    spec = P.lepton_spec()
    assert spec.names == (*P.LEPTON_PARAMS, "beta", "w")
    assert spec.free_names == P.LEPTON_PARAMS
    assert spec.defaults["A_e"] == 0.85 and spec.defaults["beta"] == BETA_REF
    assert P.lepton_spec(free_beta=True, free_w=True).n_free == 11
    spec = P.lepton_spec(3.1, 0.03, defaults={"U_mu": 0.12})
    assert spec.defaults["beta"] == 3.1 and spec.defaults["w"] == 0.03
    assert spec.defaults["U_mu"] == 0.12 and spec["beta"].frozen


def test_check_values():
    assert P.check_values({"A_e": 0.9, "w": 0.01}) == {"A_e": 0.9, "w": 0.01}
    assert P.check_values(None) == {}
    with pytest.raises(ValueError, match="x0: A_e"):
        P.check_values({"A_e": 1.0})
    with pytest.raises(ValueError, match="start: R_c_mu"):
        P.check_values({"R_c_mu": -0.1}, "start")
    with pytest.raises(ValueError, match="beta"):
        P.check_values({"beta": math.nan})
    with pytest.raises(ValueError, match="U_e"):
        P.check_values({"U_e": "fast"})


def test_bounds_reached_and_side():
    spec = P.lepton_spec()
    values = dict(spec.defaults) | {"R_c_mu": 0.05, "A_tau": 1.0}
    assert P.bounds_reached(spec, values) == ["R_c_mu", "A_tau"]
    assert P.bound_side(spec, "R_c_mu", 0.05) == "lower"
    assert P.bound_side(spec, "A_tau", 1.0) == "upper"


def test_bad_input_gets_clear_errors():
    with pytest.raises(ValueError, match="R_c_e"):  # inverted bounds
        P.lepton_spec().replace("R_c_e", lower=1.5, upper=0.5)
    with pytest.raises(ValueError, match="w"):
        P.lepton_spec(w=0.0)
    with pytest.raises(ValueError, match="beta"):
        P.lepton_spec(beta=4.0)
    with pytest.raises(ValueError, match="A_e"):
        P.lepton_spec(defaults={"A_e": 1.0})
    with pytest.raises(KeyError, match="A_x"):
        P.lepton_spec(defaults={"A_x": 0.8})
