"""Uncertainty of predictions: checking that uncertainty tracks errors."""

from __future__ import annotations

import numpy as np
import pandas as pd

from msmonai.evaluation.metrics import as_binary, as_scores


def error_rate_by_uncertainty(y_true, y_pred, uncertainty, n_bins: int = 4) -> list[dict]:
    """Error rate in quantile bins of ``uncertainty`` [N] (quartiles by default), least uncertain first.

    Bins are ``pandas.qcut`` bins: (low, high], the first one including its lower edge; tied uncertainty
    values can merge bins, so fewer than ``n_bins`` may come back. Each bin is
    ``{"bin", "low", "high", "n", "errors", "error_rate"}``.
    """
    y_true = as_binary(y_true, "y_true")
    y_pred = as_binary(y_pred, "y_pred")
    uncertainty = as_scores(uncertainty, y_true.size, "uncertainty")
    if y_pred.shape != y_true.shape:
        raise ValueError(f"y_pred has {y_pred.size} values, y_true has {y_true.size}")
    bins, edges = pd.qcut(uncertainty, q=n_bins, labels=False, retbins=True, duplicates="drop")
    if edges.size == 1:  # every value equal: one bin holding everything
        bins, edges = np.zeros(y_true.size, dtype=int), np.repeat(edges, 2)
    errors = y_true != y_pred
    rows = []
    for index in range(len(edges) - 1):
        in_bin = bins == index
        n = int(in_bin.sum())
        rows.append({
            "bin": index + 1,
            "low": float(edges[index]),
            "high": float(edges[index + 1]),
            "n": n,
            "errors": int(errors[in_bin].sum()),
            "error_rate": float(errors[in_bin].mean()) if n else None,
        })
    return rows
