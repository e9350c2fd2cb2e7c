"""The decision threshold: chosen on training/validation predictions, then applied unchanged elsewhere.

An observation is predicted active when its probability is at or above the threshold
(:func:`apply_threshold`). :func:`select_threshold` sees only the data it is given; callers pass the
training/validation predictions of a fold, never the fold that will be reported.
"""

from __future__ import annotations

import warnings

import numpy as np

from msmonai.constants import DEFAULT_THRESHOLD

CRITERIA = ("fixed", "f1", "fbeta")


def apply_threshold(y_score, threshold: float) -> np.ndarray:
    """Predicted labels [N] (int 0/1): 1 where ``y_score >= threshold``."""
    return (np.asarray(y_score, dtype=float) >= threshold).astype(int)


def select_threshold(y_true, y_score, criterion: str = "fixed", default: float = DEFAULT_THRESHOLD,
                     beta: float = 0.5) -> float:
    """Decision threshold for probabilities ``y_score`` [N] given labels ``y_true`` [N].

    ``"fixed"`` returns ``default``. ``"f1"`` / ``"fbeta"`` return the score value that, used with
    :func:`apply_threshold`, maximises F1 / Fβ on the given data; among equally good thresholds the lowest
    (most sensitive) one. Without a positive label there is nothing to maximise: a warning is issued and
    ``default`` is returned.
    """
    if criterion not in CRITERIA:
        raise ValueError(f"threshold criterion {criterion!r} is not one of {', '.join(CRITERIA)}")
    if criterion == "fixed":
        return float(default)
    from sklearn.metrics import precision_recall_curve  # not at import: the engine applies thresholds without sklearn

    from msmonai.evaluation.metrics import as_binary, as_scores

    y_true = as_binary(y_true, "y_true")
    y_score = as_scores(y_score, y_true.size, "y_score")
    if not y_true.any():
        warnings.warn(f"no positive label among {y_true.size} observations: threshold left at {default}", stacklevel=2)
        return float(default)
    b = 1.0 if criterion == "f1" else beta
    precision, recall, thresholds = precision_recall_curve(y_true, y_score)
    precision, recall = precision[:-1], recall[:-1]  # the last point (recall 0) has no threshold
    denominator = b * b * precision + recall
    f_score = np.divide((1 + b * b) * precision * recall, denominator, out=np.zeros_like(denominator), where=denominator > 0)
    return float(thresholds[int(np.argmax(f_score))])
