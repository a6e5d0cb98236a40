"""The rebuilt simulator (issue 14) makes the images of the former one for the same key.

The reference below is the former image formation, written out independently: per image
``sources[i]`` copied from the stack, ``jax.scipy.ndimage.map_coordinates`` (order 1)
vmapped over its channels, the velocity mask, the PSF as the dense blur matrices
(``B_y image B_x^T``, :func:`jaxfit.lensing.psf.blur_matrix`) and the noise from
``jax.random.normal``. The simulator now reads the samples from a padded, flattened source
stack and draws the noise with :func:`jaxfit.lensing.rng.normal`; the random stream is the
same (bit for bit), so the images agree to float rounding.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.scipy.ndimage import map_coordinates

import jaxfit  # noqa: F401  (switches on float64)
from jaxfit.lensing import simulate as s
from jaxfit.lensing.model import (
    draw_subhalo_position,
    image_grid,
    macro_deflection,
    ray_trace,
    subhalo_deflection,
)
from jaxfit.lensing.params import LensSimConfig, sim_params
from jaxfit.lensing.psf import blur_matrix

N = 24
SUBHALO = LensSimConfig(n_pix=N, theta_E_sub_factor=0.3)
TNFW = LensSimConfig(n_pix=N, subhalo="tnfw", theta_E_sub_factor=0.3, remask_after_noise=True,
                     psf_sigma=1.6, psf_edge="zero")


def _sample(source, beta):
    h, w = source.shape[-2:]
    coords = [(beta[1] + 1.0) * (h / 2.0) - 0.5, (beta[0] + 1.0) * (w / 2.0) - 0.5]
    sample = functools.partial(map_coordinates, order=1, mode="constant", cval=0.0)
    return jax.vmap(lambda channel: sample(channel, coords))(source)


def _reference_image(key, source, config, label, experiment):
    """The former ``_simulate`` (one image)."""
    dtype = source.dtype
    p = sim_params(config).astype(dtype)
    k_pos, k_noise = jax.random.split(key)
    theta = image_grid(config.n_pix, dtype)
    lab = jnp.asarray(label).astype(dtype)
    position = draw_subhalo_position(k_pos, p, dtype)
    if experiment == "lensed":
        beta_flux = beta_vel = ray_trace(theta, lab * macro_deflection(theta, p))
    else:
        beta_flux = ray_trace(theta, macro_deflection(theta, p))
        beta_sub = ray_trace(beta_flux, lab * subhalo_deflection(theta, position, p))
        beta_vel = beta_sub
        if experiment == "subhalo":
            beta_flux = beta_sub
    flux = _sample(source[:1], beta_flux)[0]
    vel = _sample(source[1:2], beta_vel)[0]
    mask = flux < p.flux_mask_threshold
    image = jnp.stack([flux, jnp.where(mask, 0.0, vel)])
    b = jnp.asarray(blur_matrix(config.n_pix, config.psf_sigma, config.psf_edge), dtype)
    highest = jax.lax.Precision.HIGHEST
    image = jnp.einsum("ij,cjk,lk->cil", b, image, b, precision=highest)
    noise = jax.random.normal(k_noise, image.shape, dtype)
    flux = jnp.clip(image[0] + p.flux_noise_sigma * noise[0], *p.flux_clip)
    vel = jnp.clip(image[1] + p.vel_noise_sigma * noise[1], *p.vel_clip)
    if config.remask_after_noise:
        vel = jnp.where(mask, 0.0, vel)
    return jnp.stack([flux, vel])


def _reference_batch(key, sources, config, n, experiment):
    keys, index, labels = s._draws(key, sources.shape[0], n)
    one = functools.partial(_reference_image, config=config, experiment=experiment)
    return jax.jit(jax.vmap(lambda k, i, lab: one(k, sources[i], label=lab)))(keys, index, labels)


@pytest.mark.parametrize("config", [SUBHALO, TNFW], ids=["sis", "tnfw-zero-edge-remask"])
@pytest.mark.parametrize("experiment", ["subhalo", "kinematic", "lensed"])
def test_images_equal_the_former_simulator_float32(experiment, config, disc_sources):
    src = jnp.asarray(disc_sources(3), jnp.float32)
    key = jax.random.key(2025)
    want = np.asarray(_reference_batch(key, src, config, 64, experiment))
    images = np.asarray(s.simulate_batch(key, src, config, 64, experiment)[0])
    assert images.dtype == np.float32
    np.testing.assert_allclose(images, want, atol=1e-5, rtol=0)
    many = s.simulate_many(key, src, config, 64, experiment, chunk_size=24, progress=False)[0]
    np.testing.assert_allclose(many, want, atol=1e-5, rtol=0)


def test_images_equal_the_former_simulator_float64(disc_sources):
    src = jnp.asarray(disc_sources(3))
    key = jax.random.key(7)
    for experiment in ("subhalo", "kinematic"):
        want = np.asarray(_reference_batch(key, src, SUBHALO, 16, experiment))
        got = np.asarray(s.simulate_batch(key, src, SUBHALO, 16, experiment)[0])
        np.testing.assert_allclose(got, want, atol=1e-12, rtol=0)


@pytest.mark.parametrize("dtype, atol", [(np.float64, 1e-13), (np.float32, 1e-5)])
def test_stack_sampler_equals_map_coordinates(dtype, atol):
    """Every source of a stack, at points inside, on the half-pixel rim and far outside."""
    rng = np.random.default_rng(3)
    stack = jnp.asarray(rng.normal(size=(4, 2, 11, 17)), dtype)
    beta = jnp.asarray(rng.uniform(-1.4, 1.4, size=(2, 30, 20)), dtype)
    beta = beta.at[:, 0, :3].set(jnp.asarray([[1e6, -1e6, 1.0 + 1.0 / 17]] * 2, dtype))
    for i in range(4):
        got = s._bilinear(stack, i, beta)
        assert got.dtype == dtype and got.shape == (2, 30, 20)
        np.testing.assert_allclose(np.asarray(got), np.asarray(_sample(stack[i], beta)),
                                   atol=atol, rtol=0)
    traced = jax.jit(jax.vmap(s._bilinear, in_axes=(None, 0, None)))(stack, jnp.arange(4), beta)
    np.testing.assert_allclose(np.asarray(traced[2]), np.asarray(_sample(stack[2], beta)),
                               atol=atol, rtol=0)


def test_simulate_program_is_float32_throughout(disc_sources):
    """No float64 array temporaries in the float32 simulator (only the configuration's
    scalar numbers and its (n, n) blur matrix arrive as float64 and are converted once)."""
    src = jnp.asarray(disc_sources(2), jnp.float32)
    jaxpr = jax.make_jaxpr(functools.partial(s._simulate_batch, n=4, experiment="subhalo"))(
        jax.random.key(0), src, sim_params(SUBHALO))
    shapes = []

    def walk(jp):
        for eqn in jp.eqns:
            shapes.extend(v.aval.shape for v in eqn.outvars
                          if getattr(v.aval, "dtype", None) == np.float64)
            for param in eqn.params.values():
                for sub in (param if isinstance(param, list | tuple) else [param]):
                    inner = getattr(sub, "jaxpr", sub)
                    if hasattr(inner, "eqns"):
                        walk(inner)

    walk(jaxpr.jaxpr)
    assert all(np.prod(shape) <= 1 for shape in shapes), shapes
