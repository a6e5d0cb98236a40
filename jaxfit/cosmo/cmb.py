"""The Planck 2018 CMB distance priors: Chen, Huang & Wang 2019 (JCAP 02 (2019) 028).

A Gaussian prior on ``(R, l_A, omega_b, n_s)`` (all dimensionless), packaged in
``data/planck2018_distance_priors.json``: :func:`load_cmb_priors` reads it into a
:class:`CMBPriors` with a validated Cholesky factor, :func:`cmb_chi2` is the pure-JAX chi2
of model observables (:func:`jaxfit.cosmo.model.cmb_observables`) against it.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from jaxfit.core import checks
from jaxfit.core.likelihood import chi2_cholesky, cholesky_factor
from jaxfit.cosmo.files import packaged_json

CMB_PRIORS_FILE = "planck2018_distance_priors.json"


@dataclass(frozen=True, eq=False)
class CMBPriors:
    """Gaussian prior on CMB distance observables.

    Attributes:
        name: data set name (``"planck2018"``).
        mean: observed values, shape ``(4,)``, in the order of ``labels``.
        cov: covariance ``C = sigma rho sigma`` (times ``cov_scale``), shape ``(4, 4)``.
        chol: lower Cholesky factor of ``cov`` (jax array).
        labels: ``("R", "l_A", "omega_b", "n_s")``.
        citation: the paper the numbers come from.
    """

    name: str
    mean: np.ndarray
    cov: np.ndarray
    chol: jax.Array
    labels: tuple[str, ...]
    citation: str

    @property
    def sigma(self) -> np.ndarray:
        """One-sigma errors, ``sqrt(diag(cov))``."""
        return np.sqrt(np.diag(self.cov))


def load_cmb_priors(cov_scale: float = 1.0) -> CMBPriors:
    """The Planck 2018 distance priors of Chen, Huang & Wang 2019 (Table 1, LCDM).

    Args:
        cov_scale: factor multiplying the covariance (``--cov-scale``); finite and > 0.

    Returns:
        :class:`CMBPriors` with ``cov = cov_scale * sigma rho sigma``.

    Raises:
        ValueError: ``cov_scale`` not a finite positive number.
    """
    scale = checks.real(cov_scale, "cov_scale", positive=True)
    raw = packaged_json(CMB_PRIORS_FILE)
    mean = np.asarray(raw["mean"], dtype=np.float64)
    sigma = np.asarray(raw["sigma"], dtype=np.float64)
    corr = np.asarray(raw["correlation"], dtype=np.float64)
    cov = scale * (sigma[:, None] * corr * sigma[None, :])
    chol = cholesky_factor(cov, f"CMB priors covariance ({CMB_PRIORS_FILE})")
    return CMBPriors(
        name=raw["name"],
        mean=mean,
        cov=cov,
        chol=chol,
        labels=tuple(raw["labels"]),
        citation=raw["citation"],
    )


def cmb_chi2(observables, priors: CMBPriors) -> jax.Array:
    """``r^T C^-1 r`` for model observables ``(R, l_A, omega_b, n_s)`` (pure JAX).

    Args:
        observables: model values in the order of ``priors.labels``, shape ``(..., 4)``.
        priors: from :func:`load_cmb_priors`.
    """
    return chi2_cholesky(jnp.asarray(observables) - jnp.asarray(priors.mean), priors.chol)
