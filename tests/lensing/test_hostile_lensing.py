"""Hostile input to `jaxfit lensing inspect | prep | train | sweep` (issue 16): corrupt and
truncated MAPS files, broken source tensors and checkpoints, bad option values and unusable
destinations each end as one line ``error: ...`` naming the input, exit 2 for bad input and
1 when a destination cannot be written, before anything is trained."""

import errno
import gzip
import json
import os
import tempfile

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from jaxfit.cli.main import app
from jaxfit.lensing.fits_io import write_maps_fits
from jaxfit.lensing.synthetic import synthetic_maps

runner = CliRunner()
GEOMETRY = {"inclination": 60.0, "position_angle": 30.0, "r_d": 0.3, "v_max": 250.0,
            "r_turn": 0.1, "n_clumps": 2, "flux_peak": 400.0}
SMALL = ("--epochs", "1", "--n-train", "8", "--n-val", "8", "--n-test", "8", "--n-pix", "8")


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})


def one_error_line(result, code: int, *names: str) -> str:
    """The single ``error:`` line of a failed command, its last: exit ``code``, no
    traceback or warning, every one of ``names`` in it (a progress bar may come before)."""
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output and "Warning" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    assert errors == lines[-1:], result.output
    for name in names:
        assert str(name) in errors[0], (name, errors[0])
    return errors[0]


@pytest.fixture(scope="module")
def fits_bytes(tmp_path_factory):
    """The bytes of one small synthetic MAPS file (DR17 layout), uncompressed."""
    path = tmp_path_factory.mktemp("maps") / "manga-1000-1901-MAPS.fits.gz"
    write_maps_fits(path, synthetic_maps(0, 42, plateifu="1000-1901", **GEOMETRY))
    return gzip.decompress(path.read_bytes())


def _corrupt_payloads(raw: bytes) -> dict[str, bytes]:
    """File name -> bytes of a MAPS file that is corrupt in one way each."""
    gz = gzip.compress(raw, mtime=0)
    return {
        "truncated.fits.gz": gz[: len(gz) // 2],
        "truncated-data.fits": raw[:100_037],
        "truncated-inner.fits.gz": gzip.compress(raw[:-5000], mtime=0),
        "text.fits": b"this is not a FITS file\n" * 200,
        "empty.fits": b"",
        "junk.fits.gz": b"\x1f\x8b" + b"\x00junk" * 50,
    }


CORRUPT = ["truncated.fits.gz", "truncated-data.fits", "truncated-inner.fits.gz",
           "text.fits", "empty.fits", "junk.fits.gz"]


@pytest.mark.parametrize("name", CORRUPT)
def test_prep_names_a_corrupt_maps_file(tmp_path, fits_bytes, name):
    folder = tmp_path / "maps"
    folder.mkdir()
    (folder / name).write_bytes(_corrupt_payloads(fits_bytes)[name])
    line = one_error_line(invoke("lensing", "prep", folder, "--out", tmp_path / "out"), 2,
                          folder / name, "corrupt file")
    assert "missing extension" not in line


def test_prep_names_a_missing_extension(tmp_path, fits_bytes):
    from astropy.io import fits

    folder = tmp_path / "maps"
    folder.mkdir()
    with fits.open(__import__("io").BytesIO(fits_bytes)) as hdul:
        del hdul["STELLAR_VEL_IVAR"]
        hdul.writeto(folder / "manga-1000-1901-MAPS.fits")
    one_error_line(invoke("lensing", "prep", folder, "--out", tmp_path / "out"), 2,
                   "missing extension", "STELLAR_VEL_IVAR", "manga-1000-1901-MAPS.fits")


def test_inspect_reports_a_truncated_file_as_corrupt(tmp_path, fits_bytes):
    # inspect scores every file: a corrupt one is a reject row saying why, not a stop
    folder = tmp_path / "maps"
    folder.mkdir()
    (folder / "truncated.fits.gz").write_bytes(_corrupt_payloads(fits_bytes)["truncated.fits.gz"])
    result = invoke("--quiet", "lensing", "inspect", folder, "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    scored = pd.read_csv(tmp_path / "out" / "maps_lensability_scored.csv")
    assert scored["tier"].tolist() == ["reject"]
    assert "corrupt file" in scored["reasons"][0] and "gzip" in scored["reasons"][0]


@pytest.mark.parametrize("command", ["inspect", "prep"])
def test_maps_folder_that_is_a_file_or_missing(tmp_path, command):
    (tmp_path / "file").write_text("x")
    one_error_line(invoke("lensing", command, tmp_path / "file", "--out", tmp_path / "o"),
                   2, "FOLDER", tmp_path / "file")
    one_error_line(invoke("lensing", command, tmp_path / "nope", "--out", tmp_path / "o"),
                   2, "FOLDER", tmp_path / "nope")


BAD_TRAIN = [
    (("--n-pix", "3"), "--n-pix"), (("--n-pix", "-5"), "--n-pix"),
    (("--psf-sigma", "-1"), "--psf-sigma"), (("--psf-sigma", "nan"), "--psf-sigma"),
    (("--flux-noise", "-0.1"), "--flux-noise"), (("--vel-noise", "inf"), "--vel-noise"),
    (("--sub-factor", "-1"), "--sub-factor"), (("--sub-factor", "nan"), "--sub-factor"),
    (("--epochs", "0"), "--epochs"), (("--n-train", "0"), "--n-train"),
    (("--n-val", "-1"), "--n-val"), (("--n-test", "0"), "--n-test"),
    (("--seed", "-1"), "--seed"), (("--experiment", "x"), "--experiment"),
    (("--arch", "x"), "--arch"), (("--channels", "ears"), "--channels"),
    (("--psf-sigma", "abc"), "--psf-sigma"),
]


@pytest.mark.parametrize(("args", "flag"), BAD_TRAIN, ids=lambda v: " ".join(v)
                         if isinstance(v, tuple) else v)
def test_train_bad_option_is_named(tmp_path, args, flag):
    one_error_line(invoke("lensing", "train", *args, "--out", tmp_path / "o"), 2, flag)
    assert not (tmp_path / "o").exists()


def _sources_folder(tmp_path, arrays: dict) -> str:
    folder = tmp_path / "sources"
    folder.mkdir()
    for name, value in arrays.items():
        if isinstance(value, bytes):
            (folder / name).write_bytes(value)
        else:
            np.save(folder / name, value)
    return folder


GOOD = np.zeros((2, 8, 8))
BAD_SOURCES = {
    "garbage": ({"a.npy": b"garbage"}, "a.npy"),
    "truncated": ({"a.npy": b"\x93NUMPY\x01\x00v\x00{'descr': '<f8', 'fortran_order': "
                           b"False, 'shape': (2, 8, 8), }" + b" " * 40 + b"\n" + b"\0" * 16},
                  "a.npy"),
    "nan": ({"a.npy": np.full((2, 8, 8), np.nan)}, "non-finite"),
    "wrong-shape": ({"a.npy": np.zeros((3, 8, 8))}, "(2, N, N)"),
    "flux-range": ({"a.npy": np.stack([np.full((8, 8), 2.0), np.zeros((8, 8))])}, "flux"),
    "sizes-differ": ({"a.npy": GOOD, "b.npy": np.zeros((2, 9, 9))}, "b.npy"),
    "empty-folder": ({}, "no source tensors"),
}


@pytest.mark.parametrize("case", list(BAD_SOURCES))
def test_train_bad_sources_are_named(tmp_path, case):
    arrays, name = BAD_SOURCES[case]
    folder = _sources_folder(tmp_path, arrays)
    one_error_line(invoke("lensing", "train", *SMALL, "--sources", folder,
                          "--out", tmp_path / "o"), 2, name, folder)


def test_train_sources_that_is_a_file(tmp_path):
    (tmp_path / "file.npy").write_bytes(b"x")
    one_error_line(invoke("lensing", "train", *SMALL, "--sources", tmp_path / "file.npy",
                          "--out", tmp_path / "o"), 2, tmp_path / "file.npy")


def _checkpoint(tmp_path, meta=None, arrays=None, raw: bytes | None = None):
    folder = tmp_path / "run"
    folder.mkdir(parents=True)
    if raw is not None:
        (folder / "checkpoint.npz").write_bytes(raw)
    else:
        np.savez(folder / "checkpoint.npz", **({} if meta is None else
                                               {"__meta__": np.asarray(meta)}),
                 **(arrays or {}))
    return folder


def _valid_meta(**changes):
    from jaxfit.lensing.training import TrainConfig

    config = TrainConfig(epochs=1, n_train=8, n_val=8, n_test=8).to_dict()
    config["sim"]["n_pix"] = 8
    meta = {"format": "jaxfit.lensing.cnn/2", "arch": "research", "config": config,
            "progress": {"epoch": 1, "step": 1, "sources_sha256": "0"}}
    return json.dumps(meta | changes)


BAD_CHECKPOINTS = {
    "not-a-zip": dict(raw=b"PK\x03\x04 this is not a zip archive"),
    "truncated-zip": dict(raw=None),
    "text": dict(raw=b"hello"),
    "no-meta": dict(arrays={"conv1/kernel": np.zeros(3)}),
    "meta-not-json": dict(meta="{not json"),
    "meta-a-list": dict(meta="[1, 2]"),
    "unknown-format": dict(meta=json.dumps({"format": "other/9"})),
    "config-missing-sim": dict(meta=json.dumps({"format": "jaxfit.lensing.cnn/2",
                                                "config": {"epochs": 1}, "progress": {}})),
    "config-out-of-range": dict(meta=_valid_meta().replace('"n_train": 8', '"n_train": -8')),
    "no-progress": dict(meta=_valid_meta(progress=None)),
    "model-only-format": dict(meta=_valid_meta(format="jaxfit.lensing.cnn/1")),
    "arrays-mismatch": dict(meta=_valid_meta(), arrays={"conv1/kernel": np.zeros(3)}),
}


@pytest.mark.parametrize("case", list(BAD_CHECKPOINTS))
def test_resume_from_a_bad_checkpoint(tmp_path, case):
    kwargs = dict(BAD_CHECKPOINTS[case])
    if case == "truncated-zip":
        good = _checkpoint(tmp_path / "good", meta=_valid_meta(), arrays={"a": np.ones(99)})
        kwargs["raw"] = (good / "checkpoint.npz").read_bytes()[:200]
    folder = _checkpoint(tmp_path, **kwargs)
    one_error_line(invoke("lensing", "train", "--resume", folder, "--epochs", "1"), 2,
                   "checkpoint", folder)


def test_resume_missing_checkpoint(tmp_path):
    one_error_line(invoke("lensing", "train", "--resume", tmp_path / "none"), 2,
                   "checkpoint", tmp_path / "none")


BAD_SWEEP = [
    (("--sub-factors", "nan"), "--sub-factors"), (("--sub-factors", "0.1,-1"), "--sub-factors"),
    (("--sub-factors", "a,b"), "--sub-factors"), (("--psf-sigmas", "-1"), "--psf-sigmas"),
    (("--noise-levels", "inf"), "--noise-levels"), (("--noise-levels", "0,-0.1"),
                                                    "--noise-levels"),
    (("--channel-modes", "both,ears"), "--channel-modes"), (("--channel-modes", ","),
                                                            "--channel-modes"),
    (("--epochs", "0"), "--epochs"), (("--n-train", "0"), "--n-train"),
    (("--n-pix", "2"), "--n-pix"), (("--experiment", "x"), "--experiment"),
]


@pytest.mark.parametrize(("args", "flag"), BAD_SWEEP, ids=lambda v: " ".join(v)
                         if isinstance(v, tuple) else v)
def test_sweep_bad_option_is_named(tmp_path, args, flag):
    one_error_line(invoke("lensing", "sweep", *args, "--out", tmp_path / "o"), 2, flag)
    assert not (tmp_path / "o").exists()


def _maps_folder(tmp_path, fits_bytes):
    folder = tmp_path / "maps"
    folder.mkdir()
    (folder / "manga-1000-1901-MAPS.fits").write_bytes(fits_bytes)
    return folder


def _commands(tmp_path, fits_bytes):
    folder = _maps_folder(tmp_path, fits_bytes)
    return {"inspect": ("inspect", folder), "prep": ("prep", folder),
            "train": ("train", *SMALL), "sweep": ("sweep", "--sub-factors", "0.3",
                                                  "--psf-sigmas", "0", "--noise-levels", "0",
                                                  "--channel-modes", "both", "--epochs", "1",
                                                  "--n-train", "8", "--n-pix", "8")}


COMMANDS = ["inspect", "prep", "train", "sweep"]


@pytest.mark.parametrize("command", COMMANDS)
def test_out_is_a_file(tmp_path, fits_bytes, command):
    target = tmp_path / "results"
    target.write_text("not a folder")
    args = _commands(tmp_path, fits_bytes)[command]
    one_error_line(invoke("lensing", *args, "--out", target), 2, "--out", target)
    one_error_line(invoke("lensing", *args, "--out", target / "sub"), 2, "--out", target)


def _refuse(code):
    def refuse(*args, **kwargs):
        raise OSError(code, os.strerror(code))
    return refuse


@pytest.mark.parametrize("code", [errno.EACCES, errno.ENOSPC], ids=["read-only", "full"])
@pytest.mark.parametrize("command", COMMANDS)
def test_unwritable_out_fails_before_work(tmp_path, fits_bytes, monkeypatch, command, code):
    # root ignores chmod: the write probe fails as a read-only or full disk would make it
    args = _commands(tmp_path, fits_bytes)[command]
    monkeypatch.setattr(tempfile, "NamedTemporaryFile", _refuse(code))
    result = invoke("lensing", *args, "--out", tmp_path / "o")
    one_error_line(result, 1, "--out", "not writable", tmp_path / "o")


def test_resume_into_an_unwritable_run_folder(tmp_path, monkeypatch):
    folder = _checkpoint(tmp_path, meta=_valid_meta(), arrays={"a": np.zeros(1)})
    monkeypatch.setattr(tempfile, "NamedTemporaryFile", _refuse(errno.EROFS))
    one_error_line(invoke("lensing", "train", "--resume", folder, "--epochs", "1"), 1,
                   "--out", folder)


def test_atomic_write_refused_at_replace(tmp_path, fits_bytes, monkeypatch):
    # the probe passes but the final rename is refused (a read-only remount mid-run)
    def refuse(src, dst):
        raise PermissionError(errno.EACCES, "Permission denied", str(dst))

    folder = _maps_folder(tmp_path, fits_bytes)
    monkeypatch.setattr(os, "replace", refuse)
    line = one_error_line(invoke("lensing", "inspect", folder, "--out", tmp_path / "o"), 1,
                          "Permission denied")
    assert str(tmp_path / "o") in line
