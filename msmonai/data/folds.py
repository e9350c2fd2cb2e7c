"""Cross-validation folds: grouped by patient (no patient in two folds) and stratified by label."""

from __future__ import annotations

import warnings
from collections import Counter
from typing import Sequence

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold

from msmonai.constants import DEFAULT_FOLDS
from msmonai.errors import UserError


def assign_folds(patients: Sequence[str], labels: Sequence[int], n_folds: int = DEFAULT_FOLDS, seed: int = 0) -> np.ndarray:
    """Fold index (0..n_folds-1) of every observation, ``[N]`` int, by scikit-learn's seeded ``StratifiedGroupKFold``.

    Args:
        patients: patient key of each observation, ``[N]`` (the group).
        labels: label of each observation, ``[N]``.
    """
    n_patients = len(set(patients))
    if n_folds < 2:
        raise UserError(f"the number of folds must be at least 2, got {n_folds}")
    if n_patients < n_folds:
        raise UserError(f"only {n_patients} patient(s) with observations, fewer than the {n_folds} folds")
    if all(count < n_folds for count in Counter(labels).values()):
        raise UserError(f"too few observations to stratify: each label has fewer observations than the {n_folds} folds")
    splitter = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    folds = np.empty(len(labels), dtype=int)
    with warnings.catch_warnings():
        # "The least populated class in y has only k members": expected with rare positives, reported in the summary.
        warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
        for fold, (_, held_out) in enumerate(splitter.split(np.zeros(len(labels)), labels, groups=patients)):
            folds[held_out] = fold
    return folds
