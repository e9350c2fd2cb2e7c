"""The predictions file, written by cross-validation and inference and read by every evaluation step.

A CSV with one row per observation (a patient's visit sequence ending at ``last_visit_date``)::

    patient,fold,last_visit_date,label,probability_active,prediction,uncertainty
    P-3f2a9c0d11e4b7a2,0,2019-05-14,1,0.81,1,0.07

``patient`` is the pseudonymous key, never a hospital identifier; ``last_visit_date`` an ISO date;
``label`` the true next-visit status (empty when unknown, e.g. at inference); ``fold`` the held-out fold
(empty outside cross-validation); ``probability_active`` in [0, 1]; ``prediction`` 0/1 after the threshold;
``uncertainty`` a non-negative spread (empty when not estimated). No other columns.
In memory the file is a DataFrame with these columns; empty cells are ``<NA>`` (fold, label) or NaN (uncertainty).
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from msmonai.errors import UserError
from msmonai.fileio import atomic_path

PATIENT = "patient"
FOLD = "fold"
LAST_VISIT_DATE = "last_visit_date"
LABEL = "label"
PROBABILITY = "probability_active"
PREDICTION = "prediction"
UNCERTAINTY = "uncertainty"
COLUMNS = (PATIENT, FOLD, LAST_VISIT_DATE, LABEL, PROBABILITY, PREDICTION, UNCERTAINTY)
OPTIONAL_COLUMNS = (FOLD, LABEL, UNCERTAINTY)

# Numeric columns: (rule the value must satisfy, its description, pandas dtype once parsed).
NUMERIC_RULES = {
    FOLD: (lambda v: (v >= 0) & (v % 1 == 0), "is not a non-negative integer", "Int64"),
    LABEL: (lambda v: v.isin((0, 1)), "is not 0 or 1", "Int64"),
    PROBABILITY: (lambda v: (v >= 0) & (v <= 1), "is not a probability in [0, 1]", "float64"),
    PREDICTION: (lambda v: v.isin((0, 1)), "is not 0 or 1", "int64"),
    UNCERTAINTY: (lambda v: v >= 0, "is not a non-negative number", "float64"),
}


def _fail(source: str, frame: pd.DataFrame, bad: pd.Series, column: str, reason: str) -> None:
    """Raise a one-line ``UserError`` for the first row flagged in ``bad`` (rows counted from 1 after the header)."""
    if bad.any():
        position = int(bad.to_numpy().argmax())
        raise UserError(f"{source}: row {position + 1}: {column} {frame[column].iloc[position]!r} {reason}")


def validate_predictions(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    """Checked, typed copy of a predictions table; ``UserError`` naming ``source``, row and reason otherwise."""
    missing = [c for c in COLUMNS if c not in frame.columns]
    unknown = [c for c in frame.columns if c not in COLUMNS]
    if missing or unknown:
        raise UserError(f"{source}: columns must be {', '.join(COLUMNS)}; missing {missing or 'none'}, unknown {unknown or 'none'}")
    frame = frame.reset_index(drop=True)
    empty = frame.isna() | frame.astype(str).apply(lambda col: col.str.strip() == "")
    typed = pd.DataFrame(index=frame.index)
    for column in COLUMNS:
        if column not in OPTIONAL_COLUMNS:
            _fail(source, frame, empty[column], column, "is empty")
    typed[PATIENT] = frame[PATIENT].astype(str).str.strip()
    dates = pd.to_datetime(frame[LAST_VISIT_DATE].astype(str).str.strip(), format="%Y-%m-%d", errors="coerce")
    _fail(source, frame, dates.isna(), LAST_VISIT_DATE, "is not an ISO date (YYYY-MM-DD)")
    typed[LAST_VISIT_DATE] = dates.dt.strftime("%Y-%m-%d")
    for column, (rule, reason, dtype) in NUMERIC_RULES.items():
        values = pd.to_numeric(frame[column].where(~empty[column]), errors="coerce")
        _fail(source, frame, ~empty[column] & ~(values.notna() & rule(values)), column, reason)
        typed[column] = values.astype(dtype)
    return typed[list(COLUMNS)]


def read_predictions(path: str | os.PathLike) -> pd.DataFrame:
    """Read and check a predictions CSV (see the module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: predictions file not found")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise UserError(f"{path}: not a readable CSV ({str(err).splitlines()[0]})") from None
    return validate_predictions(frame, str(path))


def write_predictions(predictions: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Check ``predictions`` and write it atomically as a predictions CSV; returns the path."""
    typed = validate_predictions(pd.DataFrame(predictions), str(path))
    with atomic_path(path) as tmp:
        typed.to_csv(tmp, index=False)
    return Path(path)
