"""Where things lie in a bundle folder (MONAI's bundle layout), and which config files make each workflow: the one
place that names them for the runner, prediction, sharing and cross-validation."""

from __future__ import annotations

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


def run_outputs(folder: str | os.PathLike) -> dict[str, str]:
    """The overrides that send everything one run of a workflow writes (selected weights, the resumable checkpoint
    beside them, logs, evaluation outputs) under ``folder`` instead of the bundle folder."""
    folder = Path(folder)
    return {"ckpt_path": str(folder / MODEL), "log_dir": str(folder / "logs"), "output_dir": str(folder / "eval")}


def config_files(bundle: Path, workflow: str, overlays: Sequence[str] = ()) -> list[str]:
    """Absolute config files of ``workflow``, with ``overlays`` (bundle-relative) read right after its first file
    (``train.json``, or ``inference.json``). Overlays set top-level ids only: a nested id would land inside a macro
    of ``inference.json`` before MONAI expands it."""
    for overlay in overlays:
        if not (bundle / overlay).is_file():
            raise UserError(f"{bundle / overlay}: overlay config not found")
    first, *rest = WORKFLOW_CONFIGS[workflow]
    return [str(bundle / config) for config in (first, *overlays, *rest)]
