"""Gaussian likelihoods and analytic profiling of linear nuisance parameters.

For data ``d`` (shape ``(n,)``) with Gaussian errors, ``-2 ln L = chi2 + const`` with

- diagonal errors ``sigma``: ``chi2 = sum(((d - m) / sigma)^2)``;
- a covariance ``C = L L^T``: ``chi2 = r^T C^-1 r = |L^-1 r|^2`` with ``r = d - m``, computed
  by a triangular solve with the Cholesky factor, never an explicit inverse (an inverse loses
  about ``cond(C) * eps`` relative accuracy and costs more).

Both are written as whitening, ``chi2 = |W r|^2`` with ``W = diag(1/sigma)`` or ``L^-1``.

**Profiling.** When the model is linear in some nuisance amplitudes ``a`` (``k`` of them),
``m = m0 + a^T T`` with templates ``T`` (``k x n``), ``chi2(a)`` is quadratic and its minimum
is the generalised least-squares solution ``a* = (T W^T W T^T)^-1 T W^T W (d - m0)``. The
profiled ``chi2_min = chi2(a*)`` is the exact minimum over the nuisance with no prior on it
(a flat, unbounded prior; a Gaussian prior would add a row to the system). Typical uses are
an unknown normalisation (:func:`profile_scale`) and the supernova absolute magnitude
(:func:`profile_offset`).

**Gradients.** ``chi2_min(theta) = chi2(theta, a*(theta))`` and ``d chi2 / d a = 0`` at
``a*``, so by the envelope theorem ``d chi2_min / d theta`` equals the partial derivative at
fixed ``a = a*``. ``jax.grad`` differentiates through the linear solve, which gives that same
total derivative (the ``d a*/d theta`` term multiplies a zero), so gradients through the
profiled chi2 are correct, and so are gradients of the returned amplitudes.

All functions except :func:`cholesky_factor` (host-side validation) are pure JAX and safe
under ``jit``, ``vmap`` and ``grad``; batch over data sets with ``vmap``. The array work is
jitted here already, so eager calls compile once per shape rather than op by op.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import jax.scipy.linalg as jsl
import numpy as np

from jaxfit.core.precision import require_float64

SYMMETRY_RTOL = 1e-10


def cholesky_factor(cov, name: str = "covariance") -> jax.Array:
    """Validate a covariance matrix on the host and return its lower Cholesky factor.

    Call this once when the data are loaded, not inside a traced function: it inspects
    values (it needs a concrete array, not a tracer).

    Args:
        cov: covariance, square 2-D, in the squared units of the data.
        name: what to call the matrix in error messages (e.g. ``"pantheon covariance"``).

    Returns:
        ``L`` (float64, lower triangular) with ``L @ L.T == cov``. The factor is taken of
        ``(cov + cov.T) / 2``, so rounding-level asymmetry within the tolerance is averaged
        rather than silently discarding the upper triangle.

    Raises:
        ValueError: not square 2-D or empty, non-finite entries, asymmetric beyond
            ``SYMMETRY_RTOL`` times the largest absolute entry, or not positive definite.
        TypeError: ``cov`` is a tracer, or float64 is off (see :mod:`jaxfit.core.precision`).
    """
    if isinstance(cov, jax.core.Tracer):
        raise TypeError(f"{name}: cholesky_factor needs a concrete array, not a traced value")
    cov = np.asarray(cov, dtype=np.float64)
    if cov.ndim != 2 or cov.shape[0] != cov.shape[1] or cov.shape[0] == 0:
        raise ValueError(f"{name}: expected a non-empty square 2-D matrix, got shape {cov.shape}")
    if not np.all(np.isfinite(cov)):
        bad = np.argwhere(~np.isfinite(cov))[0]
        raise ValueError(
            f"{name}: expected finite entries, got {cov[tuple(bad)]} at index {tuple(bad)}"
        )
    scale = np.max(np.abs(cov))
    asym = np.max(np.abs(cov - cov.T))
    if asym > SYMMETRY_RTOL * scale:
        raise ValueError(
            f"{name}: expected a symmetric matrix, but max |C - C^T| = {asym:.3g} exceeds "
            f"{SYMMETRY_RTOL:g} x max |C| = {SYMMETRY_RTOL * scale:.3g}"
        )
    try:
        chol = np.linalg.cholesky(0.5 * (cov + cov.T))
    except np.linalg.LinAlgError:
        raise ValueError(f"{name}: not positive definite (Cholesky failed)") from None
    return require_float64(chol, name)


def _whiten(x, sigma, chol):
    """``W x`` along the last axis: ``x / sigma`` or ``L^-1 x``; ``x`` has shape ``(..., n)``."""
    if (sigma is None) == (chol is None):
        raise ValueError("give exactly one of sigma (diagonal errors) or chol (Cholesky factor)")
    x = jnp.asarray(x)
    if sigma is not None:
        return x / jnp.asarray(sigma)
    chol = jnp.asarray(chol)
    n = chol.shape[0]
    if x.shape[-1] != n:
        raise ValueError(f"last axis has {x.shape[-1]} entries but chol is {n} x {n}")
    # one triangular solve for all leading axes: columns of an (n, batch) right-hand side
    columns = x.reshape(-1, n).T
    return jsl.solve_triangular(chol, columns, lower=True).T.reshape(x.shape)


@jax.jit
def chi2_cholesky(residual, chol) -> jax.Array:
    """``r^T C^-1 r`` given the lower Cholesky factor ``chol`` of ``C``.

    Args:
        residual: ``d - m``, shape ``(..., n)``; leading axes are independent residuals.
        chol: lower Cholesky factor from :func:`cholesky_factor`, shape ``(n, n)``.

    Returns:
        chi2, shape ``residual.shape[:-1]``.
    """
    return jnp.sum(_whiten(residual, None, chol) ** 2, axis=-1)


@jax.jit
def chi2_diag(residual, sigma) -> jax.Array:
    """``sum((r / sigma)^2)`` over the last axis, for independent Gaussian errors.

    Args:
        residual: ``d - m``, shape ``(..., n)``.
        sigma: one-sigma errors, broadcastable to ``residual``, same units.

    Returns:
        chi2, shape ``residual.shape[:-1]``.
    """
    return jnp.sum(_whiten(residual, sigma, None) ** 2, axis=-1)


@jax.jit
def profile_linear(templates, data, *, sigma=None, chol=None):
    """Minimise ``chi2(a) = |W (data - a^T templates)|^2`` over amplitudes ``a`` analytically.

    Generalised least squares: whiten with ``sigma`` or ``chol``, then solve the ``k x k``
    normal equations ``(A A^T) a = A y`` (``A = W T``, ``y = W d``) by Cholesky. Normal
    equations square the condition number of ``A``; that is harmless for a few
    well-separated templates (the intended use) but not for nearly collinear ones.

    Args:
        templates: ``T``, shape ``(k, n)``; each row is the model's response to unit
            amplitude, in data units.
        data: ``d``, shape ``(n,)`` (subtract any fixed model part first).
        sigma: one-sigma errors, shape ``(n,)``; or
        chol: lower Cholesky factor of the covariance (:func:`cholesky_factor`).
            Exactly one of ``sigma`` / ``chol``.

    Returns:
        ``(amplitudes, chi2_min)``: shape ``(k,)`` and a scalar. Degenerate templates (a
        zero or linearly dependent row) give NaN.

    Raises:
        ValueError: both or neither of ``sigma`` / ``chol``; ``templates`` not 2-D.
    """
    templates = jnp.asarray(templates)
    if templates.ndim != 2:
        raise ValueError(f"templates must have shape (k, n), got {templates.shape}")
    a_w = _whiten(templates, sigma, chol)
    y_w = _whiten(data, sigma, chol)
    gram = a_w @ a_w.T
    amplitudes = jsl.cho_solve(jsl.cho_factor(gram, lower=True), a_w @ y_w)
    # chi2 from the explicit whitened residual, not |y|^2 - a.(A y): the subtraction form
    # cancels catastrophically when the templates explain most of the data
    chi2_min = jnp.sum((y_w - amplitudes @ a_w) ** 2)
    return amplitudes, chi2_min


def profile_scale(template, data, *, sigma=None, chol=None):
    """Best-fit multiplicative scale ``S`` with ``data ~ S * template``, and its chi2.

    ``S = (E^T C^-1 m) / (E^T C^-1 E)`` for data ``m``, template ``E``; with diagonal errors
    this is ``sum(m E / s^2) / sum(E^2 / s^2)``. (:func:`profile_linear` with ``k = 1``.)

    Args:
        template: ``E``, shape ``(n,)``, the model at unit scale.
        data: ``m``, shape ``(n,)``.
        sigma, chol: errors, exactly one (see :func:`profile_linear`).

    Returns:
        ``(S, chi2_min)``, scalars.
    """
    amplitudes, chi2_min = profile_linear(jnp.asarray(template)[None], data, sigma=sigma, chol=chol)
    return amplitudes[0], chi2_min


def profile_offset(model, data, *, sigma=None, chol=None):
    """Best-fit additive offset ``M`` with ``data ~ model + M``, and its chi2.

    ``M = (1^T C^-1 (d - model)) / (1^T C^-1 1)``: the inverse-variance weighted mean of the
    residuals (diagonal errors: ``sum((d - model) / s^2) / sum(1 / s^2)``). This is how the
    supernova absolute magnitude is marginalised out of distance-modulus fits.

    Args:
        model: shape ``(n,)``, the model without the offset.
        data: ``d``, shape ``(n,)``.
        sigma, chol: errors, exactly one (see :func:`profile_linear`).

    Returns:
        ``(M, chi2_min)``, scalars.
    """
    residual = jnp.asarray(data) - jnp.asarray(model)
    ones = jnp.ones((1, residual.shape[-1]), residual.dtype)
    amplitudes, chi2_min = profile_linear(ones, residual, sigma=sigma, chol=chol)
    return amplitudes[0], chi2_min


def profile_scale_offset(template, data, *, sigma=None, chol=None):
    """Profile ``data ~ S * template + M`` over both ``S`` and ``M`` at once.

    Returns:
        ``((S, M), chi2_min)``; see :func:`profile_linear` for the arguments.
    """
    template = jnp.asarray(template)
    stacked = jnp.stack([template, jnp.ones_like(template)])
    (scale, offset), chi2_min = profile_linear(stacked, data, sigma=sigma, chol=chol)
    return (scale, offset), chi2_min
