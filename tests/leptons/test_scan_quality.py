"""The fast scan defaults reach what many independent starts reach.

:func:`jaxfit.leptons.scan.scan_beta_w` with its defaults (few starts per point, then
continuation from the neighbours' optima and the global fit) against the reference: 64
independent starts at every point (``continuation=False``), the best of them. Every grid
point must reach the reference chi2 to 1e-9 relative; a point left in a poorer basin
(the tension regime has several, ~2% apart in chi2) fails the test.
"""

import numpy as np

import jaxfit  # noqa: F401  (float64)
from jaxfit.leptons import scan as S

BETA = [3.0, 3.1, 3.2]
W = [0.005, 0.03]


def test_scan_defaults_reach_the_best_of_64_independent_starts():
    fast = S.scan_beta_w(BETA, W, progress=False)
    reference = S.scan_beta_w(BETA, W, n_starts=64, continuation=False, global_fit=False,
                              progress=False)
    assert fast.scan.n_starts < 64  # the defaults are the cheap settings
    fast_chi2, ref_chi2 = fast.scan.chi2, reference.scan.chi2
    assert np.all(np.isfinite(fast_chi2)) and np.all(np.isfinite(ref_chi2))
    worse = fast_chi2 > ref_chi2 * (1 + 1e-9)
    assert not worse.any(), (
        f"{int(worse.sum())} of {worse.size} points above the 64-start optimum: "
        f"relative excess {(fast_chi2 / ref_chi2 - 1)[worse]}")
