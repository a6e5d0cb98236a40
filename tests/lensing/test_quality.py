"""Tests of the quality metrics and lensibility (jaxfit.lensing.quality): numpy references
(np.linalg.lstsq plane fits, np.corrcoef), the research scoring rules (lensing.md) at each
boundary, and a folder of MAPS files inspected and prepared."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

from jaxfit.lensing.fits_io import write_maps_fits
from jaxfit.lensing.manga import MapsData, read_maps
from jaxfit.lensing.quality import inspect_folder, lensibility_score, quality_metrics
from jaxfit.lensing.sources import load_sources, prep_folder, source_tensor
from jaxfit.lensing.synthetic import synthetic_maps


def _planted(ny=40, nx=50, a=3.7, b=-1.2, c=12.0, seed=3):
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:ny, 0:nx]
    vel = a * cols + b * rows + c
    flux = 100.0 + 50.0 * rng.random((ny, nx))
    vel_mask = (rng.random((ny, nx)) < 0.3).astype(int) * (1 << 30)
    flux_mask = (rng.random((ny, nx)) < 0.2).astype(int)
    flux[0, :5] = -999.0  # sentinels with mask 0: invalid all the same
    r_re = np.hypot(rows - ny / 2, cols - nx / 2) / 10.0
    zeros = np.zeros((ny, nx))
    maps = MapsData(plateifu="planted", flux=flux, flux_ivar=zeros + 1, flux_mask=flux_mask,
                    gas_vel=vel, gas_vel_ivar=zeros + 1, gas_vel_mask=vel_mask,
                    stellar_vel=vel, stellar_vel_ivar=zeros + 1, stellar_vel_mask=vel_mask,
                    r_re=r_re)
    return maps, (a, b, c)


def test_quality_metrics_reproduce_hand_values():
    maps, (a, b, _) = _planted()
    m = quality_metrics(maps)
    vel, flux = maps.stellar_vel, maps.flux
    vel_ok = maps.stellar_vel_mask == 0
    flux_ok = (maps.flux_mask == 0) & (flux != -999.0)
    both = vel_ok & flux_ok

    rows, cols = np.nonzero(vel_ok)
    design = np.column_stack([cols, rows, np.ones(rows.size)])
    (fa, fb, _), *_ = np.linalg.lstsq(design, vel[rows, cols], rcond=None)
    assert abs(m["vel_grad"] - math.hypot(a, b)) < 1e-10
    assert abs(m["vel_grad"] - math.hypot(fa, fb)) < 1e-12

    inner = maps.r_re <= 1.5
    assert m["frac_valid_in_1.5Re"] == pytest.approx(both[inner].mean(), abs=1e-15)
    assert m["mask_fraction"] == pytest.approx(1.0 - both.mean(), abs=1e-15)
    assert m["vel_std"] == pytest.approx(np.std(vel[vel_ok]), rel=1e-12)
    assert m["flux_max"] == pytest.approx(flux[flux_ok].max(), rel=1e-15)
    assert m["flux_mean"] == pytest.approx(flux[flux_ok].mean(), rel=1e-12)
    assert m["flux_vel_corr"] == pytest.approx(np.corrcoef(flux[both], vel[both])[0, 1],
                                               abs=1e-12)
    assert m["n_valid_flux"] == flux_ok.sum() and m["n_valid"] == both.sum()
    assert not m["flag_low_rotation"] and m["usable"] == (m["frac_valid_in_1.5Re"] >= 0.6)

    # gas velocity: same numbers (same planted field and mask)
    assert quality_metrics(maps, velocity="gas")["vel_grad"] == pytest.approx(m["vel_grad"])


def test_vel_grad_needs_30_pixels_and_flags():
    maps, _ = _planted()
    keep = np.zeros(maps.shape, bool)
    keep.flat[:29] = True
    mask29 = np.where(keep, 0, 1)
    few = dataclasses.replace(maps, stellar_vel_mask=mask29)
    m = quality_metrics(few)
    assert math.isnan(m["vel_grad"]) and m["flag_low_rotation"] and not m["usable"]
    assert m["flag_heavily_masked"]  # 29 of 2000 pixels valid
    keep.flat[29] = True
    m30 = quality_metrics(dataclasses.replace(maps, stellar_vel_mask=np.where(keep, 0, 1)))
    assert math.isfinite(m30["vel_grad"])
    assert lensibility_score(m)[1] == "reject"
    faint = quality_metrics(dataclasses.replace(maps, flux=maps.flux / 10.0))
    assert faint["flag_low_flux"] and faint["flux_max"] < 50
    with pytest.raises(ValueError, match="velocity must be one of"):
        quality_metrics(maps, velocity="dark")


BASE = {"vel_grad": 5.0, "frac_valid_in_1.5Re": 0.9, "vel_std": 120.0, "mask_fraction": 0.4,
        "flux_max": 200.0, "flux_vel_corr": 0.2}  # 30 + 30 + 20 + 10 + 5 + 3 = 98


@pytest.mark.parametrize("key, value, points", [
    ("vel_grad", 5.0, 30), ("vel_grad", 4.999, 22), ("vel_grad", 3.0, 22),
    ("vel_grad", 2.999, 12), ("vel_grad", 2.5, 12),
    ("frac_valid_in_1.5Re", 0.9, 30), ("frac_valid_in_1.5Re", 0.899, 24),
    ("frac_valid_in_1.5Re", 0.8, 24), ("frac_valid_in_1.5Re", 0.799, 16),
    ("frac_valid_in_1.5Re", 0.6, 16),
    ("vel_std", 120.0, 20), ("vel_std", 119.9, 14), ("vel_std", 70.0, 14), ("vel_std", 69.9, 8),
    ("mask_fraction", 0.4, 10), ("mask_fraction", 0.401, 6), ("mask_fraction", 0.6, 6),
    ("mask_fraction", 0.601, 2), ("mask_fraction", 0.7, 2),
    ("flux_max", 200.0, 5), ("flux_max", 199.9, 3), ("flux_max", 100.0, 3),
    ("flux_max", 99.9, 1), ("flux_max", 50.0, 1),
    ("flux_vel_corr", 0.2, 3), ("flux_vel_corr", -0.2, 3), ("flux_vel_corr", 0.3, 0),
    ("flux_vel_corr", 0.4, 0), ("flux_vel_corr", -0.41, -5), ("flux_vel_corr", math.nan, 0),
])
def test_lensibility_points_at_boundaries(key, value, points):
    base_points = {"vel_grad": 30, "frac_valid_in_1.5Re": 30, "vel_std": 20,
                   "mask_fraction": 10, "flux_max": 5, "flux_vel_corr": 3}
    score, _, reasons = lensibility_score(BASE | {key: value})
    assert score == 98 - base_points[key] + points
    assert len(reasons) == 6 and not any("hard reject" in r for r in reasons)


@pytest.mark.parametrize("key, value", [
    ("frac_valid_in_1.5Re", 0.5999), ("vel_grad", 2.4999), ("mask_fraction", 0.7001),
    ("flux_max", 49.99), ("vel_grad", math.nan), ("frac_valid_in_1.5Re", math.nan),
])
def test_lensibility_hard_rejects(key, value):
    score, tier, reasons = lensibility_score(BASE | {key: value})
    assert (score, tier) == (0, "reject")
    assert len(reasons) == 1 and reasons[0].startswith("hard reject") and key in reasons[0]


@pytest.mark.parametrize("metrics, score, tier", [
    (BASE, 98, "elite"),
    # 30 + 24 + 14 + 6 + 3 + 3 = 80
    (dict(vel_grad=5, frac_valid_in_1_5Re=0.8, vel_std=70, mask_fraction=0.6, flux_max=100,
          flux_vel_corr=0.2), 80, "elite"),
    # 30 + 30 + 14 + 2 + 3 + 0 = 79
    (dict(vel_grad=5, frac_valid_in_1_5Re=0.9, vel_std=70, mask_fraction=0.7, flux_max=100,
          flux_vel_corr=0.3), 79, "good"),
    # 22 + 24 + 8 + 2 + 1 + 3 = 60
    (dict(vel_grad=3, frac_valid_in_1_5Re=0.8, vel_std=69.9, mask_fraction=0.7, flux_max=50,
          flux_vel_corr=0.2), 60, "good"),
    # 22 + 16 + 14 + 6 + 1 + 0 = 59
    (dict(vel_grad=3, frac_valid_in_1_5Re=0.6, vel_std=70, mask_fraction=0.6, flux_max=50,
          flux_vel_corr=0.3), 59, "borderline"),
    # 12 + 16 + 8 + 6 + 3 - 5 = 40
    (dict(vel_grad=2.5, frac_valid_in_1_5Re=0.6, vel_std=0, mask_fraction=0.6, flux_max=100,
          flux_vel_corr=0.41), 40, "borderline"),
    # 12 + 16 + 8 + 2 + 1 + 0 = 39
    (dict(vel_grad=2.5, frac_valid_in_1_5Re=0.6, vel_std=10, mask_fraction=0.7, flux_max=50,
          flux_vel_corr=0.3), 39, "reject"),
    # the minimum without a hard reject: 12 + 16 + 8 + 2 + 1 - 5 = 34
    (dict(vel_grad=2.5, frac_valid_in_1_5Re=0.6, vel_std=10, mask_fraction=0.7, flux_max=50,
          flux_vel_corr=-0.9), 34, "reject"),
])
def test_lensibility_tiers(metrics, score, tier):
    metrics = {k.replace("1_5Re", "1.5Re"): v for k, v in metrics.items()}
    got_score, got_tier, reasons = lensibility_score(metrics)
    assert (got_score, got_tier) == (score, tier)
    assert not any("hard reject" in r for r in reasons)


def test_lensibility_bad_input():
    with pytest.raises(ValueError, match="'flux_max' missing"):
        lensibility_score({k: v for k, v in BASE.items() if k != "flux_max"})
    with pytest.raises(ValueError, match="'vel_std' must be a number"):
        lensibility_score(BASE | {"vel_std": "fast"})
    assert lensibility_score(pd.Series(BASE))[0] == 98


@pytest.fixture
def maps_folder(tmp_path, good_geometry):
    folder = tmp_path / "maps"
    folder.mkdir()
    good = synthetic_maps(1, 42, plateifu="1111-1111", **good_geometry)
    also = synthetic_maps(2, 42, plateifu="2222-2222", **good_geometry)
    still = synthetic_maps(3, 42, plateifu="3333-3333", **(good_geometry | {"v_max": 0.0}))
    write_maps_fits(folder / "manga-1111-1111-MAPS.fits.gz", good, "DR17")
    write_maps_fits(folder / "manga-2222-2222-MAPS.fits", also, "DR15")
    write_maps_fits(folder / "manga-3333-3333-MAPS.fits.gz", still, "DR17")
    (folder / "manga-9999-9999-MAPS.fits.gz").write_bytes(b"this is not a FITS file" * 10)
    return folder


def test_inspect_and_prep_folder(tmp_path, maps_folder):
    folder = maps_folder
    out = tmp_path / "out"
    quality, scored, index = inspect_folder(folder, out, progress=True)

    assert (out / "maps_quality_summary.csv").is_file()
    assert (out / "maps_lensability_scored.csv").is_file()
    assert index == out / "usable_maps.txt" and index.is_file()
    assert len(quality) == 4 and len(scored) == 4
    on_disk = pd.read_csv(out / "maps_lensability_scored.csv", keep_default_na=False)
    assert list(on_disk["file"]) == list(scored["file"])

    bad = quality.set_index("file").loc["manga-9999-9999-MAPS.fits.gz"]
    assert "not a readable FITS file" in bad["error"] and "9999" in bad["error"]
    rows = scored.set_index("file")
    assert rows.loc["manga-9999-9999-MAPS.fits.gz", "tier"] == "reject"
    assert rows.loc["manga-3333-3333-MAPS.fits.gz", "tier"] == "reject"  # no rotation
    assert rows.loc["manga-3333-3333-MAPS.fits.gz", "flag_low_rotation"]
    for name in ("manga-1111-1111-MAPS.fits.gz", "manga-2222-2222-MAPS.fits"):
        assert rows.loc[name, "tier"] != "reject" and rows.loc[name, "error"] == ""
        assert rows.loc[name, "score"] == lensibility_score(rows.loc[name])[0]
    usable = index.read_text().split()
    assert sorted(usable) == ["manga-1111-1111-MAPS.fits.gz", "manga-2222-2222-MAPS.fits"]
    assert list(scored["score"]) == sorted(scored["score"], reverse=True)

    # prep the usable ones: <plateifu>.npy + .png, loaded back as (S, 2, N, N)
    sources = tmp_path / "sources"
    written = prep_folder(folder, sources, 32, index=index, progress=False)
    assert [p.name for p in written] == [f"{n.split('-MAPS')[0][6:]}.npy" for n in usable]
    for path in written:
        assert path.with_suffix(".png").stat().st_size > 1000
    stack, names = load_sources(sources)
    assert stack.shape == (2, 2, 32, 32) and names == ["1111-1111", "2222-2222"]
    ref = source_tensor(read_maps(folder / "manga-1111-1111-MAPS.fits.gz"), 32)
    np.testing.assert_array_equal(stack[0], ref)
    stack2, names2 = load_sources(written[::-1])
    assert names2 == names[::-1] and np.array_equal(stack2[0], stack[1])

    # every file: the corrupt one is skipped with a warning naming it
    with pytest.warns(UserWarning, match="manga-9999-9999"):
        everything = prep_folder(folder, tmp_path / "all", 16, preview=False, progress=False)
    assert len(everything) == 3
    assert not list((tmp_path / "all").glob("*.png"))


def test_missing_maps_folder_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="no-such-folder"):
        inspect_folder(tmp_path / "no-such-folder", tmp_path)
    with pytest.raises(FileNotFoundError, match="no MAPS files"):
        inspect_folder(tmp_path, tmp_path / "out")
