"""``msmonai train`` and ``msmonai evaluate``: the model to deploy, trained into a run folder that is a bundle of
its own, and its evaluation on patients it has never seen.

A run folder ``RUN``::

    configs/          the bundle's configs as trained: train.json with the overlays and overrides folded in, so
                      `python -m monai.bundle run --config_file configs/inference.json` from RUN retypes nothing
    docs/, LICENSE    the bundle's (docs/README.md gains the validated performance)
    models/model.pt   the selected weights
    run.json          how the model was made (RUN_RECORD; written last: a folder without it is no finished run)
    patients.json     the pseudonymous keys it was trained and validated on (RUN_PATIENTS; never leaves the site)
    train.log, logs/  the training's log and TensorBoard files

Every command that takes a bundle folder takes ``RUN``; ``export-bundle`` shares only its shareable files
(:func:`msmonai.bundle_tools.layout.shareable_files`), so neither ``run.json`` nor ``patients.json`` leaves the site.
With ``--cv CVDIR`` the cross-validation of the same recipe becomes the model's validated performance: numeric
``eval_metrics`` in ``configs/metadata.json`` (the Model Zoo convention) and a section of the model card.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import shutil
from pathlib import Path
from typing import Mapping, Sequence

from msmonai.bundle_tools import contract
from msmonai.bundle_tools.layout import (METADATA, RUN_PATIENTS, RUN_RECORD, TRAIN_CONFIG, bundle_folder,
                                         bundle_identity, shareable_files)
from msmonai.bundle_tools.runner import run_bundle
from msmonai.constants import DEFAULT_MC_SAMPLES
from msmonai.data.datalist import TESTING, TRAINING, load_datalist, select_fold, write_datalist
from msmonai.errors import UserError
from msmonai.fileio import sha256_of, write_json, write_text

logger = logging.getLogger(__name__)

MODEL_CARD = "docs/README.md"
VALIDATED_METRICS = ("roc_auc", "pr_auc", "f1")
"""The metrics a cross-validation hands to the model it validated, each with its interval."""
VALIDATION_CONTEXT = ("n_observations", "n_patients", "folds", "seed")


def train_model(
    bundle_dir: str | os.PathLike,
    datalist: str | os.PathLike,
    out: str | os.PathLike,
    overlays: Sequence[str] = (),
    overrides: Mapping[str, object] | None = None,
    cv_dir: str | os.PathLike | None = None,
) -> dict:
    """Train the bundle on the datalist's training observations (its ``val_fold`` validates, for epoch and threshold)
    into the run folder ``out``; returns the run record (``run.json``).

    Args:
        bundle_dir: the bundle trained.
        datalist: ``msmonai manifest`` output; its ``training`` items are used, ``testing`` ones never.
        out: the run folder (new, or left by a run that did not finish).
        overlays, overrides: as for ``msmonai cv`` (folded into the run's ``configs/train.json``, except the
            run-local ids :data:`msmonai.bundle_tools.contract.RUN_LOCAL_IDS`).
        cv_dir: a ``msmonai cv`` output of the same bundle, version, overlays and overrides: its pooled figures become
            the model's validated performance. Refused, naming the difference, when the recipes differ.
    """
    bundle = bundle_folder(bundle_dir)
    run = Path(out).resolve()
    if (run / RUN_RECORD).is_file():
        raise UserError(f"{run}: already holds a trained model ({RUN_RECORD}); train into a new folder")
    if run == bundle or bundle.is_relative_to(run):
        raise UserError(f"{run}: the run folder must not be the bundle folder or contain it")
    overrides = dict(overrides or {})
    identity = bundle_identity(bundle)
    validated = _validated_performance(cv_dir, identity, overlays, overrides) if cv_dir is not None else None
    parser = contract.read_config(bundle, contract.TRAIN, overlays, overrides)
    val_fold = parser.get_parsed_content(contract.VAL_FOLD)
    items = load_datalist(datalist, TRAINING)
    training, validation = select_fold(items, val_fold, "train"), select_fold(items, val_fold, "val")
    if not training or not validation:
        raise UserError(f"{datalist}: fold {val_fold} validates, and it leaves {len(training)} observations to train "
                        f"on and {len(validation)} to validate; choose another with --set val_fold=K")

    for rel in shareable_files(bundle):
        (run / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(bundle / rel, run / rel)
    write_json(run / TRAIN_CONFIG, contract.folded_train_config(bundle, overlays, overrides))
    # before the weights exist: a run that stops half-way still refuses evaluation on its patients
    write_json(run / RUN_PATIENTS, {"training": sorted({it["patient"] for it in training}),
                                    "validation": sorted({it["patient"] for it in validation})})
    local = {key: value for key, value in overrides.items() if key.split("#", 1)[0] in contract.RUN_LOCAL_IDS}
    cache = Path(cv_dir).resolve() / "cache" if cv_dir is not None else run / "cache"  # the same site's volumes
    logger.info("training %s on %d observations (%d patients), fold %d validating (%d observations)", identity["bundle"],
                len(training), len({it["patient"] for it in training}), val_fold, len(validation))
    run_bundle(run, "train", {contract.CACHE_DIR: str(cache), **local,
                              contract.DATALIST: str(Path(datalist).resolve())},
               log_file=run / "train.log")

    if validated is not None:
        _record_validated_performance(run, validated)
    record = {
        **identity,
        "overlays": list(overlays),
        "overrides": overrides,
        "network": contract.network_spec(contract.read_config(run, contract.TRAIN)),
        "datalist": {"path": str(Path(datalist).resolve()), "sha256": sha256_of(datalist),
                     "val_fold": val_fold, "training_observations": len(training),
                     "training_patients": len({it["patient"] for it in training}),
                     "validation_observations": len(validation),
                     "validation_patients": len({it["patient"] for it in validation})},
        "seed": parser.get_parsed_content(contract.SEED),
        "versions": _versions(),
        "trained_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cv": None if cv_dir is None else str(Path(cv_dir).resolve()),
        "validated_performance": validated,
    }
    write_json(run / RUN_RECORD, record)
    return record


def evaluate_model(
    bundle_dir: str | os.PathLike,
    datalist: str | os.PathLike,
    out: str | os.PathLike,
    split: str = TESTING,
    mc_samples: int = DEFAULT_MC_SAMPLES,
    n_boot: int = 2000,
    seed: int = 0,
) -> dict:
    """Evaluate a trained model (a run folder, or a bundle folder with ``models/model.pt``) on the ``split``
    observations of ``datalist``; writes ``out/predictions.csv``, ``out/metrics.json`` (the metrics, the threshold,
    patient-level bootstrap ``intervals``), the confusion matrix and ROC figures, and returns the metrics.

    Raises:
        UserError: the split shares patients with the model's training or validation data (a run's
            ``patients.json``): that would not be a fair test.
    """
    from msmonai.evaluation import read_predictions, summarize_predictions

    bundle = bundle_folder(bundle_dir)
    out = Path(out).resolve()
    items = load_datalist(datalist, split)
    if not items:
        raise UserError(f"{datalist}: no observations under '{split}' to evaluate")
    shared = {it["patient"] for it in items} & trained_patients(bundle)
    if shared:
        raise UserError(f"{datalist}: {len(shared)} of the {len({it['patient'] for it in items})} patients under "
                        f"'{split}' were in the training or validation data of {bundle}; evaluating on them is not a "
                        "fair test (leakage): evaluate on patients the model has never seen")
    work = out / "work"
    write_datalist(work / "datalist.json", {TRAINING: [], TESTING: items})
    run_bundle(bundle, "evaluate", {contract.DATALIST: str(work / "datalist.json"), contract.EVAL_SPLIT: TESTING,
                                    contract.MC_SAMPLES: mc_samples, contract.OUTPUT_DIR: str(out),
                                    contract.LOG_DIR: str(work / "logs"), contract.CACHE_DIR: None},
               log_file=out / "evaluate.log")
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    summary = summarize_predictions(read_predictions(out / "predictions.csv"), n_boot=n_boot, seed=seed)
    metrics.update({key: summary[key] for key in ("n", "n_patients", "interval", "intervals", "brier")})
    write_json(out / "metrics.json", metrics)
    return metrics


def trained_patients(bundle: Path) -> set[str]:
    """The pseudonymous keys a run folder's model was trained or validated on (empty for other bundle folders,
    e.g. one received from another site)."""
    record = bundle / RUN_PATIENTS
    if not record.is_file():
        return set()
    content = json.loads(record.read_text(encoding="utf-8"))
    return set(content.get("training", [])) | set(content.get("validation", []))


def validated_performance(eval_metrics: Mapping | None) -> dict | None:
    """``{"roc_auc": {"value", "low", "high"}, "pr_auc": ..., "f1": ..., "n_observations", "n_patients", "folds",
    "seed"}`` from a bundle's numeric ``eval_metrics`` (None when it carries no cross-validated ROC AUC)."""
    metrics = dict(eval_metrics or {})
    if not isinstance(metrics.get("roc_auc"), (int, float)):
        return None
    out = {name: {"value": metrics.get(name), "low": metrics.get(f"{name}_low"), "high": metrics.get(f"{name}_high")}
           for name in VALIDATED_METRICS}
    out.update({key: metrics.get(key) for key in VALIDATION_CONTEXT})
    return out


def _validated_performance(cv_dir, identity: dict, overlays: Sequence[str], overrides: Mapping[str, object]) -> dict:
    """The numeric ``eval_metrics`` of the cross-validation in ``cv_dir``; refuses one of another recipe."""
    from msmonai.evaluation.cv_dir import read_cv_dir

    cv = read_cv_dir(cv_dir)
    differences = [f"{key}: cross-validated {cv.run.get(key)!r}, trained {identity[key]!r}"
                   for key in ("bundle", "bundle_version") if cv.run.get(key) != identity[key]]
    if list(cv.run.get("overlays", [])) != list(overlays):
        differences.append(f"overlays: cross-validated {cv.run.get('overlays')}, trained {list(overlays)}")
    ignored = {*contract.RUN_LOCAL_IDS, contract.SEED, contract.VAL_FOLD}  # where it ran, not what it is
    recipe = {k: v for k, v in overrides.items() if k not in ignored}
    validated = {k: v for k, v in (cv.run.get("overrides") or {}).items() if k not in ignored}
    for key in sorted(recipe.keys() | validated.keys()):
        if json.dumps(recipe.get(key), sort_keys=True) != json.dumps(validated.get(key), sort_keys=True):
            differences.append(f"{key}: cross-validated {validated.get(key, 'unset')!r}, trained "
                               f"{recipe.get(key, 'unset')!r}")
    if differences:
        raise UserError(f"{cv_dir}: not a cross-validation of this recipe ({'; '.join(differences)}); its figures "
                        "would not be this model's: rerun msmonai cv with the same settings, or train without --cv")
    metrics = {}
    for name in VALIDATED_METRICS:
        interval = cv.metrics["intervals"].get(name) or {}
        metrics.update({name: cv.metrics["pooled"].get(name), f"{name}_low": interval.get("low"),
                        f"{name}_high": interval.get("high")})
    metrics.update({"n_observations": cv.metrics["n"], "n_patients": cv.metrics["n_patients"],
                    "folds": len(cv.run.get("folds", [])), "seed": (cv.run.get("overrides") or {}).get(contract.SEED)})
    for name, baseline in (cv.metrics.get("baselines") or {}).items():
        metrics[f"baseline_{name.replace(' ', '_')}_roc_auc"] = baseline["intervals"]["roc_auc"].get("value")
    return {key: value for key, value in metrics.items() if value is not None}


def _record_validated_performance(run: Path, metrics: dict) -> None:
    """Write ``metrics`` as the run's ``eval_metrics`` (metadata) and as a section of its model card."""
    meta = json.loads((run / METADATA).read_text(encoding="utf-8"))
    meta["eval_metrics"] = metrics
    write_json(run / METADATA, meta)
    performance = validated_performance(metrics)
    rows = "".join(f"| {name} | {entry['value']:.3f} | {entry['low']:.3f}-{entry['high']:.3f} |\n"
                   for name, entry in ((n, performance[n]) for n in VALIDATED_METRICS) if entry["value"] is not None)
    baselines = "".join(f"| {key[len('baseline_'):-len('_roc_auc')].replace('_', ' ')} | {value:.3f} |\n"
                        for key, value in metrics.items() if key.startswith("baseline_"))
    card = run / MODEL_CARD
    section = (
        "\n## Validated performance of this trained model\n\n"
        f"Patient-grouped cross-validation of the recipe this model was trained with: {metrics['n_observations']} "
        f"out-of-fold observations of {metrics['n_patients']} patients, {metrics['folds']} folds, seed "
        f"{metrics.get('seed')}; 95 % intervals by patient bootstrap. The figures are those of the recipe on the site's "
        "cohort, not of this exact model on new patients.\n\n| metric | value | 95 % interval |\n|---|---|---|\n"
        f"{rows}" + (f"\nBaselines scored on the same held-out observations (ROC AUC):\n\n| baseline | ROC AUC |\n"
                     f"|---|---|\n{baselines}" if baselines else ""))
    write_text(card, (card.read_text(encoding="utf-8") if card.is_file() else "") + section)


def _versions() -> dict:
    import monai
    import torch

    import msmonai

    return {"torch": torch.__version__, "monai": monai.__version__, "msmonai": msmonai.__version__}
