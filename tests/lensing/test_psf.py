"""Tests of the Gaussian PSF (jaxfit.lensing.psf) against
scipy.ndimage.gaussian_filter(mode="reflect" / "constant", truncate=4.0)."""

import jax.numpy as jnp
import numpy as np
import pytest
import scipy.ndimage

import jaxfit  # noqa: F401  (switches on float64)
from jaxfit.lensing import psf as m

RNG = np.random.default_rng(20251203)


@pytest.mark.parametrize("sigma", [0.5, 1.0, 2.3, 7.0])
def test_gaussian_blur_matches_scipy(sigma):
    img = RNG.normal(size=(2, 17, 23))
    for edge, mode in (("reflect", "reflect"), ("zero", "constant")):
        got = np.asarray(m.gaussian_blur(jnp.asarray(img), sigma, edge))
        ref = scipy.ndimage.gaussian_filter(
            img, (0, sigma, sigma), mode=mode, cval=0.0, truncate=4.0
        )
        np.testing.assert_allclose(got, ref, atol=1e-10)
    assert m.gaussian_blur(jnp.asarray(img, jnp.float32), sigma).dtype == jnp.float32


def test_gaussian_blur_zero_sigma_is_identity():
    img = jnp.asarray(RNG.normal(size=(2, 8, 8)))
    np.testing.assert_array_equal(np.asarray(m.gaussian_blur(img, 0.0)), np.asarray(img))


def test_gaussian_blur_bad_sigma_and_edge_are_named():
    img = jnp.zeros((2, 8, 8))
    with pytest.raises(ValueError, match="sigma"):
        m.gaussian_blur(img, -1.0)
    with pytest.raises(ValueError, match="edge"):
        m.gaussian_blur(img, 1.0, "wrap")


def test_blur_matrix_rows_sum_to_one_with_reflection():
    """Reflection keeps every tap inside the image (rows sum to 1); zero padding loses the
    taps beyond the edge (rows near the edge sum to less)."""
    reflect = m.blur_matrix(21, 1.5, "reflect")  # 1.5 pixels: taps reach 6 pixels out
    zero = m.blur_matrix(21, 1.5, "zero")
    np.testing.assert_allclose(reflect.sum(axis=1), 1.0, rtol=1e-14)
    assert zero.sum(axis=1)[0] < 1.0 and zero.sum(axis=1)[10] == pytest.approx(1.0, rel=1e-14)
