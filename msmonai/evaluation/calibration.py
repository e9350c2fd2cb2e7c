"""Calibration of predicted probabilities: Brier score and reliability diagram."""

from __future__ import annotations

import os
from pathlib import Path

from sklearn.calibration import CalibrationDisplay
from sklearn.metrics import brier_score_loss

from msmonai.evaluation.figures import new_figure, save_png
from msmonai.evaluation.metrics import as_binary, as_scores


def brier_score(y_true, y_score) -> float:
    """Mean squared difference between probability ``y_score`` [N] and label ``y_true`` [N] (0 is perfect)."""
    y_true = as_binary(y_true, "y_true")
    return float(brier_score_loss(y_true, as_scores(y_score, y_true.size, "y_score"), pos_label=1))


def reliability_diagram(y_true, y_score, path: str | os.PathLike, n_bins: int = 5) -> Path:
    """PNG of observed frequency of activity vs mean predicted probability in ``n_bins`` equal-width bins."""
    y_true = as_binary(y_true, "y_true")
    y_score = as_scores(y_score, y_true.size, "y_score")
    fig = new_figure(5, 5)
    ax = fig.add_subplot()
    CalibrationDisplay.from_predictions(y_true, y_score, n_bins=n_bins, ax=ax, name="model", pos_label=1)
    ax.set_title(f"Reliability (n = {y_true.size}, Brier = {brier_score(y_true, y_score):.3f})")
    ax.set_xlabel("Mean predicted probability of activity")
    ax.set_ylabel("Observed fraction active")
    return save_png(fig, path)
