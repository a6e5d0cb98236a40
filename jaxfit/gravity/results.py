"""The results of the gravity workflows, each a :class:`~jaxfit.core.results.Result`.

- :class:`MWFit` (:func:`~jaxfit.gravity.mw_fit.mw_fit`): the theory kernel on the Milky Way;
- :class:`SparcResult` (:func:`~jaxfit.gravity.sparc_fit.sparc_batch`): one theta applied to
  every SPARC galaxy;
- :class:`ClusterFit` (:func:`~jaxfit.gravity.cluster_fit.cluster_amplitude`): the cluster
  amplitude for the Einstein masses;
- :class:`JointFit` (:func:`~jaxfit.gravity.joint.joint_fit`): one theta for all three.

Each offers ``summary()`` (a few lines; the research verdict only where the fit converged;
the MW fit's :class:`~jaxfit.core.diagnostics.FitStatus`: starts, errors, degeneracies),
``to_dict()`` (the JSON record, with the research scripts' keys), ``to_frame()`` (the CSV
table), ``plot()`` and ``save(directory, stem)``, which writes ``stem.json/.csv/.png`` with
the run's provenance. :func:`~jaxfit.gravity.fit_files.read_theory_json` (re-exported here)
reads the theory parameters back from a saved MW or joint fit. Units: kpc, km/s, Msun.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd

from jaxfit.core.diagnostics import FitStatus
from jaxfit.core.io import save_figure
from jaxfit.core.optimize import FitResult
from jaxfit.core.provenance import run_record
from jaxfit.core.results import ResultSet
from jaxfit.gravity.cluster_set import ClusterSet, theory_mass
from jaxfit.gravity.criteria import CRITERIA, cluster_verdict, mw_verdict, sparc_verdict, verdict
from jaxfit.gravity.fit_files import read_theory_json  # noqa: F401  (its old home)
from jaxfit.gravity.params import A_CLUSTER, BULGE_TO_DISC_UPSILON, THEORY
from jaxfit.gravity.sparc import SparcBatch
from jaxfit.gravity.sparc_points import SparcPoints

SIGMA_BINS = (0.0, 20.0, 30.0, 50.0, np.inf)
"""Edges of the per-sigma_v bins of the SPARC summary, km/s."""


def _passed(flag: bool) -> str:
    return "passed" if flag else "NOT passed"


def _optimiser_line(fit: FitResult) -> str:
    """One line on the optimiser: converged or not, and how many starts did."""
    state = "converged" if fit.success else "NOT converged"
    return (f"optimiser {state} ({fit.message}); {fit.n_converged}/{fit.n_starts} starts "
            "converged")


class _GravityResult(ResultSet):
    """:class:`~jaxfit.core.results.ResultSet` whose saved JSON carries, unless told
    otherwise, the run record of the result's ``settings``; ``str`` is the summary."""

    def save(self, directory, stem: str | None = None, provenance: dict | None = None
             ) -> dict[str, Path]:
        """Write ``stem.json``, ``stem.csv`` and ``stem.png`` into ``directory``
        (``provenance`` defaults to the run record of ``settings``); returns their paths."""
        if provenance is None:
            provenance = run_record(settings=self.settings)
        return super().save(directory, stem, provenance)

    def __str__(self):
        return self.summary()


# ----------------------------------------------------------------------------- Milky Way
@dataclasses.dataclass
class MWFit(_GravityResult):
    """Result of :func:`~jaxfit.gravity.mw_fit.mw_fit`. ``theory_fit_params`` has
    ``A_global = |A|`` and the ``phase_sign``; ``fit`` is the core
    :class:`~jaxfit.core.optimize.FitResult`; ``radii`` (kpc), ``K_th`` and ``K_emp``
    (dimensionless) are the two kernels on the band; ``status`` the fit's
    :class:`~jaxfit.core.diagnostics.FitStatus` (convergence, agreement of starts, Hessian
    errors, degenerate directions, parameters on a bound)."""

    target: str
    theory_fit_params: dict[str, float]
    phase_sign: float
    corr_K_emp_theory: float
    chi2_K: float
    chi2_vc: float | None
    optimization_success: bool
    radii: np.ndarray
    K_th: np.ndarray
    K_emp: np.ndarray
    fit: FitResult
    settings: dict
    status: FitStatus

    default_stem = "theory_metric_resonance_mw_fit"

    @property
    def verdict(self) -> dict:
        """The research MW criteria, passed only when the optimiser converged."""
        return mw_verdict(self.corr_K_emp_theory, self.chi2_K, converged=self.fit.success)

    def to_dict(self) -> dict:
        return {
            "target": self.target,
            "theory_fit_params": self.theory_fit_params | {"phase_sign": self.phase_sign},
            "phase_sign": self.phase_sign,
            "corr_K_emp_theory": self.corr_K_emp_theory,
            "chi2_K": self.chi2_K,
            "chi2_vc": self.chi2_vc,
            "optimization_success": self.optimization_success,
            "optimization": self.fit.to_dict(),
            "fit_status": self.status.to_dict(),
            "verdict": self.verdict,
            "settings": self.settings,
        }

    def to_frame(self) -> pd.DataFrame:
        """The two kernels on the band: ``R_kpc``, ``K_emp``, ``K_th``."""
        return pd.DataFrame({"R_kpc": self.radii, "K_emp": self.K_emp, "K_th": self.K_th})

    def plot(self):
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 4))
        ax.plot(self.radii, self.K_emp, "k-", label="K_emp (research MW fit)")
        ax.plot(self.radii, self.K_th, "C0--", label=f"K_th (corr {self.corr_K_emp_theory:.3f})")
        ax.set(xlabel="R [kpc]", ylabel="K", title=f"Milky Way kernel, {self.target} fit")
        ax.legend()
        return fig

    def summary(self) -> str:
        p = ", ".join(f"{k}={v:.4g}" for k, v in self.theory_fit_params.items())
        lines = [
            f"MW {self.target} fit: corr(K_emp, K_th) = {self.corr_K_emp_theory:.4f}, "
            f"chi2_K = {self.chi2_K:.3e}, phase_sign = {self.phase_sign:+.0f}; {p}",
            _optimiser_line(self.fit),
            *self.status.summary().splitlines(),
        ]
        if self.fit.success:
            lines.append(f"research MW criteria (corr > {CRITERIA['mw_corr_min']}, chi2_K < "
                         f"{CRITERIA['mw_chi2_K_max']:g}): {_passed(self.verdict['passed'])}")
        return "\n".join(lines)


# --------------------------------------------------------------------------------- SPARC
@dataclasses.dataclass
class SparcResult(_GravityResult):
    """Zero-shot SPARC evaluation (:func:`~jaxfit.gravity.sparc_fit.sparc_batch`):
    ``table`` one row per galaxy (``rms_bar``, ``rms_model``, ``delta_rms`` in km/s),
    ``stats`` the totals over galaxies, ``curves`` the padded rotation curves for plots."""

    table: pd.DataFrame
    stats: dict
    settings: dict
    curves: dict

    default_stem = "theory_kernel_sparc_from_mw"

    @classmethod
    def from_metrics(cls, batch: SparcBatch, points: SparcPoints, metrics, settings: dict,
                     Y_fit=None) -> SparcResult:
        """The result of :func:`~jaxfit.gravity.objective.sparc_metrics` output (host side);
        ``Y_fit`` the per-galaxy disc M/L when fitted."""
        n_real = points.n_real
        metrics = {k: np.asarray(v) for k, v in metrics.items()}
        metrics["V_bar"], metrics["V_model"] = (metrics["V_bar"][:n_real],
                                                metrics["V_model"][:n_real])
        table = pd.DataFrame(
            {
                "galaxy": list(batch.names),
                "sigma_v": np.asarray(batch.sigma_v),
                "n_points": np.asarray(points.n_points),
                "rms_bar": metrics["rms_bar"],
                "rms_model": metrics["rms_model"],
                "delta_rms": metrics["delta_rms"],
            }
        )
        if Y_fit is not None:
            table["Y_d"], table["Y_b"] = Y_fit, BULGE_TO_DISC_UPSILON * Y_fit
        d = table["delta_rms"].to_numpy()
        stats = {
            "n_galaxies": len(table),
            "mean_delta_rms": float(d.mean()),
            "median_delta_rms": float(np.median(d)),
            "fraction_improved": float(np.mean(d < 0)),
            "L_SPARC": float(metrics["L_SPARC"]),
        }
        mask = np.asarray(batch.mask)

        def padded(flat):
            out = np.zeros(mask.shape)
            out[mask] = flat
            return out

        curves = {
            "R": np.asarray(batch.R),
            "Vobs": np.asarray(batch.Vobs),
            "errV": np.asarray(batch.errV),
            "mask": mask,
            "V_bar": padded(metrics["V_bar"]),
            "V_model": padded(metrics["V_model"]),
        }
        return cls(table, stats, settings, curves)

    def by_sigma(self) -> pd.DataFrame:
        """Galaxies, mean delta_rms (km/s) and fraction improved per bin of sigma_v
        (:data:`SIGMA_BINS`)."""
        bins = pd.cut(self.table["sigma_v"], SIGMA_BINS, right=False)
        grouped = self.table.groupby(bins, observed=True)["delta_rms"]
        return pd.DataFrame(
            {
                "n": grouped.size(),
                "mean_delta_rms": grouped.mean(),
                "fraction_improved": grouped.apply(lambda d: float(np.mean(d < 0))),
            }
        )

    def to_dict(self) -> dict:
        per_bin = self.by_sigma().reset_index()
        per_bin["sigma_v"] = per_bin["sigma_v"].astype(str)
        return {
            "summary": self.stats,
            "per_sigma_bin": per_bin.to_dict(orient="records"),
            "verdict": sparc_verdict(self.stats),
            "settings": self.settings,
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per galaxy."""
        return self.table

    def plot(self):
        """Histogram of delta_rms over the galaxies."""
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 4))
        ax.hist(self.table["delta_rms"], bins=30, color="C0")
        ax.axvline(0.0, color="k", lw=1)
        ax.set(
            xlabel="delta_rms = rms(model) - rms(baryons) [km/s]",
            ylabel="galaxies",
            title=f"SPARC zero-shot: mean {self.stats['mean_delta_rms']:.2f} km/s, "
            f"{100 * self.stats['fraction_improved']:.0f}% improved",
        )
        return fig

    def plot_curves(self, n: int = 6):
        """Rotation-curve panels of the ``n`` galaxies with the most points."""
        import matplotlib.pyplot as plt

        order = np.argsort(-self.table["n_points"].to_numpy())[:n]
        cols = 3
        fig, axes = plt.subplots(-(-len(order) // cols), cols, figsize=(11, 6), squeeze=False)
        for ax, g in zip(axes.ravel(), order, strict=False):
            m = self.curves["mask"][g]
            R = self.curves["R"][g][m]
            ax.errorbar(
                R,
                self.curves["Vobs"][g][m],
                self.curves["errV"][g][m],
                fmt="k.",
                ms=3,
                label="observed",
            )
            ax.plot(R, self.curves["V_bar"][g][m], "C1-", label="baryons")
            ax.plot(R, self.curves["V_model"][g][m], "C0-", label="theory kernel")
            ax.set_title(
                f"{self.table['galaxy'].iloc[g]} "
                f"(delta_rms {self.table['delta_rms'].iloc[g]:+.1f})",
                fontsize=9,
            )
            ax.set(xlabel="R [kpc]", ylabel="v [km/s]")
        axes.ravel()[0].legend(fontsize=7)
        fig.tight_layout()
        return fig

    def save(self, directory, stem: str | None = None, provenance: dict | None = None
             ) -> dict[str, Path]:
        """The three files of every result, plus ``stem_curves.png`` (:meth:`plot_curves`)."""
        paths = super().save(directory, stem, provenance)
        curves = paths["png"].with_name(f"{paths['png'].stem}_curves.png")
        return paths | {"curves": save_figure(self.plot_curves(), curves)}

    def summary(self) -> str:
        s = self.stats
        v = sparc_verdict(s)
        return (
            f"SPARC zero-shot, {s['n_galaxies']} galaxies: mean delta_rms = "
            f"{s['mean_delta_rms']:+.2f} km/s (median {s['median_delta_rms']:+.2f}), "
            f"{100 * s['fraction_improved']:.1f}% improved\n"
            f"research SPARC criteria (mean delta_rms < "
            f"{CRITERIA['sparc_mean_delta_rms_max']:g} km/s, > "
            f"{100 * CRITERIA['sparc_fraction_improved_min']:.0f}% improved): "
            f"{_passed(v['passed'])}"
        )


# ------------------------------------------------------------------------------ clusters
@dataclasses.dataclass
class ClusterFit(_GravityResult):
    """Result of :func:`~jaxfit.gravity.cluster_fit.cluster_amplitude`: the profiled
    ``A_cluster_best``, the galaxies' ``A_galaxy``, ``chi2_norm = L_cl / n_clusters`` and
    one ``table`` row per cluster (masses in Msun, R_E in kpc)."""

    A_cluster_best: float
    A_galaxy: float
    chi2_norm: float
    table: pd.DataFrame
    settings: dict

    default_stem = "theory_kernel_cluster_amp_fit"

    @classmethod
    def from_profile(cls, params, clusters: ClusterSet, k, A, loss, phase_sign,
                     bounds) -> ClusterFit:
        """The result of a profiled amplitude ``A`` and unit kernel ``k`` at the clusters'
        Einstein radii, with ``loss`` = ``L_cl`` (host side)."""
        A, k = float(A), np.asarray(k)
        M_th = np.asarray(theory_mass(clusters, A * k))
        M_req, M_bar = np.asarray(clusters.M_required), np.asarray(clusters.M_bar)
        table = pd.DataFrame(
            {
                "cluster": list(clusters.names),
                "R_E_kpc": np.asarray(clusters.R_E_kpc),
                "M_required": M_req,
                "M_bar": M_bar,
                "K_at_RE": A * k,
                "M_theory": M_th,
                "mass_ratio": M_th / M_req,
                "mass_ratio_baryons": M_bar / M_req,
            }
        )
        settings = {
            "theory_params": dict(params),
            "phase_sign": phase_sign,
            "bounds": [float(b) for b in bounds],
            "sigma_v": np.asarray(clusters.sigma_v).tolist(),
            "projection": clusters.projection,
            "mu_e": clusters.mu_e,
        }
        return cls(A, abs(float(params["A_global"])), float(loss) / len(clusters), table,
                   settings)

    @property
    def ratio(self) -> float:
        """``A_cluster / A_galaxy`` (inf when the galaxies' amplitude is 0)."""
        return self.A_cluster_best / self.A_galaxy if self.A_galaxy else float("inf")

    def to_dict(self) -> dict:
        return {
            "A_cluster_best": self.A_cluster_best,
            "A_galaxy": self.A_galaxy,
            "A_cluster_A_gal_ratio": self.ratio,
            "chi2_norm": self.chi2_norm,
            "cluster_results": self.table.to_dict(orient="records"),
            "verdict": cluster_verdict(self.ratio, self.table["mass_ratio"].to_numpy()),
            "settings": self.settings,
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per cluster."""
        return self.table

    def plot(self):
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 4))
        x = np.arange(len(self.table))
        ax.bar(x - 0.2, self.table["mass_ratio_baryons"], 0.4, label="baryons only")
        ax.bar(
            x + 0.2, self.table["mass_ratio"], 0.4, label=f"A_cluster = {self.A_cluster_best:.3g}"
        )
        ax.axhspan(*CRITERIA["cluster_mass_ratio_range"], color="g", alpha=0.1)
        ax.axhline(1.0, color="k", lw=1)
        ax.set_xticks(x, self.table["cluster"])
        ax.set(yscale="log", ylabel="M(<R_E) / M_required", title="Cluster Einstein masses")
        ax.legend()
        return fig

    def summary(self) -> str:
        ratios = ", ".join(
            f"{n} {r:.2f}"
            for n, r in zip(self.table["cluster"], self.table["mass_ratio"], strict=True)
        )
        # the amplitude is profiled exactly; a value on a bound means the bound decided it
        at_bound = self.A_cluster_best in self.settings.get("bounds", ())
        v = cluster_verdict(self.ratio, self.table["mass_ratio"].to_numpy())
        return (
            f"clusters: A_cluster = {self.A_cluster_best:.4g}"
            f"{' (on its bound)' if at_bound else ''} (A_cluster/A_gal = {self.ratio:.3g}), "
            f"chi2_norm = {self.chi2_norm:.3g}; mass ratios {ratios}\n"
            f"research cluster criteria (A_cluster/A_gal in "
            f"{list(CRITERIA['cluster_ratio_range'])}, mass ratios in "
            f"{list(CRITERIA['cluster_mass_ratio_range'])}): {_passed(v['passed'])}"
        )


# --------------------------------------------------------------------------------- joint
_UNITS = {p.name: p.unit for p in (*THEORY, A_CLUSTER)}


@dataclasses.dataclass
class JointFit(_GravityResult):
    """Result of :func:`~jaxfit.gravity.joint.joint_fit`: the ``parameters`` (theory, with
    ``A_global = |A|``, and ``A_cluster``), the ``phase_sign``, the loss parts, the metrics
    of each system and the core :class:`~jaxfit.core.optimize.FitResult`."""

    parameters: dict[str, float]
    phase_sign: float
    losses: dict[str, float]
    metrics: dict
    fit: FitResult
    settings: dict

    default_stem = "theory_kernel_joint_fit"

    def to_dict(self) -> dict:
        return {
            "parameters": self.parameters | {"phase_sign": self.phase_sign},
            "losses": self.losses,
            "metrics": self.metrics,
            "optimization": self.fit.to_dict(),
            "verdict": verdict(self.metrics, converged=self.fit.success),
            "settings": self.settings,
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per fitted parameter: ``parameter``, ``value``, ``unit``."""
        return pd.DataFrame(
            {
                "parameter": list(self.parameters),
                "value": list(self.parameters.values()),
                "unit": [_UNITS.get(name, "") for name in self.parameters],
            }
        )

    def plot(self):
        """The weighted loss parts, and each cluster's mass ratio at the fitted amplitude."""
        import matplotlib.pyplot as plt

        fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
        parts = ("L_MW", "L_SPARC", "L_cluster")
        weights = self.settings.get("weights", (1.0, 1.0, 1.0))
        left.bar(parts, [w * self.losses[p] for w, p in zip(weights, parts, strict=True)])
        left.set(yscale="log", ylabel="weight x loss",
                 title=f"joint loss {self.losses['total']:.4g}")
        ratios = self.metrics["clusters"]["mass_ratio"]
        right.bar(list(ratios), list(ratios.values()), color="C1")
        right.axhspan(*CRITERIA["cluster_mass_ratio_range"], color="g", alpha=0.1)
        right.axhline(1.0, color="k", lw=1)
        right.set(yscale="log", ylabel="M(<R_E) / M_required",
                  title=f"A_cluster = {self.metrics['clusters']['A_cluster']:.3g}")
        fig.tight_layout()
        return fig

    def summary(self) -> str:
        losses = ", ".join(f"{k} {v:.4g}" for k, v in self.losses.items())
        m = self.metrics
        lines = [
            f"joint fit: {losses}; MW corr {m['mw']['corr']:.3f}, SPARC mean delta_rms "
            f"{m['sparc']['mean_delta_rms']:+.2f} km/s, "
            f"A_cluster {m['clusters']['A_cluster']:.3g}",
            _optimiser_line(self.fit),
        ]
        if self.fit.success:
            v = verdict(m, converged=True)
            parts = ", ".join(f"{k} {_passed(v[k]['passed'])}" for k in ("mw", "sparc",
                                                                        "clusters"))
            lines.append(f"research criteria: {parts}")
        return "\n".join(lines)
