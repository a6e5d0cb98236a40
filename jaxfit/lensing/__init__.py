"""Lensing: MaNGA kinematic sources, SIS + subhalo ray tracing with PSF and noise, and a
Flax CNN that detects subhalos.

One idea per module:

- :mod:`~jaxfit.lensing.params`: the simulator's parameters (declared once) and its
  configuration; :mod:`~jaxfit.lensing.model`: the lens physics (SIS, tNFW, shear, ray
  tracing); :mod:`~jaxfit.lensing.psf`: the Gaussian PSF; :mod:`~jaxfit.lensing.rng`: the
  simulator's Gaussian noise (``jax.random.normal``'s numbers, fused);
  :mod:`~jaxfit.lensing.simulate`: image formation and the batched simulators;
- :mod:`~jaxfit.lensing.manga`: reading MaNGA DAP MAPS files; :mod:`~jaxfit.lensing.fits_io`:
  writing them; :mod:`~jaxfit.lensing.quality`: quality metrics and lensibility;
  :mod:`~jaxfit.lensing.sources`: source tensors; :mod:`~jaxfit.lensing.synthetic`:
  synthetic galaxies (:mod:`~jaxfit.lensing.data` re-exports all five);
- :mod:`~jaxfit.lensing.cnn`: the Flax networks; :mod:`~jaxfit.lensing.batches`: what the
  network sees (channel modes, augmentation, the split by galaxy);
  :mod:`~jaxfit.lensing.metrics`: classification metrics; :mod:`~jaxfit.lensing.training`:
  the training loop; :mod:`~jaxfit.lensing.checkpoints`: saving and loading models;
  :mod:`~jaxfit.lensing.sweep`: grids of training runs; :mod:`~jaxfit.lensing.results`: the
  training and sweep results (:class:`jaxfit.core.results.Result`).
"""

from __future__ import annotations

import importlib


def forward_moved_names(module: str, moved: dict[str, tuple[str, ...]]):
    """A module-level ``__getattr__`` under which the names that moved from ``module`` to a
    module above it (``moved = {new module: names}``) stay importable from ``module``.

    The import happens on first use: the new module imports ``module`` itself, so an
    import at the top of ``module`` would be circular.
    """
    home = {name: new for new, names in moved.items() for name in names}

    def __getattr__(name: str):
        if name in home:
            return getattr(importlib.import_module(home[name]), name)
        raise AttributeError(f"module {module!r} has no attribute {name!r}")

    return __getattr__
