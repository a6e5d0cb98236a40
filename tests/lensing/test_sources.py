"""Tests of the source tensors (jaxfit.lensing.sources): normalisation against np.percentile
and np.median, resampling against scipy.ndimage.zoom, and malformed tensor files."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from jaxfit.lensing.sources import load_sources, source_tensor


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


def test_load_sources_names_the_bad_file(tmp_path):
    bad_npy = tmp_path / "npy"
    bad_npy.mkdir()
    np.save(bad_npy / "a.npy", np.zeros((3, 8, 8)))
    with pytest.raises(ValueError, match=r"a.npy: expected a \(2, N, N\)"):
        load_sources(bad_npy)
    np.save(bad_npy / "a.npy", np.full((2, 8, 8), 2.0))
    with pytest.raises(ValueError, match="a.npy: flux channel outside"):
        load_sources(bad_npy)
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_sources(tmp_path / "nowhere")
