"""Tests of image formation and the simulators (jaxfit.lensing.simulate): sampling, mask,
PSF, noise, the three experiments, batching, jit/vmap and the chunked generator.

References: scipy.ndimage.map_coordinates(order=1, mode="grid-constant") and a numpy
bilinear interpolation for the sampling, scipy.ndimage.gaussian_filter for the PSF, and the
images of :func:`lens_image` for the classes of each experiment (float64 unless stated).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.ndimage

import jaxfit  # noqa: F401  (switches on float64)
from jaxfit.lensing import simulate as s
from jaxfit.lensing.model import image_grid
from jaxfit.lensing.params import LensSimConfig

RNG = np.random.default_rng(20251202)

# one small configuration family, so that each jitted entry point compiles a few times only
N_SMALL = 24
CLEAN = LensSimConfig(
    n_pix=N_SMALL,
    psf_sigma=0.0,
    flux_noise_sigma=0.0,
    vel_noise_sigma=0.0,
    flux_mask_threshold=0.0,
    theta_E_sub_factor=0.3,
)
NOISY = LensSimConfig(n_pix=N_SMALL, theta_E_sub_factor=0.3)


def test_sample_source_matches_scipy_and_numpy_bilinear(np_bilinear):
    src = RNG.normal(size=(2, 13, 17))
    beta = RNG.uniform(-1.3, 1.3, size=(2, 40, 30))
    got = np.asarray(s.sample_source(jnp.asarray(src), jnp.asarray(beta)))
    coords = [(beta[1] + 1) * 13 / 2 - 0.5, (beta[0] + 1) * 17 / 2 - 0.5]
    for c in range(2):
        ref = scipy.ndimage.map_coordinates(src[c], coords, order=1, mode="grid-constant", cval=0)
        np.testing.assert_allclose(got[c], ref, atol=1e-13)
    np.testing.assert_allclose(got, np_bilinear(src, beta), atol=1e-13)
    assert np.all(got[:, np.abs(beta).max(axis=0) > 1.0 + 1.0 / 13] == 0.0)  # outside: 0
    # the identity map reproduces the source on its own grid
    same = np.asarray(s.sample_source(jnp.asarray(src[:, :13, :13]), image_grid(13)))
    np.testing.assert_allclose(same, src[:, :13, :13], atol=1e-15)


def test_lens_image_mask_and_psf(disc_sources):
    src = jnp.asarray(disc_sources(1)[0])
    cfg = LensSimConfig(n_pix=N_SMALL, psf_sigma=0.0, subhalo="none")
    img, mask = s.lens_image(src, cfg, return_mask=True)
    img, mask = np.asarray(img), np.asarray(mask)
    np.testing.assert_array_equal(mask, img[0] < 0.1)
    assert np.all(img[1][mask] == 0.0) and mask.any() and not mask.all()
    blurred = np.asarray(s.lens_image(src, LensSimConfig(n_pix=N_SMALL, subhalo="none")))
    np.testing.assert_allclose(
        blurred, scipy.ndimage.gaussian_filter(img, (0, 1.0, 1.0), mode="reflect"), atol=1e-12
    )
    with pytest.raises(ValueError, match="key or a subhalo_position"):
        s.lens_image(src, LensSimConfig(n_pix=N_SMALL))


def test_add_noise_and_clip():
    img = jnp.asarray(np.stack([np.full((8, 8), 1.4), np.full((8, 8), -1.45)]))
    cfg = LensSimConfig(n_pix=8, flux_noise_sigma=1.0, vel_noise_sigma=1.0)
    out = np.asarray(s.add_noise_and_clip(img, jax.random.key(0), cfg))
    assert out[0].min() >= 0.0 and out[0].max() <= 1.5 and np.any(out[0] == 1.5)
    assert out[1].min() >= -1.5 and out[1].max() <= 1.5 and np.any(out[1] == -1.5)
    remask = LensSimConfig(n_pix=8, remask_after_noise=True)
    mask = jnp.asarray(np.arange(64).reshape(8, 8) % 2 == 0)
    out = np.asarray(s.add_noise_and_clip(img, jax.random.key(1), remask, mask))
    assert np.all(out[1][np.asarray(mask)] == 0.0) and np.all(out[1][~np.asarray(mask)] != 0.0)
    with pytest.raises(ValueError, match="vel_mask"):
        s.add_noise_and_clip(img, jax.random.key(1), remask)


def test_simulate_lensed_experiment_classes(disc_sources):
    """'lensed', clean: label 0 is the source itself, label 1 the SIS image."""
    src = jnp.asarray(disc_sources(1)[0])
    key = jax.random.key(7)
    img0, meta0 = s.simulate(key, src, CLEAN, 0, "lensed")
    img1, _ = s.simulate(key, src, CLEAN, 1, "lensed")
    np.testing.assert_allclose(np.asarray(img0), np.asarray(src), atol=1e-15)
    expected = s.lens_image(src, CLEAN, with_subhalo=False)
    np.testing.assert_allclose(np.asarray(img1), np.asarray(expected), atol=1e-15)
    assert not bool(meta0["has_subhalo"]) and np.isnan(float(meta0["subhalo_x"]))


def test_simulate_subhalo_experiment_uses_reported_position(disc_sources):
    src = jnp.asarray(disc_sources(1)[0])
    key = jax.random.key(11)
    img1, meta = s.simulate(key, src, CLEAN, 1, "subhalo")
    img0, meta0 = s.simulate(key, src, CLEAN, 0, "subhalo")
    assert bool(meta["has_subhalo"]) and not bool(meta0["has_subhalo"])
    pos = jnp.stack([meta["subhalo_x"], meta["subhalo_y"]])
    r = float(jnp.hypot(*pos))
    assert 0.5 * 1.1 - 1e-12 <= r <= 0.5 * 1.3 + 1e-12
    expected = s.lens_image(src, CLEAN, subhalo_position=pos)
    np.testing.assert_allclose(
        np.asarray(img1), np.clip(np.asarray(expected), -1.5, 1.5), atol=1e-15
    )
    smooth = s.lens_image(src, CLEAN, with_subhalo=False)
    np.testing.assert_allclose(np.asarray(img0), np.asarray(smooth), atol=1e-15)
    assert np.abs(np.asarray(img1) - np.asarray(img0)).max() > 0.05


def test_simulate_kinematic_shares_flux_channel(disc_sources):
    """'kinematic' with PSF and noise: same source and key -> identical flux channels,
    different velocity channels; the velocity mask follows the shared flux."""
    src = jnp.asarray(disc_sources(1)[0])
    key = jax.random.key(5)
    img0 = np.asarray(s.simulate(key, src, NOISY, 0, "kinematic")[0])
    img1 = np.asarray(s.simulate(key, src, NOISY, 1, "kinematic")[0])
    np.testing.assert_array_equal(img0[0], img1[0])
    assert np.abs(img0[1] - img1[1]).max() > 1e-2
    sub0 = np.asarray(s.simulate(key, src, NOISY, 0, "subhalo")[0])
    sub1 = np.asarray(s.simulate(key, src, NOISY, 1, "subhalo")[0])
    assert np.abs(sub0[0] - sub1[0]).max() > 1e-2  # flux differs in the 'subhalo' design
    np.testing.assert_allclose(sub0, img0, atol=1e-14)  # label 0: the same smooth image
    # clean run: the velocity of both classes is masked by the shared (smooth) flux
    clean = LensSimConfig(n_pix=N_SMALL, psf_sigma=0.0, flux_noise_sigma=0.0, vel_noise_sigma=0.0)
    k0 = np.asarray(s.simulate(key, src, clean, 0, "kinematic")[0])
    k1 = np.asarray(s.simulate(key, src, clean, 1, "kinematic")[0])
    low = k0[0] < 0.1
    assert low.any() and np.all(k0[1][low] == 0) and np.all(k1[1][low] == 0)


def test_simulate_remask_after_noise(disc_sources):
    src = jnp.asarray(disc_sources(1)[0])
    cfg = LensSimConfig(n_pix=N_SMALL, subhalo="none", remask_after_noise=True)
    img = np.asarray(s.simulate(jax.random.key(2), src, cfg, 1, "lensed")[0])
    _, mask = s.lens_image(src, cfg, return_mask=True)
    mask = np.asarray(mask)
    assert mask.any() and np.all(img[1][mask] == 0.0) and np.all(img[1][~mask] != 0.0)


def test_subhalo_none_gives_identical_classes(disc_sources):
    src = jnp.asarray(disc_sources(1)[0])
    cfg = LensSimConfig(n_pix=N_SMALL, subhalo="none")
    a, meta = s.simulate(jax.random.key(4), src, cfg, 1, "subhalo")
    b, _ = s.simulate(jax.random.key(4), src, cfg, 0, "subhalo")
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert not bool(meta["has_subhalo"])


def test_simulate_batch_shapes_dtypes_balance_float32(disc_sources):
    src = jnp.asarray(disc_sources(4), jnp.float32)
    images, labels, meta = s.simulate_batch(jax.random.key(0), src, NOISY, 400, "subhalo")
    assert images.shape == (400, 2, N_SMALL, N_SMALL) and images.dtype == jnp.float32
    assert labels.shape == (400,) and labels.dtype == jnp.int32
    assert set(meta) == set(s.METADATA_KEYS)
    for key in s.METADATA_KEYS:
        assert meta[key].shape == (400,)
    assert meta["subhalo_x"].dtype == jnp.float32 and meta["source_index"].dtype == jnp.int32
    labels = np.asarray(labels)
    np.testing.assert_array_equal(np.asarray(meta["label"]), labels)
    assert 0.4 < labels.mean() < 0.6  # binomial sd 0.025
    assert set(np.asarray(meta["source_index"]).tolist()) == {0, 1, 2, 3}
    np.testing.assert_array_equal(np.asarray(meta["has_subhalo"]), labels == 1)
    sx, sy = np.asarray(meta["subhalo_x"]), np.asarray(meta["subhalo_y"])
    assert np.all(np.isnan(sx[labels == 0]))
    r = np.hypot(sx[labels == 1], sy[labels == 1])
    assert r.min() >= 0.55 - 1e-6 and r.max() <= 0.65 + 1e-6
    img = np.asarray(images)
    assert np.all((img[:, 0] >= 0) & (img[:, 0] <= 1.5) & (np.abs(img[:, 1]) <= 1.5))


def _assert_trees_close(a, b, atol):
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), atol=atol, rtol=0)


def test_simulate_batch_deterministic_and_jit_equals_eager(disc_sources):
    src = jnp.asarray(disc_sources(3))
    key = jax.random.key(42)
    a = s.simulate_batch(key, src, NOISY, 3, "kinematic")
    b = s.simulate_batch(key, src, NOISY, 3, "kinematic")
    _assert_trees_close(a, b, atol=0)
    other = s.simulate_batch(jax.random.key(43), src, NOISY, 3, "kinematic")
    assert np.abs(np.asarray(other[0]) - np.asarray(a[0])).max() > 0.1
    with jax.disable_jit():  # eager: op by op (slow, so a small batch)
        eager = s.simulate_batch(key, src, NOISY, 3, "kinematic")
    _assert_trees_close(a, eager, atol=1e-12)


def test_simulate_and_lens_image_jit_equal_eager(disc_sources):
    src = jnp.asarray(disc_sources(1)[0])
    key = jax.random.key(8)
    pos = jnp.array([0.3, 0.5])
    jitted = (s.simulate(key, src, NOISY, 1, "subhalo"), s.lens_image(src, NOISY, key))
    jitted += (s.lens_image(src, CLEAN, subhalo_position=pos),)
    with jax.disable_jit():
        eager = (s.simulate(key, src, NOISY, 1, "subhalo"), s.lens_image(src, NOISY, key))
        eager += (s.lens_image(src, CLEAN, subhalo_position=pos),)
    _assert_trees_close(jitted, eager, atol=1e-12)


def test_simulate_batch_vmaps_over_keys(disc_sources):
    src = jnp.asarray(disc_sources(3))
    keys = jax.random.split(jax.random.key(9), 3)
    batched = jax.vmap(lambda k: s.simulate_batch(k, src, NOISY, 3, "kinematic"))(keys)
    assert batched[0].shape == (3, 3, 2, N_SMALL, N_SMALL) and batched[1].shape == (3, 3)
    single = s.simulate_batch(keys[1], src, NOISY, 3, "kinematic")
    _assert_trees_close(jax.tree.map(lambda x: x[1], batched), single, atol=1e-12)


def test_simulate_batch_lensed_classes_differ_clean(disc_sources):
    src = jnp.asarray(disc_sources(2))
    images, labels, meta = s.simulate_batch(jax.random.key(1), src, CLEAN, 16, "lensed")
    images, labels, idx = np.asarray(images), np.asarray(labels), np.asarray(meta["source_index"])
    for img, lab, i in zip(images, labels, idx, strict=True):
        if lab == 0:
            np.testing.assert_allclose(img, np.asarray(src[i]), atol=1e-15)
        else:
            assert np.abs(img - np.asarray(src[i])).max() > 0.1


@pytest.mark.parametrize("chunk_size", [None, 4])
def test_simulate_many_equals_simulate_batch(chunk_size, disc_sources):
    """The chunked host-side generator gives simulate_batch's images for the same key
    (7 images in chunks of 4: the last chunk padded)."""
    src = jnp.asarray(disc_sources(3), jnp.float32)
    key = jax.random.key(11)
    images, labels, meta = s.simulate_batch(key, src, NOISY, 7, "subhalo")
    many = s.simulate_many(key, src, NOISY, 7, "subhalo", chunk_size=chunk_size,
                           progress=False)
    assert isinstance(many[0], np.ndarray) and many[0].dtype == np.float32
    np.testing.assert_allclose(many[0], np.asarray(images), atol=1e-6, rtol=0)
    np.testing.assert_array_equal(many[1], np.asarray(labels))
    for k in s.METADATA_KEYS:
        np.testing.assert_array_equal(np.asarray(many[2][k]), np.asarray(meta[k]))


def test_simulate_many_bad_input_named(disc_sources):
    src = jnp.asarray(disc_sources(2), jnp.float32)
    with pytest.raises(ValueError, match=r"^n must be .*integer.*, got 0"):
        s.simulate_many(jax.random.key(0), src, NOISY, 0)
    with pytest.raises(ValueError, match=r"sources must have shape \(S, 2, H, W\)"):
        s.simulate_many(jax.random.key(0), src[0], NOISY, 3)


def test_bad_sources_experiment_and_n(disc_sources):
    src = jnp.asarray(disc_sources(2))
    key = jax.random.key(0)
    for bad in (src[0], src[:, :1], jnp.zeros((2, 3, N_SMALL, N_SMALL)), src.astype(jnp.int32)):
        with pytest.raises(ValueError, match="sources"):
            s.simulate_batch(key, bad, NOISY, 4)
    with pytest.raises(ValueError, match="experiment"):
        s.simulate_batch(key, src, NOISY, 4, "lensing")
    with pytest.raises(ValueError, match="experiment"):
        s.simulate(key, src[0], NOISY, 1, "subhalos")
    with pytest.raises(ValueError, match="source"):
        s.simulate(key, src, NOISY, 1)
    for n in (0, 2.0):
        with pytest.raises(ValueError, match="n must"):
            s.simulate_batch(key, src, NOISY, n)
