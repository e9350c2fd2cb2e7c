"""The manifest compiler: DICOM studies + clinical visits -> MONAI datalist of labelled visit sequences.

Format: ``msmonai/schemas/datalist.schema.json``, documented in data_manifests/README.md. Patients appear
only as pseudonyms; image paths are relative to the manifest's folder.
"""

from __future__ import annotations

import csv
import os
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from msmonai import __version__
from msmonai.constants import DEFAULT_FOLDS, HORIZON_DAYS, LINK_TOLERANCE_DAYS, MAX_VISITS
from msmonai.data.clinical import EDSS_COLUMNS, EDSS_MAXIMA, ClinicalVisit
from msmonai.data.exclusions import Exclusion
from msmonai.data.folds import assign_folds
from msmonai.data.datalist import observation_item, visit_record
from msmonai.data.linking import link_visits
from msmonai.data.observations import Observation, build_observations, filter_negatives
from msmonai.data.pseudonym import pseudonym, write_pseudonym_map
from msmonai.errors import UserError

if TYPE_CHECKING:
    from msmonai.io import ScanResult

FORMAT_VERSION = 1


@dataclass(frozen=True)
class ManifestOptions:
    """The options of ``msmonai manifest`` (see its ``--help``)."""

    folds: int = DEFAULT_FOLDS
    seed: int = 0
    tolerance_days: int = LINK_TOLERANCE_DAYS
    horizon_days: int = HORIZON_DAYS
    max_visits: int = MAX_VISITS
    filter_negatives: int | None = None
    test_fold: int | None = None

    def __post_init__(self) -> None:
        """Refuse values that make no sense, naming the setting."""
        if self.test_fold is not None and not 0 <= self.test_fold < self.folds:
            raise UserError(f"test fold {self.test_fold} is not a fold of 0..{self.folds - 1}")
        if self.max_visits < 1:
            raise UserError(f"the most recent visits per observation must be at least 1, got {self.max_visits}")
        if not 0 <= self.tolerance_days < self.horizon_days:
            raise UserError(f"the linking tolerance must be in 0..{self.horizon_days - 1} days (below the label horizon), got {self.tolerance_days}")
        if self.filter_negatives is not None and self.filter_negatives < 0:
            raise UserError(f"the negatives kept per positive must be 0 or more, got {self.filter_negatives}")


@dataclass(frozen=True)
class Manifest:
    """A compiled manifest.

    Attributes:
        datalist: the JSON-ready datalist (``training``, optional ``testing``, ``metadata``).
        exclusions: everything left out, in the order found.
        keys: raw patient id -> pseudonym, for every patient named in ``datalist`` or ``exclusions``.
    """

    datalist: dict[str, Any]
    exclusions: list[Exclusion]
    keys: dict[str, str]


def compile_manifest(
    scan: ScanResult,
    visits: Sequence[ClinicalVisit],
    clinical_exclusions: Sequence[Exclusion],
    out_dir: str | os.PathLike,
    secret: bytes,
    options: ManifestOptions = ManifestOptions(),
) -> Manifest:
    """Link, build observations, assign folds, filter negatives (if asked) and lay out the datalist.

    Args:
        scan: the ingestion layer's scan of the DICOM archive (problem paths relative to its root).
        visits, clinical_exclusions: from :func:`msmonai.data.clinical.load_clinical_visits`.
        out_dir: the manifest's folder; image paths are written relative to it.
        secret: site secret for :func:`msmonai.data.pseudonym.pseudonym`.
    """
    exclusions = [Exclusion("file", problem.reason, path=problem.path) for problem in scan.problems]
    exclusions += clinical_exclusions
    linked, link_exclusions = link_visits(visits, scan.studies, options.tolerance_days)
    observations, observation_exclusions = build_observations(
        linked, options.horizon_days, options.tolerance_days, options.max_visits
    )
    exclusions += link_exclusions + observation_exclusions

    patients, labels = [obs.patient_id for obs in observations], [obs.label for obs in observations]
    folds = assign_folds(patients, labels, options.folds, options.seed) if observations else []
    fold_of = {id(obs): int(fold) for obs, fold in zip(observations, folds)}
    held_out = [obs for obs in observations if fold_of[id(obs)] == options.test_fold]
    training = [obs for obs in observations if fold_of[id(obs)] != options.test_fold]
    if options.filter_negatives is not None:
        training, filtered = filter_negatives(training, options.filter_negatives)
        exclusions += filtered

    patient_ids = {obs.patient_id for obs in observations} | {exc.patient_id for exc in exclusions if exc.patient_id}
    keys = {patient_id: pseudonym(patient_id, secret) for patient_id in patient_ids}
    out_dir = Path(out_dir)
    datalist: dict[str, Any] = {"training": [_item(obs, fold_of[id(obs)], keys, out_dir) for obs in training]}
    if options.test_fold is not None:
        datalist["testing"] = [_item(obs, fold_of[id(obs)], keys, out_dir) for obs in held_out]
    datalist["metadata"] = {
        "format_version": FORMAT_VERSION,
        "created_by": f"msmonai {__version__}",
        "description": "Observations: a patient's visits up to t (T1 + EDSS), labelled with activity at the following visit.",
        "options": asdict(options),
        "edss_subscores": list(EDSS_COLUMNS),
        "edss_maxima": list(EDSS_MAXIMA),
        "label_sources": dict(Counter(obs.label_source for obs in training + held_out)),
        "numTraining": len(datalist["training"]),
        "numTest": len(datalist.get("testing", [])),
    }
    return Manifest(datalist, exclusions, keys)


def summarise(manifest: Manifest) -> str:
    """Multi-line summary: patients, visits, observations, active fraction, per-fold counts, exclusions by kind."""
    items = manifest.datalist["training"] + manifest.datalist.get("testing", [])
    lines = [_counts("all", items)]
    for fold in sorted({item["fold"] for item in items}):
        in_fold = [item for item in items if item["fold"] == fold]
        role = "testing" if fold == manifest.datalist["metadata"]["options"]["test_fold"] else "training"
        lines.append(_counts(f"fold {fold} ({role})", in_fold))
        if not any(item["label"] for item in in_fold):
            lines.append(f"  warning: fold {fold} has no active observation")
    by_kind = Counter(exc.kind for exc in manifest.exclusions)
    lines.append(f"excluded: {sum(by_kind.values())}" + "".join(f", {kind} {n}" for kind, n in sorted(by_kind.items())))
    return "\n".join(lines)


def update_pseudonym_map(map_file: str | os.PathLike, keys: dict[str, str]) -> Path:
    """Add ``keys`` (patient id -> pseudonym) to the pseudonym map kept next to the secret; earlier entries stay."""
    mapping: dict[str, str] = {}
    if Path(map_file).exists():
        with open(map_file, newline="", encoding="utf-8") as f:
            mapping = {row["pseudonym"]: row["patient_id"] for row in csv.DictReader(f)}
    mapping.update({key: patient_id for patient_id, key in keys.items()})
    return write_pseudonym_map(map_file, mapping)


def _counts(title: str, items: list[dict[str, Any]]) -> str:
    patients = {item["patient"] for item in items}
    visits = {(item["patient"], visit["date"]) for item in items for visit in item["visits"]}
    active = sum(item["label"] for item in items)
    fraction = f"{100 * active / len(items):.1f} %" if items else "n/a"
    return (
        f"{title}: {len(patients)} patients, {len(visits)} visits, {len(items)} observations, "
        f"{active} active ({fraction})"
    )


def _item(obs: Observation, fold: int, keys: dict[str, str], out_dir: Path) -> dict[str, Any]:
    return observation_item(keys[obs.patient_id], fold, [visit_record(linked, out_dir) for linked in obs.history],
                            obs.label)
