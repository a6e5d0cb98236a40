"""Tests of jaxfit.gravity.params: each parameter is declared once, with its unit, and the
tables, the fit's ParamSpec and the kernels' defaults all read that declaration."""

import math

import pytest

import jaxfit  # noqa: F401  (float64)
from jaxfit.gravity import params as gp


def test_tables_are_read_from_the_declarations():
    assert gp.THEORY_PARAMS == ("A_global", "alpha", "lam_coh", "lam_cut", "burr_ell0", "Q_ref")
    assert dict(gp.THEORY_DEFAULTS) == {"A_global": 1.0, "alpha": 3.5, "lam_coh": 5.0,
                                        "lam_cut": 300.0, "burr_ell0": 5.0, "Q_ref": 1.0}
    assert gp.THEORY_BOUNDS["lam_cut"] == (20.0, 3000.0)
    assert gp.A_CLUSTER_BOUNDS == (0.01, 1000.0)
    assert {p.name: p.unit for p in gp.THEORY if p.unit} == {
        "lam_coh": "kpc", "lam_cut": "kpc", "burr_ell0": "kpc"}
    assert all(p.doc for p in (*gp.THEORY, *gp.EMPIRICAL, gp.A_CLUSTER))
    assert set(gp.RESEARCH_MW_EMPIRICAL) == set(gp.EMPIRICAL_DEFAULTS)


def test_theory_spec_bounds_units_and_frozen_q_ref():
    spec = gp.theory_spec()
    assert spec.names == gp.THEORY_PARAMS and spec.n_free == 6
    assert spec["lam_coh"].unit == "kpc" and spec["alpha"].lower == -2.0
    frozen = gp.theory_spec(fit_q_ref=False, bounds={"alpha": (0.0, 4.0)})
    assert frozen.frozen_names == ("Q_ref",) and frozen["alpha"].upper == 4.0
    with pytest.raises(ValueError, match="default"):
        gp.theory_spec(bounds={"alpha": (5.0, 6.0)})  # excludes the default 3.5


def test_param_values_completes_and_names_the_unknown():
    values = gp.param_values({"alpha": 2.0}, gp.THEORY_DEFAULTS, "theory")
    assert float(values["alpha"]) == 2.0 and float(values["lam_cut"]) == 300.0
    with pytest.raises(ValueError, match="'lam_coherence'.*valid names: A_global"):
        gp.param_values({"lam_coherence": 1.0}, gp.THEORY_DEFAULTS, "theory")
    assert math.isclose(gp.signed_params({"A_global": -2.0})[1], -1.0)
