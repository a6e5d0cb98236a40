"""Tests of jaxfit.leptons.cross: research Test 1 (beta free, many starts) and the
cross-lepton profile with its comparison table against the research's numbers."""

import numpy as np
import pytest

import jaxfit  # noqa: F401  (float64)
from jaxfit.leptons import cross as C
from jaxfit.leptons.model import BETA_REF, EnergyConfig

FAST = EnergyConfig(n_nodes=12)
CROSS_KW = dict(config=FAST, sigma_model=1e-5, sigma_g=1e-7, n_starts=4, progress=False,
                maxiter=200)


def test_cross_multistart_and_profile_report():
    multi = C.cross_multistart(**CROSS_KW)
    assert multi.fit.kind == "cross" and "beta" in multi.fit.fit.free_names
    spread = multi.beta_spread
    assert spread["n_starts"] == 4 and 0 <= spread["n"] <= 4
    if spread["n"]:
        assert 2.5 <= spread["min"] <= spread["max"] <= 3.5
    assert multi.fit.C_mu is not None and np.isfinite(multi.fit.C_mu)
    items = [it["item"] for it in multi.checklist]
    assert "g-factors within sigma" in items

    prof = C.cross_profile([3.0, 3.1, 3.2], global_fit=False, **CROSS_KW)
    assert prof.kind == "cross" and np.isfinite(prof.C_mu)
    assert {"C_mu", "chi2_g"} <= set(prof.points.columns)
    assert prof.offset_from_ref == pytest.approx(prof.beta_min - BETA_REF)
    table = C.cross_report({"test3": prof}, multistart=multi)
    assert list(table["test"]) == ["test1", "test3"]
    assert table.loc[1, "research_beta_min"] == 3.180
    assert prof.summary().startswith("LeptonScan (cross")


def test_unknown_cross_test_is_refused():
    with pytest.raises(ValueError, match="unknown cross tests"):
        C.run_cross_tests(["test9"])
