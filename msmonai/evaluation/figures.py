"""PNG figures of evaluation results: confusion matrix, ROC curves, metric bars with interval whiskers.

Figures are drawn on the Agg canvas directly (no pyplot state, no display needed) and written atomically.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from sklearn.metrics import ConfusionMatrixDisplay, RocCurveDisplay

from msmonai.evaluation.metrics import as_binary, as_scores
from msmonai.fileio import atomic_path

DPI = 100


def new_figure(width: float, height: float) -> Figure:
    """An empty figure of ``width`` x ``height`` inches on an Agg canvas, constrained layout."""
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save_png(fig: Figure, path: str | os.PathLike) -> Path:
    """Write ``fig`` as PNG to ``path`` atomically and return the path."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=DPI)
    return Path(path)


def plot_confusion_matrix(counts: Mapping[str, int], path: str | os.PathLike, title: str) -> Path:
    """PNG of a confusion matrix in the paper's layout (rows actual, columns predicted, active first).

    Args:
        counts: ``{"tp", "fp", "fn", "tn"}`` counts, as in ``binary_metrics(...)["confusion_matrix"]["counts"]``.
    """
    matrix = np.array([[counts["tp"], counts["fn"]], [counts["fp"], counts["tn"]]])
    n = max(int(matrix.sum()), 1)
    fig = new_figure(4.5, 4)
    ax = fig.add_subplot()
    display = ConfusionMatrixDisplay(matrix, display_labels=["active", "remission"])
    display.plot(ax=ax, cmap="Blues", colorbar=False, values_format="d")
    for (row, col), text in np.ndenumerate(display.text_):
        text.set_text(f"{matrix[row, col]}\n({matrix[row, col] / n:.2f})")
    ax.set_xlabel("Predicted")
    ax.set_ylabel("Actual")
    ax.set_title(title)
    return save_png(fig, path)


def draw_roc_curves(ax, curves: Mapping[str, tuple], legend: bool = True) -> None:
    """Overlay one ROC curve per ``{name: (y_true [N], y_score [N])}`` on ``ax``, with the chance diagonal; each
    curve is labelled with its name and AUC (``legend`` False: the caller draws the legend).

    A run whose labels hold a single class has no ROC curve; it is listed in the legend as such.
    """
    for name, (y_true, y_score) in curves.items():
        y_true = as_binary(y_true, f"{name} labels")
        y_score = as_scores(y_score, y_true.size, f"{name} scores")
        if np.unique(y_true).size == 2:
            RocCurveDisplay.from_predictions(y_true, y_score, name=name, ax=ax, pos_label=1)
        else:
            ax.plot([], [], " ", label=f"{name} (one class only: no ROC)")
    ax.plot([0, 1], [0, 1], linestyle=":", color="grey", label="chance")
    ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(-0.01, 1.01)
    ax.set_xlabel("False positive rate")
    ax.set_ylabel("True positive rate")
    if legend:
        ax.legend(loc="lower right", fontsize="small")
    elif ax.get_legend() is not None:  # RocCurveDisplay draws one of its own
        ax.get_legend().remove()


def plot_roc_curves(curves: Mapping[str, tuple], path: str | os.PathLike, title: str) -> Path:
    """PNG of several ROC curves overlaid; ``curves`` as in :func:`draw_roc_curves`."""
    fig = new_figure(5, 5)
    ax = fig.add_subplot()
    draw_roc_curves(ax, curves)
    ax.set_title(title)
    return save_png(fig, path)


def plot_roc(y_true, y_score, path: str | os.PathLike, title: str) -> Path:
    """PNG of the ROC curve of scores ``y_score`` [N] against labels ``y_true`` [N]."""
    return plot_roc_curves({"model": (y_true, y_score)}, path, title)


def draw_metric_bars(ax, runs: Mapping[str, Mapping[str, Mapping]], metrics: Mapping[str, str],
                     legend: bool = True) -> None:
    """Grouped bars, one group per metric and one bar per run, with interval whiskers.

    Args:
        runs: ``{run name: {metric: {"value", "low", "high"}}}`` (as from ``bootstrap_intervals``);
            a ``None`` value draws no bar, a ``None`` bound no whisker.
        metrics: ``{metric key: axis label}`` in display order.
        legend: draw the runs' legend above the bars (False: the caller draws one).
    """
    width = 0.8 / max(len(runs), 1)
    positions = np.arange(len(metrics))
    for index, (name, intervals) in enumerate(runs.items()):
        entries = [intervals.get(key) or {} for key in metrics]
        values = np.array([np.nan if e.get("value") is None else e["value"] for e in entries], dtype=float)
        lows = np.array([v if e.get("low") is None else e["low"] for e, v in zip(entries, values)], dtype=float)
        highs = np.array([v if e.get("high") is None else e["high"] for e, v in zip(entries, values)], dtype=float)
        x = positions + (index - (len(runs) - 1) / 2) * width
        ax.bar(x, np.nan_to_num(values), width, label=name)
        ax.errorbar(x, values, yerr=[values - lows, highs - values], fmt="none", ecolor="black", capsize=3)
    ax.set_xticks(positions, list(metrics.values()))
    ax.set_ylim(0, 1.15 if legend else 1.0)  # headroom for the legend above the bars
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.set_ylabel("Value (whiskers: bootstrap interval)")
    if legend:
        ax.legend(loc="upper center", ncols=min(len(runs), 4), fontsize="small")
