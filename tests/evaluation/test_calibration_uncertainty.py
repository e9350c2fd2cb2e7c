"""Brier score and error rate by uncertainty on hand-computed cases."""

import numpy as np
import pytest

from msmonai.evaluation import brier_score, error_rate_by_uncertainty


def test_brier_score_by_hand():
    # (0.1-0)^2 + (0.8-1)^2 + (0.6-0)^2 + (1-1)^2 = 0.01 + 0.04 + 0.36 + 0 = 0.41, mean 0.1025
    assert brier_score([0, 1, 0, 1], [0.1, 0.8, 0.6, 1.0]) == pytest.approx(0.1025)


def test_errors_concentrate_in_the_most_uncertain_quartile():
    uncertainty = np.array([0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08])
    y_true = np.array([1, 0, 1, 0, 1, 0, 1, 0])
    y_pred = np.array([1, 0, 1, 0, 1, 1, 0, 1])  # wrong on the three most uncertain
    bins = error_rate_by_uncertainty(y_true, y_pred, uncertainty, n_bins=4)
    assert [b["n"] for b in bins] == [2, 2, 2, 2]
    assert [b["errors"] for b in bins] == [0, 0, 1, 2]
    assert [b["error_rate"] for b in bins] == [0.0, 0.0, 0.5, 1.0]
    assert bins[0]["low"] == pytest.approx(0.01) and bins[-1]["high"] == pytest.approx(0.08)
    assert all(a["high"] == b["low"] for a, b in zip(bins, bins[1:]))


def test_equal_uncertainties_give_one_bin_with_every_row():
    bins = error_rate_by_uncertainty([1, 0, 1], [1, 1, 1], [0.2, 0.2, 0.2])
    assert len(bins) == 1 and bins[0]["n"] == 3 and bins[0]["errors"] == 1
