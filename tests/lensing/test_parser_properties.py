"""Property tests of the lensing file readers (issue 16): whatever bytes a MAPS file, a
source tensor or a checkpoint holds, reading it either succeeds or raises ``ValueError``
naming the file, never another exception."""

import gzip
import io
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jaxfit.lensing.checkpoints import checkpoint_meta
from jaxfit.lensing.fits_io import write_maps_fits
from jaxfit.lensing.manga import MapsFormatError, read_maps
from jaxfit.lensing.sources import load_sources
from jaxfit.lensing.synthetic import synthetic_maps

SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def fits_bytes(tmp_path_factory):
    """A small valid MAPS file (16 x 16 spaxels), uncompressed."""
    path = tmp_path_factory.mktemp("maps") / "manga-1-2-MAPS.fits.gz"
    write_maps_fits(path, synthetic_maps(0, 16, plateifu="1-2"))
    return gzip.decompress(path.read_bytes())


def _read(reader, name: str, payload: bytes):
    """``reader(path)`` of a file holding ``payload``; ``(result, None)`` or
    ``(None, error)``, the error checked to be a ValueError naming the file."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(payload)
        try:
            return reader(path), None
        except ValueError as err:
            assert str(path) in str(err), str(err)
            return None, err


@SETTINGS
@given(payload=st.binary(max_size=4000), gz=st.booleans())
def test_arbitrary_bytes_into_the_maps_reader(payload, gz):
    data = gzip.compress(payload, mtime=0) if gz else payload
    result, err = _read(read_maps, "x-MAPS.fits" + (".gz" if gz else ""), data)
    assert result is None and isinstance(err, MapsFormatError)


@SETTINGS
@given(cards=st.lists(st.sampled_from([b"SIMPLE  =                    T", b"BITPIX  =   8",
                                       b"NAXIS   =  0", b"EXTEND  = T", b"XTENSION= 'IMAGE'",
                                       b"NAXIS1  = 99999", b"END", b"garbage ="]),
                      max_size=12),
       tail=st.binary(max_size=3000))
def test_fits_like_headers_into_the_maps_reader(cards, tail):
    # bytes that look like FITS cards go past astropy's first check into the HDU parser
    header = b"".join(card.ljust(80) for card in cards)
    result, err = _read(read_maps, "x-MAPS.fits", header + tail)
    assert result is None and isinstance(err, MapsFormatError)


@SETTINGS
@given(data=st.data(), gz=st.booleans())
def test_a_truncated_maps_file_is_refused(fits_bytes, data, gz):
    whole = gzip.compress(fits_bytes, mtime=0) if gz else fits_bytes
    cut = data.draw(st.integers(0, len(whole) - 1))
    result, err = _read(read_maps, "x-MAPS.fits" + (".gz" if gz else ""), whole[:cut])
    if gz:  # gzip's end-of-stream check catches every cut
        assert "corrupt file" in str(err)
    elif result is not None:  # only the last extension's padding was cut: data intact
        np.testing.assert_array_equal(result.flux, read_maps_bytes(fits_bytes).flux)


def read_maps_bytes(payload: bytes):
    return _read(read_maps, "whole-MAPS.fits", payload)[0]


@SETTINGS
@given(data=st.data())
def test_flipped_bytes_in_a_maps_file(fits_bytes, data):
    damaged = bytearray(fits_bytes)
    for _ in range(data.draw(st.integers(1, 8))):
        damaged[data.draw(st.integers(0, len(damaged) - 1))] = data.draw(st.integers(0, 255))
    _read(read_maps, "x-MAPS.fits", bytes(damaged))  # succeeds or names the file


@SETTINGS
@given(payload=st.binary(max_size=2000))
def test_arbitrary_bytes_into_the_checkpoint_reader(payload):
    result, err = _read(checkpoint_meta, "checkpoint.npz", payload)
    assert result is None and "checkpoint" in str(err)


@pytest.fixture(scope="module")
def checkpoint_bytes():
    buffer = io.BytesIO()
    np.savez(buffer, __meta__=np.asarray('{"format": "jaxfit.lensing.cnn/1", "arch": '
                                         '"research", "config": {}}'), w=np.ones((4, 4)))
    return buffer.getvalue()


@SETTINGS
@given(data=st.data())
def test_a_truncated_or_damaged_checkpoint(checkpoint_bytes, data):
    damaged = bytearray(checkpoint_bytes[: data.draw(st.integers(0, len(checkpoint_bytes)))])
    for _ in range(data.draw(st.integers(0, 4))):
        if damaged:
            damaged[data.draw(st.integers(0, len(damaged) - 1))] = data.draw(st.integers(0, 255))
    _read(checkpoint_meta, "checkpoint.npz", bytes(damaged))  # succeeds or names the file


@SETTINGS
@given(payload=st.one_of(st.binary(max_size=600),
                         st.binary(max_size=200).map(lambda b: b"\x93NUMPY\x01\x00" + b)))
def test_arbitrary_bytes_into_the_source_loader(payload):
    result, err = _read(lambda path: load_sources([path]), "src.npy", payload)
    assert result is None and err is not None
