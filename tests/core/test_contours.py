"""Tests of jaxfit.core.contours against the analytic profile of a correlated Gaussian.

The Gaussian has the CMB+BAO ellipse of issue 15 in (Om0, H0): sigma 0.0039 and 0.30,
correlation -0.975, plus a nuisance n that follows H0. Analytically the profile over n is
``delta-chi2 = r^T C^-1 r`` (r from the centre MU), so the contour at level L is the ellipse
``|A^-1 r| = sqrt(L)`` with ``A A^T = C``, and the 1-D profile over H0 crosses 1 at
``MU_H0 +- sigma_H0``. The old default grid of ``jaxfit cosmo profile`` (13 x 13, steps
0.005 in Om0 and 0.5 in H0) is far too coarse for it.
"""

import jax.numpy as jnp
import numpy as np
import pytest

import jaxfit  # noqa: F401  (switches on float64)
from jaxfit.core.contours import explicit_profile, grid_warnings, profile
from jaxfit.core.params import Param, ParamSpec
from jaxfit.core.scan import CONTOUR_LEVELS_2D, ScanResult

SIGMA = np.array([0.0039, 0.30])
RHO = -0.975
COV = np.array([[SIGMA[0] ** 2, RHO * SIGMA[0] * SIGMA[1]],
                [RHO * SIGMA[0] * SIGMA[1], SIGMA[1] ** 2]])
COV_INV = np.linalg.inv(COV)
MU = np.array([0.3102, 67.43])
OLD_GRID = (np.linspace(0.28, 0.34, 13), np.linspace(65.0, 71.0, 13))


def ellipse_chi2(p):
    r = jnp.stack([p["Om0"] - MU[0], p["H0"] - MU[1]])
    return r @ COV_INV @ r + ((p["n"] - 0.3 * (p["H0"] - MU[1])) / 0.1) ** 2


def spec_with(h0_upper=75.0):
    return ParamSpec([Param("Om0", 0.3, 0.2, 0.4), Param("H0", 67.0, 60.0, h0_upper),
                      Param("n", 0.0, -5.0, 5.0)])


def whitened_radius(line):
    """``|A^-1 r|`` of contour vertices: sqrt(level) on the analytic ellipse."""
    return np.sqrt(np.sum(np.linalg.solve(np.linalg.cholesky(COV), (line - MU).T) ** 2,
                          axis=0))


@pytest.fixture(scope="module")
def ellipse():
    return profile(ellipse_chi2, spec_with(), ["Om0", "H0"], progress=False)


def test_old_default_grid_is_too_coarse_for_the_ellipse():
    """What the user saw: on the 13 x 13 grid the 68% contour holds at most a couple of
    points; explicit_profile runs that grid and warns it is too coarse along both axes."""
    mesh = np.meshgrid(*OLD_GRID, indexing="ij")
    r = np.stack([m - c for m, c in zip(mesh, MU, strict=True)], axis=-1)
    delta = np.einsum("...i,ij,...j->...", r, COV_INV, r)
    assert np.sum(delta < CONTOUR_LEVELS_2D[0]) <= 3
    # n_starts and chunk_size as the automatic profile's: the compiled programs are shared
    old = explicit_profile(ellipse_chi2, spec_with(), dict(zip(("Om0", "H0"), OLD_GRID,
                                                               strict=True)),
                           n_starts=4, chunk_size=64, progress=False)
    np.testing.assert_allclose(old.delta_chi2, delta, atol=1e-6)
    warnings = old.warnings
    assert len(warnings) == 2
    assert "grid of Om0 has steps up to 0.005, too coarse for the 68.3% contour" in warnings[0]
    assert "grid of H0 has steps up to 0.5, too coarse" in warnings[1]
    assert "warning: the grid of Om0 has steps up to 0.005" in old.summary()
    axes = tuple(np.linspace(c - 4 * s, c + 4 * s, 201) for c, s in zip(MU, SIGMA, strict=True))
    mesh = np.meshgrid(*axes, indexing="ij")
    r = np.stack([m - c for m, c in zip(mesh, MU, strict=True)], axis=-1)
    fine = ScanResult(names=("Om0", "H0"), axes=axes,
                      chi2=np.einsum("...i,ij,...j->...", r, COV_INV, r), best={},
                      status=np.zeros((201, 201), int), n_converged=np.ones((201, 201), int),
                      n_starts=1, profile=True)
    assert grid_warnings(fine, COV) == ()


def test_default_profile_finds_closes_and_resolves_the_contours(ellipse, tmp_path):
    res = ellipse
    assert res.closed == res.resolved == (True, True, True)
    assert res.warnings == () and res.all_converged and res.local_minima() == 1
    # 1e-3 sigma: the best fit's L-BFGS stops at gtol, where delta-chi2 ~ 1e-6 at most
    offset = (np.array([res.best_point["Om0"], res.best_point["H0"]]) - MU) / SIGMA
    assert np.all(np.abs(offset) < 1e-3), offset
    # the profile Hessian (n eliminated) is the analytic covariance
    np.testing.assert_allclose(res.covariance, COV, rtol=1e-6)
    # tolerance 1%: the contour is interpolated linearly in sqrt(delta-chi2) across lattice
    # cells 0.38 sigma wide (measured: 0.44% inside at worst)
    for level in res.levels:
        lines = res.contour(level)
        assert len(lines) == 1  # one contour, not islands
        line = lines[0]
        np.testing.assert_array_equal(line[0], line[-1])  # closed
        np.testing.assert_allclose(whitened_radius(line), np.sqrt(level), rtol=1e-2)
        assert len(line) >= 30  # resolved: many vertices
    # the points reach beyond the largest contour and the profiled nuisance is analytic
    frame = res.to_frame()
    assert frame["delta_chi2"].max() > CONTOUR_LEVELS_2D[-1]
    np.testing.assert_allclose(frame["n"], 0.3 * (frame["scan_H0"] - MU[1]), atol=1e-6)
    assert "68.3% (delta-chi2 2.3): closed, resolved" in res.summary()
    paths = res.save(tmp_path)
    assert paths["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert '"closed": true' in paths["json"].read_text()


def test_warning_names_the_level_whose_contour_leaves_the_bounds():
    """H0 <= MU + 2.2 sigma: the 68.3% contour (1.52 sigma) closes inside, the 95.4% (2.49
    sigma) and 99.7% (3.44 sigma) ones reach the bound."""
    res = profile(ellipse_chi2, spec_with(MU[1] + 2.2 * SIGMA[1]), ["Om0", "H0"],
                  progress=False)
    assert res.closed == (True, False, False)
    assert res.warnings == (
        "the 95.4% contour (delta-chi2 = 6.18) is not closed: it reaches the bounds of Om0, H0",
        "the 99.7% contour (delta-chi2 = 11.83) is not closed: it reaches the bounds of Om0, H0",
    )
    assert "warning: the 95.4% contour" in res.summary()
    np.testing.assert_allclose(whitened_radius(res.contour(2.30)[0]), np.sqrt(2.30), rtol=1e-2)


def test_1d_interval_is_exact_and_a_sharp_profile_is_refined():
    res = profile(ellipse_chi2, spec_with(), ["H0"], progress=False)
    for k, level in enumerate(res.levels, start=1):
        assert res.interval(level) == pytest.approx((MU[1] - k * SIGMA[1], MU[1] + k * SIGMA[1]),
                                                    abs=1e-6)
    assert all(res.closed) and all(res.resolved) and res.n_rounds == 1

    # one objective for both shapes below (the data pick one): compiled once
    def shapes(p, weights):
        quartic = p["a"] ** 2 + 100.0 * p["a"] ** 4
        return weights[0] * quartic + weights[1] * 2.0 * jnp.log1p(p["a"] ** 2 / 2.0)

    # a quartic well: the Hessian (curvature 2 at 0) predicts a 68% interval +-1, the
    # profile crosses 1 at +-0.3 (a^2 + 100 a^4 = 1), too few points inside: refined
    spec = ParamSpec([Param("a", 0.5, -50.0, 50.0)])
    sharp = profile(shapes, spec, ["a"], data=jnp.array([1.0, 0.0]), progress=False)
    root = np.sqrt((-1.0 + np.sqrt(1.0 + 400.0)) / 200.0)
    assert sharp.spacing < 1.0 / 6.0 and all(sharp.resolved)
    # 3e-3: sqrt(delta) is not linear for a quartic; linear interpolation on the refined
    # steps (1/24) is measured 0.2% short
    assert sharp.interval() == pytest.approx((-root, root), rel=3e-3)

    # a flat (log) profile reaches 13x further than the Hessian: the fill follows it
    wide = profile(shapes, spec, ["a"], data=jnp.array([0.0, 1.0]), progress=False)
    end = np.sqrt(2.0 * np.expm1(4.5))
    assert all(wide.closed) and wide.n_rounds <= 8 and wide.n_points < 400
    assert wide.interval(9.0) == pytest.approx((-end, end), rel=1e-3)


def test_bad_inputs():
    spec = spec_with()
    with pytest.raises(ValueError, match="names must be one or two distinct parameter names"):
        profile(ellipse_chi2, spec, ["Om0", "Om0"])
    with pytest.raises(KeyError, match="unknown profile parameter 'w'"):
        profile(ellipse_chi2, spec, ["w"])
    with pytest.raises(ValueError, match="levels must be increasing"):
        profile(ellipse_chi2, spec, ["H0"], levels=[4.0, 1.0])
    with pytest.raises(ValueError, match="levels must be finite > 0"):
        profile(ellipse_chi2, spec, ["H0"], levels=[-1.0])
    with pytest.raises(ValueError, match="method must be one of"):
        profile(ellipse_chi2, spec, ["H0"], method="de")
