"""Shared fixtures of the lensing tests: sources, numpy references and a synthetic galaxy."""

import numpy as np
import pytest


def _sources(s=3, h=24, w=24, dtype=np.float64, seed=0):
    """Smooth disc-like sources: exponential flux and an arctan velocity field (S, 2, h, w)."""
    rng = np.random.default_rng(seed)
    y, x = np.meshgrid(
        -1 + (2 * np.arange(h) + 1) / h, -1 + (2 * np.arange(w) + 1) / w, indexing="ij"
    )
    out = []
    for _ in range(s):
        x0, y0, rd, pa = rng.uniform(-0.1, 0.1), rng.uniform(-0.1, 0.1), rng.uniform(0.2, 0.4), 0
        pa = rng.uniform(0, np.pi)
        u = (x - x0) * np.cos(pa) + (y - y0) * np.sin(pa)
        flux = np.exp(-np.hypot(x - x0, y - y0) / rd)
        vel = 2 / np.pi * np.arctan(u / 0.15)
        out.append(np.stack([flux, vel]))
    return np.asarray(out, dtype=dtype)


def _np_bilinear(src, beta):
    """Bilinear interpolation of each channel of src (C, H, W) at beta (2, ...), zero
    outside: neighbours outside the array contribute 0 (scipy's 'grid-constant')."""
    _, h, w = src.shape
    col = (beta[0] + 1) * w / 2 - 0.5
    row = (beta[1] + 1) * h / 2 - 0.5
    i0, j0 = np.floor(row).astype(int), np.floor(col).astype(int)
    fi, fj = row - i0, col - j0
    out = np.zeros((src.shape[0],) + np.shape(row))
    for di, wi in ((0, 1 - fi), (1, fi)):
        for dj, wj in ((0, 1 - fj), (1, fj)):
            i, j = i0 + di, j0 + dj
            ok = (i >= 0) & (i < h) & (j >= 0) & (j < w)
            vals = src[:, np.clip(i, 0, h - 1), np.clip(j, 0, w - 1)]
            out += np.where(ok, wi * wj, 0.0) * vals
    return out


@pytest.fixture(scope="session")
def disc_sources():
    """``disc_sources(s=3, h=24, w=24, dtype=float64, seed=0)``: smooth disc-like (S, 2, h, w)
    sources, an exponential flux and an arctan velocity field."""
    return _sources


@pytest.fixture(scope="session")
def np_bilinear():
    """The numpy reference of bilinear sampling, ``np_bilinear(src (C, H, W), beta (2, ...))``,
    zero outside (scipy's 'grid-constant')."""
    return _np_bilinear


@pytest.fixture(scope="session")
def sources():
    """The CNN tests' six synthetic galaxies, (6, 2, 32, 32) float32."""
    from jaxfit.lensing.synthetic import synthetic_sources

    return np.asarray(synthetic_sources(6, seed=0, n_pix=32), dtype=np.float32)


GOOD_GEOMETRY = dict(inclination=60.0, position_angle=30.0, r_d=0.3, v_max=250.0,
                     r_turn=0.1, n_clumps=2, flux_peak=400.0)


@pytest.fixture(scope="session")
def good_geometry():
    """A clearly rotating, bright synthetic disc: the geometry of :func:`synthetic_maps`."""
    return dict(GOOD_GEOMETRY)


@pytest.fixture(scope="session")
def galaxy():
    """One synthetic MaNGA galaxy of 42 x 42 spaxels with the good geometry."""
    from jaxfit.lensing.synthetic import synthetic_maps

    return synthetic_maps(7, 42, plateifu="1234-5678", **GOOD_GEOMETRY)
