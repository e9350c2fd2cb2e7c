"""The content of a cross-validation ``metrics.json``, computed from out-of-fold predictions."""

from __future__ import annotations

import pandas as pd

from msmonai.errors import UserError
from msmonai.evaluation.bootstrap import bootstrap_intervals
from msmonai.evaluation.calibration import brier_score
from msmonai.evaluation.metrics import binary_metrics
from msmonai.evaluation.predictions import (
    FOLD, LABEL, PATIENT, PREDICTION, PROBABILITY, UNCERTAINTY, validate_predictions,
)
from msmonai.evaluation.uncertainty import error_rate_by_uncertainty


def _all_or_none(typed: pd.DataFrame, column: str) -> bool:
    """Whether every row has ``column``; ``UserError`` when only some rows do."""
    present = typed[column].notna()
    if present.any() and not present.all():
        raise UserError(f"predictions: row {int((~present).to_numpy().argmax()) + 1}: {column} is empty while other rows have one")
    return bool(present.all())


def summarize_predictions(predictions: pd.DataFrame, beta=0.5, n_boot=2000, seed=0, alpha=0.05) -> dict:
    """Pooled metrics, patient-level bootstrap intervals, Brier score, per-fold metrics and error by uncertainty.

    Args:
        predictions: a predictions table (:mod:`msmonai.evaluation.predictions`) in which every row has a label.
        beta, n_boot, seed, alpha: β of Fβ; bootstrap replicates, seed and 1 - confidence level.

    Returns:
        ``{"n", "n_patients", "beta", "interval": {"method", "confidence", "n_boot", "seed"},
        "pooled": binary_metrics, "intervals": bootstrap_intervals, "brier",
        "per_fold": [{"fold", **binary_metrics}] (empty without folds),
        "error_by_uncertainty": error_rate_by_uncertainty (``None`` without uncertainty)}``.
    """
    typed = validate_predictions(predictions, "predictions")
    if typed.empty:
        raise UserError("predictions: no rows to evaluate")
    if not _all_or_none(typed, LABEL):
        raise UserError("predictions: no labels; metrics need the true next-visit status of every row")
    y_true, y_pred, y_score = typed[LABEL].to_numpy(int), typed[PREDICTION].to_numpy(int), typed[PROBABILITY].to_numpy(float)
    per_fold = []
    if _all_or_none(typed, FOLD):
        for fold, rows in typed.groupby(FOLD, sort=True):
            per_fold.append({"fold": int(fold), **binary_metrics(rows[LABEL].to_numpy(int), rows[PREDICTION], rows[PROBABILITY], beta=beta)})
    by_uncertainty = None
    if _all_or_none(typed, UNCERTAINTY):
        by_uncertainty = error_rate_by_uncertainty(y_true, y_pred, typed[UNCERTAINTY].to_numpy(float))
    return {
        "n": int(len(typed)),
        "n_patients": int(typed[PATIENT].nunique()),
        "beta": beta,
        "interval": {"method": "percentile bootstrap resampling patients", "confidence": 1 - alpha, "n_boot": n_boot, "seed": seed},
        "pooled": binary_metrics(y_true, y_pred, y_score, beta=beta),
        "intervals": bootstrap_intervals(y_true, y_pred, y_score, typed[PATIENT].to_numpy(), n_boot=n_boot, alpha=alpha, seed=seed, beta=beta),
        "brier": brier_score(y_true, y_score),
        "per_fold": per_fold,
        "error_by_uncertainty": by_uncertainty,
    }
