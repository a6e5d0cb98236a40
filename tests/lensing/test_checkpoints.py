"""Tests of saving and loading trained CNNs (jaxfit.lensing.checkpoints): a reloaded model
gives bit-identical logits, including the batch statistics of the deep network."""

import jax.numpy as jnp
import numpy as np
import pytest

from jaxfit.lensing.checkpoints import load_checkpoint
from jaxfit.lensing.params import LensSimConfig
from jaxfit.lensing.training import TrainConfig, train

N_PIX = 32
SIM = LensSimConfig(n_pix=N_PIX)
# the static settings of test_training's runs, so a worker compiles their train steps once
RESEARCH = TrainConfig(experiment="lensed", sim=SIM, lr=3e-3, batch_size=32, epochs=1,
                       n_train=64, n_val=32, n_test=32, seed=42)
DEEP = TrainConfig(experiment="subhalo", arch="deep", lr=3e-3, epochs=1, n_train=64, n_val=16,
                   n_test=16, seed=42,
                   sim=LensSimConfig(n_pix=N_PIX, theta_E_sub_factor=0.3, psf_sigma=0.0,
                                     flux_noise_sigma=0.0, vel_noise_sigma=0.0))


def test_checkpoint_reload_gives_identical_logits(sources, tmp_path):
    out = tmp_path
    result = train(RESEARCH, sources, out_dir=out, progress=False)
    model = load_checkpoint(out / "checkpoint.npz", RESEARCH)
    x = jnp.asarray(np.random.default_rng(8).random((6, 2, N_PIX, N_PIX)), jnp.float32)
    np.testing.assert_array_equal(np.asarray(model(x)), np.asarray(result.model(x)))
    with pytest.raises(ValueError, match="architecture"):
        load_checkpoint(out / "checkpoint.npz", "deep")
    bad = out / "not_a_checkpoint.npz"
    bad.write_bytes(b"nonsense")
    with pytest.raises(ValueError, match="checkpoint"):
        load_checkpoint(bad, RESEARCH)


def test_deep_checkpoint_roundtrip_with_batch_stats(sources, tmp_path):
    config = DEEP
    result = train(config, sources, out_dir=tmp_path, progress=False)
    model = load_checkpoint(tmp_path / "checkpoint.npz", config)
    x = jnp.asarray(np.random.default_rng(9).random((3, 2, N_PIX, N_PIX)), jnp.float32)
    np.testing.assert_array_equal(np.asarray(model(x)), np.asarray(result.model(x)))
