"""Results of the CNN workflows, each a :class:`jaxfit.core.results.Result`.

- :class:`TrainResult` (:func:`jaxfit.lensing.training.train`): the learning curves, the test
  metrics on held-out galaxies and the throughput; saved as ``metrics.json`` / ``.csv`` (one
  row per epoch) / ``.png`` (learning curves).
- :class:`SweepResult` (:func:`jaxfit.lensing.sweep.sweep`): one row per training run of a
  grid; saved as ``sweep.json`` / ``.csv`` / ``.png`` (test accuracy against the first
  numeric grid name).

Accuracies and ROC AUCs are fractions in [0, 1]; a binary classifier at chance scores 0.5.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from jaxfit.core.results import ResultSet

if TYPE_CHECKING:
    import pandas as pd

    from jaxfit.lensing.training import TrainConfig

__all__ = ["SweepResult", "TrainResult"]

CHANCE = 0.5
"""Accuracy and ROC AUC of a classifier that guesses (balanced classes)."""

_NEAR_CHANCE = 0.1  # within this of CHANCE, a score is reported as "near chance"


def _score_text(accuracy: float, roc_auc: float) -> str:
    """``accuracy 0.953, ROC AUC 0.990``, flagged when the classifier is no better than
    guessing."""
    text = f"accuracy {accuracy:.3f}, ROC AUC {roc_auc:.3f}"
    if abs(accuracy - CHANCE) <= _NEAR_CHANCE:
        text += f" (near chance, {CHANCE})"
    elif accuracy < CHANCE:
        text += f" (below chance, {CHANCE})"
    return text


def _figure(ncols: int):
    import matplotlib.pyplot as plt

    return plt.subplots(1, ncols, figsize=(5.5 * ncols, 4), squeeze=False)


@dataclass
class TrainResult(ResultSet):
    """What :func:`~jaxfit.lensing.training.train` returns.

    Attributes:
        model: the trained model (in evaluation mode).
        history: one dict per epoch: ``epoch``, ``train_loss``, ``val_loss``,
            ``val_accuracy``, ``val_roc_auc``, ``epoch_s``.
        test: ``{"accuracy", "roc_auc", "loss", "n"}`` on the held-out galaxies (None while
            training runs: the result saved after each epoch).
        throughput: ``first_step_s`` (trace + compile + run of the first step),
            ``warm_steps_per_s`` and ``warm_images_per_s`` (steps after the first,
            evaluation excluded), ``n_steps``, ``batch_size``, ``device``.
        split: galaxy ids per split (``train``, ``val``, ``test``).
        config: the :class:`~jaxfit.lensing.training.TrainConfig`.
        test_labels, test_scores: labels and scores (logit difference) of the test set.
        paths: files written (``metrics``, ``metrics_csv``, ``metrics_png``,
            ``checkpoint``) when ``out_dir`` was given.
    """

    default_stem = "metrics"

    model: Any
    history: list[dict]
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

    def to_dict(self) -> dict:
        """Configuration, split, per-epoch metrics, test metrics and throughput."""
        return {
            "config": self.config.to_dict(),
            "split": self.split,
            "steps_per_epoch": self.steps_per_epoch,
            "epochs": self.history,
            "test": self.test,
            "throughput": self.throughput,
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per epoch (the ``history``)."""
        import pandas as pd

        return pd.DataFrame(self.history)

    def plot(self):
        """Learning curves: losses, and validation accuracy / ROC AUC against the epoch (the
        test accuracy as a dotted line once tested, chance as a dashed one)."""
        fig, axes = _figure(2)
        ax_loss, ax_score = axes[0]
        epochs = [h["epoch"] for h in self.history]
        for key, label in (("train_loss", "train"), ("val_loss", "validation")):
            ax_loss.plot(epochs, [h[key] for h in self.history], marker="o", label=label)
        ax_loss.set_xlabel("epoch")
        ax_loss.set_ylabel("cross-entropy")
        ax_loss.legend(fontsize=8)
        for key, label in (("val_accuracy", "val accuracy"), ("val_roc_auc", "val ROC AUC")):
            ax_score.plot(epochs, [h[key] for h in self.history], marker="o", label=label)
        if self.test is not None:
            ax_score.axhline(self.test["accuracy"], color="C0", ls=":", label="test accuracy")
        ax_score.axhline(CHANCE, color="grey", lw=0.8, ls="--")
        ax_score.set_xlabel("epoch")
        ax_score.set_ylim(0.0, 1.05)
        ax_score.legend(fontsize=8)
        c = self.config
        fig.suptitle(f"CNN {c.experiment} ({c.channels}, {c.arch})")
        return fig

    def summary(self) -> str:
        """The test scores (or the progress so far), the split and the speed."""
        c = self.config
        lines = [f"CNN {c.experiment} ({c.channels}, {c.arch}), "
                 f"{len(self.history)} of {c.epochs} epochs"]
        if self.test is None:
            lines.append("not tested yet (training in progress)")
        else:
            lines.append(f"test on held-out galaxies {', '.join(self.split['test'])} "
                         f"(n={self.test['n']}): "
                         f"{_score_text(self.test['accuracy'], self.test['roc_auc'])}")
        if self.history:
            last = self.history[-1]
            lines.append(f"last epoch: validation "
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
            ``loss`` (test), ``val_accuracy`` (last epoch), ``steps_per_s`` and every
            config field.
        names: the grid's names, in the order of the grid.
    """

    default_stem = "sweep"

    frame: pd.DataFrame
    names: list[str]

    def to_dict(self) -> dict:
        """The grid's names and every run's row."""
        return {"grid": list(self.names), "runs": self.frame.to_dict(orient="records")}

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

    def plot(self):
        """Test accuracy against :attr:`x_name`, one line per value of the other grid
        names."""
        x = self.x_name
        groups = [n for n in self.names if n != x]
        fig, axes = _figure(1)
        ax = axes[0][0]
        grouped = self.frame.groupby(groups, sort=False) if groups else [((), self.frame)]
        for key, part in grouped:
            key = key if isinstance(key, tuple) else (key,)
            label = ", ".join(f"{g}={v}" for g, v in zip(groups, key, strict=True)) or "all"
            part = part.sort_values(x)
            ax.plot(part[x], part["accuracy"], marker="o", label=label)
        ax.axhline(CHANCE, color="grey", lw=0.8, ls="--")
        ax.set_xlabel(x)
        ax.set_ylabel("test accuracy")
        ax.set_ylim(0.0, 1.05)
        ax.legend(fontsize=7)
        ax.set_title("CNN test accuracy")
        return fig

    def summary(self) -> str:
        """How many runs, over which names, and the best and worst test accuracy."""
        f = self.frame
        if f.empty:
            return f"sweep over {', '.join(self.names)}: no runs"
        best, worst = f.loc[f["accuracy"].idxmax()], f.loc[f["accuracy"].idxmin()]

        def where(row):
            return ", ".join(f"{n}={row[n]}" for n in self.names)

        return "\n".join([
            f"sweep over {', '.join(self.names)}: {len(f)} training runs",
            f"best test {_score_text(best['accuracy'], best['roc_auc'])} at {where(best)}",
            f"worst test accuracy {worst['accuracy']:.3f} at {where(worst)}",
        ])
