"""Evaluation: metrics, intervals, calibration, uncertainty, explanations, reports.

The public functions below are imported on first use, so that ``msmonai --help`` does not load scikit-learn.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "binary_metrics": "metrics",
    "bootstrap_intervals": "bootstrap",
    "select_threshold": "threshold",
    "apply_threshold": "threshold",
    "brier_score": "calibration",
    "error_rate_by_uncertainty": "uncertainty",
    "summarize_predictions": "summary",
    "read_predictions": "predictions",
    "write_predictions": "predictions",
    "render_report_html": "report_html",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
