"""Patient-level bootstrap intervals: coverage of known values, whole patients, single-class replicates."""

import numpy as np
import pytest

from msmonai.evaluation import binary_metrics, bootstrap_intervals
from msmonai.evaluation.bootstrap import bootstrap_distribution, patient_resample_weights


def clustered_predictions(rng, n_patients=40, visits=5):
    """Each patient's observations are right with that patient's own probability, 0.5 or 1.0: population accuracy 0.75."""
    p_right = rng.choice([0.5, 1.0], size=n_patients)
    groups = np.repeat(np.arange(n_patients), visits)
    right = rng.random(groups.size) < p_right[groups]
    y_true = rng.integers(0, 2, size=groups.size)
    y_pred = np.where(right, y_true, 1 - y_true)
    return y_true, y_pred, groups


def test_patient_intervals_cover_known_accuracy():
    """Over 50 seeded data sets the patient-level 95 % interval contains 0.75 about 95 % of the time;
    resampling observations instead ignores the within-patient correlation and covers clearly less often."""
    rng = np.random.default_rng(2024)
    covered = {"patients": 0, "observations": 0}
    for repetition in range(50):
        y_true, y_pred, groups = clustered_predictions(rng)
        for how, g in (("patients", groups), ("observations", None)):
            accuracy = bootstrap_intervals(y_true, y_pred, groups=g, n_boot=1000, seed=repetition)["accuracy"]
            covered[how] += accuracy["low"] <= 0.75 <= accuracy["high"]
    # 0.88: the 1 % binomial quantile of 50 draws at a true coverage of 0.95
    assert covered["patients"] / 50 >= 0.88
    assert covered["observations"] < covered["patients"]


def test_replicates_take_whole_patients():
    """Every patient has 5 observations, all right or all wrong: with whole patients the accuracy of any
    replicate is a multiple of 1 / n_patients; splitting patients would give multiples of 1 / (5 n_patients)."""
    n_patients = 7
    groups = np.repeat([f"P-{i}" for i in range(n_patients)], 5)
    y_true = np.tile([1, 0, 1, 1, 0], n_patients)
    all_right = np.repeat([True, False, True, True, False, True, False], 5)
    y_pred = np.where(all_right, y_true, 1 - y_true)
    by_patient = bootstrap_distribution(y_true, y_pred, groups=groups, n_boot=500, seed=1)["accuracy"] * n_patients
    assert np.allclose(by_patient, np.round(by_patient))
    by_row = bootstrap_distribution(y_true, y_pred, groups=None, n_boot=500, seed=1)["accuracy"] * n_patients
    assert not np.allclose(by_row, np.round(by_row))


def test_replicate_equals_metrics_of_duplicated_patients():
    """Replicate b is exactly binary_metrics on the rows of the drawn patients, a patient drawn k times counted k times."""
    rng = np.random.default_rng(5)
    groups = rng.integers(0, 12, size=40)
    y_true = rng.integers(0, 2, size=40)
    y_pred = rng.integers(0, 2, size=40)
    y_score = rng.random(40)
    distribution = bootstrap_distribution(y_true, y_pred, y_score, groups, n_boot=20, seed=9, beta=0.5)
    codes, weights = patient_resample_weights(groups, 40, n_boot=20, seed=9)
    assert (weights.sum(axis=1) == len(np.unique(groups))).all()
    for b in range(20):
        rows = np.repeat(np.arange(40), weights[b, codes])
        expected = binary_metrics(y_true[rows], y_pred[rows], y_score[rows], beta=0.5)
        for metric, values in distribution.items():
            if expected[metric] is None:
                assert np.isnan(values[b]), metric
            else:
                assert values[b] == pytest.approx(expected[metric]), metric


def test_single_class_replicates_are_skipped_for_aucs():
    # all positives belong to one patient: replicates without that patient have one class only
    groups = np.array([0, 0, 1, 1, 2, 2, 3, 3])
    y_true = np.array([1, 1, 0, 0, 0, 0, 0, 0])
    y_score = np.array([0.9, 0.6, 0.7, 0.1, 0.2, 0.3, 0.4, 0.5])
    y_pred = (y_score >= 0.5).astype(int)
    distribution = bootstrap_distribution(y_true, y_pred, y_score, groups, n_boot=200, seed=0)
    assert np.isnan(distribution["roc_auc"]).any() and np.isfinite(distribution["roc_auc"]).any()
    intervals = bootstrap_intervals(y_true, y_pred, y_score, groups, n_boot=200, seed=0)
    auc = intervals["roc_auc"]
    assert 0 <= auc["low"] <= auc["value"] <= auc["high"] <= 1


def test_no_aucs_without_both_classes_or_scores():
    intervals = bootstrap_intervals([0, 0, 0], [0, 1, 0], [0.1, 0.8, 0.3], groups=["a", "b", "c"], n_boot=50)
    assert intervals["roc_auc"] == {"value": None, "low": None, "high": None}
    assert bootstrap_intervals([0, 1, 1], [0, 1, 0], n_boot=50)["pr_auc"] == {"value": None, "low": None, "high": None}


def test_same_seed_same_interval_and_value_is_the_point_estimate():
    rng = np.random.default_rng(3)
    y_true, y_pred, groups = clustered_predictions(rng, n_patients=15)
    first = bootstrap_intervals(y_true, y_pred, groups=groups, n_boot=300, seed=4)
    assert first == bootstrap_intervals(y_true, y_pred, groups=groups, n_boot=300, seed=4)
    point = binary_metrics(y_true, y_pred)
    for metric in ("accuracy", "precision", "recall", "f1", "fbeta"):
        assert first[metric]["value"] == point[metric]
        assert first[metric]["low"] <= first[metric]["high"]
