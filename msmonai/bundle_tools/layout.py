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
WORKFLOW_CONFIGS = {  # train.json first; evaluate and inference are overlays on it
    "train": [TRAIN_CONFIG],
    "evaluate": [TRAIN_CONFIG, "configs/evaluate.json"],
    "inference": [TRAIN_CONFIG, "configs/inference.json"],
}


def bundle_folder(bundle_dir: str | os.PathLike) -> Path:
    """The absolute bundle folder; UserError when it has no ``configs/metadata.json``."""
    bundle = Path(bundle_dir).resolve()
    if not (bundle / METADATA).is_file():
        raise UserError(f"{bundle}: not a bundle ({METADATA} missing)")
    return bundle


def config_files(bundle: Path, workflow: str, overlays: Sequence[str] = ()) -> list[str]:
    """Absolute config files of ``workflow``, with ``overlays`` (bundle-relative) read right after ``train.json``."""
    for overlay in overlays:
        if not (bundle / overlay).is_file():
            raise UserError(f"{bundle / overlay}: overlay config not found")
    first, *rest = WORKFLOW_CONFIGS[workflow]
    return [str(bundle / config) for config in (first, *overlays, *rest)]
