"""Binary classification metrics with the keys of every ``metrics.json`` the project writes.

Zero-division cases follow scikit-learn's ``zero_division=0``: precision is 0.0 when nothing is predicted
positive, recall is 0.0 when no observation is positive, and F1/Fβ are 0.0 when there is no true positive
(including the case with no positive label and no positive prediction at all). ROC AUC and PR AUC
(average precision) are ``None`` when no scores are given or when ``y_true`` holds a single class.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, confusion_matrix, roc_auc_score

RATE_METRICS = ("accuracy", "precision", "recall", "f1", "fbeta")
SCORE_METRICS = ("roc_auc", "pr_auc")
CELLS = ("tp", "fp", "fn", "tn")


def as_binary(values, name: str) -> np.ndarray:
    """``values`` as an int array [N] of 0/1; ``ValueError`` naming ``name`` for anything else."""
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if array.size == 0:
        raise ValueError(f"{name} is empty")
    bad = ~np.isin(array, (0, 1))
    if bad.any():
        raise ValueError(f"{name}[{int(np.argmax(bad))}] = {array[bad][0]!r} is not 0 or 1")
    return array.astype(int)


def as_scores(values, n: int, name: str) -> np.ndarray:
    """``values`` as a finite float array [n]; ``ValueError`` naming ``name`` otherwise."""
    array = np.asarray(values, dtype=float)
    if array.shape != (n,):
        raise ValueError(f"{name} has shape {array.shape}, expected ({n},)")
    if not np.isfinite(array).all():
        raise ValueError(f"{name}[{int(np.argmax(~np.isfinite(array)))}] is not a finite number")
    return array


def rates_from_counts(tp, fp, fn, tn, beta: float = 0.5) -> dict[str, np.ndarray]:
    """Accuracy, precision, recall, F1 and Fβ from confusion counts (scalars or arrays [B], broadcast).

    Uses the zero-division rule of the module docstring; Fβ = (1+β²)·TP / ((1+β²)·TP + β²·FN + FP).
    """
    tp, fp, fn, tn = (np.asarray(c, dtype=float) for c in (tp, fp, fn, tn))
    b2 = beta * beta

    def ratio(num, den):
        return np.divide(num, den, out=np.zeros(np.broadcast(num, den).shape), where=den > 0)

    return {
        "accuracy": ratio(tp + tn, tp + fp + fn + tn),
        "precision": ratio(tp, tp + fp),
        "recall": ratio(tp, tp + fn),
        "f1": ratio(2 * tp, 2 * tp + fp + fn),
        "fbeta": ratio((1 + b2) * tp, (1 + b2) * tp + b2 * fn + fp),
    }


def binary_metrics(y_true, y_pred, y_score=None, beta: float = 0.5) -> dict:
    """Metrics of binary predictions (1 = active), as JSON-ready plain Python numbers.

    Args:
        y_true: true labels [N], 0/1.
        y_pred: predicted labels [N], 0/1.
        y_score: optional probability (or any score) of class 1 [N], for ROC AUC and PR AUC.
        beta: β of the Fβ score (the paper uses 0.5: precision weighted more than recall).

    Returns:
        ``{"accuracy", "precision", "recall", "f1", "fbeta", "roc_auc", "pr_auc", "n",
        "confusion_matrix": {"counts": {"tp", "fp", "fn", "tn"}, "fractions": {...: count / n}}}``.
    """
    y_true = as_binary(y_true, "y_true")
    y_pred = as_binary(y_pred, "y_pred")
    if y_pred.shape != y_true.shape:
        raise ValueError(f"y_pred has {y_pred.size} values, y_true has {y_true.size}")
    tn, fp, fn, tp = (int(c) for c in confusion_matrix(y_true, y_pred, labels=[0, 1]).ravel())
    counts = {"tp": tp, "fp": fp, "fn": fn, "tn": tn}
    n = int(y_true.size)
    result = {name: float(value) for name, value in rates_from_counts(tp, fp, fn, tn, beta).items()}
    result["roc_auc"] = result["pr_auc"] = None
    if y_score is not None:
        y_score = as_scores(y_score, n, "y_score")
        if np.unique(y_true).size == 2:
            result["roc_auc"] = float(roc_auc_score(y_true, y_score))
            result["pr_auc"] = float(average_precision_score(y_true, y_score))
    result["n"] = n
    result["confusion_matrix"] = {"counts": counts, "fractions": {k: v / n for k, v in counts.items()}}
    return result
