"""Lensing: simulated images per second, and CNN training steps per second.

1. ``simulate_many`` (subhalo experiment, SIS subhalo, PSF sigma 1 px, flux and velocity
   noise; 10^5 images of 64x64x2 full, 512 small; float32, as in training; chunked over the
   devices with the chunk size from free memory, returned to the host) against two
   baselines that make the same images:

   - *smart*: what a careful numpy/scipy user writes, the whole batch at once
     (:func:`numpy_batch`: SIS + subhalo deflection by broadcasting, bilinear sampling of
     the source stack by fancy indexing, velocity mask, ``scipy.ndimage.gaussian_filter``
     along the image axes of the stack, one ``standard_normal`` call for the noise,
     clipping; float32 arrays). Given jaxfit's source indices and subhalo positions its
     noise-free images equal jaxfit's (checked here: ``smart_max_diff``). Timed on 4096
     images (512 small) and scaled (its cost is linear in the batch).
   - *research*: scipy, one image at a time (SIS + subhalo deflection in numpy,
     ``scipy.ndimage.map_coordinates`` order 1 for both channels, velocity mask,
     ``scipy.ndimage.gaussian_filter`` for the PSF, numpy noise, clipping), timed on 64
     images (16 small) and scaled.
2. CNN training (research architecture, batch 32, images simulated on the device inside the
   jitted step): first step (compile) and warm steps/s; no reference (the research trained a
   torch CNN on pre-made images, not available here).
"""

from __future__ import annotations

import dataclasses

import jax
import numpy as np
from scipy import ndimage

from benchmarks.common import row, time_first_and_warm, wall
from jaxfit.lensing.cnn import TrainConfig, training_throughput
from jaxfit.lensing.data import synthetic_sources
from jaxfit.lensing.model import LensSimConfig, simulate_many


def scipy_image(source, config: LensSimConfig, rng) -> np.ndarray:
    """One lensed image with subhalo, PSF and noise, the research way (numpy/scipy)."""
    n = config.n_pix
    x = -1.0 + (2.0 * np.arange(n) + 1.0) / n
    tx, ty = np.meshgrid(x, x)
    r = np.hypot(tx, ty) + 1e-6
    ax, ay = config.theta_E_main * tx / r, config.theta_E_main * ty / r
    radius = config.theta_E_main * (1 + rng.uniform(*config.sub_radius_range))
    phi = rng.uniform(0, 2 * np.pi)
    dx, dy = tx - radius * np.cos(phi), ty - radius * np.sin(phi)
    rs = np.hypot(dx, dy) + 1e-6
    ax, ay = ax + config.theta_E_sub * dx / rs, ay + config.theta_E_sub * dy / rs
    bx, by = tx - ax, ty - ay
    h, w = source.shape[1:]
    coords = [(by + 1.0) * h / 2.0 - 0.5, (bx + 1.0) * w / 2.0 - 0.5]
    flux = ndimage.map_coordinates(source[0], coords, order=1, mode="constant")
    vel = ndimage.map_coordinates(source[1], coords, order=1, mode="constant")
    vel = np.where(flux < config.flux_mask_threshold, 0.0, vel)
    flux = ndimage.gaussian_filter(flux, config.psf_sigma, mode="reflect")
    vel = ndimage.gaussian_filter(vel, config.psf_sigma, mode="reflect")
    flux = np.clip(flux + rng.normal(0, config.flux_noise_sigma, flux.shape), 0.0, 1.5)
    vel = np.clip(vel + rng.normal(0, config.vel_noise_sigma, vel.shape), -1.5, 1.5)
    return np.stack([flux, vel])


def numpy_batch(sources, config: LensSimConfig, index, position, has_subhalo, rng=None):
    """The smart baseline: a batch of subhalo-experiment images in vectorised numpy/scipy.

    Args:
        sources: ``(S, 2, H, W)`` float32 sources.
        index: ``(n,)`` source index per image.
        position: ``(n, 2)`` subhalo positions (image units).
        has_subhalo: ``(n,)`` bool, label 1 of the subhalo experiment.
        rng: numpy Generator for the noise; None: noise-free images (before noise and clip).

    Returns:
        ``(n, 2, N, N)`` float32 images.
    """
    n_pix, dtype = config.n_pix, np.float32
    x = (-1.0 + (2.0 * np.arange(n_pix) + 1.0) / n_pix).astype(dtype)
    tx, ty = np.meshgrid(x, x)
    r = np.hypot(tx, ty)
    ax, ay = config.theta_E_main * tx / r, config.theta_E_main * ty / r  # no pixel at r = 0
    px = position[:, 0, None, None].astype(dtype)
    py = position[:, 1, None, None].astype(dtype)
    dx, dy = tx - px, ty - py
    rs = np.hypot(dx, dy)
    amp = np.where(has_subhalo[:, None, None], config.theta_E_sub, 0.0).astype(dtype)
    amp = amp / np.where(rs > 0, rs, 1.0)
    bx, by = tx - ax - amp * dx, ty - ay - amp * dy
    # bilinear sampling of the zero-padded stack, all images and both channels at once
    n_src, _, h, w = sources.shape
    padded = np.pad(sources, ((0, 0), (0, 0), (1, 1), (1, 1)))
    row = (by + 1.0) * (h / 2.0) - 0.5
    col = (bx + 1.0) * (w / 2.0) - 0.5
    i0, j0 = np.floor(row), np.floor(col)
    fr, fc = (row - i0)[:, None], (col - j0)[:, None]
    i0 = np.clip(i0.astype(np.int64), -1, h - 1) + 1
    j0 = np.clip(j0.astype(np.int64), -1, w - 1) + 1
    inside = ((row >= -1) & (row < h) & (col >= -1) & (col < w))[:, None]
    s = np.asarray(index)[:, None, None, None]
    c = np.arange(2)[None, :, None, None]
    i0, j0 = i0[:, None], j0[:, None]
    image = ((1 - fr) * (1 - fc) * padded[s, c, i0, j0]
             + (1 - fr) * fc * padded[s, c, i0, j0 + 1]
             + fr * (1 - fc) * padded[s, c, i0 + 1, j0]
             + fr * fc * padded[s, c, i0 + 1, j0 + 1])
    image = np.where(inside, image, 0.0).astype(dtype)
    image[:, 1][image[:, 0] < config.flux_mask_threshold] = 0.0
    image = ndimage.gaussian_filter(image, (0, 0, config.psf_sigma, config.psf_sigma),
                                    mode="reflect", truncate=4.0)
    if rng is None:
        return image
    noise = rng.standard_normal(image.shape, dtype=dtype)
    image[:, 0] += config.flux_noise_sigma * noise[:, 0]
    image[:, 1] += config.vel_noise_sigma * noise[:, 1]
    np.clip(image[:, 0], *config.flux_clip, out=image[:, 0])
    np.clip(image[:, 1], *config.vel_clip, out=image[:, 1])
    return image


def smart_check(sources, config: LensSimConfig, n: int = 64) -> float:
    """Max |smart - jaxfit| over the noise-free images of ``n`` subhalo-experiment images
    (jaxfit's source indices and subhalo positions given to the smart baseline)."""
    clean = dataclasses.replace(config, flux_noise_sigma=0.0, vel_noise_sigma=0.0)
    images, _, meta = simulate_many(jax.random.key(1), sources, clean, n,
                                    experiment="subhalo", progress=False)
    position = np.stack([np.nan_to_num(meta["subhalo_x"]), np.nan_to_num(meta["subhalo_y"])], 1)
    smart = numpy_batch(sources, config, meta["source_index"], position, meta["has_subhalo"])
    flux_clip, vel_clip = config.flux_clip, config.vel_clip
    smart[:, 0] = np.clip(smart[:, 0], *flux_clip)
    smart[:, 1] = np.clip(smart[:, 1], *vel_clip)
    return float(np.abs(smart - images).max())


def run(size: str = "full") -> list[dict]:
    full = size == "full"
    n, n_ref = (100_000, 64) if full else (512, 16)
    config = LensSimConfig()
    sources = synthetic_sources(6, seed=0, n_pix=64).astype(np.float32)
    key = jax.random.key(0)
    # chunked over the devices, chunk size from free memory, images returned to the host
    _, timings = time_first_and_warm(
        lambda: simulate_many(key, sources, config, n, experiment="subhalo", progress=False),
        repeats=2)
    per_s = n / timings["warm_s"]
    # smart baseline: the whole batch vectorised (timed on n_smart images and scaled)
    n_smart = 4096 if full else 512
    rng = np.random.default_rng(0)
    index = rng.integers(0, 6, n_smart)
    radius = config.theta_E_main * (1 + rng.uniform(*config.sub_radius_range, n_smart))
    phi = rng.uniform(0, 2 * np.pi, n_smart)
    position = np.stack([radius * np.cos(phi), radius * np.sin(phi)], axis=1)
    has_sub = rng.integers(0, 2, n_smart).astype(bool)
    smart_s = wall(lambda: numpy_batch(sources, config, index, position, has_sub, rng),
                   repeats=2) * n / n_smart
    max_diff = smart_check(sources, config)
    # research baseline: scipy one image at a time
    ref_s = wall(lambda: [scipy_image(sources[i % 6], config, rng) for i in range(n_ref)])
    ref_s *= n / n_ref
    rows = [row("lensing: simulate_many (subhalo, PSF, noise), float32", f"{n} x 64x64x2",
                timings, ref_s, "scipy, one image at a time",
                smart_s=smart_s, smart="numpy/scipy, whole batch vectorised",
                notes=f"{per_s:.0f} images/s warm (first call {n / timings['first_call_s']:.0f}"
                f"/s) vs {n / smart_s:.0f}/s numpy batch (timed on {n_smart}, scaled; "
                f"noise-free images equal jaxfit's to {max_diff:.1e}) and "
                f"{n / ref_s:.0f}/s scipy one at a time (timed on {n_ref}, scaled)",
                throughput=f"{per_s:.0f} images/s", smart_max_diff=max_diff)]
    train = TrainConfig(experiment="subhalo", sim=dataclasses.replace(config, n_pix=64))
    steps = 30 if full else 6
    throughput = training_throughput(train, synthetic_sources(6, seed=0, n_pix=64), n_steps=steps)
    timings = {"first_call_s": throughput["first_step_s"],
               "warm_s": 1.0 / throughput["warm_steps_per_s"]}
    rows.append(row("lensing: CNN train step (simulate + augment + Adam), batch 32", "64x64",
                    timings, float("nan"), "none (research torch CNN not available)",
                    notes=f"{throughput['warm_images_per_s']:.0f} images/s warm",
                    throughput=f"{throughput['warm_steps_per_s']:.1f} steps/s"))
    return rows
