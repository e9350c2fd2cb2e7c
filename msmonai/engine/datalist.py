"""Reading ``msmonai manifest`` datalists and choosing the observations of a fold."""

from __future__ import annotations

import json
import os
from pathlib import Path

from msmonai.errors import UserError


def load_datalist(path: str | os.PathLike, key: str = "training", dataset_dir: str | None = None) -> list[dict]:
    """Observations under ``key`` of a datalist, with every visit's image paths made absolute.

    Args:
        path: datalist JSON written by ``msmonai manifest``.
        key: ``"training"`` or ``"testing"``; ``"all"`` returns both.
        dataset_dir: folder the image paths are relative to (default: the datalist's folder).
    """
    path = Path(path)
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise UserError(f"{path}: cannot read datalist ({err})") from err
    keys = ("training", "testing") if key == "all" else (key,)
    if not any(k in content for k in keys):
        raise UserError(f"{path}: datalist has no '{key}' list")
    base = Path(os.path.abspath(dataset_dir if dataset_dir else path.parent))  # a relative datalist path too
    items = []
    for k in keys:
        for item in content.get(k, []):
            visits = [dict(v, image=_absolute(v["image"], base)) for v in item["visits"]]
            items.append(dict(item, visits=visits))
    return items


def _absolute(image: str | list[str], base: Path) -> list[str]:
    files = [image] if isinstance(image, str) else list(image)
    return [str(f) if os.path.isabs(f) else str(base / f) for f in files]


def select_fold(items: list[dict], val_fold: int | None, role: str) -> list[dict]:
    """Observations for ``role``: ``"train"`` (folds other than ``val_fold``), ``"val"`` (fold ``val_fold``), ``"all"``."""
    if role == "all" or val_fold is None:
        return list(items)
    if role == "train":
        return [it for it in items if it.get("fold") != val_fold]
    if role == "val":
        return [it for it in items if it.get("fold") == val_fold]
    raise ValueError(f"role must be 'train', 'val' or 'all', got {role!r}")


def balanced_class_weights(items: list[dict]) -> list[float]:
    """Cross-entropy class weights ``[1, n_quiet / n_active]`` of labelled observations, so that both classes weigh the
    same in the loss whatever the cohort's prevalence (the paper's fixed 1:3.5 suits its 10 % only).

    Raises:
        UserError: the observations hold a single class (nothing to learn from).
    """
    labels = [int(it["label"]) for it in items if int(it.get("label", -1)) >= 0]
    active = sum(labels)
    if active == 0 or active == len(labels):
        raise UserError(f"the training observations hold a single class ({len(labels)} observations, {active} active): "
                        "nothing to learn; check the datalist's labels and folds")
    return [1.0, (len(labels) - active) / active]
