"""Lensing: simulated images per second, and CNN training steps per second.

1. ``simulate_many`` (subhalo experiment, SIS subhalo, PSF sigma 1 px, flux and velocity
   noise; 10^5 images of 64x64x2 full, 512 small; float32, as in training; chunked over the
   devices with the chunk size from free memory, returned to the host) against the
   research pipeline: scipy, one image at a time (SIS + subhalo deflection in numpy,
   ``scipy.ndimage.map_coordinates`` order 1 for both channels, velocity mask,
   ``scipy.ndimage.gaussian_filter`` for the PSF, numpy noise, clipping). The reference is
   timed on 64 images (16 small) and scaled.
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
    rng = np.random.default_rng(0)
    ref_s = wall(lambda: [scipy_image(sources[i % 6], config, rng) for i in range(n_ref)])
    per_s = n / timings["warm_s"]
    rows = [row("lensing: simulate_many (subhalo, PSF, noise), float32", f"{n} x 64x64x2",
                timings, ref_s * n / n_ref, "scipy, one image at a time",
                notes=f"{per_s:.0f} images/s warm vs {n_ref / ref_s:.0f} images/s scipy "
                f"(reference timed on {n_ref} images and scaled)",
                throughput=f"{per_s:.0f} images/s")]
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
