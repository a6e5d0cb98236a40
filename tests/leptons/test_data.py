"""Tests of jaxfit.leptons.data: the packaged CODATA 2022 numbers against the NIST table
extract in ../shared/data/codata (skipped when absent) and scipy.constants, the g = 2(1 + a)
targets, and validation.

Named references:
- ../shared/data/codata/codata_leptons.csv, rows codata_year = 2022 (NIST CODATA 2022
  allascii table as shipped in SciPy 1.17.1): values and uncertainties must be identical.
- scipy.constants.physical_constants (CODATA 2022 in scipy >= 1.15): identical where the
  quantity is the same. scipy's "tau mass energy equivalent in MeV" is 1776.82(16), a value
  derived by scipy; the CODATA table entry used here is "tau energy equivalent" 1776.86(12)
  (see ../shared/data/README.md).
"""

import csv
import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest
import scipy.constants

from jaxfit.leptons import data as D

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "codata"
CSV = SHARED / "codata_leptons.csv"
TAU_JSON = SHARED / "tau_anomaly.json"

# the brief's transcription: value, standard uncertainty
EXPECTED_MASSES = {"e": (0.51099895069, 0.16e-9), "mu": (105.6583755, 2.3e-6),
                   "tau": (1776.86, 0.12)}
EXPECTED_ANOMALIES = {"e": (1.15965218046e-3, 0.18e-12), "mu": (1.16592062e-3, 0.41e-9)}


def test_load_targets_values_and_g():
    t = D.load_targets()
    assert t.names == ("e", "mu", "tau") and t.year == 2022
    assert "Mohr" in t.citation and "CODATA" in t.citation and "2022" in t.citation
    for name, (value, sigma) in EXPECTED_MASSES.items():
        i = t.names.index(name)
        assert t.masses[i] == pytest.approx(value, rel=1e-15)
        assert t.mass_uncertainties[i] == pytest.approx(sigma, rel=1e-12)
    assert t.g_names == ("e", "mu")  # tau left out: its anomaly is only bounded
    for name, (a, sigma_a) in EXPECTED_ANOMALIES.items():
        i = t.g_names.index(name)
        assert t.g[i] == pytest.approx(2.0 * (1.0 + a), rel=1e-15)
        assert t.g_uncertainties[i] == pytest.approx(2.0 * sigma_a, rel=1e-12)
    assert t.mass("mu") == t.masses[1]
    # frozen and hashable by value (objectives are cached on it)
    assert hash(D.load_targets()) == hash(t) and D.load_targets() == t


def test_json_matches_shared_codata_csv():
    """Every number in the JSON equals the 2022 row of the shared NIST extract (exact)."""
    if not CSV.exists():
        pytest.skip(f"{CSV} not present")
    with CSV.open() as handle:
        rows = {r["quantity"]: r for r in csv.DictReader(handle) if r["codata_year"] == "2022"}
    raw = D.read_codata_file(2022)
    checked = 0
    for group in ("masses", "anomalies"):
        for entry in raw[group].values():
            row = rows[entry["codata_quantity"]]
            assert entry["value"] == pytest.approx(float(row["value"]), rel=1e-15, abs=0)
            assert entry["uncertainty"] == pytest.approx(float(row["std_uncertainty"]),
                                                         rel=1e-12, abs=0)
            checked += 1
    assert checked == 5


def test_json_matches_scipy_constants():
    """Same numbers as scipy.constants (CODATA 2022), and the known tau difference."""
    pc = scipy.constants.physical_constants
    raw = D.read_codata_file(2022)
    if pc["electron mass energy equivalent in MeV"][0] != 0.51099895069:
        pytest.skip("this scipy does not ship CODATA 2022")
    for group in ("masses", "anomalies"):
        for entry in raw[group].values():
            value, _, sigma = pc[entry["codata_quantity"]]
            assert entry["value"] == pytest.approx(value, rel=1e-15)
            assert entry["uncertainty"] == pytest.approx(sigma, rel=1e-12)
    # scipy's derived tau value differs from the table entry we use (documented)
    assert pc["tau mass energy equivalent in MeV"][0] == pytest.approx(1776.82, abs=1e-9)
    assert raw["masses"]["tau"]["value"] == 1776.86


def test_tau_anomaly_bound_recorded():
    bound = D.read_codata_file(2022)["tau_anomaly"]["bound_95cl"]
    assert (bound["lower"], bound["upper"]) == (-0.052, 0.013)
    if TAU_JSON.exists():
        shared = json.loads(TAU_JSON.read_text())["experimental_limit_95CL"]
        assert (shared["lower"], shared["upper"]) == (bound["lower"], bound["upper"])


def test_mass_sigmas():
    t = D.load_targets()
    np.testing.assert_allclose(D.mass_sigmas(t, 1e-5), 1e-5 * np.asarray(t.masses), rtol=1e-15)
    np.testing.assert_allclose(D.mass_sigmas(t), 1e-4 * np.asarray(t.masses), rtol=1e-15)
    for bad in (0.0, -1e-4, math.nan, math.inf):
        with pytest.raises(ValueError, match="sigma_model"):
            D.mass_sigmas(t, bad)


def test_targets_validation_names_the_field():
    t = D.load_targets()
    with pytest.raises(ValueError, match=r"masses\[1\]"):
        dataclasses.replace(t, masses=(0.511, math.nan, 1776.86))
    with pytest.raises(ValueError, match=r"masses\[0\]"):
        t.with_masses((-0.5, 105.0, 1776.0))
    with pytest.raises(ValueError, match=r"mass_uncertainties\[2\]"):
        t.with_masses(t.masses, (1e-10, 1e-6, 0.0))
    with pytest.raises(ValueError, match=r"g\[0\]"):
        dataclasses.replace(t, g=(math.inf, 2.0))
    with pytest.raises(ValueError, match="masses needs 3"):
        t.with_masses((1.0, 2.0))
    with pytest.raises(ValueError, match="g_names"):
        dataclasses.replace(t, g_names=("e", "x"))
    with pytest.raises(ValueError, match="2022"):
        D.load_targets(2018)


def test_with_g_adds_a_tau_target():
    t = D.load_targets().with_g("tau", 1.17721e-3, 5e-11)
    assert t.g_names == ("e", "mu", "tau")
    assert t.g[2] == pytest.approx(2.0 * (1.0 + 1.17721e-3), rel=1e-15)
    assert t.g_uncertainties[2] == pytest.approx(1e-10, rel=1e-12)
    with pytest.raises(KeyError, match="unknown lepton"):
        t.with_g("nu", 0.0, 1.0)
