"""Percentile-bootstrap confidence intervals that resample patients, not observations.

Observations of one patient (the visit sequences ending at each of their visits) are correlated; resampling
them one by one would give intervals that are too narrow. Each bootstrap replicate draws as many patients as
there are, with replacement, and takes all rows of every drawn patient (a patient drawn twice counts twice).

Rate metrics (accuracy, precision, recall, F1, Fβ) follow the zero-division rule of
:mod:`msmonai.evaluation.metrics` in every replicate. ROC AUC and PR AUC are undefined in a replicate that
holds a single class: such replicates are skipped (NaN in the distribution) and the interval is taken over
the others; if none is left, or there are no scores, the interval bounds are ``None``.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

from msmonai.evaluation.metrics import RATE_METRICS, SCORE_METRICS, as_binary, as_scores, binary_metrics, rates_from_counts


def patient_resample_weights(groups, n: int, n_boot: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """How many times each patient is drawn in each replicate.

    Args:
        groups: patient key per row [n], or ``None`` for one group per row.
        n: number of rows.
        n_boot: number of replicates B.
        seed: seed of the random generator.

    Returns:
        ``(codes [n], weights [B, G])``: the patient index of every row, and per replicate the multiplicity
        of each of the G patients (each row sums to G). Row i weighs ``weights[b, codes[i]]`` in replicate b.
    """
    if groups is None:
        codes = np.arange(n)
    else:
        groups = np.asarray(groups)
        if groups.shape != (n,):
            raise ValueError(f"groups has shape {groups.shape}, expected ({n},)")
        codes = np.unique(groups, return_inverse=True)[1].ravel()
    n_groups = int(codes.max()) + 1
    rng = np.random.default_rng(seed)
    return codes, rng.multinomial(n_groups, np.full(n_groups, 1.0 / n_groups), size=n_boot)


def bootstrap_distribution(y_true, y_pred, y_score=None, groups=None, n_boot=2000, seed=0, beta=0.5) -> dict[str, np.ndarray]:
    """Each metric of :func:`binary_metrics` over ``n_boot`` patient-level replicates: ``{metric: array [B]}``.

    Score metrics (``roc_auc``, ``pr_auc``) are present only with ``y_score`` and are NaN in single-class replicates.
    """
    y_true = as_binary(y_true, "y_true")
    y_pred = as_binary(y_pred, "y_pred")
    if y_pred.shape != y_true.shape:
        raise ValueError(f"y_pred has {y_pred.size} values, y_true has {y_true.size}")
    codes, weights = patient_resample_weights(groups, y_true.size, n_boot, seed)
    # Confusion counts per patient [G, 4] (tp, fp, fn, tn), then per replicate [B, 4].
    cell = np.select([(y_true == 1) & (y_pred == 1), y_pred == 1, y_true == 1], [0, 1, 2], default=3)
    per_patient = np.zeros((weights.shape[1], 4))
    np.add.at(per_patient, (codes, cell), 1.0)
    counts = weights @ per_patient
    distribution = rates_from_counts(*counts.T, beta=beta)
    if y_score is not None:
        y_score = as_scores(y_score, y_true.size, "y_score")
        auc = np.full((n_boot, 2), np.nan)
        for b in range(n_boot):
            row_weight = weights[b, codes]
            positives = row_weight[y_true == 1].sum()
            if 0 < positives < row_weight.sum():
                auc[b] = (
                    roc_auc_score(y_true, y_score, sample_weight=row_weight),
                    average_precision_score(y_true, y_score, sample_weight=row_weight),
                )
        distribution.update(zip(SCORE_METRICS, auc.T))
    return distribution


def bootstrap_intervals(
    y_true, y_pred, y_score=None, groups=None, n_boot=2000, alpha=0.05, seed=0, beta=0.5
) -> dict[str, dict]:
    """Point value and percentile-bootstrap (1 - ``alpha``) interval of every metric of :func:`binary_metrics`.

    Args:
        y_true, y_pred: labels and predictions [N], 0/1.
        y_score: optional probability of class 1 [N] (adds ``roc_auc`` and ``pr_auc``).
        groups: patient key per row [N]; ``None`` treats every row as its own patient.
        n_boot, alpha, seed, beta: replicates, 1 - confidence level, random seed, β of Fβ.

    Returns:
        ``{metric: {"value": float | None, "low": float | None, "high": float | None}}`` for
        accuracy, precision, recall, f1, fbeta, roc_auc, pr_auc (the last two all ``None`` without scores).
    """
    point = binary_metrics(y_true, y_pred, y_score, beta=beta)
    distribution = bootstrap_distribution(y_true, y_pred, y_score, groups, n_boot=n_boot, seed=seed, beta=beta)
    intervals = {}
    for metric in RATE_METRICS + SCORE_METRICS:
        values = distribution.get(metric, np.array([]))
        values = values[np.isfinite(values)]
        low = high = None
        if point[metric] is not None and values.size:
            low, high = (float(q) for q in np.percentile(values, [50 * alpha, 100 - 50 * alpha]))
        intervals[metric] = {"value": point[metric], "low": low, "high": high}
    return intervals
