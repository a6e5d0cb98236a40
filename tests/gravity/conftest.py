"""Fixtures shared by the gravity tests: a point in theory-parameter space, small synthetic
galaxies, and the packaged cluster table."""

from __future__ import annotations

import numpy as np
import pytest

import jaxfit  # noqa: F401  (float64)
from jaxfit.gravity.cluster_set import packaged_clusters
from jaxfit.gravity.params import THEORY_DEFAULTS
from jaxfit.gravity.sparc import make_sparc_batch


@pytest.fixture
def theta() -> dict:
    """Theory parameters away from the defaults, inside the MW-fit bounds."""
    return dict(THEORY_DEFAULTS) | {"alpha": -1.0, "lam_coh": 40.0, "lam_cut": 1500.0,
                                    "Q_ref": 4.0, "A_global": 2.0}


def _synthetic_batch(seed=0, n_gal=5, sigma=(25.0, 25.0, 40.0, 25.0, 12.0)):
    """Small ragged galaxies with SPARC-like columns (km/s, kpc)."""
    rng = np.random.default_rng(seed)
    curves = []
    for g in range(n_gal):
        n = int(rng.integers(6, 14))
        R = np.sort(rng.uniform(0.3, 25.0, n))
        v = 150.0 * (1 - np.exp(-R / 3.0))
        curves.append({"name": f"G{g}", "Rad": R, "Vobs": v + rng.normal(0, 5, n),
                       "errV": np.full(n, 5.0), "Vgas": 0.3 * v * rng.uniform(0.5, 1, n),
                       "Vdisk": 0.8 * v, "Vbul": np.where(R < 2, 30.0, 0.0),
                       "SBdisk": np.ones(n), "SBbul": np.zeros(n), "distance_Mpc": 10.0})
    return make_sparc_batch(curves, sigma_v=np.asarray(sigma[:n_gal]))


@pytest.fixture
def galaxies():
    """``galaxies(seed=0, n_gal=5, sigma=...)``: a small synthetic SPARC batch."""
    return _synthetic_batch


@pytest.fixture(scope="module")
def packaged() -> dict:
    """The packaged clusters, ``{name: entry}`` of ``data/gravity_clusters.json``."""
    return packaged_clusters()["clusters"]
