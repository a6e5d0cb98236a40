"""The result protocol (jaxfit.core.results): core results implement it, and a result set is
written whole or not at all."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from jaxfit.core.optimize import minimize
from jaxfit.core.params import Param, ParamSpec
from jaxfit.core.results import Result, ResultSet
from jaxfit.core.scan import scan

SPEC = ParamSpec([Param("a", 0.0, -5.0, 5.0), Param("b", 0.0, -5.0, 5.0)])


def chi2(p, data):
    # a Gaussian with known minimum (a, b) = (1, -2) and sigma 0.5 in a: chi2_min = 0
    return ((p["a"] - data[0]) / 0.5) ** 2 + (p["b"] - data[1]) ** 2


DATA = np.array([1.0, -2.0])


def test_fit_and_scan_are_results_and_save_three_files(tmp_path):
    fit = minimize(chi2, SPEC, data=DATA, n_starts=4, seed=0)
    profile = scan(chi2, SPEC, {"a": np.linspace(0.0, 2.0, 9)}, data=DATA, n_starts=2)
    for result, stem in ((fit, "fit"), (profile, "scan")):
        assert isinstance(result, Result)
        assert isinstance(result.summary(), str) and result.summary().count("\n") <= 3
        paths = result.save(tmp_path)
        assert sorted(paths) == ["csv", "json", "png"]
        assert all(p.name.startswith(stem + ".") and p.stat().st_size > 0
                   for p in paths.values())
        json.loads(paths["json"].read_text())
    # the profile's 1-sigma interval is a +- 0.5 (Gaussian: exact with sqrt interpolation)
    assert "1-sigma interval: [0.5, 1.5]" in profile.summary()
    assert "converged" in fit.summary() and math.isclose(fit.x["a"], 1.0, abs_tol=1e-6)


def test_summary_never_calls_a_failed_fit_converged():
    fit = minimize(chi2, SPEC, data=DATA, maxiter=1)
    assert not fit.success
    assert "NOT converged" in fit.summary()


class _Broken(ResultSet):
    default_stem = "broken"

    def to_dict(self):
        return {"value": 1.0}

    def to_frame(self):
        return pd.DataFrame({"value": [1.0]})

    def plot(self):
        raise ValueError("axis limits cannot be NaN")


def test_a_failing_plot_writes_nothing(tmp_path):
    with pytest.raises(ValueError, match="NaN"):
        _Broken().save(tmp_path)
    assert list(tmp_path.iterdir()) == []
