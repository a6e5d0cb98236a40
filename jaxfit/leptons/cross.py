"""Cross-lepton tests: masses and g-factors fitted together (research seed 003).

The objective (:func:`~jaxfit.leptons.objective.cross_chi2_of`) adds the g-factors to the
mass chi2, ``g_pred = C_mu mu_l`` with ``mu_l = 0.2 (R_c_l + w) U_l`` and ``C_mu`` profiled
like the mass scale ``S``; beta is shared by the leptons, so the g-factors may pin it.

- Test 1, :func:`cross_multistart`: beta free, many starts; how far the fitted beta spreads
  over the converged starts (-> :class:`~jaxfit.leptons.results.CrossMultistart`).
- Tests 2 and 3, :func:`cross_profile` / :func:`run_cross_tests` (:data:`CROSS_TESTS`):
  profile likelihoods over beta at the research's uncertainties.
- :func:`cross_report`: jaxfit's numbers next to what the research reported.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from jaxfit.core.params import ParamSpec
from jaxfit.leptons.data import LeptonTargets
from jaxfit.leptons.model import BETA_REF, DEFAULT_CONFIG, EnergyConfig
from jaxfit.leptons.params import DEFAULT_W, check_values, lepton_spec
from jaxfit.leptons.problem import make_problem, run_fit
from jaxfit.leptons.results import CrossMultistart, LeptonScan
from jaxfit.leptons.scan import scan_beta

CROSS_TESTS = {
    "test2": {"sigma_model": 1e-6, "sigma_g": 2e-8, "beta_grid": np.linspace(2.85, 3.25, 41)},
    "test3": {"sigma_model": 1e-5, "sigma_g": 1e-7, "beta_grid": np.linspace(2.95, 3.25, 31)},
}
"""The research cross-lepton profile likelihoods (seed 003, Tests 2 and 3)."""

RESEARCH_CROSS_RESULTS = {
    "test1": {"best_chi2": 683.0, "beta_best": 2.973, "beta_spread": (2.84, 3.27)},
    "test2": {"beta_min": 3.140, "chi2_min": 8686.0, "local_minima": 8,
              "mass_residual": 8e-5},
    "test3": {"beta_min": 3.180, "chi2_min": 22229.0, "local_minima": 9,
              "mass_residual": 1.3e-3},
}
"""What the research code reported (seed 003), for the comparison table of
:func:`cross_report`. Its objective and implementation differ from this one (see the spec),
so these are context, not references jaxfit must reproduce."""



def cross_multistart(
    *,
    w: float = DEFAULT_W,
    free_w: bool = False,
    config: EnergyConfig = DEFAULT_CONFIG,
    sigma_model: float = 1e-6,
    sigma_g: float = 2e-8,
    include_tau_g: bool = False,
    targets: LeptonTargets | None = None,
    spec: ParamSpec | None = None,
    x0: Mapping[str, float] | None = None,
    n_starts: int = 64,
    sampler: str = "sobol",
    seed: int = 0,
    method: str = "lbfgs",
    chunk_size: int | None = None,
    devices=None,
    progress: bool = True,
    **options,
) -> CrossMultistart:
    """Cross-lepton fit (masses + g, S and C_mu profiled) with beta free in [2.5, 3.5]
    (and w if ``free_w``) from ``n_starts`` starts; reports the spread of beta over the
    converged starts (research Test 1). Arguments as :func:`jaxfit.leptons.fit.fit_fixed`
    and :func:`~jaxfit.leptons.objective.cross_chi2`; defaults are the research's
    sigma_model = 1e-6, sigma_g = 2e-8.
    """
    problem = make_problem("cross", config, sigma_model, sigma_g, include_tau_g, targets)
    w = check_values({"w": w}, "cross_multistart")["w"]
    spec = spec or lepton_spec(BETA_REF, w)
    spec = spec.replace("beta", frozen=False)
    spec = spec.replace("w", frozen=False) if free_w else spec.freeze(["w"], {"w": w})
    result = run_fit(problem, spec, x0=x0, n_starts=n_starts, sampler=sampler, seed=seed,
                     method=method, chunk_size=chunk_size, devices=devices, progress=progress,
                     errors=False, options=options)
    starts = result.starts
    if starts is None:
        ok = pd.DataFrame({"beta": [result.beta], "fun": [result.chi2]})
    else:
        ok = starts[starts["success"]]
    betas, chi2s = ok["beta"].to_numpy(), ok["fun"].to_numpy()
    spread = {"n": int(len(betas)), "n_starts": result.fit.n_starts}
    if len(betas):
        spread |= {"min": float(betas.min()), "max": float(betas.max()),
                   "std": float(betas.std()), "median": float(np.median(betas)),
                   "chi2_min": float(chi2s.min()), "chi2_max": float(chi2s.max())}
    return CrossMultistart(fit=result, beta_spread=spread)


def cross_profile(beta_grid, *, w: float = DEFAULT_W, sigma_model: float = 1e-6,
                  sigma_g: float = 2e-8, **kwargs) -> LeptonScan:
    """Cross-lepton profile likelihood over beta (research Tests 2 and 3): the 9 lepton
    parameters fitted at every beta with S and C_mu profiled. The result carries beta_min,
    chi2_min, the offset from beta_ref, mass residuals and C_mu at the minimum. ``kwargs``
    as :func:`~jaxfit.leptons.scan.scan_beta`."""
    return scan_beta(beta_grid, w=w, kind="cross", sigma_model=sigma_model, sigma_g=sigma_g,
                     **kwargs)


def run_cross_tests(names: Sequence[str] = tuple(CROSS_TESTS), **kwargs) -> dict[str, LeptonScan]:
    """Run the research cross-lepton profiles of :data:`CROSS_TESTS` (Tests 2 and 3) with
    :func:`cross_profile`; ``kwargs`` (w, config, n_starts, chunk_size, ...) go to it.
    Returns ``{name: LeptonScan}``, ready for :func:`cross_report`."""
    unknown = [n for n in names if n not in CROSS_TESTS]
    if unknown:
        raise ValueError(f"unknown cross tests {unknown}; valid: {', '.join(CROSS_TESTS)}")
    return {
        name: cross_profile(CROSS_TESTS[name]["beta_grid"],
                            sigma_model=CROSS_TESTS[name]["sigma_model"],
                            sigma_g=CROSS_TESTS[name]["sigma_g"], **kwargs)
        for name in names
    }


def cross_report(profiles: Mapping[str, LeptonScan],
                 multistart: CrossMultistart | None = None) -> pd.DataFrame:
    """The research results table (seed 003) next to jaxfit's: one row per test.

    Args:
        profiles: ``{"test2": cross_profile(...), "test3": ...}`` (any names).
        multistart: the Test 1 result, if run.
    """
    rows = []
    if multistart is not None:
        s, f = multistart.beta_spread, multistart.fit
        ref = RESEARCH_CROSS_RESULTS["test1"]
        rows.append({
            "test": "test1", "sigma_model": f.settings["sigma_model"],
            "sigma_g": f.settings["sigma_g"], "beta_min": f.beta, "chi2_min": f.chi2,
            "offset_from_ref": f.beta - BETA_REF,
            "max_abs_mass_residual": max(abs(v) for v in f.residuals.values()),
            "C_mu": f.C_mu, "local_minima": None,
            "beta_spread": (s.get("min"), s.get("max")),
            "research_beta_min": ref["beta_best"], "research_chi2_min": ref["best_chi2"],
        })
    for name, p in profiles.items():
        ref = RESEARCH_CROSS_RESULTS.get(name, {})
        rows.append({
            "test": name, "sigma_model": p.settings["sigma_model"],
            "sigma_g": p.settings.get("sigma_g"), "beta_min": p.beta_min,
            "chi2_min": p.chi2_min, "offset_from_ref": p.offset_from_ref,
            "max_abs_mass_residual": max(abs(v) for v in p.summary_at_min["residuals"].values()),
            "C_mu": p.C_mu, "local_minima": p.n_local_minima, "beta_spread": None,
            "research_beta_min": ref.get("beta_min"), "research_chi2_min": ref.get("chi2_min"),
        })
    return pd.DataFrame(rows)
