"""Patient-grouped cross-validation through a bundle's own workflows.

For each fold k of the datalist: a fold datalist puts fold k under ``testing`` (never seen in training or model
selection), the bundle trains on the remaining folds with one of them as its validation fold (best checkpoint by
validation ROC AUC, decision threshold stored with it), predicts that validation fold (for another threshold
rule, if asked), and predicts fold k. Out-of-fold
predictions, per-fold and pooled metrics with patient-level bootstrap intervals go to the cv directory
(:mod:`msmonai.evaluation.cv_dir`).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Mapping

import pandas as pd

from msmonai.bundle_tools.runner import run_bundle
from msmonai.engine.datalist import load_datalist
from msmonai.errors import UserError
from msmonai.evaluation import read_predictions, select_threshold, summarize_predictions
from msmonai.evaluation.cv_dir import write_cv_dir
from msmonai.evaluation.predictions import FOLD, LABEL, PREDICTION, PROBABILITY
from msmonai.evaluation.threshold import apply_threshold
from msmonai.fileio import write_json

logger = logging.getLogger(__name__)


def fold_datalist(items: list[dict], test_fold: int) -> dict:
    """Datalist with ``test_fold`` under ``testing`` and every other fold under ``training``."""
    return {
        "training": [it for it in items if it["fold"] != test_fold],
        "testing": [it for it in items if it["fold"] == test_fold],
    }


def inner_validation_fold(folds: list[int], test_fold: int) -> int:
    """The validation fold used for model selection and threshold choice while ``test_fold`` is held out."""
    if len(folds) < 3:
        raise UserError(f"cross-validation needs at least 3 folds under 'training' (one held out, one for validation, "
                        f"the rest to train on); the datalist has {len(folds)}")
    others = [f for f in folds if f != test_fold]
    return others[folds.index(test_fold) % len(others)]


def cross_validate(
    bundle_dir: str | os.PathLike,
    datalist: str | os.PathLike,
    out_dir: str | os.PathLike,
    folds: int | None = None,
    overrides: Mapping[str, object] | None = None,
    threshold: str = "model",
    mc_samples: int = 20,
    n_boot: int = 2000,
    seed: int = 0,
) -> dict:
    """Run the cross-validation; returns the ``metrics.json`` content.

    Args:
        bundle_dir: the bundle whose workflows are evaluated.
        datalist: ``msmonai manifest`` output (its ``training`` items carry the folds).
        out_dir: the cv directory (one sub-folder per fold with checkpoints, logs and raw predictions).
        folds: evaluate only the first ``folds`` folds (default: all).
        overrides: bundle id overrides (e.g. ``num_epochs``, ``spatial_size``).
        threshold: ``model`` (the threshold each fold's model stored at selection), ``fixed`` (0.5), ``f1`` or
            ``fbeta`` (chosen anew on each fold's validation predictions).
        mc_samples: Monte-Carlo dropout passes for each prediction's uncertainty.
        n_boot, seed: bootstrap replicates and seed of the intervals.
    """
    out = Path(out_dir).resolve()
    items = load_datalist(datalist, "training")  # absolute image paths, so fold datalists can live anywhere
    all_folds = sorted({int(it["fold"]) for it in items})
    chosen = all_folds[:folds] if folds else all_folds
    shared = {"cache_dir": str(out / "cache"), "seed": seed, **(overrides or {})}
    predictions, thresholds = [], {}
    for k in chosen:
        fold_dir = out / f"fold_{k}"
        write_json(fold_dir / "datalist.json", fold_datalist(items, k))
        val_fold = inner_validation_fold(all_folds, k)
        run = {
            **shared,
            "datalist": str(fold_dir / "datalist.json"),
            "val_fold": val_fold,
            "ckpt_path": str(fold_dir / "models" / "model.pt"),
            "log_dir": str(fold_dir / "logs"),
        }
        logger.info("fold %d: training (validation fold %d)", k, val_fold)
        run_bundle(bundle_dir, "train", run, log_file=fold_dir / "train.log")
        run_bundle(bundle_dir, "evaluate", {**run, "eval_split": "val", "output_dir": str(fold_dir / "validation")},
                   log_file=fold_dir / "validation.log")
        run_bundle(bundle_dir, "evaluate", {**run, "eval_split": "testing", "mc_samples": mc_samples,
                                            "output_dir": str(fold_dir / "test")}, log_file=fold_dir / "test.log")
        if threshold == "model":
            cut = json.loads((fold_dir / "validation" / "metrics.json").read_text())["threshold"]
        else:
            validation = read_predictions(fold_dir / "validation" / "predictions.csv")
            cut = select_threshold(validation[LABEL].to_numpy(int), validation[PROBABILITY].to_numpy(float), threshold)
        thresholds[k] = cut
        test = read_predictions(fold_dir / "test" / "predictions.csv")
        test[FOLD] = k
        test[PREDICTION] = apply_threshold(test[PROBABILITY].to_numpy(float), cut)
        predictions.append(test)
        logger.info("fold %d: %d held-out predictions, threshold %.3f", k, len(test), cut)
    oof = pd.concat(predictions, ignore_index=True)
    metrics = summarize_predictions(oof, n_boot=n_boot, seed=seed)
    bundle_meta = json.loads((Path(bundle_dir) / "configs" / "metadata.json").read_text())
    run_info = {
        "model": bundle_meta.get("name", Path(bundle_dir).name).split(", ")[-1],
        "bundle": Path(bundle_dir).resolve().name,
        "bundle_version": bundle_meta.get("version"),
        "folds": chosen,
        "threshold_criterion": threshold,
        "thresholds": thresholds,
        "mc_samples": mc_samples,
        "overrides": {k: v for k, v in shared.items() if k != "cache_dir"},
    }
    write_cv_dir(out, oof, run_info, metrics)
    return metrics
