"""Tests of the MAPS writer (jaxfit.lensing.fits_io): DAP-style channel cards, the layouts,
and byte-identical compressed files (reading them back is tested in test_manga.py)."""

from __future__ import annotations

import pytest
from astropy.io import fits

from jaxfit.lensing.fits_io import write_maps_fits
from jaxfit.lensing.manga import (
    channel_names,
)


def test_unknown_layout_is_named(tmp_path, galaxy):
    with pytest.raises(ValueError, match="layout must be one of"):
        write_maps_fits(tmp_path / "x.fits", galaxy, "DR99")


def test_channel_cards_are_zero_padded_and_gzip_is_reproducible(tmp_path, galaxy):
    first = write_maps_fits(tmp_path / "a.fits.gz", galaxy, "dr15")  # layout in any case
    second = write_maps_fits(tmp_path / "b.fits.gz", galaxy, "DR15")
    assert first.read_bytes() == second.read_bytes()  # no timestamp in the gzip header
    with fits.open(first) as hdul:
        header = hdul["EMLINE_GFLUX"].header
        assert header["C01"].strip() == "OII-3727" and header["C19"].strip() == "Ha-6564"
        assert hdul[0].header["JXLAYOUT"] == "DR15" and hdul[0].header["DAPFRMT"] == "MAPS"
        assert hdul["EMLINE_GFLUX_MASK"].data.dtype.kind == "i"
        assert channel_names(hdul["SPX_ELLCOO"].header)[1] == "R/Re"
