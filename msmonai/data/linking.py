"""Linking clinical visits to DICOM studies: by ``study_uid`` when the row gives one, otherwise by
PatientID and StudyDate within a tolerance. Each study serves at most one visit; only studies with a
T1 series (chosen by the ingestion layer, ``Study.t1``) give a visit its image.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

from msmonai.constants import LINK_TOLERANCE_DAYS
from msmonai.data.clinical import ClinicalVisit
from msmonai.data.exclusions import Exclusion

if TYPE_CHECKING:
    from msmonai.io import Study


@dataclass(frozen=True)
class LinkedVisit:
    """A valid clinical visit and its DICOM study with a T1 series, or ``study=None`` when it has no image.

    A visit without an image cannot be an input of an observation, but its status still labels the
    observation made at the previous visit.
    """

    visit: ClinicalVisit
    study: Study | None

    @property
    def has_image(self) -> bool:
        return self.study is not None


def link_visits(
    visits: Sequence[ClinicalVisit], studies: Sequence[Study], tolerance_days: int = LINK_TOLERANCE_DAYS
) -> tuple[list[LinkedVisit], list[Exclusion]]:
    """Link every visit to at most one study and every study to at most one visit.

    Returns one :class:`LinkedVisit` per visit (same order) and an :class:`Exclusion` for every visit
    left without an image and every study left unused, with the reason.
    """
    by_uid = {study.study_uid: study for study in studies}
    by_patient: dict[str, list[Study]] = defaultdict(list)
    for study in studies:
        by_patient[study.patient_id].append(study)

    candidates: dict[int, Study] = {}
    exclusions: list[Exclusion] = []
    for index, visit in enumerate(visits):
        study, reason = (
            _by_uid(visit, by_uid) if visit.study_uid else _by_date(visit, by_patient[visit.patient_id], tolerance_days)
        )
        if study is None:
            exclusions.append(_no_image(visit, reason))
        else:
            candidates[index] = study

    claims: dict[str, list[int]] = defaultdict(list)
    for index, study in candidates.items():
        claims[study.study_uid].append(index)
    linked: dict[int, Study] = {}
    for uid, indices in claims.items():
        winner = min(indices, key=lambda i: (visits[i].study_uid != uid, _days(visits[i], candidates[i]), visits[i].row))
        for index in indices:
            if index != winner:
                exclusions.append(_no_image(visits[index], f"study {uid} is already linked to the visit on row {visits[winner].row}"))
        study = candidates[winner]
        if study.t1 is None:
            exclusions.append(_no_image(visits[winner], f"linked study {uid} has no T1 series", study_uid=uid))
        else:
            linked[winner] = study

    used = {study.study_uid for study in candidates.values()}
    for study in studies:
        if study.study_uid not in used:
            hint = "" if study.study_date else " (it has no StudyDate: link it with study_uid)"
            exclusions.append(
                Exclusion("study", f"not linked to any clinical visit{hint}", patient_id=study.patient_id,
                          date=study.study_date, study_uid=study.study_uid)
            )
    return [LinkedVisit(visit, linked.get(index)) for index, visit in enumerate(visits)], exclusions


def _by_uid(visit: ClinicalVisit, by_uid: dict[str, Study]) -> tuple[Study | None, str]:
    study = by_uid.get(visit.study_uid)
    if study is None:
        return None, f"no DICOM study with study_uid {visit.study_uid}"
    if study.patient_id != visit.patient_id:
        return None, f"study_uid {visit.study_uid} belongs to a different DICOM PatientID"
    return study, ""


def _by_date(visit: ClinicalVisit, studies: list[Study], tolerance_days: int) -> tuple[Study | None, str]:
    dated = [study for study in studies if study.study_date is not None]
    if not dated:
        return None, "no dated DICOM study with this patient's PatientID"
    nearest = min(dated, key=lambda study: (_days(visit, study), study.study_date, study.study_uid))
    if _days(visit, nearest) > tolerance_days:
        return None, f"no DICOM study within {tolerance_days} days (nearest is {_days(visit, nearest)} days away)"
    return nearest, ""


def _days(visit: ClinicalVisit, study: Study) -> int:
    return abs((study.study_date - visit.date).days) if study.study_date else 0


def _no_image(visit: ClinicalVisit, reason: str, study_uid: str | None = None) -> Exclusion:
    """The visit left without an image; ``study_uid``: the study concerned (default: the one the row names)."""
    return Exclusion(
        "visit",
        f"{reason}; the visit has no image (its status can still label the previous visit)",
        row=visit.row,
        patient_id=visit.patient_id,
        date=visit.date,
        study_uid=study_uid or visit.study_uid,
    )
