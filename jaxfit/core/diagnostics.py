"""Fit status: whether an optimum found by :func:`jaxfit.core.optimize.minimize` can be
trusted, from its multi-start output and the curvature of the objective there.

Four questions, each answered by name and never folded into a single "pass":

1. **Converged**: the best start met the stopping rule (status 0 or 1 of
   :mod:`jaxfit.core.solvers`); stopping at ``maxiter`` or on a non-finite value is not.
2. **Agreement of starts**: how many starts end within ``delta chi2 < 1`` of the best
   (``fun - best < loss_scale``), and the range (min, max) of each parameter over them. If
   those ranges exceed twice the Hessian error, starts that fit equally well sit at
   different parameters: the optimum is *not unique*.
3. **Pinned at a bound**: free parameters within :data:`BOUND_FRACTION` of their range from
   a bound. The optimum is not stationary along them, so the Hessian is taken with them held
   where they are (the errors of the others are conditional on them).
4. **Hessian errors and degenerate directions**
   (:func:`jaxfit.core.uncertainty.hessian_uncertainty`): eigenvectors of the scaled Fisher
   matrix whose eigenvalue is at most :data:`DEGENERATE_RTOL` of the largest (the objective
   rises along them ``1 / DEGENERATE_RTOL`` times more slowly than along the best-constrained
   combination) and parameters whose error exceeds their bounds, each named as a combination
   of parameters. An optimum with one is *degenerate*.

The verdict, worst first: ``"NOT converged"``, ``"degenerate"``, ``"converged"``.

``loss_scale`` is the rise of the objective counted as one unit of chi2: 1 for a chi2, 0.5
for ``-ln L`` (``kind="nll"``), and for a loss without errors (a mean square) the rise the
caller takes as one sigma; the errors are those of that rise.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import numpy as np
import pandas as pd

from jaxfit.core import checks
from jaxfit.core.optimize import FitResult
from jaxfit.core.params import ParamSpec
from jaxfit.core.results import ResultSet
from jaxfit.core.uncertainty import Uncertainty, hessian_uncertainty

BOUND_FRACTION = 1e-6
"""A free parameter within this fraction of its range from a bound is pinned there (the
sigmoid transform of "lbfgs" approaches a bound to about 1e-7 of the range in 1000 steps)."""

DEGENERATE_RTOL = 1e-8
"""Eigenvalues of the scaled Fisher matrix at or below this fraction of the largest are
degenerate directions: 1e4 times less constrained (in sigma) than the best combination."""

SPREAD_SIGMAS = 2.0
"""Agreeing starts further apart than this many Hessian sigmas make an optimum not unique:
points within delta chi2 < 1 of one minimum lie within about 1 sigma of it, either side."""


@dataclasses.dataclass(frozen=True)
class FitStatus(ResultSet):
    """How far to trust a fit (module doc). Values and errors in the parameters' units.

    Attributes:
        converged: the best start met the stopping rule.
        message: the optimiser's status message of the best start.
        loss_scale: rise of the objective counted as one unit of chi2.
        n_starts: starts run; n_agree: those within ``loss_scale`` of the best (all with a
            finite objective count, converged or not).
        best: ``{name: value}`` of the free parameters at the best start.
        spread: ``{name: (min, max)}`` of each free parameter over the agreeing starts.
        at_bounds: ``{name: "lower" | "upper"}``, free parameters pinned at a bound.
        not_unique: free parameters on which agreeing starts differ by more than
            ``SPREAD_SIGMAS`` Hessian sigmas (pinned ones: not all pinned on the same side).
        errors: ``{name: 1-sigma Hessian error}`` of the free parameters not pinned
            (``inf``: unconstrained); empty when the Hessian could not be taken.
        degenerate: the flat directions, each ``{name: step}`` (see
            :meth:`jaxfit.core.uncertainty.Uncertainty.flat_directions`).
        hessian_note: why there are no errors (all pinned, Hessian not finite), else "".
    """

    converged: bool
    message: str
    loss_scale: float
    n_starts: int
    n_agree: int
    best: dict[str, float]
    spread: dict[str, tuple[float, float]]
    at_bounds: dict[str, str]
    not_unique: tuple[str, ...]
    errors: dict[str, float]
    degenerate: tuple[dict[str, float], ...]
    hessian_note: str = ""

    default_stem = "fit_status"

    @property
    def is_degenerate(self) -> bool:
        return bool(self.degenerate)

    @property
    def verdict(self) -> str:
        if not self.converged:
            return "NOT converged"
        return "degenerate" if self.is_degenerate else "converged"

    def to_dict(self) -> dict:
        return {
            "verdict": self.verdict,
            "converged": self.converged,
            "message": self.message,
            "degenerate": self.is_degenerate,
            "loss_scale": self.loss_scale,
            "n_starts": self.n_starts,
            "n_agree": self.n_agree,
            "not_unique": list(self.not_unique),
            "best": self.best,
            "spread": {k: list(v) for k, v in self.spread.items()},
            "at_bounds": self.at_bounds,
            "errors": {k: v if math.isfinite(v) else None for k, v in self.errors.items()},
            "degenerate_directions": [dict(d) for d in self.degenerate],
            "hessian_note": self.hessian_note,
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per free parameter: ``parameter``, ``value``, ``error``, ``agree_min``,
        ``agree_max``, ``at_bound`` ("" when inside), ``degenerate``."""
        in_flat = {name for direction in self.degenerate for name in direction}
        return pd.DataFrame([
            {"parameter": name, "value": value, "error": self.errors.get(name, math.nan),
             "agree_min": self.spread[name][0], "agree_max": self.spread[name][1],
             "at_bound": self.at_bounds.get(name, ""), "degenerate": name in in_flat}
            for name, value in self.best.items()
        ])

    def summary(self) -> str:
        """The verdict, then the starts, bounds, errors and degenerate directions."""
        lines = [f"fit status: {self.verdict} ({self.message})"]
        agree = (f"{self.n_agree}/{self.n_starts} starts agree with the best within "
                 f"delta-chi2 < 1 (objective rise < {self.loss_scale:.3g})")
        if self.n_agree > 1:
            agree += "; their range: " + ", ".join(
                f"{n} {lo:.5g}..{hi:.5g}" for n, (lo, hi) in self.spread.items())
        lines.append(agree)
        if self.not_unique:
            lines.append("optimum NOT unique: agreeing starts differ by more than "
                         f"{SPREAD_SIGMAS:g} sigma in {', '.join(self.not_unique)}")
        if self.at_bounds:
            lines.append("on a bound: " + ", ".join(f"{n} ({side})"
                                                      for n, side in self.at_bounds.items()))
        if self.errors:
            lines.append("Hessian 1-sigma: " + ", ".join(
                f"{n} = {self.best[n]:.5g} +- {e:.3g}" for n, e in self.errors.items()))
        elif self.hessian_note:
            lines.append(f"no Hessian errors: {self.hessian_note}")
        for direction in self.degenerate:
            lines.append(f"degenerate: objective flat along {combination(direction)}")
        return "\n".join(lines)

    def plot(self):
        """Each free parameter on its bounds' scale: the agreeing starts' range (bar), the
        best and its 1-sigma error."""
        import matplotlib.pyplot as plt

        frame = self.to_frame()
        fig, ax = plt.subplots(figsize=(6, 0.5 + 0.45 * len(frame)))
        rows = np.arange(len(frame))
        error = frame["error"].to_numpy(float)
        ax.hlines(rows, frame["agree_min"], frame["agree_max"], lw=6, alpha=0.4,
                  label=f"{self.n_agree} agreeing starts")
        ax.errorbar(frame["value"], rows, xerr=np.where(np.isfinite(error), error, 0.0),
                    fmt="o", color="k", ms=4, label="best +- 1 sigma")
        ax.set_yticks(rows, frame["parameter"])
        ax.set_xscale("symlog")
        ax.set_title(f"fit status: {self.verdict}")
        ax.legend(loc="best", fontsize=8)
        return fig


def combination(direction: dict[str, float]) -> str:
    """``{"a": 1.0, "b": -1.0}`` -> ``"+1 a -1 b"`` (steps in the parameters' units)."""
    return " ".join(f"{step:+.3g} {name}" for name, step in direction.items())


def agreeing_starts(fit: FitResult, loss_scale: float = 1.0) -> np.ndarray:
    """Boolean mask over ``fit``'s starts: objective finite and within ``loss_scale`` of the
    best (one ``True`` for a single-start fit)."""
    if fit.starts is None:
        return np.ones(1, bool)
    fun = fit.starts["fun"].to_numpy(float)
    return np.isfinite(fun) & (fun - fit.fun < loss_scale)


def pinned(spec: ParamSpec, values, fraction: float = BOUND_FRACTION) -> dict[str, str]:
    """``{name: "lower" | "upper"}`` for the free parameters of ``spec`` whose ``values``
    lie within ``fraction`` of their range from a bound."""
    out = {}
    for name, lo, hi in zip(spec.free_names, spec.lower, spec.upper, strict=True):
        margin = fraction * (hi - lo)
        if values[name] - lo <= margin:
            out[name] = "lower"
        elif hi - values[name] <= margin:
            out[name] = "upper"
    return out


def fit_status(
    fun: Callable,
    spec: ParamSpec,
    fit: FitResult,
    *,
    data=None,
    kind: str = "chi2",
    loss_scale: float = 1.0,
    hessian: str | None = "auto",
    uncertainty: Uncertainty | None = None,
) -> FitStatus:
    """The :class:`FitStatus` of ``fit``, a result of ``minimize(fun, spec, data=data)``.

    Args:
        fun, spec, data: the objective, parameters and data the fit minimised.
        fit: its :class:`~jaxfit.core.optimize.FitResult`.
        kind: ``"chi2"`` or ``"nll"`` (:func:`~jaxfit.core.uncertainty.hessian_uncertainty`).
        loss_scale: rise of ``fun`` counted as one unit of chi2 (module doc).
        hessian: how the Hessian is taken (``"auto"``, ``"exact"``, ``"differences"``), or
            None to leave it out where its cost is not wanted (no errors, no directions).
        uncertainty: the caller's :func:`~jaxfit.core.uncertainty.hessian_uncertainty` at
            this optimum (same ``spec``, ``kind``, ``loss_scale``): reused instead of a second
            Hessian when no parameter is pinned (its ``rel_tol`` is then the degeneracy cut).

    Raises:
        ValueError: ``loss_scale`` not a positive finite number.
    """
    loss_scale = checks.real(loss_scale, "loss_scale", positive=True)
    names = spec.free_names
    best = {n: fit.x[n] for n in names}
    agree = agreeing_starts(fit, loss_scale)
    if fit.starts is None:
        spread = {n: (v, v) for n, v in best.items()}
    else:
        rows = fit.starts.loc[agree, list(names)]
        spread = {n: (float(rows[n].min()), float(rows[n].max())) for n in names}
    at_bounds = pinned(spec, best)
    sides = ([at_bounds] if fit.starts is None else
             [pinned(spec, row) for row in fit.starts.loc[agree, list(names)].to_dict("records")])
    errors, degenerate, note = {}, (), ""
    if hessian is None:
        note = "not computed"
    elif len(at_bounds) == len(names):
        note = "every free parameter is on a bound"
    elif uncertainty is not None and not at_bounds:
        errors = dict(uncertainty.errors)
        degenerate = uncertainty.flat_directions()
    else:
        # the optimum is not stationary along a pinned parameter: hold it where it is
        held = spec.freeze(list(at_bounds), values={n: best[n] for n in at_bounds})
        try:
            uncertainty = hessian_uncertainty(fun, held, best, data=data, kind=kind,
                                              rel_tol=DEGENERATE_RTOL, hessian=hessian,
                                              loss_scale=loss_scale * (1.0 if kind == "chi2"
                                                                       else 2.0))
        except ValueError as err:  # a Hessian that is not finite: say so, keep the rest
            note = str(err)
        else:
            errors = dict(uncertainty.errors)
            degenerate = uncertainty.flat_directions()
    not_unique = tuple(
        n for n in names
        if (any(side.get(n) != at_bounds[n] for side in sides) if n in at_bounds
            else n in errors and spread[n][1] - spread[n][0] > SPREAD_SIGMAS * errors[n])
    )
    return FitStatus(
        converged=bool(fit.success),
        message=fit.message,
        loss_scale=loss_scale,
        n_starts=fit.n_starts,
        n_agree=int(agree.sum()),
        best=best,
        spread=spread,
        at_bounds=at_bounds,
        not_unique=not_unique,
        errors=errors,
        degenerate=degenerate,
        hessian_note=note,
    )
