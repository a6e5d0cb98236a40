"""Tests of saving and loading trained CNNs (jaxfit.lensing.checkpoints): a reloaded model
gives bit-identical logits, including the batch statistics of the deep network, and training
resumed from a checkpoint equals training without the interruption."""

import dataclasses
import json
import shutil

import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jaxfit.lensing.checkpoints import load_checkpoint, load_training_state
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


@pytest.fixture(scope="module")
def one_epoch(sources, tmp_path_factory):
    """RESEARCH trained for its one epoch (2 steps) into a folder: (result, folder)."""
    out = tmp_path_factory.mktemp("one_epoch")
    return train(RESEARCH, sources, out_dir=out, progress=False), out


def _training_state(path, config):
    """{name: array} of the model and Adam state in a checkpoint."""
    from jaxfit.lensing.training import _build

    graphdef, state, _, _ = _build(config)
    model, optimizer = nnx.merge(graphdef, state)
    progress = load_training_state(path, model, optimizer)
    flat = nnx.to_flat_state(nnx.state((model, optimizer)))
    return {"/".join(map(str, k)): np.asarray(v.get_value()) for k, v in flat}, progress


def test_resumed_training_equals_one_uninterrupted_run(sources, one_epoch, tmp_path):
    _, first = one_epoch
    two = dataclasses.replace(RESEARCH, epochs=2)
    resumed_dir = tmp_path / "resumed"
    shutil.copytree(first, resumed_dir)
    resumed = train(two, sources, out_dir=resumed_dir, progress=False, resume=resumed_dir)
    straight = train(two, sources, out_dir=tmp_path / "straight", progress=False)

    # 2 + 2 steps in two calls = 4 steps in one: parameters and Adam's mu, nu and count
    got, progress = _training_state(resumed_dir / "checkpoint.npz", two)
    want, _ = _training_state(tmp_path / "straight" / "checkpoint.npz", two)
    assert progress["step"] == 4 and progress["epoch"] == 2
    assert set(got) == set(want)
    assert any("/mu/" in name for name in got) and any("/nu/" in name for name in got)
    for name in want:
        # bit-identical on CPU; the tolerance leaves room for a device that reorders sums
        np.testing.assert_allclose(got[name], want[name], rtol=1e-6, atol=0, err_msg=name)
    assert got["1/opt_state/inner_state/0/count"] == 4 and got["1/step"] == 4
    # the resumed result holds the whole run's curves
    assert [h["epoch"] for h in resumed.history] == [1, 2]
    assert len(resumed.step_losses) == len(straight.step_losses) == 4
    np.testing.assert_allclose(resumed.step_losses, straight.step_losses, rtol=1e-6)
    for a, b in zip(resumed.history, straight.history, strict=True):
        assert a["val_loss"] == pytest.approx(b["val_loss"], rel=1e-6)
    assert resumed.test["loss"] == pytest.approx(straight.test["loss"], rel=1e-6)
    assert resumed.throughput["n_steps"] == 2  # the steps of this call
    record = json.loads((resumed_dir / "metrics.json").read_text())
    assert len(record["epochs"]) == 2 and len(record["step_losses"]) == 4


def test_resume_refuses_other_settings_sources_or_fewer_epochs(sources, one_epoch):
    _, first = one_epoch
    with pytest.raises(ValueError, match="other settings.*lr"):
        train(dataclasses.replace(RESEARCH, lr=1e-2), sources, progress=False, resume=first)
    with pytest.raises(ValueError, match="sources"):
        train(RESEARCH, sources[::-1].copy(), progress=False, resume=first)
    with pytest.raises(FileNotFoundError, match="checkpoint"):
        train(RESEARCH, sources, progress=False, resume=first / "missing")


def test_checkpoint_reload_gives_identical_logits(one_epoch, tmp_path):
    result, out = one_epoch
    model = load_checkpoint(out / "checkpoint.npz", RESEARCH)
    x = jnp.asarray(np.random.default_rng(8).random((6, 2, N_PIX, N_PIX)), jnp.float32)
    np.testing.assert_array_equal(np.asarray(model(x)), np.asarray(result.model(x)))
    with pytest.raises(ValueError, match="architecture"):
        load_checkpoint(out / "checkpoint.npz", "deep")
    bad = tmp_path / "not_a_checkpoint.npz"
    bad.write_bytes(b"nonsense")
    with pytest.raises(ValueError, match="checkpoint"):
        load_checkpoint(bad, RESEARCH)


def test_deep_checkpoint_roundtrip_with_batch_stats(sources, tmp_path):
    config = DEEP
    result = train(config, sources, out_dir=tmp_path, progress=False)
    model = load_checkpoint(tmp_path / "checkpoint.npz", config)
    x = jnp.asarray(np.random.default_rng(9).random((3, 2, N_PIX, N_PIX)), jnp.float32)
    np.testing.assert_array_equal(np.asarray(model(x)), np.asarray(result.model(x)))
