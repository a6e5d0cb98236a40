"""Tests of the training workflow (jaxfit.lensing.training) and its result
(jaxfit.lensing.results.TrainResult).

CI-sized: 32 x 32 pixel sources and a few hundred simulated images per run. Training
thresholds are checked on a fixed seed (42).
"""

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from jaxfit.core.results import Result
from jaxfit.lensing import training
from jaxfit.lensing.params import LensSimConfig

N_PIX = 32
SIM = LensSimConfig(n_pix=N_PIX)


def test_bad_inputs_name_the_input(sources):
    with pytest.raises(ValueError, match="channels"):
        training.TrainConfig(channels="flux")
    with pytest.raises(ValueError, match="experiment"):
        training.TrainConfig(experiment="weak")
    with pytest.raises(ValueError, match="arch"):
        training.TrainConfig(arch="resnet")
    with pytest.raises(ValueError, match="batch_size"):
        training.TrainConfig(batch_size=0)
    config = training.TrainConfig(sim=SIM, n_train=32, n_val=8, n_test=8, epochs=1)
    with pytest.raises(ValueError, match="sources.*at least 3"):
        training.train(config, sources[:2], progress=False)
    with pytest.raises(ValueError, match="sources"):
        training.train(config, sources[:, :1], progress=False)
    with pytest.raises(ValueError, match="sources"):
        training.train(config, np.where(sources > 0.5, np.nan, sources), progress=False)
    with pytest.raises(ValueError, match="source_ids"):
        training.train(config, sources, source_ids=["a", "b"], progress=False)


# ---------------------------------------------------------------------------- training

EASY = training.TrainConfig(experiment="lensed", sim=SIM, lr=3e-3, batch_size=32, epochs=3,
                       n_train=320, n_val=200, n_test=200, seed=42)


STRONG = dataclasses.replace(
    SIM, theta_E_sub_factor=0.3, psf_sigma=0.0, flux_noise_sigma=0.0, vel_noise_sigma=0.0)


STRONG_TRAIN = training.TrainConfig(experiment="subhalo", sim=STRONG, arch="deep", lr=3e-3,
                               epochs=4, n_train=960, n_val=200, n_test=200, seed=42)


@pytest.fixture(scope="module")
def easy_run(sources, tmp_path_factory):
    out = tmp_path_factory.mktemp("easy")
    ids = [f"gal{i}" for i in range(len(sources))]
    return training.train(EASY, sources, source_ids=ids, out_dir=out, progress=False), out


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
    assert len(result.step_losses) == EASY.epochs * 10
    np.testing.assert_allclose(np.mean(result.step_losses[:10]), result.history[0]["train_loss"],
                               rtol=1e-12)
    assert result.test["beats_chance"] and result.test["chance_p_value"] < 1e-30
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


def test_training_throughput_reports_first_and_warm(sources):
    t = training.training_throughput(EASY, sources, n_steps=4)  # compiled step shared with EASY
    assert t["first_step_s"] > 0 and t["warm_steps_per_s"] > 0 and t["n_steps"] == 4


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
    result = training.train(config, sources, progress=False)
    print(f"strong subhalo {channels}: test {result.test}, "
          f"val by epoch {[round(h['val_accuracy'], 3) for h in result.history]}")
    if channels != "vel_only":  # velocity alone: reported, not asserted (research: ~chance)
        assert result.test["accuracy"] > 0.9


# ------------------------------------------------------------------- the result protocol


def test_train_result_implements_the_result_protocol(easy_run, tmp_path):
    result, out = easy_run
    assert isinstance(result, Result)
    # train saved it through the protocol: metrics.json / .csv / .png and the checkpoint
    assert result.paths == {"metrics": out / "metrics.json", "metrics_csv": out / "metrics.csv",
                            "metrics_png": out / "metrics.png",
                            "checkpoint": out / "checkpoint.npz"}
    epochs = pd.read_csv(out / "metrics.csv")
    assert list(epochs["epoch"]) == [1, 2, 3]
    np.testing.assert_allclose(epochs["val_accuracy"], [h["val_accuracy"] for h in result.history])
    assert (out / "metrics.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    paths = result.save(tmp_path, "again")
    assert paths == {k: tmp_path / f"again.{k}" for k in ("json", "csv", "png")}
    record = json.loads(paths["json"].read_text())
    assert record == json.loads(json.dumps(result.to_dict()))
    assert record["steps_per_epoch"] == 10 and "provenance" not in record
    assert len(record["step_losses"]) == EASY.epochs * 10
    fig = result.plot()
    ax_loss, ax_score, ax_roc = fig.axes
    # loss curves: every step's training loss, the epoch means and the validation loss
    step_curve, train_curve, val_curve = ax_loss.lines
    np.testing.assert_allclose(step_curve.get_ydata(), result.step_losses)
    np.testing.assert_allclose(val_curve.get_ydata(), [h["val_loss"] for h in result.history])
    np.testing.assert_allclose(train_curve.get_xdata(), [10, 20, 30])
    assert "AUC" in ax_roc.get_legend().get_texts()[0].get_text()
    text = result.summary()
    assert "test on held-out galaxies gal5" in text and "test beats chance" in text
    assert "NOT better than chance" not in text and result.beats_chance
    assert f"{result.test['accuracy']:.3f}" in text and len(text.splitlines()) <= 5


def test_train_result_summary_before_testing_and_at_chance(easy_run):
    result, _ = easy_run
    partial = dataclasses.replace(result, test=None, history=result.history[:1])
    assert "not tested yet" in partial.summary() and "1 of 3 epochs" in partial.summary()
    assert partial.beats_chance is None
    # 104 of 200 right against a majority-class rate of 0.5: binomial p = 0.31
    guess = dataclasses.replace(result, test=dict(result.test, accuracy=0.52,
                                                  majority_rate=0.5, roc_auc=0.52))
    assert "NOT better than chance" in guess.summary() and not guess.beats_chance
    assert "beats chance" not in guess.summary() and "threshold is off" not in guess.summary()
    # the research CNN on a held-out galaxy: every image on one side of zero (accuracy =
    # the minority rate) while the scores rank the classes perfectly
    shifted = dataclasses.replace(result, test=dict(result.test, accuracy=0.4725,
                                                    majority_rate=0.5275, roc_auc=1.0))
    assert "NOT better than chance" in shifted.summary()
    assert "its scores rank the classes (AUC test p < 0.01) but the threshold is off" in (
        shifted.summary())
