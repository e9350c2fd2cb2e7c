"""Trivial and shallow baselines a network must beat, fitted on the training observations of a split and scored on the
same held-out observations as the network.

- ``always remission``: probability 0 for everyone (ROC AUC 0.5 by construction; F1 0).
- ``EDSS logistic regression``: the 8 normalised subscores of the last visit and their change from the visit before.
- ``image histogram logistic regression``: a 24-bin intensity histogram of the last preprocessed visit volume and its
  change from the visit before (what a model that only counts voxel intensities can do; a deep network that loses to
  it has not learned the images).
- ``change evidence logistic regression``: the change evidence of the last visit (the depth of the darkest spot of its
  white-matter change map from the visit before, and whether it has a visit before; ``msmonai.transforms.change``,
  ``msmonai.networks.sequence_head.change_evidence``): what the change between the last two scans carries, read the
  way a radiologist reads a subtraction image first.

Histograms and change evidence are supplied by the caller (``histogram_of(image_files) -> [HISTOGRAM_BINS]``, usually
:func:`intensity_histogram` of the preprocessed volume, computed once per visit across all folds; ``evidence_of(previous
files or None, image files) -> [2]``) so that this module needs no data pipeline.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

HISTOGRAM_BINS = 24
BASELINES = ("always remission", "EDSS logistic regression", "image histogram logistic regression",
             "change evidence logistic regression")


def intensity_histogram(volume: np.ndarray, bins: int = HISTOGRAM_BINS) -> np.ndarray:
    """Fractions of the non-zero voxels of ``volume`` (any shape, values in [0, 255]) in ``bins`` equal bins -> ``[bins]``.

    Zero (padding and air after scaling) is left out, so slice padding does not dilute the histogram.
    """
    values = np.asarray(volume, dtype=np.float32).ravel()
    counts, _ = np.histogram(values[values > 0], bins=bins, range=(0.0, 255.0))
    return counts / max(int(counts.sum()), 1)


def _last_and_change(per_visit: Sequence[np.ndarray]) -> np.ndarray:
    """``[2 F]``: the last visit's vector and its change from the visit before (zeros for a single visit)."""
    last = per_visit[-1]
    change = last - per_visit[-2] if len(per_visit) > 1 else np.zeros_like(last)
    return np.concatenate([last, change])


def edss_features(items: Sequence[dict]) -> np.ndarray:
    """``[N, 16]``: last visit's normalised EDSS subscores and their change from the visit before."""
    return np.stack([_last_and_change([np.asarray(v["edss"], dtype=float) for v in it["visits"]]) for it in items])


def histogram_features(items: Sequence[dict], histogram_of: Callable[[Sequence[str]], np.ndarray]) -> np.ndarray:
    """``[N, 2 * HISTOGRAM_BINS]``: last visit's intensity histogram and its change from the visit before."""
    return np.stack([_last_and_change([histogram_of(v["image"]) for v in it["visits"][-2:]]) for it in items])


def change_features(items: Sequence[dict],
                    evidence_of: Callable[[Sequence[str] | None, Sequence[str]], np.ndarray]) -> np.ndarray:
    """``[N, 2]``: the change evidence of each observation's last visit against the visit before (None: the first)."""
    return np.stack([np.asarray(evidence_of(it["visits"][-2]["image"] if len(it["visits"]) > 1 else None,
                                            it["visits"][-1]["image"]), dtype=float) for it in items])


def _logistic_regression():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, class_weight="balanced", max_iter=5000))


def _fit_predict(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray) -> np.ndarray:
    """Probabilities of activity ``[N_test]``; 0.5 when the training labels hold one class (nothing to learn)."""
    if len(np.unique(train_y)) < 2:
        return np.full(len(test_x), 0.5)
    return _logistic_regression().fit(train_x, train_y).predict_proba(test_x)[:, 1]


def baseline_probabilities(
    train: Sequence[dict], test: Sequence[dict], histogram_of: Callable[[Sequence[str]], np.ndarray],
    evidence_of: Callable[[Sequence[str] | None, Sequence[str]], np.ndarray],
) -> dict[str, np.ndarray]:
    """Each baseline of :data:`BASELINES` fitted on the labelled ``train`` observations -> probabilities ``[N_test]``."""
    train_y = np.array([int(it["label"]) for it in train])
    images = histogram_features(list(train) + list(test), histogram_of)
    change = change_features(list(train) + list(test), evidence_of)
    return {
        BASELINES[0]: np.zeros(len(test)),
        BASELINES[1]: _fit_predict(edss_features(train), train_y, edss_features(test)),
        BASELINES[2]: _fit_predict(images[: len(train)], train_y, images[len(train):]),
        BASELINES[3]: _fit_predict(change[: len(train)], train_y, change[len(train):]),
    }
