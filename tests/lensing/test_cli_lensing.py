"""`jaxfit lensing`: inspect and prep a folder of MAPS files, train and sweep the CNN."""

import json

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from jaxfit.cli.main import app
from jaxfit.lensing.fits_io import write_maps_fits
from jaxfit.lensing.synthetic import synthetic_maps

runner = CliRunner()
GEOMETRY = {"inclination": 60.0, "position_angle": 30.0, "r_d": 0.3, "v_max": 250.0,
            "r_turn": 0.1, "n_clumps": 2, "flux_peak": 400.0}


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})


def test_inspect_and_prep_a_folder(tmp_path):
    maps_dir = tmp_path / "maps"
    maps_dir.mkdir()
    for i, layout in enumerate(("DR17", "DR15")):
        galaxy = synthetic_maps(i, 42, plateifu=f"100{i}-1901", **GEOMETRY)
        write_maps_fits(maps_dir / f"manga-100{i}-1901-MAPS.fits.gz", galaxy, layout)
    out = tmp_path / "out"
    result = invoke("lensing", "inspect", maps_dir, "--out", out)
    assert result.exit_code == 0, result.output
    scored = pd.read_csv(out / "maps_lensability_scored.csv")
    assert len(scored) == 2 and (out / "maps_quality_summary.csv").exists()
    result = invoke("--quiet", "lensing", "prep", maps_dir, "--n-pix", "32", "--out", out)
    assert result.exit_code == 0, result.output
    tensors = sorted(out.glob("*.npy"))
    assert len(tensors) >= 1
    tensor = np.load(tensors[0])
    assert tensor.shape == (2, 32, 32)
    assert 0.0 <= tensor[0].min() and tensor[0].max() <= 1.0
    assert -1.0 <= tensor[1].min() and tensor[1].max() <= 1.0


def test_train_and_sweep_write_metrics(tmp_path):
    out = tmp_path / "train"
    result = invoke("--quiet", "lensing", "train", "--experiment", "lensed", "--epochs", "1",
                    "--n-train", "64", "--n-val", "32", "--n-test", "32", "--n-pix", "16",
                    "--out", out)
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert len(metrics["epochs"]) == 1
    assert (out / "checkpoint.npz").exists()
    # --resume continues the run in its folder with its settings, up to --epochs in all
    result = invoke("--quiet", "lensing", "train", "--resume", out, "--epochs", "2")
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert [e["epoch"] for e in metrics["epochs"]] == [1, 2]
    assert len(metrics["step_losses"]) == 4 and metrics["config"]["n_train"] == 64
    result = invoke("lensing", "train", "--resume", out, "--epochs", "3", "--arch", "deep")
    assert result.exit_code == 2 and "drop --arch" in result.output
    sweep_out = tmp_path / "sweep"
    result = invoke("--quiet", "lensing", "sweep", "--sub-factors", "0.3", "--psf-sigmas", "0",
                    "--noise-levels", "0", "--channel-modes", "both,vel_only", "--epochs", "1",
                    "--n-train", "64", "--n-pix", "16", "--out", sweep_out)
    assert result.exit_code == 0, result.output
    rows = pd.read_csv(sweep_out / "sweep.csv")
    assert list(rows["channels"]) == ["both", "vel_only"]
    assert rows["beats_chance"].dtype == bool
    assert (sweep_out / "sweep.png").exists()


def test_bad_inputs_are_named(tmp_path):
    result = invoke("lensing", "train", "--channels", "ears", "--out", tmp_path)
    assert result.exit_code == 2 and "channels" in result.output
    result = invoke("lensing", "sweep", "--sub-factors", "a,b", "--out", tmp_path)
    assert result.exit_code == 2 and "sub-factors" in result.output
    result = invoke("lensing", "inspect", tmp_path / "missing")
    assert result.exit_code != 0
