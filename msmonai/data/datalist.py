"""The datalist: the one file format between ``msmonai manifest`` and the bundles (``schemas/datalist.schema.json``).

Written by ``msmonai manifest``, by ``predict`` and by cross-validation (one per held-out fold); read by the bundles'
configs through ``msmonai.engine``. Both directions check the schema, so a hand-edited or foreign datalist stops at
its first bad item, with the file and the item's place named.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from msmonai.data.schemas import DATALIST, validator
from msmonai.errors import UserError
from msmonai.fileio import write_json

if TYPE_CHECKING:
    from msmonai.data.linking import LinkedVisit

TRAINING = "training"
TESTING = "testing"


def visit_record(linked: LinkedVisit, relative_to: str | os.PathLike | None = None) -> dict[str, Any]:
    """One visit of a datalist item: the chosen T1 series' files (relative to ``relative_to``, else absolute), its
    series UID, the normalised and raw EDSS subscores and the date. The one place a visit is written, for the manifest
    and for ``predict`` alike."""
    t1 = linked.study.t1
    return {
        "image": [_relative(path, relative_to) if relative_to is not None else str(Path(path).absolute())
                  for path in t1.files],
        "series_uid": t1.series_uid,
        "edss": list(linked.visit.edss_normalised),
        "edss_raw": list(linked.visit.edss_raw),
        "date": linked.visit.date.isoformat(),
    }


def observation_item(patient_key: str, fold: int, visits: Sequence[dict], label: int | None = None) -> dict[str, Any]:
    """One datalist item: a patient's visits up to an observation (:func:`visit_record`), its fold and, where known,
    its label (the status at the next yearly visit)."""
    return {"patient": patient_key, "fold": fold, **({"label": label} if label is not None else {}),
            "visits": list(visits)}


def _relative(path: str | os.PathLike, start: str | os.PathLike) -> str:
    return Path(os.path.relpath(Path(path).absolute(), Path(start).absolute())).as_posix()


def check_datalist(content: Any, source: str | os.PathLike) -> None:
    """Raise a ``UserError`` naming ``source`` and the first place where ``content`` breaks the datalist schema."""
    errors = sorted(validator(DATALIST).iter_errors(content), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first.absolute_path).lstrip(".")
        raise UserError(f"{source}: not a datalist: {where or 'top level'}: {first.message}"
                        + (f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""))


def write_datalist(path: str | os.PathLike, content: Mapping[str, Any]) -> Path:
    """Check ``content`` against the schema, then write it atomically to ``path``."""
    check_datalist(content, path)
    return write_json(path, content)


def load_datalist(path: str | os.PathLike, key: str = TRAINING, dataset_dir: str | None = None) -> list[dict]:
    """Observations under ``key`` of a checked datalist, with every visit's image paths made absolute.

    Args:
        path: datalist JSON (``msmonai manifest``'s, or one ``predict`` or ``msmonai cv`` wrote).
        key: ``"training"`` or ``"testing"``; ``"all"`` returns both.
        dataset_dir: folder the relative image paths are relative to (default: the datalist's folder).
    """
    path = Path(path)
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise UserError(f"{path}: cannot read datalist ({err})") from err
    check_datalist(content, path)
    keys = (TRAINING, TESTING) if key == "all" else (key,)
    if not any(k in content for k in keys):
        raise UserError(f"{path}: datalist has no '{key}' list")
    base = Path(os.path.abspath(dataset_dir if dataset_dir else path.parent))  # a relative datalist path too
    return [dict(item, visits=[dict(v, image=_absolute(v["image"], base)) for v in item["visits"]])
            for k in keys for item in content.get(k, [])]


def _absolute(files: list[str], base: Path) -> list[str]:
    return [f if os.path.isabs(f) else str(base / f) for f in files]


def select_fold(items: list[dict], val_fold: int | None, role: str) -> list[dict]:
    """Observations for ``role``: ``"train"`` (folds other than ``val_fold``), ``"val"`` (fold ``val_fold``), ``"all"``."""
    if role == "all" or val_fold is None:
        return list(items)
    if role == "train":
        return [it for it in items if it["fold"] != val_fold]
    if role == "val":
        return [it for it in items if it["fold"] == val_fold]
    raise ValueError(f"role must be 'train', 'val' or 'all', got {role!r}")


def fold_datalist(items: list[dict], test_fold: int) -> dict:
    """Datalist with fold ``test_fold`` under ``testing`` and every other fold under ``training``."""
    return {TRAINING: [it for it in items if it["fold"] != test_fold],
            TESTING: [it for it in items if it["fold"] == test_fold]}
