"""The cosmo chi2 takes its data, so fits compile once per data shape (issue 12).

``chi2(params, data)`` receives the loaded data sets as an argument of every compiled
program, so repeating a fit, refitting with another covariance scaling or another frozen
value, or scanning at other grid values must trace and compile nothing new. Two counters
check it:

- traces: the per-data-set chi2 functions are wrapped with a counter (a Python side effect
  runs only while JAX traces, never when a compiled program runs);
- compilations: every XLA backend compilation in the process, read from
  ``jax.monitoring`` (so a program rebuilt anywhere on the path, not only the chi2, counts).

Each test first runs its reference case (compiled here, or reused from an earlier test) and
then counts only the variant, so the tests are independent of their order.
"""

from __future__ import annotations

import jax
import numpy as np
import pytest

import jaxfit.cosmo.objective as objective
from jaxfit.core.scan import scan
from jaxfit.cosmo.data import BAOData, load_bao, load_datasets
from jaxfit.cosmo.fit import optimize_parameters
from jaxfit.cosmo.model import get_model
from jaxfit.cosmo.objective import as_data, chi2, chi2_breakdown, cosmo_data
from jaxfit.cosmo.store import OptimizedParameterStore

LCDM_FIT = ["H0", "Om0", "Obh2", "ns"]
BACKEND_COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"


@pytest.fixture
def counters(monkeypatch):
    """``{"traces": n, "compiles": [names]}``, counted from the fixture's start."""
    counts = {"traces": 0, "compiles": []}
    for name in ("cmb_part", "bao_part", "sn_part"):
        original = getattr(objective, name)

        def counted(*args, _original=original, **kwargs):
            counts["traces"] += 1
            return _original(*args, **kwargs)

        # chi2_parts looks these up in the module at trace time
        monkeypatch.setattr(objective, name, counted)

    def on_duration(event, duration, **kwargs):
        if event == BACKEND_COMPILE_EVENT:
            counts["compiles"].append(kwargs.get("fun_name", "?"))

    jax.monitoring.register_event_duration_secs_listener(on_duration)
    yield counts
    jax.monitoring.unregister_event_duration_listener(on_duration)


def _new_work(counts, run):
    """Run ``run()``; return its result, the traces and the compilations it caused."""
    traces, compiles = counts["traces"], len(counts["compiles"])
    result = run()
    return result, counts["traces"] - traces, counts["compiles"][compiles:]


def _fit(tmp_path, **kwargs):
    """A dry-run LCDM fit to the CMB priors with 4 starts: the problem test_fit.py,
    test_regression_report.py and the CLI tests fit too, so in one process they all share
    the program compiled first."""
    store = OptimizedParameterStore(tmp_path / "store")
    return optimize_parameters("lcdm", "cmb", LCDM_FIT, store=store, n_starts=4,
                               dry_run=True, progress=False, **kwargs)


def test_repeated_fit_compiles_nothing(counters, tmp_path):
    first = _fit(tmp_path)
    assert first.convergence_status == "success"
    again, traced, compiled = _new_work(counters, lambda: _fit(tmp_path))
    assert traced == 0
    assert compiled == []
    assert again.final_chi2 == first.final_chi2
    assert again.metadata["errors"] == first.metadata["errors"]


def test_fit_with_another_cov_scale_compiles_nothing(counters, tmp_path):
    first = _fit(tmp_path)
    scaled, traced, compiled = _new_work(counters, lambda: _fit(tmp_path, cov_scale=4.0))
    assert traced == 0
    assert compiled == []
    # the covariance really is data: C -> 4 C doubles the errors (the model is close to
    # linear at the optimum)
    assert scaled.covariance_scaling == 4.0
    ratio = scaled.metadata["errors"]["H0"] / first.metadata["errors"]["H0"]
    assert ratio == pytest.approx(2.0, rel=0.05)


def test_fit_with_another_frozen_value_compiles_nothing(counters, tmp_path):
    first = _fit(tmp_path)
    moved, traced, compiled = _new_work(
        counters, lambda: _fit(tmp_path, starting_values={"Neff": 3.2})
    )
    assert traced == 0
    assert compiled == []
    # Neff = 3.2 moved the optimum: the frozen value is an argument, not a constant
    assert moved.metadata["fit_point"]["Neff"] == 3.2
    assert moved.convergence_status == "success"
    assert abs(moved.optimized_params["H0"] - first.optimized_params["H0"]) > 0.1


def test_scan_at_shifted_grid_values_reuses_the_program(counters):
    data = cosmo_data("lcdm", "cmb")
    spec = get_model("lcdm").spec.free_only(LCDM_FIT)

    def run(values):
        return scan(chi2, spec, {"Om0": values}, data=data, n_starts=1, progress=False,
                    global_fit=False)

    first = run(np.linspace(0.29, 0.33, 3))
    shifted, traced, compiled = _new_work(counters, lambda: run(np.linspace(0.30, 0.34, 3)))
    assert traced == 0
    assert compiled == []
    assert not np.allclose(first.chi2, shifted.chi2)


def test_breakdown_of_start_and_result_share_one_program(counters):
    data = cosmo_data("lcdm", "cmb,bao")
    spec = get_model("lcdm").spec.free_only(LCDM_FIT)
    start = spec.unpack(spec.pack())  # jax scalars
    chi2_breakdown(start, data)
    point = {n: float(v) for n, v in start.items()}  # Python floats, as in a FitResult
    other = cosmo_data("lcdm", "cmb,bao", cov_scale=2.0)
    parts, traced, compiled = _new_work(counters, lambda: chi2_breakdown(point, other))
    assert traced == 0
    assert compiled == []
    assert set(parts) == {"cmb:planck2018", "bao:desi_dr2"}


def test_only_shapes_and_physics_choices_are_static():
    """The data pytree's structure (what a compiled program depends on besides shapes)
    holds the model, the r_d method, the data-set keys and the BAO quantity names; values,
    names, citations and file paths are not part of it."""
    structure = jax.tree_util.tree_structure
    base = cosmo_data("lcdm", "cmb,bao")
    assert structure(cosmo_data("lcdm", "cmb,bao", cov_scale=3.0)) == structure(base)
    bao = load_bao("desi_dr2")
    copy = BAOData(name="my copy", z=bao.z, quantity=bao.quantity, value=bao.value * 1.01,
                   cov=bao.cov, chol=bao.chol, citation="elsewhere", source="/some/folder")
    loaded = load_datasets("cmb,bao")
    renamed = as_data("lcdm", {**loaded, "bao:desi_dr2": copy})
    assert structure(renamed) == structure(base)
    assert structure(cosmo_data("pbuf", "cmb,bao")) != structure(base)
    assert structure(cosmo_data("lcdm", "cmb,bao", rd_method="eh98")) != structure(base)
    assert structure(cosmo_data("lcdm", "cmb")) != structure(base)
    # every leaf is a float64 array (the model name etc. are not leaves)
    for leaf in jax.tree_util.tree_leaves(base):
        assert np.asarray(leaf).dtype == np.float64


def test_as_data_refuses_an_unknown_r_drag_method():
    with pytest.raises(ValueError, match=r"unknown r_drag method 'planck'; valid methods: "
                                         r"aubourg, eh98"):
        cosmo_data("lcdm", "cmb,bao", rd_method="planck")
