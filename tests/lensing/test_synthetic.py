"""Tests of the synthetic galaxies (jaxfit.lensing.synthetic): the analytic arctan rotation
curve, the IFU footprint, and reproducible source tensors."""

from __future__ import annotations

import numpy as np
import pytest

from jaxfit.lensing.quality import quality_metrics
from jaxfit.lensing.sources import source_tensor
from jaxfit.lensing.synthetic import synthetic_maps, synthetic_source, synthetic_sources


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


def test_synthetic_sources(good_geometry):
    one = synthetic_source(5, 32, **good_geometry)
    ref = source_tensor(synthetic_maps(5, 32, flux_noise=0, vel_noise=0, **good_geometry), 32)
    np.testing.assert_array_equal(one, ref)
    batch = synthetic_sources(3, seed=1, n_pix=32)
    assert batch.shape == (3, 2, 32, 32) and batch.dtype == np.float32
    np.testing.assert_array_equal(batch, synthetic_sources(3, seed=1, n_pix=32))
    assert not np.array_equal(batch[0], batch[1])
    assert batch[:, 0].min() >= 0 and batch[:, 0].max() <= 1
    assert batch[:, 1].min() >= -1 and batch[:, 1].max() <= 1
    with pytest.raises(ValueError, match="inclination"):
        synthetic_maps(0, inclination=90.0)
    with pytest.raises(ValueError, match=r"^n must be .*integer"):
        synthetic_sources(0)
