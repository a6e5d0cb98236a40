"""Lepton results: a multi-start fit (:class:`LeptonFit`), a beta or (beta, w) profile
(:class:`LeptonScan`) and the cross-lepton Test 1 (:class:`CrossMultistart`).

Each implements the result protocol of :mod:`jaxfit.core.results`: ``summary()`` (text
that states the tension and the convergence, never hides either), ``to_dict()``,
``to_frame()``, ``plot()`` and ``save(directory, stem)`` (JSON + CSV + PNG; the JSON carries
the run record unless another ``provenance`` is given). ``checklist`` evaluates the research
checklist (:func:`jaxfit.leptons.checklist.validation_checklist`) on the result's numbers.

Units: masses in MeV, ``S_opt`` in MeV per model energy unit, ``C_mu`` in g per model
magnetic-moment unit, ``beta`` dimensionless, ``w`` in model length units.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd

from jaxfit.core.diagnostics import FitStatus
from jaxfit.core.optimize import SUCCESS_STATUS, FitResult
from jaxfit.core.provenance import run_record
from jaxfit.core.results import ResultSet
from jaxfit.core.scan import ScanResult
from jaxfit.core.uncertainty import Uncertainty
from jaxfit.leptons.checklist import CHI2_GOOD_MAX, validation_checklist
from jaxfit.leptons.model import BETA_REF

WIDTH_FLAT = 0.05
WIDTH_SHARP = 0.01
"""1-sigma width of beta: > 0.05 "flat", < 0.01 "sharp", else "moderate" (seed 001)."""


class _LeptonResult(ResultSet):
    """What the three results share: ``save`` records the run (seed, timings, settings)
    as provenance by default, and ``str()`` is the :meth:`summary`."""

    def save(self, directory, stem: str | None = None, provenance: dict | None = None
             ) -> dict[str, Path]:
        if provenance is None:
            provenance = run_record(seeds={"starts": self.settings.get("seed")},
                                    timings=self.timings, settings=self.settings)
        return super().save(directory, stem, provenance)

    def __str__(self):
        return self.summary()


def _checklist(chi2: float, at_min: dict, settings: dict, bounds_reached, **convergence):
    """:func:`validation_checklist` of a result's numbers at its optimum ``at_min`` (a
    point summary)."""
    return validation_checklist(
        chi2=chi2, S_opt=at_min["S_opt"], pulls=at_min["pulls"],
        residuals=at_min["residuals"], sigma_model=settings["sigma_model"],
        g_pulls=at_min.get("g_pulls"), sigma_g=settings.get("sigma_g"),
        C_mu=at_min.get("C_mu"), bounds_reached=bounds_reached, **convergence)


def _tension(chi2: float) -> str:
    return "  (TENSION: chi2 > 10)" if not chi2 <= CHI2_GOOD_MAX else ""


@dataclasses.dataclass
class LeptonFit(_LeptonResult):
    """A multi-start fit of the lepton parameters (:func:`jaxfit.leptons.fit.fit_fixed`,
    :func:`jaxfit.leptons.cross.cross_multistart`).

    Attributes:
        kind: ``"mass"`` or ``"cross"``.
        params: every parameter at the best fit (frozen ones included).
        chi2: best objective value.
        summary_at_min: :func:`~jaxfit.leptons.objective.point_summary` at ``params``
            (S_opt, energies, masses, relative residuals, pulls; C_mu and g for cross);
            ``"summary"`` in the JSON. (Named as in :class:`LeptonScan`: ``summary()`` is
            the text of the result protocol.)
        bounds_reached: free parameters within
            :data:`~jaxfit.core.diagnostics.BOUND_FRACTION` of their range from a bound
            (names); ``bound_sides`` says which bound.
        fit: the core :class:`~jaxfit.core.optimize.FitResult` (``fit.starts``: one row per
            start with start and end values, chi2, status).
        settings: objective and optimiser settings.
        timings: wall-clock seconds of the fit (first call includes compilation).
        errors: Hessian uncertainties (:func:`jaxfit.core.uncertainty.hessian_uncertainty`)
            when requested, else None.
        bounds: ``{name: (lower, upper)}`` of the free parameters.
        status: the :class:`~jaxfit.core.diagnostics.FitStatus` (agreement of starts within
            delta-chi2 < 1, parameters on a bound; Hessian errors and degenerate directions
            when ``errors`` were requested), when the workflow computed it.
    """

    kind: str
    params: dict[str, float]
    chi2: float
    summary_at_min: dict
    bounds_reached: list[str]
    bound_sides: dict[str, str]
    fit: FitResult
    settings: dict
    timings: dict
    errors: Uncertainty | None = None
    bounds: dict[str, tuple[float, float]] = dataclasses.field(default_factory=dict)
    status: FitStatus | None = None

    default_stem = "lepton_fit"

    @property
    def S_opt(self) -> float:
        return self.summary_at_min["S_opt"]

    @property
    def C_mu(self) -> float | None:
        return self.summary_at_min.get("C_mu")

    @property
    def beta(self) -> float:
        return self.params["beta"]

    @property
    def w(self) -> float:
        return self.params["w"]

    @property
    def masses_model(self) -> dict[str, float]:
        return self.summary_at_min["masses_model"]

    @property
    def residuals(self) -> dict[str, float]:
        return self.summary_at_min["residuals"]

    @property
    def starts(self) -> pd.DataFrame | None:
        return self.fit.starts

    @property
    def in_tension(self) -> bool:
        """chi2 above :data:`~jaxfit.leptons.checklist.CHI2_GOOD_MAX`: the model does not
        fit the data."""
        return not self.chi2 <= CHI2_GOOD_MAX

    @property
    def checklist(self) -> list[dict]:
        fit = self.fit
        return _checklist(
            self.chi2, self.summary_at_min, self.settings, self.bounds_reached,
            converged=fit.success,
            convergence=f"best start: {fit.message}; {fit.n_converged}/{fit.n_starts} starts "
                        "converged")

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "chi2": self.chi2,
            "in_tension": self.in_tension,
            "S_opt": self.S_opt,
            "C_mu": self.C_mu,
            "params": self.params,
            "bounds_reached": list(self.bounds_reached),
            "bound_sides": self.bound_sides,
            "bounds": self.bounds,
            "summary": self.summary_at_min,
            "checklist": self.checklist,
            "fit": self.fit.to_dict(),
            "settings": self.settings,
            "timings": self.timings,
            "errors": None if self.errors is None else self.errors.to_dict(),
            "fit_status": None if self.status is None else self.status.to_dict(),
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per start: start and end values, chi2, status."""
        return self.fit.to_frame()

    def plot(self):
        """Figure: left the relative mass residuals ``(S E - m) / m`` against the model
        uncertainty band ``+-sigma_model``; right where each free parameter ended within its
        range (0 = lower bound, 1 = upper): the parameters a fit in tension pins to a bound."""
        import matplotlib.pyplot as plt

        fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 4.2))
        names = list(self.residuals)
        ax0.bar(names, [self.residuals[n] for n in names], color="C0")
        sigma = self.settings["sigma_model"]
        ax0.axhspan(-sigma, sigma, color="C2", alpha=0.3, label=f"+-sigma_model = {sigma:g}")
        ax0.axhline(0.0, color="k", lw=0.8)
        ax0.set_ylabel("(S E - m) / m")
        ax0.set_title(f"{self.kind} chi2 = {self.chi2:.6g}, S_opt = {self.S_opt:.4g} MeV/unit",
                      fontsize=9)
        ax0.legend(loc="best", fontsize=8)
        free = list(self.bounds)
        position = [(self.params[n] - lo) / (hi - lo) for n, (lo, hi) in self.bounds.items()]
        colors = ["C3" if n in self.bounds_reached else "C0" for n in free]
        # markers, not bars: a bar of a parameter on its lower bound has no length and
        # would hide exactly the parameters this panel is for
        ax1.hlines(free, 0.0, 1.0, color="0.85", lw=6)
        ax1.scatter(position, free, c=colors, s=60, zorder=3)
        ax1.set_xlim(-0.05, 1.05)
        ax1.invert_yaxis()
        ax1.set_xlabel("position within bounds (red: on a bound)")
        ax1.set_title(f"beta = {self.beta:.6g}, w = {self.w:.4g}", fontsize=9)
        return fig

    def summary(self) -> str:
        fit = self.fit
        verdict = "converged" if fit.success else "NOT converged"
        lines = [
            f"LeptonFit ({self.kind}, flow {self.settings['flow']}, beta = {self.beta:.6g}, "
            f"w = {self.w:.4g}, sigma_model = {self.settings['sigma_model']:g})",
            f"  chi2 = {self.chi2:.6g}{_tension(self.chi2)}, S_opt = {self.S_opt:.6g} MeV/unit"
            + (f", C_mu = {self.C_mu:.6g}" if self.C_mu is not None else ""),
            "  relative mass residuals: "
            + ", ".join(f"{k} {v:+.3e}" for k, v in self.residuals.items()),
            f"  best start {verdict} ({fit.message}); {fit.n_converged}/{fit.n_starts} starts "
            "converged; on bounds: "
            + (", ".join(f"{n} ({self.bound_sides[n]})" for n in self.bounds_reached)
               or "none"),
        ]
        if self.status is not None:
            lines += [f"  {line}" for line in self.status.summary().splitlines()]
        return "\n".join(lines)



@dataclasses.dataclass
class LeptonScan(_LeptonResult):
    """A profile likelihood over beta (1-D) or (beta, w) (2-D) with the lepton parameters
    profiled at every grid point (:func:`jaxfit.leptons.scan.scan_beta`,
    :func:`~jaxfit.leptons.scan.scan_beta_w`, :func:`jaxfit.leptons.cross.cross_profile`).

    Attributes:
        kind: ``"mass"`` or ``"cross"``.
        scan: the core :class:`~jaxfit.core.scan.ScanResult`.
        profile: the 1-D profile over beta (the scan itself in 1-D; in 2-D, the minimum over
            w at each beta, with the same global fit).
        points: one row per grid point: S_opt (and C_mu, chi2_g for cross), relative mass
            residuals, in ``ScanResult.to_frame`` order.
        params_at_min: every parameter at the minimum (global fit if it is lower than the
            grid, else the best grid point).
        summary_at_min: :func:`~jaxfit.leptons.objective.point_summary` there.
        bounds_reached: lepton parameters on a bound at the minimum.
        settings, timings: as :class:`LeptonFit`.
    """

    kind: str
    scan: ScanResult
    profile: ScanResult
    points: pd.DataFrame
    params_at_min: dict[str, float]
    summary_at_min: dict
    bounds_reached: list[str]
    settings: dict
    timings: dict

    default_stem = "lepton_scan"

    @property
    def ndim(self) -> int:
        return len(self.scan.names)

    @property
    def chi2_min(self) -> float:
        return self.scan.chi2_min

    @property
    def beta_min(self) -> float:
        return float(self.params_at_min["beta"])

    @property
    def w_min(self) -> float:
        return float(self.params_at_min["w"])

    @property
    def S_opt(self) -> float:
        return self.summary_at_min["S_opt"]

    @property
    def C_mu(self) -> float | None:
        return self.summary_at_min.get("C_mu")

    @property
    def interval(self) -> tuple[float | None, float | None]:
        """Where the beta profile crosses delta-chi2 = 1 (None: open on that side)."""
        return self.profile.interval()

    @property
    def width(self) -> float | None:
        low, high = self.interval
        return None if low is None or high is None else high - low

    @property
    def classification(self) -> str:
        """"flat" (width > 0.05), "sharp" (< 0.01), "moderate", or "open" (an end missing)."""
        width = self.width
        if width is None:
            return "open"
        if width > WIDTH_FLAT:
            return "flat"
        if width < WIDTH_SHARP:
            return "sharp"
        return "moderate"

    @property
    def n_local_minima(self) -> int:
        """Local minima of the 1-D beta profile."""
        return self.profile.local_minima()

    @property
    def all_converged(self) -> bool:
        return self.scan.all_converged

    @property
    def n_points_failed(self) -> int:
        """Grid points whose best start did not converge."""
        return int(np.sum(~np.isin(self.scan.status, SUCCESS_STATUS)))

    @property
    def offset_from_ref(self) -> float:
        return self.beta_min - BETA_REF

    @property
    def in_tension(self) -> bool:
        return not self.chi2_min <= CHI2_GOOD_MAX

    @property
    def checklist(self) -> list[dict]:
        n_points = self.scan.status.size
        return _checklist(
            self.chi2_min, self.summary_at_min, self.settings, self.bounds_reached,
            converged=self.n_points_failed == 0,
            convergence=f"{n_points - self.n_points_failed}/{n_points} grid points converged "
                        "(best start per point)",
            n_local_minima=self.n_local_minima, width=self.width,
            classification=self.classification)

    def result_summary(self) -> dict:
        """The answer in numbers: minimum, interval, verdicts, parameters at the minimum."""
        low, high = self.interval
        out = {
            "kind": self.kind,
            "names": list(self.scan.names),
            "chi2_min": self.chi2_min,
            "in_tension": self.in_tension,
            "beta_min": self.beta_min,
            "beta_ref": BETA_REF,
            "offset_from_ref": self.offset_from_ref,
            "interval_1sigma": {"low": low, "high": high},
            "width_1sigma": self.width,
            "classification": self.classification,
            "local_minima_beta_profile": self.n_local_minima,
            "local_minima_grid": self.scan.local_minima(),
            "all_converged": self.all_converged,
            "n_points_failed": self.n_points_failed,
            "S_opt": self.S_opt,
            "C_mu": self.C_mu,
            "params_at_min": self.params_at_min,
            "bounds_reached": list(self.bounds_reached),
            "residuals_at_min": self.summary_at_min["residuals"],
        }
        if self.ndim == 2:
            out["w_min"] = self.w_min
        return out

    def to_dict(self) -> dict:
        return self.result_summary() | {
            "summary_at_min": self.summary_at_min,
            "checklist": self.checklist,
            "scan": self.scan.to_dict(),
            "beta_profile": {"beta": self.profile.axes[0], "chi2": self.profile.chi2,
                             "delta_chi2": self.profile.delta_chi2},
            "settings": self.settings,
            "timings": self.timings,
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per grid point: the core table plus :attr:`points`."""
        return pd.concat([self.scan.to_frame(), self.points], axis=1)

    def plot(self):
        """Figure: left the delta-chi2 profile (1-D) or the 2.30/6.18/11.83 contours (2-D),
        right the whole landscape on a log scale; beta_ref marked on both."""
        import matplotlib.pyplot as plt

        fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 4.2))
        self.scan.plot(ax0)  # notes when no contour lies inside the grid
        beta = self.scan.axes[0]
        d = self.scan.delta_chi2
        if self.ndim == 1:
            ax1.semilogy(beta, np.maximum(d, 0.0) + 1.0, "o-", ms=3)
            ax1.set_ylabel(r"$\Delta\chi^2 + 1$")
            ax1.set_xlabel("beta")
        else:
            w = self.scan.axes[1]
            mesh = ax1.pcolormesh(beta, w, np.log10(np.maximum(d, 0.0) + 1.0).T,
                                  shading="nearest", cmap="viridis")
            fig.colorbar(mesh, ax=ax1, label=r"$\log_{10}(\Delta\chi^2 + 1)$")
            ax1.plot(self.beta_min, self.w_min, "r+", ms=10)
            ax1.set_xlabel("beta")
            ax1.set_ylabel("w")
        for ax in (ax0, ax1):
            ax.axvline(BETA_REF, color="C1", ls="--", lw=1.2, label=f"beta_ref = {BETA_REF}")
        ax0.legend(loc="best", fontsize=8)
        ax1.legend(loc="best", fontsize=8)
        ax1.set_title(
            f"{self.kind} chi2_min = {self.chi2_min:.4g} ({self.settings['flow']}, "
            f"sigma_model = {self.settings['sigma_model']:g})", fontsize=9,
        )
        return fig

    def summary(self) -> str:
        low, high = self.interval
        fmt = lambda v: "open" if v is None else f"{v:.5f}"  # noqa: E731
        n_points, failed = self.scan.status.size, self.n_points_failed
        lines = [
            f"LeptonScan ({self.kind}, {'x'.join(self.scan.names)}, flow "
            f"{self.settings['flow']}, sigma_model = {self.settings['sigma_model']:g})",
            f"  chi2_min = {self.chi2_min:.6g}{_tension(self.chi2_min)} at beta = "
            f"{self.beta_min:.5f}" + (f", w = {self.w_min:.4g}" if self.ndim == 2 else "")
            + f"; offset from beta_ref {self.offset_from_ref:+.4f}",
            f"  1-sigma interval [{fmt(low)}, {fmt(high)}] -> {self.classification}; "
            f"{self.n_local_minima} local minima; S_opt = {self.S_opt:.6g}"
            + (f"; C_mu = {self.C_mu:.6g}" if self.C_mu is not None else ""),
            f"  all {n_points} grid points converged" if failed == 0 else
            f"  {failed} of {n_points} grid points did NOT converge",
            "  on bounds at the minimum: " + (", ".join(self.bounds_reached) or "none"),
        ]
        return "\n".join(lines + [f"  warning: {w}" for w in self.scan.warnings])


@dataclasses.dataclass
class CrossMultistart(_LeptonResult):
    """Research "Test 1": a cross-lepton fit with beta free from many starts
    (:func:`jaxfit.leptons.cross.cross_multistart`).

    Attributes:
        fit: the best fit (:class:`LeptonFit`, kind ``"cross"``); its ``fit.starts`` has
            every start.
        beta_spread: over the converged starts: ``n``, ``min``, ``max``, ``std``,
            ``median`` of the fitted beta, and the same for chi2 (``chi2_min``,
            ``chi2_max``), plus the total number of starts.
    """

    fit: LeptonFit
    beta_spread: dict

    default_stem = "cross_multistart"

    @property
    def settings(self) -> dict:
        return self.fit.settings

    @property
    def timings(self) -> dict:
        return self.fit.timings

    @property
    def checklist(self) -> list[dict]:
        return self.fit.checklist

    def to_dict(self) -> dict:
        return {"beta_spread": self.beta_spread, "fit": self.fit.to_dict()}

    def to_frame(self) -> pd.DataFrame:
        """One row per start (fitted beta among the columns)."""
        return self.fit.to_frame()

    def plot(self):
        """Figure: chi2 against the fitted beta of every start (converged ones filled),
        with beta_ref: how well the starts agree on beta."""
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(5.5, 4.2))
        starts = self.to_frame()
        ok = starts["success"].to_numpy(dtype=bool)
        beta, chi2 = starts["beta"].to_numpy(), starts["fun"].to_numpy()
        ax.semilogy(beta[ok], chi2[ok], "o", ms=4, label="converged")
        ax.semilogy(beta[~ok], chi2[~ok], "o", ms=4, mfc="none", label="not converged")
        ax.axvline(BETA_REF, color="C1", ls="--", lw=1.2, label=f"beta_ref = {BETA_REF}")
        ax.set_xlabel("fitted beta")
        ax.set_ylabel("chi2 (masses + g)")
        ax.set_title(f"cross-lepton, beta free: {self.beta_spread['n']} of "
                     f"{self.beta_spread['n_starts']} starts converged", fontsize=9)
        ax.legend(loc="best", fontsize=8)
        return fig

    def summary(self) -> str:
        s = self.beta_spread
        spread = (f"beta over {s['n']} converged starts: {s['min']:.4f} .. {s['max']:.4f} "
                  f"(std {s['std']:.3g})" if s["n"] else "no start converged")
        return f"{self.fit.summary()}\n  {spread}"
