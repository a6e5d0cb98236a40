"""Tests of grids of training runs (jaxfit.lensing.sweep) and their result
(jaxfit.lensing.results.SweepResult)."""

import json

import pandas as pd
import pytest

from jaxfit.core.results import Result
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
    frame = sweep(grid, base, sources, tmp_path, progress=False)
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
    assert (tmp_path / "sweep.json").exists()


def test_unknown_grid_name_is_named(sources):
    config = TrainConfig(sim=STRONG, n_train=32, n_val=8, n_test=8, epochs=1)
    with pytest.raises(ValueError, match="grid"):
        sweep({"theta_E": [0.1]}, config, sources, "unused", progress=False)
    with pytest.raises(ValueError, match="grid"):
        sweep({"psf_sigma": []}, config, sources, "unused", progress=False)


def test_sweep_result_implements_the_result_protocol(tmp_path):
    frame = pd.DataFrame({"run": [0, 1, 2, 3], "psf_sigma": [0.0, 1.0, 0.0, 1.0],
                          "channels": ["both", "both", "vel_only", "vel_only"],
                          "accuracy": [0.98, 0.91, 0.55, 0.5], "roc_auc": [1.0, 0.97, 0.6, 0.5]})
    result = SweepResult(frame, ["psf_sigma", "channels"])
    assert isinstance(result, Result) and result.x_name == "psf_sigma"
    paths = result.save(tmp_path)
    assert paths == {k: tmp_path / f"sweep.{k}" for k in ("json", "csv", "png")}
    record = json.loads(paths["json"].read_text())
    assert record["grid"] == ["psf_sigma", "channels"] and len(record["runs"]) == 4
    pd.testing.assert_frame_equal(pd.read_csv(paths["csv"]), frame)
    assert len(result.plot().axes[0].lines) == 3  # one per channel mode, and chance
    text = result.summary()
    assert "4 training runs" in text and "accuracy 0.980" in text
    assert "psf_sigma=0.0, channels=both" in text and "worst test accuracy 0.500" in text
