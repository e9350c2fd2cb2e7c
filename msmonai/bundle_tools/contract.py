"""The bundle contract: every config id that msmonai's Python reads or sets, declared once, the way
``monai/bundle/properties.py`` declares MONAI's, and the one way a bundle's configuration is read (MONAI's
``ConfigParser``).

A bundle from elsewhere works with ``msmonai cv``, ``train``, ``evaluate``, ``predict``, ``export-bundle`` and the
federated job when each workflow's configs define the ids marked required for it (:func:`missing_ids`; a test checks
the three shipped bundles). Code names these ids through the constants below, not through strings of its own.
"""

from __future__ import annotations

import os
from pathlib import Path
from dataclasses import dataclass
from typing import Mapping, Sequence

from monai.bundle import ConfigParser

from msmonai.bundle_tools.layout import MODEL, bundle_folder, config_files

TRAIN, EVALUATE, INFERENCE = "train", "evaluate", "inference"
ALL = (TRAIN, EVALUATE, INFERENCE)

# ids that say where a run reads, writes and computes
BUNDLE_ROOT = "bundle_root"
DATASET_DIR = "dataset_dir"
DATALIST = "datalist"
CKPT_PATH = "ckpt_path"
LOG_DIR = "log_dir"
OUTPUT_DIR = "output_dir"
CACHE_DIR = "cache_dir"
# ids that choose what a run does
VAL_FOLD = "val_fold"
SEED = "seed"
NUM_EPOCHS = "num_epochs"
EVAL_SPLIT = "eval_split"
INFER_SPLIT = "infer_split"
MC_SAMPLES = "mc_samples"
THRESHOLD = "threshold"
SPATIAL_SIZE = "spatial_size"
PRETRAINED = "pretrained"
# the network and the engines
NETWORK_DEF = "network_def"
NETWORK = "network"
DEVICE = "device"
TRAIN_ITEMS = "train#items"
TRAINER = "train#trainer"
TRAIN_HANDLERS = "train#handlers"
EVALUATOR = "validate#evaluator"
VALIDATION_HANDLERS = "validate#handlers"
VALIDATION_DATASET = "validate#dataset"
VALIDATION_BATCH = "validate#prepare_batch"
KEY_METRIC = "validate#key_metric"


@dataclass(frozen=True)
class BundleId:
    """One id of the contract: what it means, whether a workflow must define it, and which workflows."""

    description: str
    required: bool
    workflows: tuple[str, ...]


CONTRACT: dict[str, BundleId] = {
    BUNDLE_ROOT: BundleId("the bundle folder; relative defaults of the other paths start here", True, ALL),
    DATALIST: BundleId("datalist JSON of `msmonai manifest` (absolute image paths)", True, ALL),
    CKPT_PATH: BundleId("the selected weights, a plain state_dict (models/model.pt)", True, ALL),
    LOG_DIR: BundleId("TensorBoard logs of training and validation", True, (TRAIN, EVALUATE)),
    OUTPUT_DIR: BundleId("where evaluation and inference write predictions.csv (and metrics.json)", True,
                         (EVALUATE, INFERENCE)),
    CACHE_DIR: BundleId("disk cache of preprocessed volumes (null: none)", True, ALL),
    VAL_FOLD: BundleId("the datalist fold that validates (epoch and threshold selection)", True, (TRAIN, EVALUATE)),
    SEED: BundleId("seed of weights, shuffling and augmentation", True, ALL),
    NUM_EPOCHS: BundleId("training epochs", True, (TRAIN,)),
    EVAL_SPLIT: BundleId("'testing' or 'val': what evaluation predicts", True, (EVALUATE,)),
    INFER_SPLIT: BundleId("the datalist split inference predicts", True, (INFERENCE,)),
    MC_SAMPLES: BundleId("Monte-Carlo dropout passes per prediction (0: none)", True, (EVALUATE, INFERENCE)),
    THRESHOLD: BundleId("decision threshold (null: the one stored with the model)", True, (EVALUATE, INFERENCE)),
    SPATIAL_SIZE: BundleId("[D, H, W] of the preprocessed volumes", True, ALL),
    PRETRAINED: BundleId("ImageNet weights file of a pretrained encoder (off when a trained model is exported)",
                         False, ALL),
    NETWORK_DEF: BundleId("the network, instantiated from resolved arguments (export, federated server)", True, ALL),
    NETWORK: BundleId("the network on its device", True, ALL),
    DEVICE: BundleId("torch device", True, ALL),
    TRAIN_ITEMS: BundleId("the training observations (the federated client counts them)", True, (TRAIN,)),
    TRAINER: BundleId("the ignite trainer", True, (TRAIN,)),
    TRAIN_HANDLERS: BundleId("the trainer's handlers (recalibration, validation, checkpoints)", True, (TRAIN,)),
    EVALUATOR: BundleId("the ignite evaluator", True, ALL),
    VALIDATION_HANDLERS: BundleId("the evaluator's handlers (weights, prediction writer)", True, ALL),
    VALIDATION_DATASET: BundleId("the evaluated observations (predict explains one of them)", True, ALL),
    VALIDATION_BATCH: BundleId("prepare_batch of evaluation (predict's explanations)", True, ALL),
    KEY_METRIC: BundleId("validation ROC AUC, the key metric of selection", True, (TRAIN,)),
}

RUN_LOCAL_IDS = (BUNDLE_ROOT, DATASET_DIR, DATALIST, CKPT_PATH, LOG_DIR, OUTPUT_DIR, CACHE_DIR, DEVICE)
"""Ids that say where one run reads, writes and computes on this machine: never folded into a trained model's configs
(a receiving site has its own folders and devices)."""


def run_outputs(folder: str | os.PathLike) -> dict[str, str]:
    """The overrides that send everything one run of a workflow writes (selected weights, the resumable checkpoint
    beside them, logs, evaluation outputs) under ``folder`` instead of the bundle folder."""
    folder = Path(folder)
    return {CKPT_PATH: str(folder / MODEL), LOG_DIR: str(folder / "logs"), OUTPUT_DIR: str(folder / "eval")}


def read_config(bundle_dir: str | os.PathLike, workflow: str = TRAIN, overlays: Sequence[str] = (),
                overrides: Mapping[str, object] | None = None, root: bool = True) -> ConfigParser:
    """The configuration ``workflow`` of the bundle runs with: its config files, ``overlays`` (bundle-relative) and
    ``overrides`` (id -> value, ``#`` for nested ids), read by MONAI's ``ConfigParser`` and not yet resolved.
    ``root``: set ``bundle_root`` to the bundle folder, as the runner does (False: keep the config's own)."""
    bundle = bundle_folder(bundle_dir)
    parser = ConfigParser()
    parser.read_config(config_files(bundle, workflow, overlays))
    parser.update({**({BUNDLE_ROOT: str(bundle)} if root else {}), **(overrides or {})})
    return parser


def missing_ids(bundle_dir: str | os.PathLike, workflow: str) -> list[str]:
    """The ids the contract requires of ``workflow`` that the bundle's configs for it do not define."""
    parser = read_config(bundle_dir, workflow)
    return [key for key, entry in CONTRACT.items() if entry.required and workflow in entry.workflows
            and key not in parser]


def network_spec(parser: ConfigParser) -> dict:
    """``{"class_path", "args"}`` of ``network_def`` with its arguments resolved (JSON values): what shapes the
    network, enough to rebuild it without the bundle."""
    definition = parser.get(NETWORK_DEF)
    args = {key: parser.get_parsed_content(f"{NETWORK_DEF}#{key}") for key in definition if not key.startswith("_")}
    return {"class_path": definition["_target_"],
            "args": {k: list(v) if isinstance(v, tuple) else v for k, v in args.items()}}


def spatial_size(parser: ConfigParser) -> list[int]:
    """The resolved ``spatial_size`` ``[D, H, W]``."""
    return [int(v) for v in parser.get_parsed_content(SPATIAL_SIZE)]


def folded_train_config(bundle_dir: str | os.PathLike, overlays: Sequence[str],
                        overrides: Mapping[str, object]) -> dict:
    """``train.json`` as trained: its raw (unresolved) content with ``overlays`` and ``overrides`` folded in, except
    the run-local ids (:data:`RUN_LOCAL_IDS`: the receiving folder's defaults apply there)."""
    kept = {key: value for key, value in overrides.items() if key.split("#", 1)[0] not in RUN_LOCAL_IDS}
    config = dict(read_config(bundle_dir, TRAIN, overlays, kept, root=False).get())
    config.pop(ConfigParser.meta_key, None)
    return config
