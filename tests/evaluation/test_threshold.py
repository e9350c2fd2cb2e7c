"""Threshold choice: fixed, or the F-maximising one on the data given, and nothing else."""

import numpy as np
import pytest
from sklearn.metrics import fbeta_score

from msmonai.evaluation import apply_threshold, select_threshold


def brute_force_best(y_true, y_score, beta):
    """The lowest candidate threshold (an observed score) with the highest Fβ, by trying them all."""
    candidates = np.unique(y_score)
    scores = [fbeta_score(y_true, apply_threshold(y_score, t), beta=beta, zero_division=0) for t in candidates]
    return float(candidates[int(np.argmax(scores))])


def test_fixed_ignores_the_data():
    assert select_threshold([0, 1, 1], [0.9, 0.1, 0.2], "fixed", default=0.37) == 0.37


@pytest.mark.parametrize("criterion, beta", [("f1", 1.0), ("fbeta", 0.5), ("fbeta", 2.0)])
def test_maximises_f_on_the_given_data(criterion, beta):
    rng = np.random.default_rng(11)
    for _ in range(20):
        y_true = rng.integers(0, 2, size=30)
        y_true[0] = 1
        y_score = np.round(np.clip(0.5 * y_true + rng.normal(0.25, 0.25, size=30), 0, 1), 2)  # rounded: ties
        assert select_threshold(y_true, y_score, criterion, beta=beta) == brute_force_best(y_true, y_score, beta)


def test_depends_only_on_the_validation_data():
    """As in a cv fold: the threshold comes from validation predictions; changing the held-out fold (here in
    the direction that would favour another threshold) changes nothing, and the inputs are left untouched."""
    rng = np.random.default_rng(0)
    val_true = rng.integers(0, 2, size=40)
    val_score = np.clip(0.4 * val_true + rng.random(40) * 0.6, 0, 1)
    held_out_true = rng.integers(0, 2, size=40)
    held_out_score = rng.random(40)
    val_true_copy, val_score_copy = val_true.copy(), val_score.copy()

    threshold = select_threshold(val_true, val_score, "f1")
    held_out_threshold = select_threshold(held_out_true, held_out_score, "f1")
    assert held_out_threshold != threshold  # the held-out fold would have picked another one
    held_out_true[:] = 1 - held_out_true
    held_out_score[:] = 1 - held_out_score
    assert select_threshold(val_true, val_score, "f1") == threshold
    np.testing.assert_array_equal(val_true, val_true_copy)
    np.testing.assert_array_equal(val_score, val_score_copy)


def test_without_positive_labels_warns_and_keeps_default():
    with pytest.warns(UserWarning, match="no positive label"):
        assert select_threshold([0, 0, 0], [0.2, 0.7, 0.4], "f1", default=0.5) == 0.5


def test_apply_threshold_counts_equal_as_active():
    np.testing.assert_array_equal(apply_threshold([0.2, 0.5, 0.7], 0.5), [0, 1, 1])


def test_unknown_criterion():
    with pytest.raises(ValueError, match="youden"):
        select_threshold([0, 1], [0.1, 0.9], "youden")
