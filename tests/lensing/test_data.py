"""Tests of jaxfit.lensing.data: MaNGA MAPS reading, quality metrics, lensibility, sources.

References: numpy/scipy computations written out in the tests (np.linalg.lstsq plane fits,
np.corrcoef, np.percentile, scipy.ndimage.zoom), astropy reading the FITS extensions
directly, the analytic arctan rotation curve, and the research scoring rules (lensing.md) at
each boundary. The real MaNGA file in ../shared/data/manga is used when present (skipped
cleanly otherwise).
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from astropy.io import fits
from scipy import ndimage

from jaxfit.lensing.data import (
    DR15_EMLINE_CHANNELS,
    DR17_EMLINE_CHANNELS,
    MapsData,
    MapsFormatError,
    channel_index,
    channel_names,
    inspect_folder,
    lensibility_score,
    load_sources,
    prep_folder,
    quality_metrics,
    read_maps,
    source_tensor,
    synthetic_maps,
    synthetic_source,
    synthetic_sources,
    valid_pixels,
    write_maps_fits,
)

MANGA = Path(__file__).resolve().parents[3] / "shared" / "data" / "manga"
REAL_FILE = MANGA / "manga-7815-3702-MAPS-HYB10-GAU-MILESHC.fits.gz"

FIELDS = ("flux", "flux_ivar", "flux_mask", "gas_vel", "gas_vel_ivar", "gas_vel_mask",
          "stellar_vel", "stellar_vel_ivar", "stellar_vel_mask", "r_re")

GOOD_GEOMETRY = dict(inclination=60.0, position_angle=30.0, r_d=0.3, v_max=250.0,
                     r_turn=0.1, n_clumps=2, flux_peak=400.0)


@pytest.fixture(scope="module")
def galaxy():
    return synthetic_maps(7, 42, plateifu="1234-5678", **GOOD_GEOMETRY)


def _rewrite(src: Path, dst: Path, edit) -> Path:
    """Copy a FITS file through ``edit(hdul)`` (astropy, in memory)."""
    with fits.open(src) as hdul:
        hdul = fits.HDUList([h.copy() for h in hdul])
    edit(hdul)
    hdul.writeto(dst, overwrite=True)
    return dst


# ------------------------------------------------------------------------------------------
# reading, both layouts
# ------------------------------------------------------------------------------------------


def test_dr17_and_dr15_layouts_read_identically(tmp_path, galaxy):
    p17 = write_maps_fits(tmp_path / "manga-1234-5678-MAPS-DR17.fits.gz", galaxy, "DR17")
    p15 = write_maps_fits(tmp_path / "manga-1234-5678-MAPS-DR15.fits", galaxy, layout="DR15")
    m17, m15 = read_maps(p17), read_maps(p15)

    # H-alpha found by name, at different indices in the two releases
    assert m17.line == m15.line == "Ha-6564"
    assert m17.line_index == DR17_EMLINE_CHANNELS.index("Ha-6564") == 23
    assert m15.line_index == DR15_EMLINE_CHANNELS.index("Ha-6564") == 18
    assert m17.line_index != m15.line_index
    assert m17.emline_channels == DR17_EMLINE_CHANNELS
    assert m15.emline_channels == DR15_EMLINE_CHANNELS
    with fits.open(p17) as h17, fits.open(p15) as h15:
        assert h17["EMLINE_GFLUX"].header["C24"].strip() == "Ha-6564"
        assert h15["EMLINE_GFLUX"].header["C19"].strip() == "Ha-6564"
        assert h17["SPX_ELLCOO"].data.shape[0] == 4 and h15["SPX_ELLCOO"].data.shape[0] == 3
        # the neighbouring channels hold different numbers: a wrong index would show
        assert not np.array_equal(h17["EMLINE_GFLUX"].data[22], h17["EMLINE_GFLUX"].data[23])

    # identical arrays from both files, equal to what was written (float32-exact values)
    for name in FIELDS:
        np.testing.assert_array_equal(getattr(m17, name), getattr(m15, name), err_msg=name)
        np.testing.assert_array_equal(getattr(m17, name), getattr(galaxy, name), err_msg=name)
    assert m17.plateifu == m15.plateifu == "1234-5678"
    assert m17.header["VERSDAP"] == "3.1.0" and m15.header["VERSDAP"] == "2.2.1"

    # other spellings of the line name find the same channel
    for alias in ("Ha-6565", "Ha-65", "Halpha", "H-alpha", "ha-6564"):
        assert read_maps(p17, line=alias).line_index == 23
    np.testing.assert_allclose(read_maps(p15, line="NII-6585").flux, galaxy.flux * 0.2,
                               rtol=1e-6)


def test_channel_index_rules():
    header = {"EXTNAME": "EMLINE_GFLUX", "C01": "NII-6549", "C02": "Ha-6565",
              "C03": "NII-6585 ", "C04": "OII-3727", "C05": "OII-3729"}
    assert channel_names(header) == ("NII-6549", "Ha-6565", "NII-6585", "OII-3727", "OII-3729")
    for name in ("Ha-6565", "Ha-6564", "Ha-65", "Ha", "Halpha", "H-alpha", " ha-6565 "):
        assert channel_index(header, name) == 1, name
    assert channel_index(header, "NII-6584") == 2
    with pytest.raises(MapsFormatError, match=r"ambiguous.*'OII-3727'.*'OII-3729'"):
        channel_index(header, "OII-3728")
    with pytest.raises(MapsFormatError, match="ambiguous"):
        channel_index(header, "NII")
    with pytest.raises(MapsFormatError) as err:
        channel_index(header, "Hb-4862", source="some-file.fits")
    text = str(err.value)
    assert "some-file.fits" in text and "EMLINE_GFLUX" in text and "'Hb-4862'" in text
    assert "available channels" in text and "C2='Ha-6565'" in text
    with pytest.raises(MapsFormatError, match="C1..C3 without gaps"):
        channel_names({"C1": "a", "C2": "b", "C4": "c"})
    with pytest.raises(MapsFormatError, match="no channel keys"):
        channel_names({"EXTNAME": "X"})


def test_valid_pixels_and_sentinels():
    data = np.array([1.0, np.nan, -999.0, 3.0, np.inf, -998.0])
    mask = np.array([0, 0, 0, 1, 0, 0])
    np.testing.assert_array_equal(valid_pixels(data, mask),
                                  [True, False, False, False, False, True])


# ------------------------------------------------------------------------------------------
# metrics against hand computations
# ------------------------------------------------------------------------------------------


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


# ------------------------------------------------------------------------------------------
# the real MaNGA file
# ------------------------------------------------------------------------------------------


@pytest.mark.skipif(not REAL_FILE.is_file(), reason=f"real MaNGA MAPS file absent ({MANGA})")
def test_real_maps_file(tmp_path):
    maps = read_maps(REAL_FILE)
    assert maps.plateifu == "7815-3702" and maps.shape == (42, 42)
    assert maps.line == "Ha-6564"
    # this file carries the 22-line DAP 2.2 (DR15 / MPL-7) list: H-alpha is C19
    assert maps.emline_channels == DR15_EMLINE_CHANNELS and maps.line_index == 18
    with fits.open(REAL_FILE) as hdul:  # reference: astropy, the channel read directly
        np.testing.assert_array_equal(maps.flux, hdul["EMLINE_GFLUX"].data[18])
        np.testing.assert_array_equal(maps.gas_vel_mask, hdul["EMLINE_GVEL_MASK"].data[18])
        np.testing.assert_array_equal(maps.stellar_vel, hdul["STELLAR_VEL"].data)
        np.testing.assert_array_equal(maps.r_re, hdul["SPX_ELLCOO"].data[1])
        n_flux = int((hdul["EMLINE_GFLUX_MASK"].data[18] == 0).sum())

    m = quality_metrics(maps)
    for key in ("vel_grad", "frac_valid_in_1.5Re", "vel_std", "mask_fraction", "flux_max",
                "flux_mean", "flux_vel_corr"):
        assert math.isfinite(m[key]), key
    assert m["n_valid_flux"] == n_flux
    # regression values of this galaxy (computed once by this code; the counts are exact)
    assert m["vel_grad"] == pytest.approx(5.5909, abs=1e-3)
    assert m["mask_fraction"] == pytest.approx(1 - 769 / 1764, abs=1e-12)
    score, tier, _ = lensibility_score(m)
    assert tier in ("elite", "good", "borderline", "reject")
    assert (score, tier) == (78, "good")

    # rewritten in the DR17 layout (H-alpha moves to C24), the reader returns the same maps
    again = read_maps(write_maps_fits(tmp_path / "real-dr17.fits.gz", maps, "DR17"))
    assert again.line_index == 23 and again.header["PLATEIFU"] == "7815-3702"
    for name in FIELDS:
        np.testing.assert_array_equal(getattr(again, name), getattr(maps, name), err_msg=name)

    tensor = source_tensor(maps)
    assert tensor.shape == (2, 64, 64) and tensor.dtype == np.float32
    assert tensor[0].min() >= 0.0 and tensor[0].max() <= 1.0 and tensor[0].max() > 0.9
    assert tensor[1].min() >= -1.0 and tensor[1].max() <= 1.0
    assert tensor[1].min() < -0.9 and tensor[1].max() > 0.9


# ------------------------------------------------------------------------------------------
# source tensors and synthetic galaxies
# ------------------------------------------------------------------------------------------


def test_source_tensor_normalisation_matches_numpy(galaxy):
    native = source_tensor(galaxy, None)
    f, fv = galaxy.flux, galaxy.flux_valid
    p5, p995 = np.percentile(f[fv], [5, 99.5])
    flux_ref = np.where(fv, np.clip((f - p5) / (p995 - p5), 0, 1), 0)
    v, vv = galaxy.stellar_vel, galaxy.stellar_vel_valid
    med = np.median(v[vv])
    scale = np.percentile(np.abs(v[vv] - med), 95)
    vel_ref = np.where(vv, np.clip((v - med) / scale, -1, 1), 0)
    np.testing.assert_allclose(native[0], flux_ref, atol=1e-6, rtol=0)
    np.testing.assert_allclose(native[1], vel_ref, atol=1e-6, rtol=0)
    assert np.all(native[:, ~fv] == 0)

    # resampling: bilinear, pixel-area aligned = scipy.ndimage.zoom(grid_mode=True)
    out = source_tensor(galaxy, 64)
    for ch in range(2):
        ref = ndimage.zoom(native[ch].astype(np.float64), 64 / 42, order=1, grid_mode=True,
                           mode="nearest")
        assert ref.shape == (64, 64)
        np.testing.assert_allclose(out[ch], ref, atol=1e-6, rtol=0)

    gas = source_tensor(galaxy, 64, velocity="gas")
    assert gas.shape == (2, 64, 64) and np.array_equal(gas[0], out[0])


def test_synthetic_rotation_curve_is_analytic():
    v_max, r_turn, inc, r_d = 200.0, 0.1, 60.0, 0.25
    maps = synthetic_maps(0, 41, inclination=inc, position_angle=0.0, r_d=r_d, v_max=v_max,
                          r_turn=r_turn, n_clumps=0, flux_noise=0, vel_noise=0,
                          footprint=None, flux_peak=300.0)
    x = (30 + 0.5) * (2 / 41) - 1  # pixel (row 20, col 30): on the major axis, y = 0
    v_ref = (2 / np.pi) * v_max * np.arctan(x / r_turn) * np.sin(np.radians(inc))
    assert maps.gas_vel[20, 30] == pytest.approx(v_ref, rel=1e-6)
    assert maps.gas_vel[20, 10] == pytest.approx(-v_ref, rel=1e-6)  # approaching side
    assert maps.stellar_vel[20, 30] == pytest.approx(0.8 * v_ref, rel=1e-6)
    assert abs(maps.gas_vel[30, 20]) < 1e-6  # minor axis: cos(phi) = 0
    assert maps.flux[20, 20] == pytest.approx(300.0, rel=1e-6)  # centre, no clumps
    assert maps.r_re[20, 30] == pytest.approx(x / (1.678 * r_d), rel=1e-6)
    m = quality_metrics(maps)
    assert m["mask_fraction"] == 0.0 and abs(m["flux_vel_corr"]) < 1e-6
    # a hexagonal IFU footprint masks the corners
    hexed = synthetic_maps(0, 41, footprint=0.95)
    assert not hexed.flux_valid[0, 0] and hexed.flux_valid[20, 20]
    assert hexed.flux[0, 0] == 0.0 and hexed.flux_mask[0, 0] == (1 | (1 << 30))


def test_synthetic_sources():
    one = synthetic_source(5, 32, **GOOD_GEOMETRY)
    ref = source_tensor(synthetic_maps(5, 32, flux_noise=0, vel_noise=0, **GOOD_GEOMETRY), 32)
    np.testing.assert_array_equal(one, ref)
    batch = synthetic_sources(3, seed=1, n_pix=32)
    assert batch.shape == (3, 2, 32, 32) and batch.dtype == np.float32
    np.testing.assert_array_equal(batch, synthetic_sources(3, seed=1, n_pix=32))
    assert not np.array_equal(batch[0], batch[1])
    assert batch[:, 0].min() >= 0 and batch[:, 0].max() <= 1
    assert batch[:, 1].min() >= -1 and batch[:, 1].max() <= 1
    with pytest.raises(ValueError, match="inclination"):
        synthetic_maps(0, inclination=90.0)
    with pytest.raises(ValueError, match="n must be an integer"):
        synthetic_sources(0)


# ------------------------------------------------------------------------------------------
# folders
# ------------------------------------------------------------------------------------------


def _folder(tmp_path):
    folder = tmp_path / "maps"
    folder.mkdir()
    good = synthetic_maps(1, 42, plateifu="1111-1111", **GOOD_GEOMETRY)
    also = synthetic_maps(2, 42, plateifu="2222-2222", **GOOD_GEOMETRY)
    still = synthetic_maps(3, 42, plateifu="3333-3333", **(GOOD_GEOMETRY | {"v_max": 0.0}))
    write_maps_fits(folder / "manga-1111-1111-MAPS.fits.gz", good, "DR17")
    write_maps_fits(folder / "manga-2222-2222-MAPS.fits", also, "DR15")
    write_maps_fits(folder / "manga-3333-3333-MAPS.fits.gz", still, "DR17")
    (folder / "manga-9999-9999-MAPS.fits.gz").write_bytes(b"this is not a FITS file" * 10)
    return folder


def test_inspect_and_prep_folder(tmp_path):
    folder = _folder(tmp_path)
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


# ------------------------------------------------------------------------------------------
# bad input
# ------------------------------------------------------------------------------------------


def test_bad_files_name_file_extension_and_channel(tmp_path, galaxy):
    good = write_maps_fits(tmp_path / "good.fits", galaxy, "DR17")

    with pytest.raises(FileNotFoundError, match="nowhere.fits"):
        read_maps(tmp_path / "nowhere.fits")
    junk = tmp_path / "junk.fits"
    junk.write_bytes(b"\x00" * 100)
    with pytest.raises(MapsFormatError, match="junk.fits"):
        read_maps(junk)

    def drop(name):
        return lambda hdul: hdul.pop(hdul.index_of(name))

    missing = _rewrite(good, tmp_path / "missing.fits", drop("STELLAR_VEL_MASK"))
    with pytest.raises(MapsFormatError, match=r"missing.fits.*STELLAR_VEL_MASK.*extensions in"):
        read_maps(missing)

    with pytest.raises(MapsFormatError) as err:
        read_maps(good, line="Xx-1234")
    text = str(err.value)
    assert "good.fits" in text and "EMLINE_GFLUX" in text and "'Xx-1234'" in text
    assert "available channels" in text and "'Ha-6564'" in text

    def small_stellar(hdul):
        hdul["STELLAR_VEL"].data = hdul["STELLAR_VEL"].data[:10, :10]

    shaped = _rewrite(good, tmp_path / "shaped.fits", small_stellar)
    with pytest.raises(MapsFormatError, match=r"shaped.fits, STELLAR_VEL: map shape \(10, 10\)"):
        read_maps(shaped)

    def flat_flux(hdul):
        hdul["EMLINE_GFLUX"].data = hdul["EMLINE_GFLUX"].data[0]

    flat = _rewrite(good, tmp_path / "flat.fits", flat_flux)
    with pytest.raises(MapsFormatError, match=r"flat.fits, extension EMLINE_GFLUX: expected a 3-D"):
        read_maps(flat)

    def fewer_names(hdul):
        del hdul["EMLINE_GVEL"].header["C35"]

    names = _rewrite(good, tmp_path / "names.fits", fewer_names)
    with pytest.raises(MapsFormatError, match=r"names.fits, extension EMLINE_GVEL: 35 channels"):
        read_maps(names)

    # no 'R/Re' channel: fall back to 'Elliptical radius' / REFF
    def rename_rre(hdul):
        hdul["SPX_ELLCOO"].header["C2"] = "Something else"

    fallback = read_maps(_rewrite(good, tmp_path / "norre.fits", rename_rre))
    np.testing.assert_allclose(fallback.r_re, galaxy.r_re, rtol=1e-6)

    with pytest.raises(MapsFormatError, match=r"MapsData\('x'\): gas_vel has shape \(3, 3\)"):
        dataclasses.replace(galaxy, plateifu="x", gas_vel=np.zeros((3, 3)))
    with pytest.raises(MapsFormatError, match="flux must be a 2-D map"):
        dataclasses.replace(galaxy, flux=np.zeros(5))
    with pytest.raises(ValueError, match="layout must be one of"):
        write_maps_fits(tmp_path / "x.fits", galaxy, "DR99")

    with pytest.raises(NotADirectoryError, match="no-such-folder"):
        inspect_folder(tmp_path / "no-such-folder", tmp_path)
    bad_npy = tmp_path / "npy"
    bad_npy.mkdir()
    np.save(bad_npy / "a.npy", np.zeros((3, 8, 8)))
    with pytest.raises(ValueError, match=r"a.npy: expected a \(2, N, N\)"):
        load_sources(bad_npy)
    np.save(bad_npy / "a.npy", np.full((2, 8, 8), 2.0))
    with pytest.raises(ValueError, match="a.npy: flux channel outside"):
        load_sources(bad_npy)
