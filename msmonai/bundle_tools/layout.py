"""Where things lie in a bundle folder (MONAI's bundle layout), and which config files make each workflow: the one
place that names them for the runner, prediction, sharing and cross-validation."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

from msmonai.errors import UserError

TRAIN_CONFIG = "configs/train.json"
METADATA = "configs/metadata.json"
LOGGING_CONFIG = "configs/logging.conf"
MODEL = "models/model.pt"  # the selected weights, a plain state_dict
TORCHSCRIPT = "models/model.ts"
EXPORTED_PROGRAM = "models/model.pt2"  # torch.export
ONNX_MODEL = "models/model.onnx"
INFERENCE_CONFIG = "configs/inference.json"
SHARED_DIRS = ("configs", "docs")
SHARED_FILES = ("LICENSE", "large_files.yml")
"""What of a bundle folder travels (to a partner in an exported zip, to the sites of a federation, into a training
run): these folders and files, never ``models/``, outputs, logs, caches or datalists."""
RUN_RECORD = "run.json"  # a training run's record (msmonai train): how the model in models/ was made
RUN_PATIENTS = "patients.json"  # the pseudonymous keys it was trained and validated on; never leaves the site
# evaluate.json is an overlay on train.json (as in the Model Zoo); inference.json stands alone, taking what it shares
# with train.json through MONAI's "%configs/train.json#id" macros, which resolve against the working directory:
# every workflow runs in the bundle folder (runner.py, prediction.py).
WORKFLOW_CONFIGS = {
    "train": [TRAIN_CONFIG],
    "evaluate": [TRAIN_CONFIG, "configs/evaluate.json"],
    "inference": [INFERENCE_CONFIG],
}


def bundle_folder(bundle_dir: str | os.PathLike) -> Path:
    """The absolute bundle folder; UserError when it has no ``configs/metadata.json``."""
    bundle = Path(bundle_dir).resolve()
    if not (bundle / METADATA).is_file():
        raise UserError(f"{bundle}: not a bundle ({METADATA} missing)")
    return bundle


def config_files(bundle: Path, workflow: str, overlays: Sequence[str] = ()) -> list[str]:
    """Absolute config files of ``workflow``, with ``overlays`` (bundle-relative) read right after its first file
    (``train.json``, or ``inference.json``). Overlays set top-level ids only: a nested id would land inside a macro
    of ``inference.json`` before MONAI expands it."""
    for overlay in overlays:
        if not (bundle / overlay).is_file():
            raise UserError(f"{bundle / overlay}: overlay config not found")
    first, *rest = WORKFLOW_CONFIGS[workflow]
    return [str(bundle / config) for config in (first, *overlays, *rest)]


def shareable_files(bundle: Path) -> list[str]:
    """Bundle-relative POSIX paths of the files of ``bundle`` that travel (:data:`SHARED_DIRS`, :data:`SHARED_FILES`)."""
    rels = [p.relative_to(bundle).as_posix()
            for d in SHARED_DIRS for p in sorted((bundle / d).rglob("*")) if p.is_file()]
    return rels + [name for name in SHARED_FILES if (bundle / name).is_file()]


def bundle_identity(bundle: Path) -> dict:
    """``{"bundle", "bundle_version", "model"}``: the bundle's folder name (a run's: the bundle it was trained from),
    its metadata version and the architecture's name (the part of the metadata name after the last comma)."""
    meta = json.loads((bundle / METADATA).read_text(encoding="utf-8"))
    record = bundle / RUN_RECORD
    name = json.loads(record.read_text(encoding="utf-8"))["bundle"] if record.is_file() else bundle.name
    return {"bundle": name, "bundle_version": meta.get("version"),
            "model": str(meta.get("name", name)).split(", ")[-1]}
