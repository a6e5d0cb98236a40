"""Classification metrics of the CNN, reduced in float64 numpy on the host.

**ROC.** The score of an image is ``logit_1 - logit_0``; :func:`roc_curve` sweeps a
threshold over it and :func:`roc_auc` is the area under that curve, the probability that a
random positive scores above a random negative (ties 1/2).

**Chance.** A classifier has learned something only if its accuracy beats the best
constant guess, the *majority-class rate* ``p0 = max(n_1, n_0) / n`` of the evaluation set
(0.5 for balanced classes; a constant classifier scores exactly ``p0``). The verdict is a
one-sided exact binomial test: under "no better than chance" the number of correct answers
is ``K ~ Binomial(n, p0)``, so the p-value of ``k`` correct answers is ``P(K >= k)``, and the
run *beats chance* when it is below :data:`CHANCE_ALPHA` (0.01). For ``n = 400`` balanced
test images that needs accuracy >= 0.56 (``p0 + 2.3 sqrt(p0 (1 - p0) / n)``). There is no
correction for the number of runs of a sweep: among 24 runs that all guess, up to about
one in five sweeps would show one run beating chance at this threshold.

Accuracy judges the decision (the sign of the score); ROC AUC judges the ranking.
:func:`ranking_verdict` tests the AUC against 1/2 (Mann-Whitney, normal approximation), so
a report can tell a network that learned nothing from one whose scores separate the classes
of a held-out galaxy but sit on the wrong side of zero (accuracy at chance, AUC near 1).
"""

from __future__ import annotations

import numpy as np

from jaxfit.core import checks

__all__ = ["CHANCE_ALPHA", "chance_verdict", "classification_metrics", "majority_rate",
           "ranking_verdict", "roc_auc", "roc_curve"]

CHANCE_ALPHA = 0.01
"""A run beats chance when its one-sided binomial p-value is below this."""


def _labels_and_scores(labels, scores) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    if y.shape != s.shape:
        raise ValueError(f"labels and scores: shapes differ, {y.shape} vs {s.shape}")
    if not np.all((y == 0) | (y == 1)):
        raise ValueError("labels: expected values in {0, 1}")
    if not np.all(np.isfinite(s)):
        raise ValueError("scores: expected finite values")
    return y.astype(np.int64), s


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

    y, s = _labels_and_scores(labels, scores)
    pos = y == 1
    n1 = int(pos.sum())
    n0 = y.size - n1
    if n1 == 0 or n0 == 0:
        return float("nan")
    ranks = rankdata(s)  # average ranks for ties
    return float((ranks[pos].sum() - n1 * (n1 + 1) / 2.0) / (n1 * n0))


def roc_curve(labels, scores) -> tuple[np.ndarray, np.ndarray]:
    """False- and true-positive rates as the threshold falls through the distinct scores.

    Starts at ``(0, 0)`` (threshold above every score) and ends at ``(1, 1)``; tied scores
    are one step, a diagonal segment, so the trapezoid area under ``(fpr, tpr)`` equals
    :func:`roc_auc` exactly.

    Args:
        labels: ``(n,)`` in {0, 1}, both classes present.
        scores: ``(n,)`` finite scores, larger meaning "class 1".

    Returns:
        ``(fpr, tpr)``, float64 arrays of equal length, both non-decreasing.
    """
    y, s = _labels_and_scores(labels, scores)
    n1 = int(y.sum())
    n0 = y.size - n1
    if n1 == 0 or n0 == 0:
        raise ValueError("labels: expected both classes for a ROC curve")
    order = np.argsort(-s, kind="stable")
    s, y = s[order], y[order]
    last_of_tie = np.r_[s[1:] != s[:-1], True]  # the curve moves once per distinct score
    tp = np.cumsum(y)[last_of_tie]
    fp = np.cumsum(1 - y)[last_of_tie]
    return np.r_[0.0, fp / n0], np.r_[0.0, tp / n1]


def majority_rate(labels) -> float:
    """The accuracy of the best constant guess, ``max(n_1, n_0) / n`` (labels in {0, 1})."""
    y, _ = _labels_and_scores(labels, np.zeros(np.size(labels)))
    if y.size == 0:
        raise ValueError("labels must not be empty")
    share = float(np.mean(y))
    return max(share, 1.0 - share)


def chance_verdict(accuracy, n, rate) -> dict:
    """One-sided exact binomial test of an accuracy against the majority-class rate.

    Args:
        accuracy: fraction correct, in [0, 1].
        n: number of evaluated images.
        rate: majority-class rate ``p0`` of those images (:func:`majority_rate`), in [0.5, 1].

    Returns:
        ``{"chance_p_value": P(K >= k | n, p0), "beats_chance": p < CHANCE_ALPHA}`` with
        ``k = round(accuracy n)`` correct answers.
    """
    from scipy.stats import binom

    accuracy = checks.real(accuracy, "accuracy", low=0.0, high=1.0)
    n = checks.count(n, "n")
    rate = checks.real(rate, "majority-class rate", low=0.5, high=1.0)
    correct = round(accuracy * n)
    p_value = float(binom.sf(correct - 1, n, rate))
    return {"chance_p_value": p_value, "beats_chance": bool(p_value < CHANCE_ALPHA)}


def ranking_verdict(auc, n, rate) -> dict:
    """One-sided test of a ROC AUC against 1/2 (scores unrelated to the labels).

    Under that hypothesis (and without ties) the Mann-Whitney ``U = AUC n_1 n_0`` has mean
    ``n_1 n_0 / 2`` and variance ``n_1 n_0 (n + 1) / 12``, so
    ``z = (AUC - 1/2) / sqrt((n + 1) / (12 n_1 n_0))`` and ``p = P(Z >= z)``; the normal
    approximation is good to a few per cent of ``p`` for ``n_1, n_0 >= 20``.

    Args:
        auc: the ROC AUC, in [0, 1].
        n: number of evaluated images.
        rate: majority-class rate, in [0.5, 1) (it fixes ``n_1 n_0``).

    Returns:
        ``{"auc_p_value": p, "ranks_classes": p < CHANCE_ALPHA}``.
    """
    from scipy.stats import norm

    auc = checks.real(auc, "ROC AUC", low=0.0, high=1.0)
    n = checks.count(n, "n")
    rate = checks.real(rate, "majority-class rate", low=0.5, high=1.0)
    majority = round(rate * n)
    if majority >= n:
        raise ValueError(f"majority-class rate must leave both classes present, got {rate}")
    z = (auc - 0.5) / np.sqrt((n + 1) / (12.0 * majority * (n - majority)))
    p_value = float(norm.sf(z))
    return {"auc_p_value": p_value, "ranks_classes": bool(p_value < CHANCE_ALPHA)}


def classification_metrics(logits, labels) -> dict:
    """Mean cross-entropy, accuracy, ROC AUC (score = logit_1 - logit_0), the
    majority-class rate and the chance verdict (:func:`chance_verdict`), float64 numpy."""
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(labels).astype(np.int64)
    zmax = z.max(axis=1, keepdims=True)
    log_norm = zmax[:, 0] + np.log(np.exp(z - zmax).sum(axis=1))
    loss = float(np.mean(log_norm - z[np.arange(y.size), y]))
    accuracy = float(np.mean(np.argmax(z, axis=1) == y))
    score = z[:, 1] - z[:, 0]
    rate = majority_rate(y)
    return {"loss": loss, "accuracy": accuracy, "roc_auc": roc_auc(y, score), "n": int(y.size),
            "majority_rate": rate, **chance_verdict(accuracy, y.size, rate)}
