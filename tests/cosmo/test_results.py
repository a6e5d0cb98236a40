"""Tests of jaxfit.cosmo.results: OptimizationResult in the one result protocol of
jaxfit.core.results (summary text, to_dict, to_frame, plot, save -> json + csv + png).

The results are written out by hand (no fit runs here), in the shape optimize_parameters
gives them: a converged LCDM fit, a PBUF fit with unconstrained parameters (infinite
errors) and a failed fit. The fits themselves are tested in test_fit.py.
"""

from __future__ import annotations

import json
import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from jaxfit.core.io import to_jsonable
from jaxfit.core.results import Result
from jaxfit.cosmo.results import OptimizationResult

OPTIMUM = {"H0": 67.75, "Om0": 0.3098, "Obh2": 0.02237, "ns": 0.9649}
ERRORS = {"H0": 0.42, "Om0": 0.0057, "Obh2": 0.00015, "ns": 0.0043}
PARTS = {"cmb:planck2018": 0.41, "bao:desi_dr2": 13.69}


def _result(params=OPTIMUM, errors=ERRORS, status="success", unconstrained=(), model="lcdm",
            bounds_reached=()):
    return OptimizationResult(
        model=model,
        optimized_params=dict(params),
        starting_params={n: 1.01 * v for n, v in params.items()},
        final_chi2=sum(PARTS.values()),
        chi2_improvement=2.5,
        convergence_status=status,
        n_function_evaluations=812,
        optimization_time=3.2,
        bounds_reached=list(bounds_reached),
        optimizer_info={"method": "lbfgs", "n_starts": "4", "seed": "0"},
        covariance_scaling=1.0,
        metadata={
            "datasets": list(PARTS),
            "chi2_parts": dict(PARTS),
            "errors": dict(errors),
            "unconstrained": list(unconstrained),
            "convergence_message": "converged" if status == "success" else "line search failed",
        },
    )


@pytest.fixture
def lcdm():
    return _result()


@pytest.fixture
def pbuf():
    extra = {"alpha": 5e-4, "k_sat": 0.9762}
    return _result({**OPTIMUM, **extra}, {**ERRORS, "alpha": math.inf, "k_sat": 0.011},
                   unconstrained=["alpha"], model="pbuf", bounds_reached=["k_sat"])


def test_it_is_a_result(lcdm):
    assert isinstance(lcdm, Result)
    assert OptimizationResult(**lcdm.to_dict()) == lcdm  # to_dict keeps every field


def test_summary_gives_the_chi2_verdict_and_errors(lcdm):
    text = lcdm.summary()
    first, *rest = text.splitlines()
    assert first == ("lcdm on cmb:planck2018+bao:desi_dr2: chi2 = 14.1000 (improved by "
                     "2.5000), success, 812 evaluations in 3.2 s")
    assert "H0 = 67.75 +- 0.42" in rest[0] and len(rest) == 4
    assert "unconstrained" not in text and "bound" not in text


def test_summary_names_unconstrained_and_bounds(pbuf):
    text = pbuf.summary()
    assert "alpha = 0.0005 +- inf" in text
    assert "unconstrained by these data: alpha" in text
    assert "on a bound: k_sat" in text


def test_summary_of_a_failed_fit_never_says_success():
    result = _result(status="failed")
    assert not result.converged
    first = result.summary().splitlines()[0]
    assert "failed (line search failed)" in first and "success" not in first


def test_to_frame_one_row_per_fitted_parameter(pbuf):
    frame = pbuf.to_frame()
    assert list(frame.columns) == ["parameter", "unit", "start", "value", "error",
                                   "unconstrained", "on_bound"]
    assert list(frame["parameter"]) == list(pbuf.optimized_params)
    row = frame.set_index("parameter")
    assert row.loc["H0", "unit"] == "km/s/Mpc" and row.loc["H0", "error"] == 0.42
    assert row.loc["alpha", "error"] == math.inf and row.loc["alpha", "unconstrained"]
    assert row.loc["k_sat", "on_bound"] and not row.loc["H0", "on_bound"]


def test_plot_shows_the_chi2_parts_and_the_relative_errors(pbuf):
    fig = pbuf.plot()
    try:
        assert pbuf.plot() is not fig  # a new figure each call
        ax_chi2, ax_err = fig.axes[:2]
        widths = [bar.get_width() for bar in ax_chi2.patches]
        assert widths == pytest.approx(list(PARTS.values()))
        bars = {t.get_text(): b for t, b in zip(ax_err.get_yticklabels(), ax_err.patches,
                                                strict=True)}
        assert bars["H0"].get_width() == pytest.approx(0.42 / 67.75)
        assert bars["alpha"].get_hatch() == "//"  # unconstrained: drawn, not measured
        assert bars["alpha"].get_width() > max(b.get_width() for n, b in bars.items()
                                                if n != "alpha")
    finally:
        plt.close("all")


def test_save_writes_json_csv_png(pbuf, tmp_path):
    paths = pbuf.save(tmp_path, provenance={"run": "test"})
    assert {p.name for p in paths.values()} == {"cosmo_fit.json", "cosmo_fit.csv",
                                                "cosmo_fit.png"}
    record = json.loads(paths["json"].read_text())
    assert record == to_jsonable(pbuf.to_dict()) | {"provenance": {"run": "test"}}
    assert record["metadata"]["errors"]["alpha"] == "inf"  # strict JSON
    table = pd.read_csv(paths["csv"])
    np.testing.assert_array_equal(table["value"], pbuf.to_frame()["value"])
    assert paths["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert pbuf.save(tmp_path, "pbuf_fit")["json"].name == "pbuf_fit.json"
    plt.close("all")
