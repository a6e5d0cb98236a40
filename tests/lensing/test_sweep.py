"""Tests of grids of training runs (jaxfit.lensing.sweep) and their result
(jaxfit.lensing.results.SweepResult)."""

import json

import numpy as np
import pandas as pd
import pytest

from jaxfit.core.results import Result
from jaxfit.lensing.metrics import chance_verdict
from jaxfit.lensing.params import LensSimConfig
from jaxfit.lensing.results import SweepResult
from jaxfit.lensing.sweep import sweep
from jaxfit.lensing.training import TrainConfig

STRONG = LensSimConfig(n_pix=32, theta_E_sub_factor=0.3, psf_sigma=0.0, flux_noise_sigma=0.0,
                       vel_noise_sigma=0.0)


def test_sweep_two_point_grid_writes_csv_and_png(sources, tmp_path):
    # channel modes share one compiled step (the sim config is static, the mode is not)
    base = TrainConfig(experiment="subhalo", sim=STRONG, epochs=1, n_train=64, n_val=32,
                           n_test=32, batch_size=32)
    grid = {"theta_E_sub_factor": [0.3], "channels": ["both", "vel_only"]}
    result = sweep(grid, base, sources, tmp_path, progress=False)
    assert isinstance(result, SweepResult) and len(result.frame) == 2
    assert sorted(result.curves) == [0, 1] and len(result.curves[1]) == 1
    on_disk = pd.read_csv(tmp_path / "sweep.csv")
    assert list(on_disk["channels"]) == ["both", "vel_only"]
    assert list(on_disk["theta_E_sub_factor"]) == [0.3, 0.3]
    for column in ("accuracy", "roc_auc", "loss", "seed", "channels", "psf_sigma",
                   "experiment", "majority_rate", "chance_p_value", "beats_chance"):
        assert column in on_disk.columns
    assert on_disk["accuracy"].between(0, 1).all()
    assert (tmp_path / "sweep.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "run_001" / "metrics.json").exists()
    record = json.loads((tmp_path / "sweep.json").read_text())
    assert set(record["loss_curves"]) == {"0", "1"}
    for run in record["runs"]:  # the verdict is the binomial test of the run's own numbers
        assert run["beats_chance"] == (run["chance_p_value"] < 0.01)


def test_unknown_grid_name_is_named(sources):
    config = TrainConfig(sim=STRONG, n_train=32, n_val=8, n_test=8, epochs=1)
    with pytest.raises(ValueError, match="grid"):
        sweep({"theta_E": [0.1]}, config, sources, "unused", progress=False)
    with pytest.raises(ValueError, match="grid"):
        sweep({"psf_sigma": []}, config, sources, "unused", progress=False)


def _sweep_result():
    """Four runs: two that learned, a constant classifier (accuracy = majority rate 0.53)
    and a guess; n = 400 test images each."""
    verdicts = [chance_verdict(a, 400, r) for a, r in
                ((0.98, 0.5), (0.91, 0.5), (0.53, 0.53), (0.5, 0.5))]
    frame = pd.DataFrame({"run": [0, 1, 2, 3], "psf_sigma": [0.0, 1.0, 0.0, 1.0],
                          "channels": ["both", "both", "vel_only", "vel_only"],
                          "accuracy": [0.98, 0.91, 0.53, 0.5],
                          "roc_auc": [1.0, 0.97, 0.5, 0.52],
                          "n_test": [400] * 4, "majority_rate": [0.5, 0.5, 0.53, 0.5],
                          "chance_p_value": [v["chance_p_value"] for v in verdicts],
                          "beats_chance": [v["beats_chance"] for v in verdicts]})
    curves = {run: [{"epoch": 1, "train_loss": 0.7, "val_loss": 0.69},
                    {"epoch": 2, "train_loss": 0.3 + 0.1 * run, "val_loss": 0.4 + 0.1 * run}]
              for run in range(4)}
    return SweepResult(frame, ["psf_sigma", "channels"], curves)


def test_sweep_result_implements_the_result_protocol(tmp_path):
    result = _sweep_result()
    assert isinstance(result, Result) and result.x_name == "psf_sigma"
    paths = result.save(tmp_path)
    assert paths == {k: tmp_path / f"sweep.{k}" for k in ("json", "csv", "png")}
    record = json.loads(paths["json"].read_text())
    assert record["grid"] == ["psf_sigma", "channels"] and len(record["runs"]) == 4
    assert record["loss_curves"]["3"][1]["val_loss"] == pytest.approx(0.7)
    pd.testing.assert_frame_equal(pd.read_csv(paths["csv"]), result.frame)


def test_sweep_plot_shows_roc_auc_loss_curves_and_chance_runs():
    result = _sweep_result()
    ax_acc, ax_auc, ax_loss = result.plot().axes
    assert ax_auc.get_ylabel() == "test ROC AUC"
    assert len(ax_auc.lines) == 3  # one per channel mode, and chance
    np.testing.assert_allclose(sorted(np.concatenate([line.get_ydata()
                                                      for line in ax_auc.lines[:2]])),
                               [0.5, 0.52, 0.97, 1.0])
    ringed = ax_acc.collections[0].get_offsets()  # the runs not better than chance
    np.testing.assert_allclose(ringed, [[0.0, 0.53], [1.0, 0.5]])
    assert len(ax_loss.lines) == 8  # training and validation loss of each of 4 runs
    np.testing.assert_allclose(ax_loss.lines[7].get_ydata(), [0.69, 0.7])


def test_sweep_summary_names_chance_runs_and_never_calls_them_best():
    text = _sweep_result().summary()
    lines = text.splitlines()
    assert "4 training runs, 2 beat chance (one-sided binomial test" in lines[0]
    assert "best test accuracy 0.980" in lines[1] and "psf_sigma=0.0, channels=both" in lines[1]
    assert lines[2].startswith("at chance: run 2 (psf_sigma=0.0, channels=vel_only)")
    assert "accuracy 0.530 vs majority-class rate 0.530" in lines[2]
    assert lines[3].startswith("at chance: run 3 (psf_sigma=1.0, channels=vel_only)")
    assert len(lines) == 4
    # when every run guesses, no run is called the best
    result = _sweep_result()
    frame = result.frame.assign(beats_chance=False)
    text = SweepResult(frame, result.names, result.curves).summary()
    assert "best" not in text and "no run learned" in text and text.count("at chance:") == 4
