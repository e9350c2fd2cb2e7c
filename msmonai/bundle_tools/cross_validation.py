"""Patient-grouped cross-validation through a bundle's own workflows.

For each fold k of the datalist: a fold datalist puts fold k under ``testing`` (never seen in training or model
selection), the bundle trains on the remaining folds with one of them as its validation fold (best checkpoint by
validation ROC AUC, decision threshold stored with it), predicts that validation fold (for another threshold
rule, if asked), and predicts fold k. Out-of-fold
predictions, per-fold and pooled metrics with patient-level bootstrap intervals go to the cv directory
(:mod:`msmonai.evaluation.cv_dir`). The baselines of :mod:`msmonai.evaluation.baselines`, fitted on the same
training folds and scored on the same held-out observations, go to ``DIR/baselines/<name>/``, each a cv directory
of its own (so ``msmonai compare`` reads them like any run), and into ``metrics.json`` under ``baselines``.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
from pathlib import Path
from typing import Mapping, Sequence

import pandas as pd
from tqdm import tqdm

from msmonai.bundle_tools import contract
from msmonai.bundle_tools.layout import MODEL, bundle_folder, bundle_identity
from msmonai.bundle_tools.runner import run_bundle
from msmonai.constants import DEFAULT_MC_SAMPLES, DEFAULT_THRESHOLD
from msmonai.data.datalist import fold_datalist, load_datalist, write_datalist
from msmonai.errors import UserError
from msmonai.evaluation import read_predictions, select_threshold, summarize_predictions
from msmonai.evaluation.cv_dir import write_cv_dir
from msmonai.evaluation.predictions import FOLD, LABEL, LAST_VISIT_DATE, PATIENT, PREDICTION, PROBABILITY, UNCERTAINTY
from msmonai.evaluation.threshold import apply_threshold

logger = logging.getLogger(__name__)


def inner_validation_fold(folds: list[int], test_fold: int) -> int:
    """The validation fold used for model selection and threshold choice while ``test_fold`` is held out."""
    if len(folds) < 3:
        raise UserError(f"cross-validation needs at least 3 folds under 'training' (one held out, one for validation, "
                        f"the rest to train on); the datalist has {len(folds)}")
    others = [f for f in folds if f != test_fold]
    return others[folds.index(test_fold) % len(others)]


def cross_validate_baselines(bundle_dir, items: list[dict], folds: list[int], out: Path, shared: Mapping[str, object],
                             overlays: Sequence[str] = (), n_boot: int = 2000, seed: int = 0) -> dict:
    """The baselines of each held-out fold, fitted on the other folds; writes ``out/baselines/<name>/``.

    Volumes come from the same preprocessing preset, spatial size and disk cache as the bundle's runs, so each visit
    is read from the cache the bundle filled. Returns ``{name: {"pooled": ..., "intervals": ...}}``.
    """
    from msmonai.engine.dataset import VisitVolumes
    from msmonai.evaluation.baselines import BASELINES, baseline_probabilities, intensity_histogram
    from msmonai.networks.sequence_head import change_evidence
    from msmonai.transforms import difference_transforms, preprocessing_transforms

    spatial_size = contract.spatial_size(contract.read_config(bundle_dir, contract.TRAIN, overlays, shared))
    # the change maps as the bundles' difference channel has them (and from the same cache); a pair that does not
    # register is subtracted unaligned with a warning, rather than ending the cross-validation. The two lines each
    # pair logs (a difference-channel run keeps them in its log) would be 2 per pair on the console: warnings only.
    registration_log = logging.getLogger("msmonai.transforms.registration")
    level = registration_log.level
    registration_log.setLevel(logging.WARNING)
    try:
        volumes = VisitVolumes(items, preprocessing_transforms(spatial_size), cache_dir=shared.get(contract.CACHE_DIR),
                               progress=False, difference_transform=difference_transforms(spatial_size, "unaligned"))
    finally:
        registration_log.setLevel(level)

    @functools.cache  # each visit is read and counted once, whatever the fold
    def histogram(files: tuple[str, ...]):
        return intensity_histogram(volumes.volume(files).float().numpy())

    def evidence(previous: list[str] | None, files: list[str]):
        change = volumes.difference(None if previous is None else tuple(previous), tuple(files)).float()
        return change_evidence(change)[0].numpy()

    rows: dict[str, list[pd.DataFrame]] = {name: [] for name in BASELINES}
    for k in folds:
        train = [it for it in items if it["fold"] != k]
        test = [it for it in items if it["fold"] == k]
        for name, probability in baseline_probabilities(train, test, lambda f: histogram(tuple(f)), evidence).items():
            rows[name].append(pd.DataFrame({
                PATIENT: [it["patient"] for it in test], FOLD: k,
                LAST_VISIT_DATE: [it["visits"][-1]["date"] for it in test], PROBABILITY: probability,
                PREDICTION: apply_threshold(probability, DEFAULT_THRESHOLD), UNCERTAINTY: None,
                LABEL: [int(it["label"]) for it in test]}))
    summary = {}
    for name, frames in rows.items():
        table = pd.concat(frames, ignore_index=True)
        metrics = summarize_predictions(table, n_boot=n_boot, seed=seed)
        write_cv_dir(out / "baselines" / name.replace(" ", "_"), table,
                     {"model": f"baseline: {name}", "folds": folds, "threshold": DEFAULT_THRESHOLD}, metrics)
        summary[name] = {"pooled": metrics["pooled"], "intervals": metrics["intervals"]}
        logger.info("baseline %s: ROC AUC %.3f", name, metrics["pooled"]["roc_auc"])
    return summary


def cross_validate(
    bundle_dir: str | os.PathLike,
    datalist: str | os.PathLike,
    out_dir: str | os.PathLike,
    folds: int | None = None,
    overrides: Mapping[str, object] | None = None,
    threshold: str = "model",
    mc_samples: int = DEFAULT_MC_SAMPLES,
    n_boot: int = 2000,
    seed: int = 0,
    overlays: Sequence[str] = (),
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
        overlays: bundle config files read after ``train.json`` (e.g. ``configs/paper_recipe.json``).
    """
    out = Path(out_dir).resolve()
    items = load_datalist(datalist, "training")  # absolute image paths, so fold datalists can live anywhere
    all_folds = sorted({int(it["fold"]) for it in items})
    chosen = all_folds[:folds] if folds else all_folds
    shared = {contract.CACHE_DIR: str(out / "cache"), contract.SEED: seed, **(overrides or {})}
    predictions, thresholds = [], {}
    for k in tqdm(chosen, desc="cv", unit="fold", disable=not sys.stderr.isatty()):  # a bar on a terminal only
        fold_dir = out / f"fold_{k}"
        write_datalist(fold_dir / "datalist.json", fold_datalist(items, k))
        val_fold = inner_validation_fold(all_folds, k)
        run = {
            **shared,
            contract.DATALIST: str(fold_dir / "datalist.json"),
            contract.VAL_FOLD: val_fold,
            contract.CKPT_PATH: str(fold_dir / MODEL),
            contract.LOG_DIR: str(fold_dir / "logs"),
        }
        logger.info("fold %d: training (validation fold %d)", k, val_fold)
        run_bundle(bundle_dir, "train", run, log_file=fold_dir / "train.log", overlays=overlays)
        run_bundle(bundle_dir, "evaluate", {**run, contract.EVAL_SPLIT: "val",
                                            contract.OUTPUT_DIR: str(fold_dir / "validation")},
                   log_file=fold_dir / "validation.log", overlays=overlays)
        run_bundle(bundle_dir, "evaluate", {**run, contract.EVAL_SPLIT: "testing", contract.MC_SAMPLES: mc_samples,
                                            contract.OUTPUT_DIR: str(fold_dir / "test")}, log_file=fold_dir / "test.log",
                   overlays=overlays)
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
    metrics["baselines"] = cross_validate_baselines(bundle_dir, items, chosen, out, shared, overlays, n_boot=n_boot,
                                                    seed=seed)
    run_info = {
        **bundle_identity(bundle_folder(bundle_dir)),
        "folds": chosen,
        "threshold_criterion": threshold,
        "thresholds": thresholds,
        "mc_samples": mc_samples,
        "overrides": {k: v for k, v in shared.items() if k != contract.CACHE_DIR},
        "overlays": list(overlays),
    }
    write_cv_dir(out, oof, run_info, metrics)
    return metrics
