"""The result of :func:`jaxfit.core.contours.profile`: a profile on the Hessian's lattice.

The lattice lives in the whitened coordinates of the Hessian ellipse (``s = centre + A h k``
for integer ``k``), so in parameter units it is a rotated, sheared grid: every array below
has the lattice's shape, ``coords[name]`` holds each point's parameter value, and points
never profiled (outside the contours' reach, or outside the bounds) are NaN in ``chi2``.
Contours are drawn and extracted from ``sqrt(delta-chi2)`` at ``sqrt(level)``: that is
linear along every ray from the best fit for a Gaussian profile, so linear interpolation
between lattice points puts a Gaussian's contour where it is (as the 1-D intervals of
:class:`jaxfit.core.scan.ScanResult`).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from jaxfit.core.optimize import SUCCESS_STATUS, FitResult
from jaxfit.core.results import ResultSet
from jaxfit.core.scan import ScanResult, count_local_minima, level_label


@dataclasses.dataclass
class ProfileResult(ResultSet):
    """A profile likelihood over one or two parameters whose grid found its contours.

    Attributes:
        names: the scanned parameters.
        levels: the requested delta-chi2 levels, increasing.
        coords: ``{name: value at every lattice point}`` (lattice shape).
        chi2: the profiled chi2 per lattice point, NaN where not profiled.
        best: every parameter's value at each point's optimum (NaN where not profiled).
        status: status code of each point's best start, -1 where not profiled.
        best_fit: the fit with the scanned parameters free.
        covariance: the scanned parameters' covariance from the profile Hessian at the
            best fit (the Hessian ellipse), products of their units.
        transform: ``A`` with ``A A^T = covariance`` (lattice step ``spacing`` along its
            columns).
        spacing: lattice step in whitened units (sigmas along the ellipse's axes).
        closed, resolved: per level, whether its contour is closed inside the bounds and
            has enough lattice points inside it.
        warnings: one line per problem (open or unresolved contour, failed Hessian, ...).
        n_rounds: batched profiling rounds; n_points: points profiled.
        hessian_ok: False when the profile Hessian was not positive definite and the
            lattice was sized from the bounds (``covariance`` is then that stand-in, and no
            Hessian ellipse is drawn).
    """

    names: tuple[str, ...]
    levels: tuple[float, ...]
    coords: dict[str, np.ndarray]
    chi2: np.ndarray
    best: dict[str, np.ndarray]
    status: np.ndarray
    best_fit: FitResult
    covariance: np.ndarray
    transform: np.ndarray
    spacing: float
    closed: tuple[bool, ...]
    resolved: tuple[bool, ...]
    warnings: tuple[str, ...]
    n_rounds: int
    n_points: int
    hessian_ok: bool = True

    default_stem = "profile"

    # ------------------------------------------------------------------ derived
    @property
    def ndim(self) -> int:
        return len(self.names)

    @property
    def chi2_min(self) -> float:
        return min(self.best_fit.fun, float(np.nanmin(self.chi2)))

    @property
    def delta_chi2(self) -> np.ndarray:
        return self.chi2 - self.chi2_min

    @property
    def best_point(self) -> dict[str, float]:
        """The scanned parameters at the minimum (the best fit unless a point is lower)."""
        if self.best_fit.fun <= np.nanmin(self.chi2):
            return {n: self.best_fit.x[n] for n in self.names}
        index = np.unravel_index(np.nanargmin(self.chi2), self.chi2.shape)
        return {n: float(self.coords[n][index]) for n in self.names}

    @property
    def errors(self) -> dict[str, float]:
        """Hessian 1-sigma errors of the scanned parameters (their units)."""
        return {n: float(np.sqrt(self.covariance[i, i])) for i, n in enumerate(self.names)}

    @property
    def labels(self) -> tuple[str, ...]:
        """Each level's confidence ("68.27%", ...)."""
        return tuple(level_label(level, self.ndim) for level in self.levels)

    @property
    def all_converged(self) -> bool:
        profiled = self.status >= 0
        return bool(np.all(np.isin(self.status[profiled], SUCCESS_STATUS)))

    def local_minima(self) -> int:
        """Profiled lattice points below all their lattice neighbours, all profiled (a
        point next to an unprofiled one cannot be judged; the fill leaves those only
        above the largest level, or at the bounds)."""
        return count_local_minima(self.chi2, judged_only=True)

    def as_scan(self) -> ScanResult:
        """A 1-D profile as a :class:`~jaxfit.core.scan.ScanResult` over its profiled
        points, in increasing order (what domain results built on scans take)."""
        if self.ndim != 1:
            raise ValueError("as_scan() is defined for 1-D profiles")
        done = np.isfinite(self.chi2)
        order = np.argsort(self.coords[self.names[0]][done])
        take = lambda a: np.asarray(a)[done][order]  # noqa: E731
        return ScanResult(
            names=self.names, axes=(take(self.coords[self.names[0]]),), chi2=take(self.chi2),
            best={k: take(v) for k, v in self.best.items()}, status=take(self.status),
            n_converged=np.ones(int(done.sum()), int), n_starts=self.best_fit.n_starts,
            profile=True, global_fit=self.best_fit, warnings=self.warnings)

    def interval(self, level: float | None = None) -> tuple[float | None, float | None]:
        """1-D: where the profile crosses ``level`` (default the first, 68.27%); an end is
        None when the profile stays below it up to the bounds."""
        return self.as_scan().interval(self.levels[0] if level is None else level)

    def contour(self, level: float) -> list[np.ndarray]:
        """2-D: the ``delta-chi2 = level`` contour as ``(n, 2)`` vertex arrays in parameter
        units (a closed line ends where it starts)."""
        import contourpy

        if self.ndim != 2:
            raise ValueError("contour() is defined for 2-D profiles")
        x, y = (self.coords[n] for n in self.names)
        root = np.ma.masked_invalid(np.sqrt(np.clip(self.delta_chi2, 0.0, None)))
        lines = contourpy.contour_generator(x, y, root, line_type="Separate").lines(
            np.sqrt(level))
        return [np.asarray(line) for line in lines]

    # ------------------------------------------------------------------ output
    def to_frame(self) -> pd.DataFrame:
        """One row per profiled point: scanned values, chi2, delta-chi2, status, all params."""
        done = np.isfinite(self.chi2)
        columns = {f"scan_{n}": self.coords[n][done] for n in self.names}
        columns |= {"chi2": self.chi2[done], "delta_chi2": self.delta_chi2[done],
                    "status": self.status[done]}
        return pd.DataFrame(columns | {n: v[done] for n, v in self.best.items()})

    def to_dict(self) -> dict:
        """The answer (minimum, Hessian errors, per-level verdicts and intervals), then the
        lattice arrays."""
        per_level = []
        for level, label, closed, resolved in zip(self.levels, self.labels, self.closed,
                                                  self.resolved, strict=True):
            entry = {"delta_chi2": level, "confidence": label, "closed": closed,
                     "resolved": resolved}
            if self.ndim == 1:
                low, high = self.interval(level)
                entry["interval"] = {"low": low, "high": high}
            per_level.append(entry)
        sigma = np.sqrt(np.diag(self.covariance))
        return {
            "names": list(self.names),
            "chi2_min": self.chi2_min,
            "best_point": self.best_point,
            "best_fit": self.best_fit.to_dict(),
            "hessian": {"errors": self.errors, "covariance": self.covariance,
                        "correlation": self.covariance / np.outer(sigma, sigma)},
            "levels": per_level,
            "warnings": list(self.warnings),
            "spacing_sigma": self.spacing,
            "n_points": self.n_points,
            "n_rounds": self.n_rounds,
            "local_minima": self.local_minima(),
            "all_converged": self.all_converged,
            "coords": self.coords,
            "chi2": self.chi2,
            "delta_chi2": self.delta_chi2,
            "status": self.status,
        }

    def summary(self) -> str:
        """The minimum, the Hessian errors, each level's verdict (and 1-D interval), then
        every warning."""
        best = ", ".join(f"{n} = {v:.6g}" for n, v in self.best_point.items())
        errors = ", ".join(f"{n} +- {e:.3g}" for n, e in self.errors.items())
        if self.ndim == 2:
            sigma = np.sqrt(np.diag(self.covariance))
            errors += f", correlation {self.covariance[0, 1] / (sigma[0] * sigma[1]):+.3f}"
        lines = [f"profile over {', '.join(self.names)}: chi2_min = {self.chi2_min:.10g} at "
                 f"{best}; Hessian {errors}",
                 f"  {self.n_points} points in {self.n_rounds} rounds, lattice step "
                 f"{self.spacing:.3g} sigma; {self.local_minima()} local minima; "
                 + ("all converged" if self.all_converged else "NOT all points converged")]
        for level, label, closed, resolved in zip(self.levels, self.labels, self.closed,
                                                  self.resolved, strict=True):
            verdict = ("closed" if closed else "OPEN") + (", resolved" if resolved else
                                                          ", NOT resolved")
            line = f"  {label} (delta-chi2 {level:g}): {verdict}"
            if self.ndim == 1:
                low, high = self.interval(level)
                show = lambda end: "open" if end is None else f"{end:.6g}"  # noqa: E731
                line += f"; {self.names[0]} in [{show(low)}, {show(high)}]"
            lines.append(line)
        return "\n".join(lines + [f"warning: {w}" for w in self.warnings])

    def plot(self, ax=None):
        """2-D: ``log10(delta-chi2)`` as colour, the labelled contours, the best fit and the
        Hessian ellipses (dashed); 1-D: the profile, the levels, the Hessian parabola and
        the first level's interval. A note names every open contour. Returns the figure."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6.0, 4.6))
        best = self.best_point
        d = self.delta_chi2
        if self.ndim == 1:
            self._plot_1d(ax, best, d)
        else:
            self._plot_2d(ax, best, d)
        open_labels = [label for label, c in zip(self.labels, self.closed, strict=True) if not c]
        if open_labels:
            ax.text(0.5, 0.02, f"not closed inside the bounds: {', '.join(open_labels)}",
                    transform=ax.transAxes, ha="center", fontsize=8, color="C3")
        ax.set_title(f"profile: {', '.join(self.names)} ({self.n_points} points)")
        ax.legend(loc="upper right", fontsize=7)
        return ax.figure

    def _plot_1d(self, ax, best, d):
        scan = self.as_scan()
        theta, delta = scan.axes[0], scan.delta_chi2
        ax.plot(theta, delta, "o-", ms=2.5, lw=1, label="profile")
        centre, sigma = best[self.names[0]], self.errors[self.names[0]]
        if self.hessian_ok:
            ax.plot(theta, ((theta - centre) / sigma) ** 2, "k--", lw=0.8, label="Hessian")
        for level, label in zip(self.levels, self.labels, strict=True):
            ax.axhline(level, color="grey", ls=":", lw=1)
            ax.text(theta[0], level, f" {label}", va="bottom", fontsize=7, color="grey")
        low, high = self.interval()
        if low is not None and high is not None:
            ax.axvspan(low, high, color="C0", alpha=0.15, label=f"{self.labels[0]} interval")
        ax.axvline(centre, color="C3", lw=1, label="best fit")
        # linear up to the largest level, logarithmic beyond: far-off points still show
        ax.set_yscale("symlog", linthresh=self.levels[-1])
        ax.set_ylim(0.0, max(1.3 * self.levels[-1], float(np.nanmax(delta))))
        ax.set_xlabel(self.names[0])
        ax.set_ylabel(r"$\Delta\chi^2$")

    def _plot_2d(self, ax, best, d):
        x, y = (self.coords[n] for n in self.names)
        done = np.isfinite(d)
        # every profiled point as a dot: the surface shows even where no cell is complete
        dots = ax.scatter(x[done], y[done], c=np.log10(np.maximum(d[done], 1e-3)), s=12,
                          cmap="viridis", linewidths=0)
        ax.figure.colorbar(dots, ax=ax, label=r"$\log_{10}\Delta\chi^2$ (floored at -3)")
        root = np.ma.masked_invalid(np.sqrt(np.clip(d, 0.0, None)))
        lines = ax.contour(x, y, root, levels=np.sqrt(self.levels), colors="k", linewidths=1.2)
        ax.clabel(lines, fmt=dict(zip(lines.levels, self.labels, strict=True)), fontsize=7)
        ax.plot([], [], "k-", lw=1.2, label="profile contours")
        angle = np.linspace(0.0, 2.0 * np.pi, 200)
        circle = np.stack([np.cos(angle), np.sin(angle)])
        centre = np.array([best[n] for n in self.names])
        for i, level in enumerate(self.levels if self.hessian_ok else ()):
            ellipse = centre[:, None] + np.sqrt(level) * self.transform @ circle
            ax.plot(*ellipse, "--", color="C1", lw=0.8,
                    label="Hessian ellipses" if i == 0 else None)
        ax.plot(*centre, "r+", ms=10, mew=1.5, label="best fit")
        ax.set_xlabel(self.names[0])
        ax.set_ylabel(self.names[1])
