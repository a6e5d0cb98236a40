"""Tests of the classification metrics (jaxfit.lensing.metrics) against an O(n^2) pair
count and a hand-computed example (ROC AUC and curve), numpy softmax cross-entropy and
scipy's binomial tail (the chance verdict)."""

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


def test_roc_auc_and_curve_on_a_hand_computed_example():
    # positives score 0.35, 0.8, 0.9; negatives 0.1, 0.4, 0.5: of the 9 (positive,
    # negative) pairs, 0.35 beats one negative and 0.8 and 0.9 beat all three: 7/9
    labels = [0, 0, 1, 1, 0, 1]
    scores = [0.1, 0.4, 0.35, 0.8, 0.5, 0.9]
    assert metrics.roc_auc(labels, scores) == pytest.approx(7 / 9, abs=1e-15)
    fpr, tpr = metrics.roc_curve(labels, scores)
    # thresholds 0.9, 0.8, 0.5, 0.4, 0.35, 0.1 after the (0, 0) start
    np.testing.assert_allclose(fpr, [0, 0, 0, 1 / 3, 2 / 3, 2 / 3, 1], atol=1e-15)
    np.testing.assert_allclose(tpr, [0, 1 / 3, 2 / 3, 2 / 3, 2 / 3, 1, 1], atol=1e-15)
    # a tie between a positive and a negative counts 1/2 and is one diagonal step
    tied = ([0, 1, 1, 0], [0.2, 0.5, 0.5, 0.5])
    assert metrics.roc_auc(*tied) == pytest.approx(0.75, abs=1e-15)
    fpr, tpr = metrics.roc_curve(*tied)
    np.testing.assert_allclose(fpr, [0, 0.5, 1])
    np.testing.assert_allclose(tpr, [0, 1, 1])
    with pytest.raises(ValueError, match="both classes"):
        metrics.roc_curve([1, 1], [0.1, 0.2])


def test_roc_curve_area_equals_roc_auc():
    rng = np.random.default_rng(6)
    labels = rng.integers(0, 2, 300)
    scores = np.round(rng.normal(size=300) + labels, 1)  # many ties
    fpr, tpr = metrics.roc_curve(labels, scores)
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)
    area = np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2)
    assert area == pytest.approx(metrics.roc_auc(labels, scores), abs=1e-12)


def test_chance_verdict_is_a_one_sided_binomial_test():
    from scipy.stats import binom

    # n = 400 balanced: 224 correct (0.56) has P(K >= 224) = 0.0093 < 0.01, 0.555 does not
    assert metrics.chance_verdict(0.56, 400, 0.5) == {
        "chance_p_value": pytest.approx(binom.sf(223, 400, 0.5), rel=1e-12),
        "beats_chance": True}
    assert not metrics.chance_verdict(0.555, 400, 0.5)["beats_chance"]
    # the user's case: accuracy 0.53 from always answering the majority class (53 %)
    constant = metrics.chance_verdict(0.53, 400, 0.53)
    assert not constant["beats_chance"] and constant["chance_p_value"] > 0.4
    with pytest.raises(ValueError, match="majority-class rate"):
        metrics.chance_verdict(0.6, 400, 0.3)
    with pytest.raises(ValueError, match="accuracy"):
        metrics.chance_verdict(1.2, 400, 0.5)


def test_random_labels_are_flagged_and_a_separable_toy_is_not():
    rng = np.random.default_rng(7)
    features = rng.normal(size=400)
    logits = np.stack([-features, features], axis=1)
    random_labels = rng.integers(0, 2, 400)  # unrelated to the classifier's features
    guess = metrics.classification_metrics(logits, random_labels)
    assert not guess["beats_chance"] and guess["chance_p_value"] >= metrics.CHANCE_ALPHA
    assert guess["majority_rate"] == pytest.approx(max(random_labels.mean(),
                                                       1 - random_labels.mean()))
    separable = (features > 0).astype(int)
    sharp = metrics.classification_metrics(logits, separable)
    assert sharp["accuracy"] == 1.0 and sharp["roc_auc"] == 1.0
    assert sharp["beats_chance"] and sharp["chance_p_value"] < 1e-50
    # a constant classifier on imbalanced labels scores the majority rate and is flagged
    imbalanced = (np.arange(400) < 212).astype(int)
    constant = metrics.classification_metrics(np.tile([0.0, 1.0], (400, 1)), imbalanced)
    assert constant["accuracy"] == pytest.approx(0.53) and not constant["beats_chance"]


def test_ranking_verdict_matches_scipy_mann_whitney():
    from scipy.stats import mannwhitneyu

    rng = np.random.default_rng(8)
    positives, negatives = rng.normal(size=180) + 0.3, rng.normal(size=220)
    labels = np.r_[np.ones(180, int), np.zeros(220, int)]
    auc = metrics.roc_auc(labels, np.r_[positives, negatives])
    reference = mannwhitneyu(positives, negatives, alternative="greater",
                             method="asymptotic", use_continuity=False).pvalue
    got = metrics.ranking_verdict(auc, 400, 220 / 400)
    assert got["auc_p_value"] == pytest.approx(reference, rel=1e-9) and got["ranks_classes"]
    assert not metrics.ranking_verdict(0.52, 400, 0.5)["ranks_classes"]
