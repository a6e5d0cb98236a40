"""Tests of the classification metrics (jaxfit.lensing.metrics) against an O(n^2) pair
count (ROC AUC) and numpy softmax cross-entropy."""

import itertools

import numpy as np
import pytest

from jaxfit.lensing import metrics


def _auc_pairs(labels, scores):
    """Reference: O(n^2) count of (positive, negative) pairs ordered right, ties 1/2."""
    pos = scores[labels == 1]
    neg = scores[labels == 0]
    wins = sum(1.0 if p > q else 0.5 if p == q else 0.0 for p, q in itertools.product(pos, neg))
    return wins / (len(pos) * len(neg))


def test_roc_auc_matches_pair_count():
    rng = np.random.default_rng(4)
    for n in (7, 50, 201):
        labels = rng.integers(0, 2, n)
        labels[:2] = (0, 1)
        scores = np.round(rng.normal(size=n) + 0.7 * labels, 1)  # rounding makes ties
        assert metrics.roc_auc(labels, scores) == pytest.approx(_auc_pairs(labels, scores),
                                                            abs=1e-12)
    assert metrics.roc_auc([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4]) == 1.0
    assert metrics.roc_auc([1, 1, 0, 0], [0.1, 0.2, 0.3, 0.4]) == 0.0
    assert np.isnan(metrics.roc_auc([1, 1, 1], [0.1, 0.2, 0.3]))
    with pytest.raises(ValueError, match="labels"):
        metrics.roc_auc([0, 2], [0.1, 0.2])


def test_classification_metrics_against_numpy():
    rng = np.random.default_rng(5)
    logits = rng.normal(size=(40, 2))
    labels = rng.integers(0, 2, 40)
    got = metrics.classification_metrics(logits, labels)
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    assert got["loss"] == pytest.approx(-np.mean(np.log(p[np.arange(40), labels])), rel=1e-12)
    assert got["accuracy"] == pytest.approx(np.mean(p.argmax(1) == labels))
    assert got["roc_auc"] == pytest.approx(_auc_pairs(labels, p[:, 1]), abs=1e-12)
