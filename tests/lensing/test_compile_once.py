"""The simulator's configuration is an argument of its compiled programs (issue 12).

The numbers of a :class:`~jaxfit.lensing.params.LensSimConfig` (Einstein radii, subhalo
radii, shear, PSF width, noise levels, mask threshold, clip ranges) travel as a
:class:`~jaxfit.lensing.params.SimParams` pytree of arrays; only the image size, the subhalo
kind and the PSF / noise / re-mask switches are static. So a second configuration of the
same size and kind, or a training run at another learning rate or seed, compiles nothing
new. Two counters watch the second run:

- traces of the one-image simulator (a wrapper counting the calls that receive tracers);
- programs built: JAX's monitoring events for a backend compilation or a persistent-cache
  hit (the tests run with a compile cache, which would otherwise hide a recompilation).
"""

from __future__ import annotations

import contextlib

import jax
import jax.monitoring
import jax.numpy as jnp
import numpy as np
import pytest

import jaxfit  # noqa: F401  (float64)
from jaxfit.lensing import simulate as m
from jaxfit.lensing.params import LensSimConfig
from jaxfit.lensing.training import TrainConfig, training_losses

COUNTS = {"traces": 0, "programs": 0}


def _on_duration(event, duration, **kwargs):
    if event == "/jax/core/compile/backend_compile_duration":
        COUNTS["programs"] += 1


def _on_event(event, **kwargs):
    if event == "/jax/compilation_cache/cache_hits":
        COUNTS["programs"] += 1


jax.monitoring.register_event_duration_secs_listener(_on_duration)
jax.monitoring.register_event_listener(_on_event)


@pytest.fixture(autouse=True)
def count_simulator_traces(monkeypatch):
    original = m._simulate

    def counted(*args, **kwargs):
        if any(isinstance(leaf, jax.core.Tracer)
               for leaf in jax.tree_util.tree_leaves((args, kwargs))):
            COUNTS["traces"] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(m, "_simulate", counted)


@contextlib.contextmanager
def nothing_new():
    before = dict(COUNTS)
    yield
    new = {k: COUNTS[k] - before[k] for k in COUNTS}
    assert new == {"traces": 0, "programs": 0}, f"recompiled: {new}"


def _sources(n=3, size=12, seed=0):
    rng = np.random.default_rng(seed)
    src = rng.uniform(0.0, 1.0, (n, 2, size, size))
    src[:, 1] = rng.uniform(-1.0, 1.0, (n, size, size))
    return jnp.asarray(src, jnp.float32)


BASE = LensSimConfig(n_pix=16)
# every number differs from BASE; same size, subhalo kind, PSF and noise switches
OTHER = LensSimConfig(n_pix=16, theta_E_main=0.4, theta_E_sub_factor=0.3,
                        sub_radius_range=(0.2, 0.4), shear_gamma1=0.05, shear_gamma2=-0.03,
                        psf_sigma=1.6, psf_edge="zero", flux_noise_sigma=0.02,
                        vel_noise_sigma=0.1, flux_mask_threshold=0.2, flux_clip=(0.0, 1.2),
                        vel_clip=(-1.0, 1.0), sis_softening=1e-6)


def test_simulate_many_with_another_config_of_the_same_size_compiles_nothing_new():
    src, key = _sources(), jax.random.key(0)
    first = m.simulate_many(key, src, BASE, 6, "subhalo", progress=False)
    with nothing_new():
        again = m.simulate_many(key, src, BASE, 6, "subhalo", progress=False)
    np.testing.assert_array_equal(again[0], first[0])
    with nothing_new():
        other = m.simulate_many(key, src, OTHER, 6, "subhalo", progress=False)
    # the numbers really are arguments: the other configuration gives other images, and
    # the same ones as its own simulate_batch
    assert np.abs(other[0] - first[0]).max() > 0.05
    batch = m.simulate_batch(key, src, OTHER, 6, "subhalo")
    np.testing.assert_allclose(other[0], np.asarray(batch[0]), atol=1e-6, rtol=0)


def test_simulate_batch_and_lens_image_reuse_their_programs():
    src, key = _sources(), jax.random.key(1)
    m.simulate_batch(key, src, BASE, 5, "kinematic")
    m.lens_image(src[0], BASE, key)
    with nothing_new():
        m.simulate_batch(key, src, OTHER, 5, "kinematic")
        m.lens_image(src[0], OTHER, key)
    # a static setting (another subhalo kind) is another program: the counter sees it
    before = dict(COUNTS)
    m.simulate_batch(key, src, LensSimConfig(n_pix=16, subhalo="tnfw"), 5, "kinematic")
    assert COUNTS["programs"] > before["programs"] and COUNTS["traces"] > before["traces"]


def test_training_at_another_sim_config_learning_rate_and_seed_compiles_nothing_new():
    src = _sources(6, seed=1)
    base = TrainConfig(experiment="subhalo", batch_size=8, sim=BASE)
    first = training_losses(base, src, n_steps=2)
    other = TrainConfig(experiment="subhalo", batch_size=8, sim=OTHER, lr=3e-3, seed=7)
    with nothing_new():
        second = training_losses(other, src, n_steps=2)
    assert np.all(np.isfinite(second)) and not np.array_equal(first, second)
