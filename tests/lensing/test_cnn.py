"""Tests of the CNN architectures (jaxfit.lensing.cnn): shapes, parameter count, float32,
jit = eager; and the old import path of the training workflow."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jaxfit.lensing import cnn

N_PIX = 32


def test_research_cnn_shape_and_parameter_count():
    model = cnn.make_model("research", 0)
    x = jnp.asarray(np.random.default_rng(1).random((5, 2, N_PIX, N_PIX)), jnp.float32)
    logits = model(x)
    assert logits.shape == (5, 2)
    assert logits.dtype == jnp.float32
    assert isinstance(model, cnn.ResearchCNN)
    # Conv(2->16, 3x3) + Conv(16->32, 3x3) + Linear(32->2), weights and biases
    assert cnn.count_params(model) == 2 * 16 * 9 + 16 + 16 * 32 * 9 + 32 + 32 * 2 + 2
    # parameters are float32 although importing jaxfit enables float64
    params = jax.tree_util.tree_leaves(nnx.state(model, nnx.Param))
    assert all(p.dtype == jnp.float32 for p in params)


def test_deep_cnn_shape_and_jit_equals_eager():
    model = cnn.make_model("deep", 1)
    assert isinstance(model, cnn.DeepCNN)
    model.eval()
    x = jnp.asarray(np.random.default_rng(2).random((4, 2, N_PIX, N_PIX)), jnp.float32)
    eager = model(x)
    jitted = nnx.jit(lambda m, x: m(x))
    assert eager.shape == (4, 2)
    np.testing.assert_allclose(np.asarray(jitted(model, x)), np.asarray(eager), rtol=1e-5,
                               atol=1e-6)


def test_research_cnn_jit_equals_eager():
    model = cnn.make_model("research", 3)
    x = jnp.asarray(np.random.default_rng(3).random((4, 2, N_PIX, N_PIX)), jnp.float32)
    np.testing.assert_allclose(np.asarray(nnx.jit(lambda m, x: m(x))(model, x)),
                               np.asarray(model(x)), rtol=1e-5, atol=1e-6)


def test_unknown_arch_is_named():
    with pytest.raises(ValueError, match="arch"):
        cnn.make_model("resnet")


def test_names_that_moved_stay_importable_from_cnn():
    from jaxfit.lensing import batches, checkpoints, metrics, results, sweep, training
    from jaxfit.lensing.cnn import TrainConfig, train  # noqa: F401  (the old import path)

    assert cnn.TrainConfig is training.TrainConfig and cnn.train is training.train
    assert cnn.training_losses is training.training_losses
    assert cnn.training_throughput is training.training_throughput
    assert cnn.augment_batch is batches.augment_batch and cnn.CHANNEL_MODES is batches.CHANNEL_MODES
    assert cnn.apply_channel_mode is batches.apply_channel_mode
    assert cnn.split_galaxies is batches.split_galaxies
    assert cnn.roc_auc is metrics.roc_auc
    assert cnn.classification_metrics is metrics.classification_metrics
    assert cnn.load_checkpoint is checkpoints.load_checkpoint
    assert cnn.save_checkpoint is checkpoints.save_checkpoint
    assert cnn.TrainResult is results.TrainResult and cnn.sweep is sweep.sweep
    assert cnn.EXPERIMENTS == ("lensed", "subhalo", "kinematic")
    with pytest.raises(AttributeError, match="no_such_name"):
        cnn.no_such_name  # noqa: B018
