"""The result of a cosmo fit, :class:`OptimizationResult`, in jaxfit's one result protocol.

``summary()`` (the chi2, the verdict, every fitted parameter with its Hessian error),
``to_dict()`` (every field, as the seed's OptimizationResult), ``to_frame()`` (one row per
fitted parameter: start, value, error, unit, flags), ``plot()`` (where the chi2 comes from
and how well each parameter is measured) and ``save(directory, stem)`` (json + csv + png,
:class:`jaxfit.core.results.ResultSet`).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from jaxfit.core.diagnostics import combination
from jaxfit.core.results import ResultSet
from jaxfit.cosmo.model import get_model


@dataclasses.dataclass
class OptimizationResult(ResultSet):
    """The outcome of :func:`jaxfit.cosmo.fit.optimize_parameters`: the seed's
    OptimizationResult, plus errors and the full parameter set in ``metadata``.

    Attributes:
        model: the model name (``"lcdm"``, ``"pbuf"``).
        optimized_params: best-fit value of each fitted parameter (units of the model's
            spec: H0 in km/s/Mpc, ...).
        starting_params: where each fitted parameter started.
        final_chi2: chi2 at the best fit (dimensionless).
        chi2_improvement: chi2 at the start minus ``final_chi2``.
        convergence_status: ``"success"`` or ``"failed"``.
        n_function_evaluations: chi2 evaluations summed over all starts.
        optimization_time: wall time of the fit [s].
        bounds_reached: fitted parameters that ended on a bound.
        optimizer_info: method, library, version, number of starts, seed.
        covariance_scaling: the factor the CMB covariance was multiplied by.
        metadata: what the store records: ``datasets``, ``chi2_parts`` (chi2 per data
            set), ``errors`` (Hessian 1-sigma errors; ``inf`` when unconstrained),
            ``unconstrained``, ``fit_point`` (every parameter), ``fit_status``
            (:meth:`jaxfit.core.diagnostics.FitStatus.to_dict`: verdict, agreement of
            starts within delta-chi2 < 1, degenerate directions), provenance, ...
    """

    model: str
    optimized_params: dict[str, float]
    starting_params: dict[str, float]
    final_chi2: float
    chi2_improvement: float
    convergence_status: str
    n_function_evaluations: int
    optimization_time: float
    bounds_reached: list[str]
    optimizer_info: dict[str, str]
    covariance_scaling: float
    metadata: dict

    default_stem = "cosmo_fit"

    @property
    def converged(self) -> bool:
        return self.convergence_status == "success"

    def to_dict(self) -> dict:
        """Every field (``OptimizationResult(**result.to_dict())`` rebuilds the result)."""
        return dataclasses.asdict(self)

    def summary(self) -> str:
        """The chi2 and the verdict, then one line per fitted parameter (value +- error),
        then the parameters the data leave unconstrained or that ended on a bound, and the
        fit status (starts agreeing, degenerate directions) when recorded."""
        meta = self.metadata
        datasets = "+".join(meta.get("datasets", [])) or meta.get("source_dataset", "?")
        status = meta.get("fit_status")
        verdict = self.convergence_status if status is None else status["verdict"]
        if not self.converged:
            verdict += f" ({meta.get('convergence_message', 'no message')})"
        lines = [
            f"{self.model} on {datasets}: chi2 = {self.final_chi2:.4f} (improved by "
            f"{self.chi2_improvement:.4f}), {verdict}, {self.n_function_evaluations} "
            f"evaluations in {self.optimization_time:.1f} s"
        ]
        errors = meta.get("errors", {})
        for name, value in self.optimized_params.items():
            error = f" +- {float(errors[name]):.3g}" if name in errors else ""
            lines.append(f"  {name:>6} = {value:.8g}{error}")
        if meta.get("unconstrained"):
            lines.append(f"  unconstrained by these data: {', '.join(meta['unconstrained'])}")
        if self.bounds_reached:
            lines.append(f"  on a bound: {', '.join(self.bounds_reached)}")
        if status is not None:
            lines.append(f"  {status['n_agree']}/{status['n_starts']} starts agree with the "
                         "best within delta-chi2 < 1")
            if status["not_unique"]:
                lines.append("  optimum NOT unique: agreeing starts differ in "
                             + ", ".join(status["not_unique"]))
            lines += [f"  degenerate: chi2 flat along {combination(direction)}"
                      for direction in status["degenerate_directions"]]
        return "\n".join(lines)

    def to_frame(self) -> pd.DataFrame:
        """One row per fitted parameter: ``parameter``, ``unit``, ``start``, ``value``,
        ``error`` (Hessian 1 sigma; inf when unconstrained), ``unconstrained``,
        ``on_bound``."""
        spec = get_model(self.model).spec
        errors = self.metadata.get("errors", {})
        unconstrained = set(self.metadata.get("unconstrained", []))
        return pd.DataFrame([
            {
                "parameter": name,
                "unit": spec[name].unit,
                "start": self.starting_params.get(name, np.nan),
                "value": value,
                "error": float(errors.get(name, np.nan)),
                "unconstrained": name in unconstrained,
                "on_bound": name in self.bounds_reached,
            }
            for name, value in self.optimized_params.items()
        ])

    def plot(self):
        """Two panels: the chi2 of each data set at the best fit, and the relative 1-sigma
        error of each fitted parameter (an unconstrained one, whose error is infinite, as a
        hatched bar to the top of the axis)."""
        import matplotlib.pyplot as plt

        fig, (ax_chi2, ax_err) = plt.subplots(1, 2, figsize=(10, 4.2))
        parts = self.metadata.get("chi2_parts", {})
        ax_chi2.barh(list(parts), list(parts.values()), color="C0")
        ax_chi2.invert_yaxis()
        ax_chi2.set_xlabel("chi2 at the best fit")
        ax_chi2.set_title(f"{self.model}: chi2 = {self.final_chi2:.4g} "
                          f"({self.convergence_status})")

        frame = self.to_frame()
        with np.errstate(divide="ignore", invalid="ignore"):
            relative = (frame["error"] / frame["value"].abs()).to_numpy(dtype=float)
        measured = ~frame["unconstrained"].to_numpy() & np.isfinite(relative) & (relative > 0)
        top = 10.0 * np.max(relative[measured]) if measured.any() else 1.0
        bars = ax_err.barh(frame["parameter"], np.where(measured, relative, top), color="C1")
        for bar, ok, free in zip(bars, measured, frame["unconstrained"], strict=True):
            if not ok:
                reason = "unconstrained" if free else "value 0: relative error undefined"
                bar.set(color="lightgrey", hatch="//", label=reason)
        ax_err.set_xscale("log")
        ax_err.invert_yaxis()
        ax_err.set_xlabel("relative 1-sigma error |error / value|")
        ax_err.set_title("Hessian errors of the fitted parameters")
        if not measured.all():
            handles, labels = ax_err.get_legend_handles_labels()
            unique = dict(zip(labels, handles, strict=True))
            ax_err.legend(unique.values(), unique.keys(), loc="lower right", fontsize=8)
        fig.tight_layout()
        return fig
