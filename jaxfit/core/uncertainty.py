"""Parameter uncertainties from the curvature of an objective at its minimum.

The objective ``fun(params) -> scalar`` is ``-2 ln L + const`` (``kind="chi2"``) or
``-ln L + const`` (``kind="nll"``). Near the best fit the likelihood is approximately
Gaussian with inverse covariance the Fisher matrix ``F`` = the Hessian of ``-ln L``, so
``F = H / 2`` for chi2 and ``F = H`` for nll, with ``H`` the Hessian of ``fun`` with respect
to the free parameters in their *constrained* (physical) units. The covariance is then
``F^-1`` in the same units.

Physics fits mix scales (``H0 ~ 67`` next to ``Rmax ~ 1e9``), which makes the raw ``F``
condition number meaningless, so the decomposition is done on the scaled matrix
``S = D F D`` with ``D = diag(1 / sqrt(F_ii))``: ``S`` has a unit diagonal and its
eigenvalues measure how well *combinations* of parameters are constrained, whatever their
units. Eigenvalues at or below ``rel_tol * max`` (or negative) are unconstrained directions;
the parameters that carry them are reported by name, and the covariance is the
pseudo-inverse on the constrained subspace. A parameter whose 1-sigma error exceeds the
width of its bounds is reported as unconstrained too: the data say nothing about it within
the range it may take. :meth:`Uncertainty.flat_directions` names each unconstrained direction
as a combination of parameters (``a`` and ``b`` entering only as ``a + b`` give ``+1 a -1 b``).

An objective that is not a likelihood (a mean square without errors) takes ``loss_scale``:
the rise of the objective counted as one unit of chi2 (or of ``-ln L``), so
``F = H / (2 loss_scale)`` for ``kind="chi2"``; 1 for a true chi2.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Mapping

import jax
import numpy as np
import pandas as pd

from jaxfit.core import checks
from jaxfit.core.objective import with_data
from jaxfit.core.optimize import value_and_grad_x
from jaxfit.core.params import ParamSpec
from jaxfit.core.precision import require_float64
from jaxfit.core.progress import status_line

KINDS = ("chi2", "nll")

# An eigenvector of an unconstrained direction names every parameter whose (unit-norm,
# scaled) component reaches this size: 0.3**2 ~ 10% of the direction's weight.
_COMPONENT_THRESHOLD = 0.3


@dataclasses.dataclass(frozen=True, eq=False)  # eq=False: arrays have no boolean equality
class Uncertainty:
    """Gaussian (Hessian) uncertainties of the free parameters at a best fit.

    Attributes:
        names: free parameter names, the order of every matrix below.
        best: ``{name: value}`` at which the curvature was taken (free parameters only),
            in the parameters' units.
        covariance: ``(n, n)`` covariance in the parameters' units (products of units).
            Rows and columns of parameters in ``unconstrained`` are NaN except the
            diagonal, which is ``inf``: the data put no bound on them, and no finite number
            (a pseudo-inverse's value included) would be a variance.
        correlation: ``(n, n)`` correlation matrix (dimensionless); rows and columns of
            unconstrained parameters are NaN except a diagonal 1.
        errors: ``{name: 1-sigma error}`` = ``sqrt`` of the covariance diagonal, ``math.inf``
            for unconstrained parameters.
        unconstrained: names of parameters the data do not constrain (see the module doc).
        eigenvalues: eigenvalues (ascending) of the *scaled* Fisher matrix ``D F D`` of the
            module doc; dimensionless, so ``eigenvalues / eigenvalues.max()`` is the relative
            constraint strength that the ``rel_tol`` cut applies to.
        eigenvectors: ``(n, n)``, column ``k`` the unit eigenvector of ``eigenvalues[k]`` in
            the scaled coordinates ``x_i / D_i``.
        scale: ``D`` of the module doc, shape ``(n,)``, in the parameters' units: a unit step
            along a scaled eigenvector ``v`` moves parameter ``i`` by ``D_i v_i``.
        rel_tol: the cut on ``eigenvalues / max`` at or below which a direction is
            unconstrained.
    """

    names: tuple[str, ...]
    best: dict[str, float]
    covariance: np.ndarray
    correlation: np.ndarray
    errors: dict[str, float]
    unconstrained: tuple[str, ...]
    eigenvalues: np.ndarray
    eigenvectors: np.ndarray
    scale: np.ndarray
    rel_tol: float

    def flat_directions(self) -> tuple[dict[str, float], ...]:
        """The directions the data do not constrain, by parameter name.

        One ``{name: step}`` per eigenvalue at or below ``rel_tol`` times the largest: the
        parameter steps (in their units) along which the objective does not rise, scaled to
        +1 on the parameter with the largest scaled component, naming the parameters whose
        scaled component reaches ``_COMPONENT_THRESHOLD``. A parameter reported unconstrained
        only because its error exceeds its bounds is a direction of its own, ``{name: 1.0}``.
        """
        largest = self.eigenvalues.max()
        flat = (self.eigenvalues <= self.rel_tol * largest if largest > 0
                else np.ones(self.eigenvalues.shape, bool))
        directions = []
        for vector in self.eigenvectors[:, flat].T:
            lead = int(np.argmax(np.abs(vector)))
            step = self.scale * vector / (self.scale[lead] * vector[lead])
            directions.append({self.names[i]: float(step[i])
                               for i in np.flatnonzero(np.abs(vector) >= _COMPONENT_THRESHOLD)})
        covered = {name for direction in directions for name in direction}
        directions += [{name: 1.0} for name in self.unconstrained if name not in covered]
        return tuple(directions)

    def to_dict(self) -> dict:
        """JSON-friendly copy: lists and floats.

        Non-finite numbers (the ``inf`` error and NaN covariance entries of unconstrained
        parameters) become ``None`` (JSON ``null``), since JSON has no inf/NaN; the
        ``unconstrained`` list says which parameters they belong to.
        """
        return {
            "names": list(self.names),
            "best": {k: _json_float(v) for k, v in self.best.items()},
            "covariance": _json_matrix(self.covariance),
            "correlation": _json_matrix(self.correlation),
            "errors": {k: _json_float(v) for k, v in self.errors.items()},
            "unconstrained": list(self.unconstrained),
            "eigenvalues": [_json_float(v) for v in self.eigenvalues],
            "flat_directions": list(self.flat_directions()),
        }

    def table(self) -> pd.DataFrame:
        """One row per free parameter: ``name``, ``value``, ``error``, ``unconstrained``."""
        return pd.DataFrame(
            {
                "name": list(self.names),
                "value": [self.best[n] for n in self.names],
                "error": [self.errors[n] for n in self.names],
                "unconstrained": [n in self.unconstrained for n in self.names],
            }
        )


def _json_float(value) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _json_matrix(matrix: np.ndarray) -> list[list[float | None]]:
    return [[_json_float(v) for v in row] for row in matrix]


def check_kind(kind: str) -> None:
    """Raise ``ValueError`` listing the valid objective kinds unless ``kind`` is one."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}; got {kind!r}")


def _free_point(spec: ParamSpec, best: Mapping[str, float], what: str) -> dict[str, float]:
    """Validated free-parameter values from ``best``, which may also hold frozen ones.

    Frozen parameters always take the spec's values; a different value in ``best`` would
    mean the point was found for another problem, so it raises rather than being ignored.
    """
    values = spec.validate(best)
    missing = [n for n in spec.free_names if n not in values]
    if missing:
        raise KeyError(f"{what} lacks values for the free parameters {missing}")
    clash = [n for n in spec.frozen_names if n in values and values[n] != spec.defaults[n]]
    if clash:
        raise ValueError(
            f"{what} gives frozen parameters values other than the spec's: "
            + ", ".join(f"{n}={values[n]} (spec {spec.defaults[n]})" for n in clash)
        )
    return {n: values[n] for n in spec.free_names}


@functools.lru_cache(maxsize=64)
def _compiled_hessian(fun, skeleton):
    # cached on the objective and the spec's structure: repeated error estimates of one
    # objective (fits from different starts, the CLI, benchmarks) compile once
    return jax.jit(jax.hessian(lambda x, fixed, data: fun(skeleton.unpack(x, fixed), data)))


# Central differences of the gradient with step h_i = FD_STEP * scale_i and h_i / 2,
# combined by Richardson extrapolation (error O(h^4)). Accepted when what is computed from
# the extrapolated Hessian and from the plain h/2 estimate agree to FD_AGREEMENT (entries
# relative to sqrt(H_ii H_jj) for objective_hessian; errors, correlations and the names of
# unconstrained parameters for hessian_uncertainty); the extrapolated value is then good to
# far better than that (1e-11 on the LCDM CMB+BAO fit against jax.hessian, and on the
# constrained block of PBUF's, whose unconstrained rows differ by 3e-4 of their own tiny
# curvature but give the same errors).
FD_STEP = 1e-3
FD_AGREEMENT = 1e-4


def _entries_agree(fine: np.ndarray, hessian: np.ndarray) -> bool:
    """Every entry of the two estimates agrees to FD_AGREEMENT of sqrt(H_ii H_jj)."""
    norm = np.sqrt(np.abs(np.outer(np.diag(hessian), np.diag(hessian))))
    with np.errstate(invalid="ignore", divide="ignore"):
        gap = np.abs(fine - hessian) / norm
    return bool(np.all(norm > 0) and np.max(gap) <= FD_AGREEMENT)


def _central_hessian(value_and_grad, x0: np.ndarray, fixed, data, scale: np.ndarray):
    """Richardson-extrapolated central differences of a compiled gradient and the plain
    estimate with the smaller step: ``(H, H_fine)``."""
    def differences(h):
        columns = []
        for i, step in enumerate(h):
            e = np.zeros_like(x0)
            e[i] = step
            g_plus = np.asarray(value_and_grad(x0 + e, fixed, data)[1])
            g_minus = np.asarray(value_and_grad(x0 - e, fixed, data)[1])
            columns.append((g_plus - g_minus) / (2.0 * step))
        return np.array(columns)

    h = FD_STEP * scale
    coarse, fine = differences(h), differences(h / 2.0)
    return (4.0 * fine - coarse) / 3.0, fine


def objective_hessian(fun, spec: ParamSpec, x0, *, data=None, method: str = "auto",
                      agree: Callable = _entries_agree):
    """Hessian of ``fun(params, data)`` in the constrained free parameters at ``x0``.

    ``method="auto"`` (default) takes Richardson-extrapolated central differences of the
    jitted gradient (one small program, compiled once per objective and shared with
    scipy-style fits) and falls back to the exact ``jax.hessian`` (a program 3x larger, so
    3-4x the compile time) unless ``agree(H_fine, H)`` says the plain and the extrapolated
    estimates agree (default: entry by entry; a kink of the model fails it);
    ``"exact"`` always uses ``jax.hessian``, ``"differences"`` never does.
    """
    fun, data = with_data(fun, data)
    skeleton = spec.skeleton()
    x0 = np.asarray(x0, dtype=np.float64)
    fixed = spec.fixed_vector()
    if method not in ("auto", "exact", "differences"):
        raise ValueError(f"method must be 'auto', 'exact' or 'differences'; got {method!r}")
    if method != "exact":
        width = spec.upper - spec.lower
        # the parameter's own size, or a thousandth of its range for a value near zero
        scale = np.maximum(np.abs(x0), np.where(np.isfinite(width), 1e-3 * width, 1.0))
        # a step must not leave the bounds: the objective may not exist there
        room = np.minimum(x0 - spec.lower, spec.upper - x0)
        scale = np.where(FD_STEP * scale < room, scale, room / (2.0 * FD_STEP))
        if np.all(scale > 0):
            hessian, fine = _central_hessian(value_and_grad_x(fun, skeleton), x0, fixed, data,
                                             scale)
            if method == "differences" or (np.all(np.isfinite(hessian))
                                           and agree(fine, hessian)):
                return hessian
    return np.asarray(_compiled_hessian(fun, skeleton)(x0, fixed, data))


def hessian_uncertainty(
    fun: Callable[[dict[str, jax.Array]], jax.Array],
    spec: ParamSpec,
    best: Mapping[str, float],
    *,
    data=None,
    kind: str = "chi2",
    rel_tol: float = 1e-10,
    hessian: str = "auto",
    loss_scale: float = 1.0,
) -> Uncertainty:
    """Covariance of the free parameters from the Hessian of ``fun`` at ``best``.

    Args:
        fun: objective ``fun(params, data) -> scalar`` (``fun(params)`` when ``data`` is
            None), pure JAX; see ``kind``.
        spec: the parameters; frozen ones take the spec's values.
        data: the objective's data pytree (an argument of the compiled gradient).
        best: ``{name: value}`` at the minimum, in the parameters' units; must hold every
            free parameter and may hold frozen ones (which must equal the spec's).
        kind: ``"chi2"`` (``fun = -2 ln L + const``) or ``"nll"`` (``fun = -ln L + const``).
        rel_tol: eigenvalues of the scaled Fisher matrix at or below ``rel_tol`` times the
            largest mark unconstrained directions (module doc).
        hessian: ``"auto"``, ``"exact"`` or ``"differences"`` (:func:`objective_hessian`).
        loss_scale: the rise of ``fun`` counted as one unit of chi2 (or of ``-ln L``): 1
            for a likelihood; for a loss without errors, the rise taken as one sigma.

    Returns:
        An :class:`Uncertainty`.

    Raises:
        KeyError: unknown names in ``best`` (from ``spec.check_names``) or missing free ones.
        ValueError: ``kind`` not valid; values in ``best`` non-finite or out of bounds; a
            Hessian entry not finite (the message names the parameters in its rows); ``fun``
            not scalar.
        TypeError: float64 is off (a covariance at ``rel_tol = 1e-10`` needs it).
    """
    check_kind(kind)
    loss_scale = checks.real(loss_scale, "loss_scale", positive=True)
    point = _free_point(spec, best, "best")
    names = spec.free_names
    x0 = require_float64(spec.pack(point), "hessian_uncertainty")

    def same_result(fine, extrapolated):
        # the differences are good enough when what is reported does not depend on them
        a, b = (_from_hessian(h, spec, point, kind, rel_tol, loss_scale)
                for h in (fine, extrapolated))
        constrained = [i for i, n in enumerate(names) if n not in b.unconstrained]
        sa, sb = (np.array([u.errors[names[i]] for i in constrained]) for u in (a, b))
        ca, cb = (u.correlation[np.ix_(constrained, constrained)] for u in (a, b))
        return (a.unconstrained == b.unconstrained
                and bool(np.all(np.abs(sa - sb) <= FD_AGREEMENT * sb))
                and bool(np.all(np.abs(ca - cb) <= FD_AGREEMENT)))

    with status_line(f"Hessian of the objective in {len(names)} parameters"):
        hessian = objective_hessian(fun, spec, x0, data=data, method=hessian,
                                    agree=same_result)
    return _from_hessian(hessian, spec, point, kind, rel_tol, loss_scale)


def _from_hessian(hessian: np.ndarray, spec: ParamSpec, point: dict, kind: str,
                  rel_tol: float, loss_scale: float = 1.0) -> Uncertainty:
    """The :class:`Uncertainty` of a Hessian of the objective (module doc)."""
    names = spec.free_names
    if hessian.shape != (len(names), len(names)):
        raise ValueError(
            f"the objective must return a scalar; its Hessian has shape {hessian.shape}"
        )
    bad_rows = ~np.all(np.isfinite(hessian), axis=1)
    if bad_rows.any():
        raise ValueError(
            "the Hessian of the objective is not finite at best for the parameters "
            f"{[n for n, bad in zip(names, bad_rows, strict=True) if bad]}"
        )

    fisher = (hessian / 2.0 if kind == "chi2" else hessian) / loss_scale
    fisher = (fisher + fisher.T) / 2.0  # autodiff leaves rounding-level asymmetry
    diag = np.diag(fisher)
    scale = np.where(diag > 0, 1.0 / np.sqrt(np.where(diag > 0, diag, 1.0)), 1.0)
    scaled = scale[:, None] * fisher * scale[None, :]
    eigenvalues, eigenvectors = np.linalg.eigh(scaled)

    largest = eigenvalues.max()
    good = eigenvalues > rel_tol * largest if largest > 0 else np.zeros_like(eigenvalues, bool)
    flagged = diag <= 0  # zero or negative curvature along the parameter itself
    for vector in eigenvectors[:, ~good].T:
        component = np.abs(vector)
        flagged |= component >= _COMPONENT_THRESHOLD
        flagged[np.argmax(component)] = True

    vectors = eigenvectors[:, good]
    scaled_inverse = (vectors / eigenvalues[good]) @ vectors.T
    covariance = scale[:, None] * scaled_inverse * scale[None, :]
    # a 1-sigma error wider than the parameter's whole allowed range means the data do not
    # constrain it there either (e.g. PBUF's n_eps), even if the curvature is not tiny
    width = spec.upper - spec.lower
    with np.errstate(invalid="ignore"):
        flagged |= np.isfinite(width) & (np.sqrt(np.abs(np.diag(covariance))) > width)
    covariance[flagged, :] = np.nan
    covariance[:, flagged] = np.nan
    variance = np.where(flagged, math.inf, np.diag(covariance))
    np.fill_diagonal(covariance, variance)

    sigma = np.sqrt(variance)
    with np.errstate(invalid="ignore"):  # inf / inf on the flagged diagonal, reset below
        correlation = covariance / np.outer(sigma, sigma)
    np.fill_diagonal(correlation, 1.0)

    for array in (covariance, correlation, eigenvalues, eigenvectors, scale):
        array.flags.writeable = False  # the dataclass is frozen; so are its arrays
    return Uncertainty(
        names=names,
        best=point,
        covariance=covariance,
        correlation=correlation,
        errors={n: float(s) for n, s in zip(names, sigma, strict=True)},
        unconstrained=tuple(n for n, f in zip(names, flagged, strict=True) if f),
        eigenvalues=eigenvalues,
        eigenvectors=eigenvectors,
        scale=scale,
        rel_tol=rel_tol,
    )
