"""binary_metrics against scikit-learn, its zero-division rules, and the paper's Table 7."""

import json
import warnings

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from msmonai.evaluation import binary_metrics

labels = st.lists(st.integers(0, 1), min_size=1, max_size=30)


@st.composite
def predictions(draw):
    """(y_true, y_pred, y_score) of one length, scores from a coarse grid so that ties happen."""
    y_true = draw(labels)
    n = len(y_true)
    y_pred = draw(st.lists(st.integers(0, 1), min_size=n, max_size=n))
    y_score = draw(st.lists(st.sampled_from(np.linspace(0, 1, 11).tolist()), min_size=n, max_size=n))
    return y_true, y_pred, y_score


@settings(max_examples=150, deadline=None, derandomize=True, database=None)
@given(data=predictions(), beta=st.sampled_from([0.5, 1.0, 2.0]))
@example(data=([0], [0], [0.3]), beta=0.5)
@example(data=([1], [0], [0.3]), beta=0.5)
@example(data=([0, 0, 0], [1, 1, 1], [0.1, 0.2, 0.3]), beta=2.0)
@example(data=([1, 1, 0], [0, 0, 0], [0.5, 0.5, 0.5]), beta=1.0)
def test_equals_scikit_learn(data, beta):
    y_true, y_pred, y_score = data
    result = binary_metrics(y_true, y_pred, y_score, beta=beta)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = {
            "accuracy": skm.accuracy_score(y_true, y_pred),
            "precision": skm.precision_score(y_true, y_pred, zero_division=0),
            "recall": skm.recall_score(y_true, y_pred, zero_division=0),
            "f1": skm.f1_score(y_true, y_pred, zero_division=0),
            "fbeta": skm.fbeta_score(y_true, y_pred, beta=beta, zero_division=0),
        }
    for key, value in expected.items():
        assert result[key] == pytest.approx(value, abs=1e-12), key
    tn, fp, fn, tp = skm.confusion_matrix(y_true, y_pred, labels=[0, 1]).ravel()
    assert result["confusion_matrix"]["counts"] == {"tp": tp, "fp": fp, "fn": fn, "tn": tn}
    assert sum(result["confusion_matrix"]["fractions"].values()) == pytest.approx(1.0)
    assert result["n"] == len(y_true)
    if len(set(y_true)) == 2:
        assert result["roc_auc"] == pytest.approx(skm.roc_auc_score(y_true, y_score))
        assert result["pr_auc"] == pytest.approx(skm.average_precision_score(y_true, y_score))
    else:
        assert result["roc_auc"] is None and result["pr_auc"] is None
    json.dumps(result, allow_nan=False)  # plain, JSON-ready numbers


@pytest.mark.parametrize(
    "y_true, y_pred, expected",
    [
        # nothing predicted positive: precision 0 by definition, recall 0, F 0
        ([1, 0, 1], [0, 0, 0], {"precision": 0.0, "recall": 0.0, "f1": 0.0, "fbeta": 0.0, "accuracy": 1 / 3}),
        # no positive label at all and none predicted: everything right, yet precision/recall/F are 0 by convention
        ([0, 0], [0, 0], {"precision": 0.0, "recall": 0.0, "f1": 0.0, "fbeta": 0.0, "accuracy": 1.0}),
        # no positive label, one false alarm
        ([0, 0], [1, 0], {"precision": 0.0, "recall": 0.0, "f1": 0.0, "accuracy": 0.5}),
        # all positive, all found
        ([1, 1], [1, 1], {"precision": 1.0, "recall": 1.0, "f1": 1.0, "fbeta": 1.0, "accuracy": 1.0}),
    ],
)
def test_zero_division_cases(y_true, y_pred, expected):
    result = binary_metrics(y_true, y_pred, y_score=[0.5] * len(y_true))
    for key, value in expected.items():
        assert result[key] == pytest.approx(value), key
    if len(set(y_true)) == 1:
        assert result["roc_auc"] is None and result["pr_auc"] is None


def test_no_scores_gives_no_aucs():
    result = binary_metrics([0, 1, 1], [0, 1, 0])
    assert result["roc_auc"] is None and result["pr_auc"] is None


@pytest.mark.parametrize(
    "y_true, y_pred, y_score, message",
    [
        ([0, 2], [0, 1], None, "y_true"),
        ([0, 1], [0, 1, 1], None, "y_pred has 3"),
        ([], [], None, "empty"),
        ([0, 1], [0, 1], [0.1, float("nan")], "y_score"),
    ],
)
def test_rejects_bad_input(y_true, y_pred, y_score, message):
    with pytest.raises(ValueError, match=message):
        binary_metrics(y_true, y_pred, y_score)


# The paper's confusion matrices (Tables 4-6) are fractions of its 14 test observations; times 14 they are counts.
# Table 7 as printed, rounded to 3 decimals. Table 4 prints F1 = 0.620 for ResNet3D, but its own confusion matrix
# (TP 3, FP 2, FN 2: precision = recall = 0.6) gives F1 = 0.600, which is what Table 7 prints.
PAPER = {
    "3D-ResNet": ({"tp": 3, "fp": 2, "fn": 2, "tn": 7}, ("0.714", "0.600", "0.600", "0.600", "0.600"), (0.21, 0.14, 0.14, 0.5)),
    "PretrainedResnet2D": ({"tp": 4, "fp": 1, "fn": 1, "tn": 8}, ("0.857", "0.800", "0.800", "0.800", "0.800"), (0.29, 0.07, 0.07, 0.57)),
    "ResNeXt": ({"tp": 4, "fp": 2, "fn": 1, "tn": 7}, ("0.786", "0.667", "0.800", "0.727", "0.690"), (0.29, 0.14, 0.07, 0.5)),
}


@pytest.mark.parametrize("architecture", PAPER)
def test_reproduces_paper_table7(architecture):
    counts, table7, fractions = PAPER[architecture]
    y_true = [1] * counts["tp"] + [0] * counts["fp"] + [1] * counts["fn"] + [0] * counts["tn"]
    y_pred = [1] * counts["tp"] + [1] * counts["fp"] + [0] * counts["fn"] + [0] * counts["tn"]
    result = binary_metrics(y_true, y_pred, beta=0.5)
    assert result["n"] == 14
    printed = tuple(f"{result[key]:.3f}" for key in ("accuracy", "precision", "recall", "f1", "fbeta"))
    assert printed == table7
    assert result["confusion_matrix"]["counts"] == counts
    got = tuple(round(result["confusion_matrix"]["fractions"][k], 2) for k in ("tp", "fp", "fn", "tn"))
    assert got == fractions
