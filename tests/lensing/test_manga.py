"""Tests of the MaNGA MAPS reader (jaxfit.lensing.manga): both DAP layouts, channels found by
name, pixel validity, a real MAPS file, and errors that name the file, extension and channel.

References: astropy reading the FITS extensions directly; files written by
jaxfit.lensing.fits_io from synthetic galaxies. The real MaNGA file in ../shared/data/manga is
used when present (skipped cleanly otherwise).
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from jaxfit.lensing.fits_io import write_maps_fits
from jaxfit.lensing.manga import (
    DR15_EMLINE_CHANNELS,
    DR17_EMLINE_CHANNELS,
    MapsFormatError,
    channel_index,
    channel_names,
    read_maps,
    valid_pixels,
)
from jaxfit.lensing.quality import lensibility_score, quality_metrics
from jaxfit.lensing.sources import source_tensor

MANGA = Path(__file__).resolve().parents[3] / "shared" / "data" / "manga"


REAL_FILE = MANGA / "manga-7815-3702-MAPS-HYB10-GAU-MILESHC.fits.gz"


FIELDS = ("flux", "flux_ivar", "flux_mask", "gas_vel", "gas_vel_ivar", "gas_vel_mask",
          "stellar_vel", "stellar_vel_ivar", "stellar_vel_mask", "r_re")


def _rewrite(src: Path, dst: Path, edit) -> Path:
    """Copy a FITS file through ``edit(hdul)`` (astropy, in memory)."""
    with fits.open(src) as hdul:
        hdul = fits.HDUList([h.copy() for h in hdul])
    edit(hdul)
    hdul.writeto(dst, overwrite=True)
    return dst


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


def test_maps_data_checks_its_maps(galaxy):
    with pytest.raises(MapsFormatError, match=r"MapsData\('x'\): gas_vel has shape \(3, 3\)"):
        dataclasses.replace(galaxy, plateifu="x", gas_vel=np.zeros((3, 3)))
    with pytest.raises(MapsFormatError, match="flux must be a 2-D map"):
        dataclasses.replace(galaxy, flux=np.zeros(5))
    with pytest.raises(ValueError, match="velocity must be one of"):
        galaxy.velocity("dark")
