"""Tests of the lensing CNN: architecture, metrics, augmentation, training, checkpoints, sweep.

CI-sized: 32 x 32 pixel sources and a few hundred simulated images per run. Training
thresholds are checked on a fixed seed (42).
"""

import dataclasses
import itertools
import json

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
from flax import nnx

from jaxfit.lensing import cnn
from jaxfit.lensing.model import LensSimConfig

N_PIX = 32
SIM = LensSimConfig(n_pix=N_PIX)


def _sources(n: int = 6, n_pix: int = N_PIX) -> np.ndarray:
    """Synthetic (flux, velocity) sources: jaxfit's generator, else smooth rotating blobs."""
    try:
        from jaxfit.lensing.data import synthetic_sources
    except ImportError:
        synthetic_sources = None
    if synthetic_sources is not None:
        return np.asarray(synthetic_sources(n, seed=0, n_pix=n_pix), dtype=np.float32)
    rng = np.random.default_rng(0)
    g = np.linspace(-1.0, 1.0, n_pix)
    x, y = np.meshgrid(g, g)
    out = []
    for _ in range(n):
        cx, cy = rng.uniform(-0.15, 0.15, 2)
        pa = rng.uniform(0, np.pi)
        u = (x - cx) * np.cos(pa) + (y - cy) * np.sin(pa)
        v = -(x - cx) * np.sin(pa) + (y - cy) * np.cos(pa)
        flux = np.exp(-np.hypot(u, 1.6 * v) / 0.25)
        vel = np.tanh(u / 0.15) * (flux > 0.05)
        out.append(np.stack([flux / flux.max(), vel]))
    return np.asarray(out, dtype=np.float32)


@pytest.fixture(scope="module")
def sources():
    return _sources()


# ------------------------------------------------------------------------- architecture


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


# ---------------------------------------------------------------------------- metrics


def _auc_pairs(labels, scores):
    """Reference: O(n^2) count of (positive, negative) pairs ordered right, ties 1/2."""
    pos = scores[labels == 1]
    neg = scores[labels == 0]
    wins = sum(1.0 if p > q else 0.5 if p == q else 0.0 for p, q in itertools.product(pos, neg))
    return wins / (len(pos) * len(neg))


def test_roc_auc_matches_pair_count():
    rng = np.random.default_rng(4)
    for n in (7, 50, 201):
        labels = rng.integers(0, 2, n)
        labels[:2] = (0, 1)
        scores = np.round(rng.normal(size=n) + 0.7 * labels, 1)  # rounding makes ties
        assert cnn.roc_auc(labels, scores) == pytest.approx(_auc_pairs(labels, scores),
                                                            abs=1e-12)
    assert cnn.roc_auc([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4]) == 1.0
    assert cnn.roc_auc([1, 1, 0, 0], [0.1, 0.2, 0.3, 0.4]) == 0.0
    assert np.isnan(cnn.roc_auc([1, 1, 1], [0.1, 0.2, 0.3]))
    with pytest.raises(ValueError, match="labels"):
        cnn.roc_auc([0, 2], [0.1, 0.2])


def test_classification_metrics_against_numpy():
    rng = np.random.default_rng(5)
    logits = rng.normal(size=(40, 2))
    labels = rng.integers(0, 2, 40)
    got = cnn.classification_metrics(logits, labels)
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    assert got["loss"] == pytest.approx(-np.mean(np.log(p[np.arange(40), labels])), rel=1e-12)
    assert got["accuracy"] == pytest.approx(np.mean(p.argmax(1) == labels))
    assert got["roc_auc"] == pytest.approx(_auc_pairs(labels, p[:, 1]), abs=1e-12)


# ---------------------------------------------------------------- channels, augmentation


def test_channel_modes_zero_the_right_channel():
    x = jnp.asarray(np.random.default_rng(6).random((3, 2, 8, 8)) + 0.1, jnp.float32)
    both = cnn.apply_channel_mode(x, "both")
    flux = cnn.apply_channel_mode(x, "flux_only")
    vel = cnn.apply_channel_mode(x, "vel_only")
    np.testing.assert_array_equal(np.asarray(both), np.asarray(x))
    np.testing.assert_array_equal(np.asarray(flux[:, 0]), np.asarray(x[:, 0]))
    assert np.all(np.asarray(flux[:, 1]) == 0)
    np.testing.assert_array_equal(np.asarray(vel[:, 1]), np.asarray(x[:, 1]))
    assert np.all(np.asarray(vel[:, 0]) == 0)
    assert flux.dtype == jnp.float32
    jitted = jax.jit(cnn.apply_channel_mode, static_argnums=1)
    np.testing.assert_array_equal(np.asarray(jitted(x, "vel_only")), np.asarray(vel))
    with pytest.raises(ValueError, match="channels"):
        cnn.apply_channel_mode(x, "velocity")


def _d4(image):
    """The 8 symmetries of the square applied to a (C, N, N) image (numpy reference)."""
    out = []
    for k in range(4):
        r = np.rot90(image, k, axes=(-2, -1))
        out += [r, np.flip(r, axis=-1)]
    return out


def test_augmentation_permutes_pixels_and_keeps_labels(sources):
    images = jnp.asarray(np.random.default_rng(7).random((64, 2, 9, 9)), jnp.float32)
    labels = jnp.arange(64) % 2
    aug = np.asarray(cnn.augment_batch(jax.random.key(0), images))
    seen = set()
    for i in range(64):
        # each output is one of the 8 rot90/flip images of its own input (so its label holds)
        matches = [j for j, t in enumerate(_d4(np.asarray(images[i])))
                   if np.array_equal(aug[i], t)]
        assert len(matches) == 1
        seen.add(matches[0])
        # a permutation of pixels: same multiset of values per channel
        np.testing.assert_array_equal(np.sort(aug[i].reshape(2, -1), axis=1),
                                      np.sort(np.asarray(images[i]).reshape(2, -1), axis=1))
    assert len(seen) == 8  # all symmetries occur in 64 draws
    # batch statistics are unchanged exactly; labels are not touched by augmentation
    np.testing.assert_allclose(aug.mean(axis=(0, 2, 3)), np.asarray(images).mean(axis=(0, 2, 3)),
                               rtol=1e-6)
    np.testing.assert_array_equal(np.asarray(labels), np.arange(64) % 2)
    jitted = jax.jit(cnn.augment_batch)
    np.testing.assert_array_equal(np.asarray(jitted(jax.random.key(0), images)), aug)
    # on a real lensing source the flux stays non-negative and sums to the same total
    s = jnp.asarray(np.repeat(sources[:1], 4, axis=0))
    a = np.asarray(cnn.augment_batch(jax.random.key(1), s))
    np.testing.assert_allclose(a.sum(axis=(2, 3)), np.asarray(s).sum(axis=(2, 3)), rtol=1e-5,
                               atol=1e-4)


# ---------------------------------------------------------------------- split, inputs


def test_split_by_galaxy():
    sizes = lambda s: tuple(len(p) for p in cnn.split_galaxies(s))  # noqa: E731
    assert sizes(6) == (4, 1, 1)
    assert sizes(3) == (1, 1, 1)
    assert sizes(10) == (6, 2, 2)
    assert sizes(4) == (2, 1, 1)
    train, val, test = cnn.split_galaxies(8)
    assert set(train) | set(val) | set(test) == set(range(8))
    assert len(set(train) | set(val) | set(test)) == len(train) + len(val) + len(test)
    with pytest.raises(ValueError, match="sources.*at least 3"):
        cnn.split_galaxies(2)


def test_bad_inputs_name_the_input(sources):
    with pytest.raises(ValueError, match="channels"):
        cnn.TrainConfig(channels="flux")
    with pytest.raises(ValueError, match="experiment"):
        cnn.TrainConfig(experiment="weak")
    with pytest.raises(ValueError, match="arch"):
        cnn.TrainConfig(arch="resnet")
    with pytest.raises(ValueError, match="arch"):
        cnn.make_model("resnet")
    with pytest.raises(ValueError, match="batch_size"):
        cnn.TrainConfig(batch_size=0)
    config = cnn.TrainConfig(sim=SIM, n_train=32, n_val=8, n_test=8, epochs=1)
    with pytest.raises(ValueError, match="sources.*at least 3"):
        cnn.train(config, sources[:2], progress=False)
    with pytest.raises(ValueError, match="sources"):
        cnn.train(config, sources[:, :1], progress=False)
    with pytest.raises(ValueError, match="sources"):
        cnn.train(config, np.where(sources > 0.5, np.nan, sources), progress=False)
    with pytest.raises(ValueError, match="source_ids"):
        cnn.train(config, sources, source_ids=["a", "b"], progress=False)
    with pytest.raises(ValueError, match="grid"):
        cnn.sweep({"theta_E": [0.1]}, config, sources, "unused", progress=False)


# -------------------------------------------------------------------------- training

EASY = cnn.TrainConfig(experiment="lensed", sim=SIM, lr=3e-3, batch_size=32, epochs=3,
                       n_train=320, n_val=200, n_test=200, seed=42)
# strong, clean subhalo (research Step-2 9.1); the deep CNN (see test_strong_subhalo...)
STRONG = dataclasses.replace(
    SIM, theta_E_sub_factor=0.3, psf_sigma=0.0, flux_noise_sigma=0.0, vel_noise_sigma=0.0)
STRONG_TRAIN = cnn.TrainConfig(experiment="subhalo", sim=STRONG, arch="deep", lr=3e-3,
                               epochs=4, n_train=960, n_val=200, n_test=200, seed=42)


@pytest.fixture(scope="module")
def easy_run(sources, tmp_path_factory):
    out = tmp_path_factory.mktemp("easy")
    ids = [f"gal{i}" for i in range(len(sources))]
    return cnn.train(EASY, sources, source_ids=ids, out_dir=out, progress=False), out


def test_easy_case_lensed_vs_unlensed(easy_run):
    result, _ = easy_run
    print("lensed vs unlensed test:", result.test, "throughput:", result.throughput)
    assert result.split == {"train": ["gal0", "gal1", "gal2", "gal3"], "val": ["gal4"],
                            "test": ["gal5"]}
    assert result.test["n"] == EASY.n_test
    assert result.test["accuracy"] > 0.95
    assert result.test["roc_auc"] > 0.98
    assert len(result.history) == EASY.epochs
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]
    assert result.throughput["warm_steps_per_s"] > 0
    assert result.throughput["n_steps"] == EASY.epochs * 10


def test_metrics_json_per_epoch(easy_run):
    result, out = easy_run
    record = json.loads((out / "metrics.json").read_text())
    assert [e["epoch"] for e in record["epochs"]] == [1, 2, 3]
    for entry in record["epochs"]:
        assert {"train_loss", "val_loss", "val_accuracy", "val_roc_auc"} <= set(entry)
    assert record["test"]["accuracy"] == pytest.approx(result.test["accuracy"])
    assert record["config"]["experiment"] == "lensed"
    assert record["config"]["sim"]["n_pix"] == N_PIX
    assert record["provenance"]["seeds"]["seed"] == 42
    assert "packages" in record["provenance"]


def test_checkpoint_reload_gives_identical_logits(easy_run, sources):
    result, out = easy_run
    model = cnn.load_checkpoint(out / "checkpoint.npz", EASY)
    x = jnp.asarray(np.random.default_rng(8).random((6, 2, N_PIX, N_PIX)), jnp.float32)
    np.testing.assert_array_equal(np.asarray(model(x)), np.asarray(result.model(x)))
    with pytest.raises(ValueError, match="architecture"):
        cnn.load_checkpoint(out / "checkpoint.npz", "deep")
    bad = out / "not_a_checkpoint.npz"
    bad.write_bytes(b"nonsense")
    with pytest.raises(ValueError, match="checkpoint"):
        cnn.load_checkpoint(bad, EASY)


def test_deep_checkpoint_roundtrip_with_batch_stats(sources, tmp_path):
    # same static settings as STRONG_TRAIN: the compiled step is shared with the slow test
    config = dataclasses.replace(STRONG_TRAIN, epochs=1, n_train=64, n_val=16, n_test=16)
    result = cnn.train(config, sources, out_dir=tmp_path, progress=False)
    model = cnn.load_checkpoint(tmp_path / "checkpoint.npz", config)
    x = jnp.asarray(np.random.default_rng(9).random((3, 2, N_PIX, N_PIX)), jnp.float32)
    np.testing.assert_array_equal(np.asarray(model(x)), np.asarray(result.model(x)))


def test_training_throughput_reports_first_and_warm(sources):
    t = cnn.training_throughput(EASY, sources, n_steps=4)  # compiled step shared with EASY
    assert t["first_step_s"] > 0 and t["warm_steps_per_s"] > 0 and t["n_steps"] == 4


def test_sweep_two_point_grid_writes_csv_and_png(sources, tmp_path):
    # channel modes share one compiled step (the sim config is static, the mode is not)
    base = cnn.TrainConfig(experiment="subhalo", sim=STRONG, epochs=1, n_train=64, n_val=32,
                           n_test=32, batch_size=32)
    grid = {"theta_E_sub_factor": [0.3], "channels": ["both", "vel_only"]}
    frame = cnn.sweep(grid, base, sources, tmp_path, progress=False)
    assert len(frame) == 2
    on_disk = pd.read_csv(tmp_path / "sweep.csv")
    assert list(on_disk["channels"]) == ["both", "vel_only"]
    assert list(on_disk["theta_E_sub_factor"]) == [0.3, 0.3]
    for column in ("accuracy", "roc_auc", "loss", "seed", "channels", "psf_sigma",
                   "experiment"):
        assert column in on_disk.columns
    assert on_disk["accuracy"].between(0, 1).all()
    assert (tmp_path / "sweep.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "run_001" / "metrics.json").exists()


@pytest.mark.slow
@pytest.mark.parametrize("channels", ["both", "flux_only", "vel_only"])
def test_strong_subhalo_detected_from_flux(sources, channels):
    """Research: strong clean subhalo, both / flux_only ~100 %.

    The deep CNN is used: the research architecture ranks the held-out galaxy perfectly
    (test ROC AUC 1) but misplaces the threshold (accuracy ~0.5 at this budget and at the
    research's 4000 x 10 epochs at 64 px), because the smooth class of each galaxy is a
    single noise-free image, which the small network memorises for the 4 training galaxies.
    """
    config = dataclasses.replace(STRONG_TRAIN, channels=channels)
    result = cnn.train(config, sources, progress=False)
    print(f"strong subhalo {channels}: test {result.test}, "
          f"val by epoch {[round(h['val_accuracy'], 3) for h in result.history]}")
    if channels != "vel_only":  # velocity alone: reported, not asserted (research: ~chance)
        assert result.test["accuracy"] > 0.9
