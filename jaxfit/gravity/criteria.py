"""The research success criteria (seed 000, "Interpretation") and the verdicts they give.

Each verdict is a dict of the numbers it judged and ``passed``. The verdicts of fitted
results (MW, joint) also take whether the optimiser converged: a fit that stopped short is
never ``passed``, whatever its numbers.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

CRITERIA = {
    "mw_corr_min": 0.95,
    "mw_chi2_K_max": 1e-3,
    "sparc_mean_delta_rms_max": -2.0,
    "sparc_fraction_improved_min": 0.6,
    "cluster_ratio_range": (2.0, 20.0),
    "cluster_mass_ratio_range": (0.5, 2.0),
}
"""The research success criteria (seed 000, "Interpretation")."""


def mw_verdict(corr: float, chi2_K: float, *, converged: bool) -> dict:
    """Research MW criteria: corr > 0.95 and chi2_K < 1e-3, of a fit that converged."""
    return {
        "corr": corr,
        "chi2_K": chi2_K,
        "converged": bool(converged),
        "passed": bool(converged and corr > CRITERIA["mw_corr_min"]
                       and chi2_K < CRITERIA["mw_chi2_K_max"]),
    }



def sparc_verdict(summary: Mapping) -> dict:
    """Research SPARC criteria: mean delta_rms < -2 km/s and > 60% improved."""
    return {
        "mean_delta_rms": summary["mean_delta_rms"],
        "fraction_improved": summary["fraction_improved"],
        "passed": bool(
            summary["mean_delta_rms"] < CRITERIA["sparc_mean_delta_rms_max"]
            and summary["fraction_improved"] > CRITERIA["sparc_fraction_improved_min"]
        ),
    }



def cluster_verdict(ratio: float, mass_ratios) -> dict:
    """Research cluster criteria: A_cluster/A_gal in [2, 20], every mass ratio in [0.5, 2]."""
    lo, hi = CRITERIA["cluster_ratio_range"]
    mlo, mhi = CRITERIA["cluster_mass_ratio_range"]
    mass_ratios = np.asarray(mass_ratios)
    return {
        "A_cluster_A_gal_ratio": ratio,
        "mass_ratios": mass_ratios.tolist(),
        "passed": bool(lo <= ratio <= hi and np.all((mass_ratios >= mlo) & (mass_ratios <= mhi))),
    }



def verdict(metrics: Mapping, *, converged: bool) -> dict:
    """All research success criteria from a metrics dict with ``mw``, ``sparc`` and
    ``clusters`` entries (any may be missing: its verdict is then ``None``) of one fit of
    theta; nothing passes unless that fit ``converged``."""
    out = {"mw": None, "sparc": None, "clusters": None}
    if "mw" in metrics:
        out["mw"] = mw_verdict(metrics["mw"]["corr"], metrics["mw"]["chi2_K"],
                               converged=converged)
    if "sparc" in metrics:
        out["sparc"] = sparc_verdict(metrics["sparc"])
    if "clusters" in metrics:
        c = metrics["clusters"]
        out["clusters"] = cluster_verdict(
            c["A_cluster_A_gal_ratio"], list(c["mass_ratio"].values())
        )
    out["converged"] = bool(converged)
    out["all_passed"] = converged and all(v["passed"] for v in out.values()
                                          if isinstance(v, dict))
    return out
