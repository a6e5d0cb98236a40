"""Tests of jaxfit.leptons.scan: synthetic recovery of beta by the profile likelihood,
the (beta, w) scan and its files, the presets and bad grids.

Named reference: synthetic targets made by the model itself at beta = 3.10.
"""

import json

import jax
import numpy as np
import pytest

import jaxfit  # noqa: F401  (float64)
from jaxfit.leptons import scan as S
from jaxfit.leptons.data import load_targets
from jaxfit.leptons.model import BETA_REF, EnergyConfig
from jaxfit.leptons.objective import lepton_energies
from jaxfit.leptons.params import lepton_spec

# cheaper quadrature for synthetic problems (targets come from the same config, so its
# quadrature error does not matter there)
FAST = EnergyConfig(n_nodes=12)
ENERGIES_FAST = jax.jit(lepton_energies, static_argnames="config")

LEPTON_POINT = {
    "R_c_e": 1.0, "U_e": 0.05, "A_e": 0.9,
    "R_c_mu": 0.15, "U_mu": 0.1, "A_mu": 0.85,
    "R_c_tau": 0.5, "U_tau": 0.08, "A_tau": 0.75,
}

TRUE_BETA = 3.10
S_TRUE = 20.0
TRUE_POINT = LEPTON_POINT | {"beta": TRUE_BETA, "w": 0.02}
SYNTH = load_targets().with_masses(S_TRUE * np.asarray(ENERGIES_FAST(TRUE_POINT, FAST)["E_total"]))
# one free lepton parameter: with S profiled the masses give two ratios, so with more
# free lepton parameters beta is not identified at all (the research's 8-dimensional
# degeneracy); U_mu starts at its true value (start 0), the other starts are Sobol
RECOVERY_SPEC = lepton_spec(TRUE_BETA, 0.02, defaults=LEPTON_POINT).free_only(["U_mu"])
RECOVERY_GRID = np.linspace(3.06, 3.14, 9)
SCAN_KW = dict(config=FAST, targets=SYNTH, spec=RECOVERY_SPEC, n_starts=4, progress=False)


def test_synthetic_recovery_of_beta():
    """Targets made by the model at beta = 3.10: the profile minimum is at 3.10 to the
    grid step (0.01), chi2_min ~ 0, and the 1-sigma width shrinks ~10x when sigma_model goes
    from 1e-4 to 1e-5 (chi2 scales as 1/sigma_model^2)."""
    # the global fit (beta free within the grid) only for one: it costs a compilation
    wide = S.scan_beta(RECOVERY_GRID, w=0.02, sigma_model=1e-4, **SCAN_KW)
    narrow = S.scan_beta(RECOVERY_GRID, w=0.02, sigma_model=1e-5, global_fit=False, **SCAN_KW)
    assert wide.scan.global_fit is not None and narrow.scan.global_fit is None
    step = RECOVERY_GRID[1] - RECOVERY_GRID[0]
    for result in (wide, narrow):
        assert abs(result.beta_min - TRUE_BETA) <= step / 2
        assert result.chi2_min < 1e-6
        assert result.all_converged
        assert result.n_local_minima == 1
        assert result.S_opt == pytest.approx(S_TRUE, rel=1e-6)
        assert result.classification == "sharp"
        low, high = result.interval
        assert low < TRUE_BETA < high
    assert narrow.width < wide.width / 5
    assert narrow.width == pytest.approx(wide.width / 10, rel=0.05)
    # the checklist passes where the model does fit
    items = {it["item"]: it["passed"] for it in wide.checklist}
    assert items["chi2 magnitude"] and items["S_opt order of magnitude"]
    assert items["masses within sigma"] and items["every grid point converged"]


def test_scan_beta_w_and_save(tmp_path):
    result = S.scan_beta_w([3.06, 3.10, 3.14], [0.015, 0.02, 0.025], sigma_model=1e-4,
                           global_fit=False, **SCAN_KW)
    assert result.scan.chi2.shape == (3, 3) and result.ndim == 2
    assert result.profile.chi2.shape == (3,)
    assert result.chi2_min < 1e-6  # the truth (3.10, 0.02) is a grid point
    paths = result.save(tmp_path, "synthetic")
    assert set(paths) == {"json", "csv", "png"}
    assert all(p.exists() and p.stat().st_size > 0 for p in paths.values())
    saved = json.loads(paths["json"].read_text())
    assert saved["beta_ref"] == BETA_REF
    assert "provenance" in saved and saved["provenance"]["dtype"] == "float64"
    assert {"S_opt", "residual_tau", "scan_beta", "scan_w"} <= set(
        paths["csv"].read_text().splitlines()[0].split(","))



def test_presets():
    assert set(S.PRESETS) == {"sanity-3x3", "scan-9x6", "default-16x10", "beta-41"}
    beta, w = S.PRESETS["default-16x10"]
    assert beta.shape == (16,) and w.shape == (10,)
    np.testing.assert_allclose(np.diff(np.log(w)), np.log(10.0) / 9)
    beta, w = S.PRESETS["beta-41"]
    assert beta.shape == (41,) and list(w) == [0.02]
    assert beta[0] == 2.85 and beta[-1] == 3.25
    with pytest.raises(ValueError, match="unknown preset"):
        S.run_preset("nope")



def test_bad_grids_get_clear_errors():
    with pytest.raises(ValueError, match="empty"):
        S.scan_beta([], progress=False)
    with pytest.raises(ValueError, match="empty"):
        S.scan_beta_w([3.0, 3.1], [], progress=False)
    with pytest.raises(ValueError, match="w grid"):
        S.scan_beta_w([3.0, 3.1], [0.0, 0.01], progress=False)
    with pytest.raises(ValueError, match="beta grid"):
        S.scan_beta([3.0, float("nan")], progress=False)
    with pytest.raises(ValueError, match="at least 2 points"):
        S.scan_beta_w([3.0, 3.1], [0.02], progress=False)


def test_find_contours_closes_the_synthetic_beta_interval(tmp_path):
    """No grid given: the 1-D profile over beta is centred on the best fit (the synthetic
    truth 3.10), its 68.3/95.4/99.7% intervals close inside the bounds and agree with the
    fixed-grid scan's interval (both interpolate sqrt(delta-chi2); 1e-4 in beta, the fixed
    grid's step being 0.01)."""
    auto = S.find_contours(("beta",), w=0.02, sigma_model=1e-4, config=FAST, targets=SYNTH,
                           spec=RECOVERY_SPEC, progress=False)
    assert auto.warnings == () and all(auto.closed) and all(auto.resolved)
    assert auto.best_point["beta"] == pytest.approx(TRUE_BETA, abs=1e-6)
    low, high = auto.interval()
    assert low < TRUE_BETA < high
    grid = S.scan_beta(RECOVERY_GRID, w=0.02, sigma_model=1e-4, global_fit=False, **SCAN_KW)
    assert (low, high) == pytest.approx(grid.interval, abs=1e-4)
    paths = auto.save(tmp_path, "auto")
    assert paths["png"].stat().st_size > 10_000
    with pytest.raises(ValueError, match=r"names must be \('beta',\) or \('beta', 'w'\)"):
        S.find_contours(("w",), progress=False)


def test_scan_plot_notes_when_no_contour_lies_inside_the_grid(tmp_path):
    """Item 6 of issue 15: in the tension regime every grid point lies far above the levels
    (delta-chi2 ~1e3 here); the plot still shows the surface and says why no contour."""
    from jaxfit.core.scan import ScanResult

    beta, w = np.linspace(3.0, 3.2, 5), np.geomspace(0.005, 0.05, 4)
    chi2 = 1e7 + 1e3 * (1.0 + np.add.outer(np.arange(5), np.arange(4)))
    result = ScanResult(names=("beta", "w"), axes=(beta, w), chi2=chi2,
                        best={"beta": np.add.outer(beta, 0 * w), "w": np.add.outer(0 * beta, w)},
                        status=np.zeros((5, 4), int), n_converged=np.ones((5, 4), int),
                        n_starts=1, profile=True)
    figure = result.plot()
    texts = [t.get_text() for t in figure.axes[0].texts]
    assert texts == ["no contour inside the grid (at most one point below each level): "
                     "delta-chi2 from 0 to 7e+03"]
    assert len(figure.axes[0].collections) >= 1  # the log-scale surface
    assert figure.axes[1].get_ylabel() == r"$\log_{10}(\Delta\chi^2 + 1)$"  # its colour bar
