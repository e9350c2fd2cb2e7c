"""Figures are valid PNGs with visible content, written atomically."""

import numpy as np

from msmonai.evaluation import binary_metrics
from msmonai.evaluation.figures import plot_confusion_matrix, plot_roc, plot_roc_curves


def scored(seed=0, n=60):
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, 2, size=n)
    y_score = np.clip(0.35 * y_true + 0.65 * rng.random(n), 0, 1)
    return y_true, y_score


def test_confusion_matrix_png(tmp_path, assert_png):
    counts = binary_metrics([1, 1, 0, 0, 1], [1, 0, 0, 1, 1])["confusion_matrix"]["counts"]
    assert_png(plot_confusion_matrix(counts, tmp_path / "cm.png", "ResNet3D"))


def test_roc_pngs(tmp_path, assert_png):
    y_true, y_score = scored()
    assert_png(plot_roc(y_true, y_score, tmp_path / "roc.png", "one model"))
    other_true, other_score = scored(seed=1)
    curves = {"a": (y_true, y_score), "b": (other_true, other_score), "one class": ([0, 0, 0], [0.1, 0.5, 0.2])}
    assert_png(plot_roc_curves(curves, tmp_path / "rocs.png", "overlay"))
