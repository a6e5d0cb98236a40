"""Lepton fits and profile scans compile once per shape (issue 12).

The lepton objectives are ``fun(params, data)`` with the targets and uncertainties in the
data pytree and the frozen ``beta``, ``w`` as arguments, so a compiled fit or scan depends
only on shapes and on the static settings (kind, energy config, g terms). Here the
energy functional counts its own traces: a Python side effect runs only while JAX traces,
so any recompilation of a lepton program (solver, Hessian or summary) shows up as a new
trace of ``lepton_energies``.

Each test uses its own quadrature node count (static), so its first call is sure to
compile whatever ran before in the same process, and the counter is seen to work. Few starts
and iterations: only the compilations matter here, not the optima.
"""

import numpy as np
import pytest

import jaxfit  # noqa: F401  (float64)
from jaxfit.leptons import objective
from jaxfit.leptons.data import load_targets
from jaxfit.leptons.fit import fit_fixed
from jaxfit.leptons.model import DEFAULT_CONFIG, EnergyConfig
from jaxfit.leptons.objective import mass_chi2
from jaxfit.leptons.scan import scan_beta

QUICK = dict(n_starts=2, maxiter=20, progress=False)


@pytest.fixture
def traces(monkeypatch):
    """``traces()`` -> how many times the lepton energies have been traced so far."""
    count = {"n": 0}
    real = objective.lepton_energies

    def counting(params, config=DEFAULT_CONFIG):
        count["n"] += 1
        return real(params, config)

    # the objectives look lepton_energies up in their module at trace time
    monkeypatch.setattr(objective, "lepton_energies", counting)
    return lambda: count["n"]


def _traced(traces, run):
    before = traces()
    result = run()
    return result, traces() - before


def test_same_fit_repeated_traces_nothing_new(traces):
    config = EnergyConfig(n_nodes=11)
    run = lambda: fit_fixed(config=config, errors=True, **QUICK)  # noqa: E731
    first, traced = _traced(traces, run)
    assert traced > 0  # solver, Hessian and summary compiled on the first call
    again, traced = _traced(traces, run)
    assert traced == 0
    assert again.chi2 == first.chi2
    assert again.errors.errors == first.errors.errors


def test_beta_scan_at_other_beta_values_and_w_compiles_nothing_new(traces):
    """A 1-D profile over beta, then one over other beta values (same count) at another
    w: the grid values and w are frozen values, arguments of the compiled scan. (The
    optional global fit is left out: it frees beta within the grid range, and the bounds
    of a spec are part of its compiled program, so another range compiles another fit.)"""
    config = EnergyConfig(n_nodes=13)
    kw = dict(config=config, global_fit=False, **QUICK)
    first, traced = _traced(traces, lambda: scan_beta([3.0, 3.05, 3.1], w=0.02, **kw))
    assert traced > 0
    second, traced = _traced(traces, lambda: scan_beta([3.12, 3.2, 3.3], w=0.03, **kw))
    assert traced == 0
    # the new values were used: other grid, other w, other chi2
    np.testing.assert_array_equal(second.scan.axes[0], [3.12, 3.2, 3.3])
    assert second.settings["w"] == 0.03 and second.params_at_min["w"] == 0.03
    assert not np.allclose(first.scan.chi2, second.scan.chi2)


def test_fit_with_other_targets_and_sigma_model_compiles_nothing_new(traces):
    config = EnergyConfig(n_nodes=14)
    codata = load_targets()
    first, traced = _traced(traces, lambda: fit_fixed(config=config, targets=codata,
                                                      sigma_model=1e-4, **QUICK))
    assert traced > 0
    # synthetic masses (e, mu, tau: the same shapes) and another sigma_model: both are
    # data, arguments of the programs compiled above
    synthetic = codata.with_masses([1.0, 150.0, 1500.0])
    other, traced = _traced(traces, lambda: fit_fixed(config=config, targets=synthetic,
                                                      sigma_model=1e-5, **QUICK))
    assert traced == 0
    assert other.summary_at_min["masses_target"]["mu"] == 150.0
    assert other.settings["sigma_model"] == 1e-5
    assert other.chi2 != first.chi2
    # the data reached the objective: its chi2 is the one of those targets and sigma
    chi2 = mass_chi2(config, 1e-5, synthetic)(other.params)
    assert other.chi2 == pytest.approx(float(chi2), rel=1e-10)
