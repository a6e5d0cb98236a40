"""Tests of jaxfit.gravity.criteria: the research success criteria."""

from __future__ import annotations

import jaxfit  # noqa: F401  (float64)
from jaxfit.gravity import criteria as gcr


def test_verdict_applies_the_research_criteria():
    good = {"mw": {"corr": 0.97, "chi2_K": 5e-4},
            "sparc": {"mean_delta_rms": -3.0, "fraction_improved": 0.7},
            "clusters": {"A_cluster_A_gal_ratio": 5.0, "mass_ratio": {"a": 0.9, "b": 1.5}}}
    assert gcr.verdict(good, converged=True)["all_passed"]
    bad = good | {"clusters": {"A_cluster_A_gal_ratio": 500.0, "mass_ratio": {"a": 0.9}}}
    v = gcr.verdict(bad, converged=True)
    assert not v["all_passed"] and v["mw"]["passed"] and not v["clusters"]["passed"]
    assert not gcr.verdict({"mw": {"corr": 0.99, "chi2_K": 2e-3}},
                           converged=True)["mw"]["passed"]


def test_a_fit_that_did_not_converge_never_passes():
    good = {"mw": {"corr": 0.97, "chi2_K": 5e-4}}
    v = gcr.verdict(good, converged=False)
    assert not v["all_passed"] and not v["mw"]["passed"] and v["converged"] is False
    assert not gcr.mw_verdict(0.99, 1e-5, converged=False)["passed"]
    assert gcr.mw_verdict(0.99, 1e-5, converged=True)["passed"]
