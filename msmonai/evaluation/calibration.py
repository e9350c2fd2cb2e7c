"""Calibration of predicted probabilities: the Brier score."""

from __future__ import annotations

from sklearn.metrics import brier_score_loss

from msmonai.evaluation.metrics import as_binary, as_scores


def brier_score(y_true, y_score) -> float:
    """Mean squared difference between probability ``y_score`` [N] and label ``y_true`` [N] (0 is perfect)."""
    y_true = as_binary(y_true, "y_true")
    return float(brier_score_loss(y_true, as_scores(y_score, y_true.size, "y_score"), pos_label=1))
