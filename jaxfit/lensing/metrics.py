"""Classification metrics of the CNN, reduced in float64 numpy on the host."""

from __future__ import annotations

import numpy as np

__all__ = ["classification_metrics", "roc_auc"]


def roc_auc(labels, scores) -> float:
    """Area under the ROC curve by the rank (Mann-Whitney U) formula.

    ``AUC = (R_1 - n_1 (n_1 + 1) / 2) / (n_1 n_0)`` with ``R_1`` the sum of the (tie-averaged)
    ranks of the positive scores: the probability that a random positive scores above a
    random negative, ties counting 1/2. ``nan`` when one class is absent.

    Args:
        labels: ``(n,)`` in {0, 1}.
        scores: ``(n,)`` finite scores, larger meaning "class 1".
    """
    from scipy.stats import rankdata

    y = np.asarray(labels).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    if y.shape != s.shape:
        raise ValueError(f"labels and scores: shapes differ, {y.shape} vs {s.shape}")
    if not np.all((y == 0) | (y == 1)):
        raise ValueError("labels: expected values in {0, 1}")
    if not np.all(np.isfinite(s)):
        raise ValueError("scores: expected finite values")
    pos = y == 1
    n1 = int(pos.sum())
    n0 = y.size - n1
    if n1 == 0 or n0 == 0:
        return float("nan")
    ranks = rankdata(s)  # average ranks for ties
    return float((ranks[pos].sum() - n1 * (n1 + 1) / 2.0) / (n1 * n0))


def classification_metrics(logits, labels) -> dict:
    """Mean cross-entropy, accuracy and ROC AUC (score = logit_1 - logit_0), float64 numpy."""
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(labels).astype(np.int64)
    zmax = z.max(axis=1, keepdims=True)
    log_norm = zmax[:, 0] + np.log(np.exp(z - zmax).sum(axis=1))
    loss = float(np.mean(log_norm - z[np.arange(y.size), y]))
    accuracy = float(np.mean(np.argmax(z, axis=1) == y))
    score = z[:, 1] - z[:, 0]
    return {"loss": loss, "accuracy": accuracy, "roc_auc": roc_auc(y, score), "n": int(y.size)}
