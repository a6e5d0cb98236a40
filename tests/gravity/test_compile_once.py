"""Gravity objectives take their data, so their compiled fits depend only on shapes (issue 12).

Each case runs a fit once (compiling it), then again in a way that must reuse every compiled
program: the same fit repeated, other data of the same shapes (another MW band, another
SPARC subset padded to the same shape, other clusters and weights), another frozen value.
Two counters watch the second run:

- traces of the theory kernel: a Python side effect in a wrapper of the kernel functions the
  objectives call, counting the calls that receive tracers (JAX tracing them);
- programs built: JAX's monitoring events for a backend compilation or a persistent-cache
  hit (the tests run with a compile cache, which would otherwise hide a recompilation).

Both must stay at zero.
"""

from __future__ import annotations

import contextlib

import jax
import jax.monitoring
import numpy as np
import pytest

import jaxfit  # noqa: F401  (float64)
from jaxfit.core.optimize import minimize
from jaxfit.gravity import cluster_set as gcs
from jaxfit.gravity import joint as gj
from jaxfit.gravity import mw_fit as gmf
from jaxfit.gravity import objective as go
from jaxfit.gravity import params as gp
from jaxfit.gravity import sparc as gs
from jaxfit.gravity import sparc_points as gsp

BUILD_EVENTS = ("/jax/core/compile/backend_compile_duration",)
CACHE_HITS = "/jax/compilation_cache/cache_hits"
COUNTS = {"traces": 0, "programs": 0}


def _on_duration(event, duration, **kwargs):
    if event in BUILD_EVENTS:
        COUNTS["programs"] += 1


def _on_event(event, **kwargs):
    if event == CACHE_HITS:
        COUNTS["programs"] += 1


jax.monitoring.register_event_duration_secs_listener(_on_duration)
jax.monitoring.register_event_listener(_on_event)


@pytest.fixture(autouse=True)
def count_kernel_traces(monkeypatch):
    """Count every trace of the theory kernel used by the fit objectives and workflows."""
    for module, name in ((go, "theory_kernel"), (go, "theory_kernel_points"),
                         (gmf, "theory_kernel")):
        original = getattr(module, name)

        def counted(*args, _original=original, **kwargs):
            if any(isinstance(leaf, jax.core.Tracer)
                   for leaf in jax.tree_util.tree_leaves((args, kwargs))):
                COUNTS["traces"] += 1
            return _original(*args, **kwargs)

        monkeypatch.setattr(module, name, counted)


@contextlib.contextmanager
def nothing_new():
    """Assert that the block traces no kernel and builds no program."""
    before = dict(COUNTS)
    yield
    new = {k: COUNTS[k] - before[k] for k in COUNTS}
    assert new == {"traces": 0, "programs": 0}, f"recompiled: {new}"


def _first(run):
    before = dict(COUNTS)
    result = run()
    assert COUNTS["traces"] > before["traces"], "the first run should trace the kernel"
    return result


def _galaxies(seed, n_gal=4, sigma=25.0):
    """Small ragged SPARC-like galaxies (km/s, kpc); other seeds give other point counts."""
    rng = np.random.default_rng(seed)
    curves = []
    for g in range(n_gal):
        n = int(rng.integers(5, 12))
        R = np.sort(rng.uniform(0.3, 25.0, n))
        v = 150.0 * (1 - np.exp(-R / 3.0))
        curves.append({"name": f"S{seed}G{g}", "Rad": R, "Vobs": v + rng.normal(0, 5, n),
                       "errV": np.full(n, 5.0), "Vgas": 0.3 * v, "Vdisk": 0.8 * v,
                       "Vbul": np.zeros(n), "SBdisk": np.ones(n), "SBbul": np.zeros(n),
                       "distance_Mpc": 10.0})
    return gs.make_sparc_batch(curves, sigma_v=np.full(n_gal, sigma))


FAST = {"n_starts": 2, "maxiter": 4, "progress": False}


def test_mw_fit_repeated_or_on_another_band_compiles_nothing_new():
    first = _first(lambda: gmf.mw_fit(**FAST))
    with nothing_new():
        again = gmf.mw_fit(**FAST)
    assert again.fit.fun == first.fit.fun
    # another band of the same size, another dispersion: other data, same program
    with nothing_new():
        other = gmf.mw_fit(r_min=10.0, r_max=14.0, sigma_v=35.0, **FAST)
    assert other.fit.fun != first.fit.fun


def test_mw_fit_at_another_frozen_value_compiles_nothing_new():
    data = go.mw_kernel_data(go.mw_band_radii())
    spec = gp.theory_spec(fit_q_ref=False)
    options = {"maxiter": 4, "progress": False}
    first = _first(lambda: minimize(go.mw_kernel_loss, spec, data=data, **options))
    with nothing_new():
        other = minimize(go.mw_kernel_loss, spec, data=data, x0={"Q_ref": 2.5}, **options)
    assert other.x["Q_ref"] == 2.5 and first.x["Q_ref"] == 1.0
    assert other.fun != first.fun


def test_joint_fit_on_another_sparc_subset_padded_to_the_same_shape_compiles_nothing_new():
    clusters = gcs.load_clusters()
    shape = {"n_points_total": 48, "n_dispersions": 2}
    a, b = _galaxies(1), _galaxies(2, sigma=30.0)
    assert int(np.asarray(a.mask).sum()) != int(np.asarray(b.mask).sum())
    first = _first(lambda: gj.joint_fit(a, clusters, **shape, **FAST))
    with nothing_new():
        again = gj.joint_fit(a, clusters, **shape, **FAST)
    assert again.losses == first.losses
    with nothing_new():
        other = gj.joint_fit(b, clusters, weights=(2.0, 0.5, 1.0), bounds=(0.1, 50.0),
                             **shape, **FAST)
    assert other.losses["L_SPARC"] != first.losses["L_SPARC"]
    assert other.metrics["sparc"]["n_galaxies"] == 4


def test_padding_changes_no_value():
    """Points padded to a common shape give the same metrics as the unpadded ones."""
    batch = _galaxies(3)
    theta = dict(gp.THEORY_DEFAULTS) | {"alpha": -1.0, "lam_coh": 40.0, "Q_ref": 4.0}
    plain = go.sparc_metrics(theta, gsp.sparc_points(batch))
    padded = go.sparc_metrics(theta, gsp.sparc_points(batch, n_points_total=64,
                                                     n_dispersions=3))
    for key in ("rms_bar", "rms_model", "L_SPARC"):
        np.testing.assert_allclose(np.asarray(padded[key]), np.asarray(plain[key]),
                                   rtol=1e-14)
    with pytest.raises(ValueError, match="n_points_total"):
        gsp.sparc_points(batch, n_points_total=3)
    with pytest.raises(ValueError, match="n_dispersions"):
        gsp.sparc_points(_galaxies(4, sigma=25.0), n_dispersions=0)
