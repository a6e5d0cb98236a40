"""Results of the CNN workflows, each a :class:`jaxfit.core.results.Result`.

- :class:`TrainResult` (:func:`jaxfit.lensing.training.train`): the loss curves, the test
  metrics on held-out galaxies and the throughput; saved as ``metrics.json`` / ``.csv`` (one
  row per epoch) / ``.png`` (losses per step and epoch, validation scores, test ROC curve).
- :class:`SweepResult` (:func:`jaxfit.lensing.sweep.sweep`): one row per training run of a
  grid; saved as ``sweep.json`` / ``.csv`` / ``.png`` (test accuracy and ROC AUC against the
  first numeric grid name, and every run's loss curves).

Accuracies and ROC AUCs are fractions in [0, 1]. A run is judged against chance by the
one-sided binomial test of :mod:`jaxfit.lensing.metrics` (its test accuracy against the
majority-class rate of the test set, p < 0.01); summaries name the runs that fail it and
never count them as detections.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from jaxfit.core.results import ResultSet
from jaxfit.lensing.metrics import CHANCE_ALPHA, chance_verdict, ranking_verdict, roc_curve

if TYPE_CHECKING:
    import pandas as pd

    from jaxfit.lensing.training import TrainConfig

__all__ = ["SweepResult", "TrainResult"]

CHANCE = 0.5
"""Accuracy and ROC AUC of a classifier that guesses (balanced classes)."""


def _score_text(accuracy: float, roc_auc: float) -> str:
    """``accuracy 0.953, ROC AUC 0.990``."""
    return f"accuracy {accuracy:.3f}, ROC AUC {roc_auc:.3f}"


def _chance_text(accuracy: float, n: int, rate: float) -> str:
    """The verdict of :func:`~jaxfit.lensing.metrics.chance_verdict` in words."""
    verdict = chance_verdict(accuracy, n, rate)
    p = verdict["chance_p_value"]
    if verdict["beats_chance"]:
        return f"beats chance (majority-class rate {rate:.3f}, binomial p = {p:.1e})"
    return (f"NOT better than chance: majority-class rate {rate:.3f}, one-sided binomial "
            f"p = {p:.2f} >= {CHANCE_ALPHA} (n={n})")


def _ranking_remark(accuracy: float, roc_auc: float, n: int, rate: float) -> str:
    """For a run at chance whose scores still rank the classes (:func:`ranking_verdict`):
    say that its threshold, not its ranking, fails; otherwise nothing."""
    if not np.isfinite(roc_auc) or chance_verdict(accuracy, n, rate)["beats_chance"]:
        return ""
    if not ranking_verdict(roc_auc, n, rate)["ranks_classes"]:
        return ""
    return "; its scores rank the classes (AUC test p < 0.01) but the threshold is off"


_CHANCE_TEST = (f"one-sided binomial test of the test accuracy against the majority-class "
                f"rate, p < {CHANCE_ALPHA}")


def _figure(ncols: int):
    import matplotlib.pyplot as plt

    return plt.subplots(1, ncols, figsize=(5.0 * ncols, 4), squeeze=False)


@dataclass
class TrainResult(ResultSet):
    """What :func:`~jaxfit.lensing.training.train` returns.

    Attributes:
        model: the trained model (in evaluation mode).
        history: one dict per epoch: ``epoch``, ``train_loss`` (mean over the epoch's
            steps), ``val_loss``, ``val_accuracy``, ``val_roc_auc``, ``epoch_s``.
        step_losses: the training cross-entropy of every step, in order.
        test: ``{"accuracy", "roc_auc", "loss", "n", "majority_rate", "chance_p_value",
            "beats_chance"}`` on the held-out galaxies (None while training runs: the
            result saved after each epoch).
        throughput: ``first_step_s`` (trace + compile + run of the first step),
            ``warm_steps_per_s`` and ``warm_images_per_s`` (steps after the first,
            evaluation excluded), ``n_steps`` (of this call, not counting a resumed
            run's earlier steps), ``batch_size``, ``device``.
        split: galaxy ids per split (``train``, ``val``, ``test``).
        config: the :class:`~jaxfit.lensing.training.TrainConfig`.
        test_labels, test_scores: labels and scores (logit difference) of the test set.
        paths: files written (``metrics``, ``metrics_csv``, ``metrics_png``,
            ``checkpoint``) when ``out_dir`` was given.
    """

    default_stem = "metrics"

    model: Any
    history: list[dict]
    step_losses: list[float]
    test: dict | None
    throughput: dict
    split: dict
    config: TrainConfig
    test_labels: np.ndarray | None
    test_scores: np.ndarray | None
    paths: dict = field(default_factory=dict)

    @property
    def steps_per_epoch(self) -> int:
        return -(-self.config.n_train // self.config.batch_size)

    @property
    def beats_chance(self) -> bool | None:
        """Whether the test accuracy beats the majority-class rate (one-sided binomial test,
        recomputed from ``test``); None before testing."""
        if self.test is None:
            return None
        t = self.test
        return chance_verdict(t["accuracy"], t["n"], t["majority_rate"])["beats_chance"]

    def to_dict(self) -> dict:
        """Configuration, split, per-epoch metrics, per-step losses, test metrics and
        throughput."""
        return {
            "config": self.config.to_dict(),
            "split": self.split,
            "steps_per_epoch": self.steps_per_epoch,
            "epochs": self.history,
            "step_losses": self.step_losses,
            "test": self.test,
            "throughput": self.throughput,
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per epoch (the ``history``)."""
        import pandas as pd

        return pd.DataFrame(self.history)

    def plot(self):
        """Three panels: the loss curves against the step (training loss of every step, its
        epoch mean and the validation loss at each epoch's end); validation accuracy and
        ROC AUC per epoch (chance dashed); the test ROC curve once tested."""
        fig, axes = _figure(3)
        ax_loss, ax_score, ax_roc = axes[0]
        steps = np.arange(1, len(self.step_losses) + 1)
        ax_loss.plot(steps, self.step_losses, lw=0.7, alpha=0.5, label="train (step)")
        ends = [h["epoch"] * self.steps_per_epoch for h in self.history]
        ax_loss.plot(ends, [h["train_loss"] for h in self.history], marker="o",
                     label="train (epoch mean)")
        ax_loss.plot(ends, [h["val_loss"] for h in self.history], marker="s",
                     label="validation")
        ax_loss.set_xlabel("training step")
        ax_loss.set_ylabel("cross-entropy")
        ax_loss.legend(fontsize=8)
        epochs = [h["epoch"] for h in self.history]
        for key, label in (("val_accuracy", "val accuracy"), ("val_roc_auc", "val ROC AUC")):
            ax_score.plot(epochs, [h[key] for h in self.history], marker="o", label=label)
        if self.test is not None:
            ax_score.axhline(self.test["accuracy"], color="C0", ls=":", label="test accuracy")
        ax_score.axhline(CHANCE, color="grey", lw=0.8, ls="--")
        ax_score.set_xlabel("epoch")
        ax_score.set_ylim(0.0, 1.05)
        ax_score.legend(fontsize=8)
        ax_roc.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--")
        if self.test is not None and np.isfinite(self.test["roc_auc"]):
            fpr, tpr = roc_curve(self.test_labels, self.test_scores)
            ax_roc.plot(fpr, tpr, label=f"test, AUC {self.test['roc_auc']:.3f}")
            ax_roc.legend(fontsize=8, loc="lower right")
        ax_roc.set_xlabel("false-positive rate")
        ax_roc.set_ylabel("true-positive rate")
        ax_roc.set_title("test ROC", fontsize=9)
        c = self.config
        fig.suptitle(f"CNN {c.experiment} ({c.channels}, {c.arch})")
        return fig

    def summary(self) -> str:
        """The test scores and their chance verdict (or the progress so far), the split and
        the speed."""
        c = self.config
        lines = [f"CNN {c.experiment} ({c.channels}, {c.arch}), "
                 f"{len(self.history)} of {c.epochs} epochs"]
        if self.test is None:
            lines.append("not tested yet (training in progress)")
        else:
            t = self.test
            lines.append(f"test on held-out galaxies {', '.join(self.split['test'])} "
                         f"(n={t['n']}): {_score_text(t['accuracy'], t['roc_auc'])}")
            numbers = (t["accuracy"], t["roc_auc"], t["n"], t["majority_rate"])
            lines.append(f"test {_chance_text(t['accuracy'], t['n'], t['majority_rate'])}"
                         + _ranking_remark(*numbers))
        if self.history:
            last = self.history[-1]
            lines.append(f"last epoch: training loss {last['train_loss']:.3f}, validation "
                         f"loss {last['val_loss']:.3f}, "
                         f"{_score_text(last['val_accuracy'], last['val_roc_auc'])}")
        rate = self.throughput.get("warm_steps_per_s")
        if rate:
            lines.append(f"{rate:.1f} training steps/s on {self.throughput['device']}")
        return "\n".join(lines)


@dataclass
class SweepResult(ResultSet):
    """One training run per point of a grid (:func:`~jaxfit.lensing.sweep.sweep`).

    Attributes:
        frame: one row per run: ``run``, the grid values, ``accuracy``, ``roc_auc``,
            ``loss`` (test), ``n_test``, ``majority_rate``, ``chance_p_value``,
            ``beats_chance`` (:func:`~jaxfit.lensing.metrics.chance_verdict`),
            ``val_accuracy`` (last epoch), ``steps_per_s`` and every config field.
        names: the grid's names, in the order of the grid.
        curves: ``{run: [{"epoch", "train_loss", "val_loss"}, ...]}``, each run's loss per
            epoch.
    """

    default_stem = "sweep"

    frame: pd.DataFrame
    names: list[str]
    curves: dict[int, list[dict]]

    def to_dict(self) -> dict:
        """The grid's names, every run's row and every run's loss curve."""
        return {"grid": list(self.names), "chance_test": _CHANCE_TEST,
                "runs": self.frame.to_dict(orient="records"),
                "loss_curves": {str(run): curve for run, curve in self.curves.items()}}

    def to_frame(self) -> pd.DataFrame:
        return self.frame

    @property
    def x_name(self) -> str:
        """The plot's abscissa: ``theta_E_sub_factor`` if swept, else the first numeric grid
        name, else the run number."""
        if "theta_E_sub_factor" in self.names:
            return "theta_E_sub_factor"
        numeric = [n for n in self.names if n != "channels"
                   and np.issubdtype(np.asarray(self.frame[n]).dtype, np.number)]
        return numeric[0] if numeric else "run"

    def _where(self, row) -> str:
        return ", ".join(f"{n}={row[n]}" for n in self.names)

    def plot(self):
        """Three panels: test accuracy and test ROC AUC against :attr:`x_name`, one line per
        value of the other grid names, runs that do not beat chance ringed in red; and the
        loss curves of every run (training solid, validation dashed, per epoch)."""
        x = self.x_name
        groups = [n for n in self.names if n != x]
        fig, axes = _figure(3)
        ax_acc, ax_auc, ax_loss = axes[0]
        grouped = self.frame.groupby(groups, sort=False) if groups else [((), self.frame)]
        for i, (key, part) in enumerate(grouped):
            key = key if isinstance(key, tuple) else (key,)
            label = ", ".join(f"{g}={v}" for g, v in zip(groups, key, strict=True)) or "all"
            part = part.sort_values(x)
            for ax, column in ((ax_acc, "accuracy"), (ax_auc, "roc_auc")):
                ax.plot(part[x], part[column], marker="o", color=f"C{i % 10}", label=label)
        at_chance = self.frame[~self.frame["beats_chance"].astype(bool)]
        ax_acc.scatter(at_chance[x], at_chance["accuracy"], s=120, facecolors="none",
                       edgecolors="red", zorder=3,
                       label=f"not better than chance (binomial p >= {CHANCE_ALPHA})")
        for ax, name in ((ax_acc, "test accuracy"), (ax_auc, "test ROC AUC")):
            ax.axhline(CHANCE, color="grey", lw=0.8, ls="--")
            ax.set_xlabel(x)
            ax.set_ylabel(name)
            ax.set_ylim(0.0, 1.05)
            ax.set_title(f"CNN {name}", fontsize=9)
        ax_acc.legend(fontsize=6)
        for run, curve in self.curves.items():
            epochs = [c["epoch"] for c in curve]
            color = f"C{int(run) % 10}"
            ax_loss.plot(epochs, [c["train_loss"] for c in curve], color=color, marker=".",
                         label=f"run {run}")
            ax_loss.plot(epochs, [c["val_loss"] for c in curve], color=color, ls="--")
        ax_loss.set_xlabel("epoch")
        ax_loss.set_ylabel("cross-entropy")
        ax_loss.set_title("loss curves (training solid, validation dashed)", fontsize=9)
        if len(self.curves) <= 12:  # beyond that a legend hides the curves
            ax_loss.legend(fontsize=6)
        return fig

    def summary(self) -> str:
        """How many runs over which names, how many beat chance, the best of those, and
        one line per run that does not (never a success)."""
        f = self.frame
        if f.empty:
            return f"sweep over {', '.join(self.names)}: no runs"
        beats = f["beats_chance"].astype(bool)
        lines = [f"sweep over {', '.join(self.names)}: {len(f)} training runs, "
                 f"{int(beats.sum())} beat chance ({_CHANCE_TEST})"]
        if beats.any():
            best = f[beats].loc[f.loc[beats, "accuracy"].idxmax()]
            lines.append(f"best test {_score_text(best['accuracy'], best['roc_auc'])} at "
                         f"{self._where(best)}")
        else:
            lines.append("no run learned to tell the classes apart better than chance")
        for _, row in f[~beats].iterrows():
            lines.append(f"at chance: run {row['run']} ({self._where(row)}): accuracy "
                         f"{row['accuracy']:.3f} vs majority-class rate "
                         f"{row['majority_rate']:.3f}, p = {row['chance_p_value']:.2f}, "
                         f"ROC AUC {row['roc_auc']:.3f}"
                         + _ranking_remark(row["accuracy"], row["roc_auc"], row["n_test"],
                                           row["majority_rate"]))
        return "\n".join(lines)
