"""The output directory of ``msmonai cv``: the one place that knows its file names.

``DIR/oof_predictions.csv`` (out-of-fold predictions, :mod:`msmonai.evaluation.predictions`),
``DIR/run.json`` (``{"model": name, "bundle": ..., "threshold": ..., ...}``) and
``DIR/metrics.json`` (:func:`msmonai.evaluation.summary.summarize_predictions`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from msmonai.errors import UserError
from msmonai.evaluation.predictions import read_predictions, write_predictions
from msmonai.fileio import write_json

OOF_PREDICTIONS_FILE = "oof_predictions.csv"
RUN_FILE = "run.json"
METRICS_FILE = "metrics.json"


@dataclass
class CvResult:
    """One cross-validation run read back from its directory."""

    path: Path
    run: dict
    metrics: dict
    predictions: pd.DataFrame

    @property
    def name(self) -> str:
        """The model name recorded in ``run.json``, else the directory name."""
        return str(self.run.get("model") or self.path.name)


def write_cv_dir(out_dir: str | os.PathLike, predictions: pd.DataFrame, run: dict, metrics: dict) -> Path:
    """Write the three files of a cv directory (each atomically) and return the directory."""
    out_dir = Path(out_dir)
    write_predictions(predictions, out_dir / OOF_PREDICTIONS_FILE)
    write_json(out_dir / RUN_FILE, run)
    write_json(out_dir / METRICS_FILE, metrics)
    return out_dir


def _read_json(path: Path) -> dict:
    """A JSON object from ``path``; ``UserError`` naming the file otherwise."""
    if not path.is_file():
        raise UserError(f"{path}: not found (is {path.parent} the output directory of `msmonai cv`?)")
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise UserError(f"{path}: not valid JSON ({err})") from None
    if not isinstance(content, dict):
        raise UserError(f"{path}: expected a JSON object, found {type(content).__name__}")
    return content


def read_cv_dir(path: str | os.PathLike) -> CvResult:
    """Read a cv directory written by :func:`write_cv_dir`."""
    path = Path(path)
    if not path.is_dir():
        raise UserError(f"{path}: not a directory")
    return CvResult(path, _read_json(path / RUN_FILE), _read_json(path / METRICS_FILE), read_predictions(path / OOF_PREDICTIONS_FILE))
