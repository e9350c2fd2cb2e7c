"""One patient's visits from a PACS into a private folder: the headers of every MR series first, then the pixel data of
only the T1 series that the visits use.

The headers go through the same checks, series grouping, T1 choice and visit linking as a DICOM folder
(:func:`msmonai.io.scan.group_headers`, :func:`msmonai.data.linking.link_visits`); each header is given the path its
file will have once retrieved, so that the folder afterwards scans to exactly the chosen series. Files are named by
position (``study_01/series_003/00012.dcm``), never by UID or patient.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from msmonai.data.clinical import ClinicalVisit
from msmonai.data.linking import link_visits
from msmonai.errors import UserError
from msmonai.io.headers import UnusableFile, header_from_dataset
from msmonai.io.model import Problem, Series, Study
from msmonai.io.scan import group_headers, problem_summary, series_found
from msmonai.io.selection import T1Rule
from msmonai.io.walk import relative_name
from msmonai.pacs.archive import Archive, SeriesRef

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Retrieval:
    """What was asked of the archive, for the command's summary and the report's notes (no identifiers)."""

    studies: int  # MR studies of the patient
    header_series: int  # MR series whose headers were read
    header_instances: int
    retrieved_series: int  # T1 series whose pixel data was retrieved
    retrieved_instances: int
    left_out: dict[int, str]  # clinical CSV row -> why its visit has no image (no T1 series; skipped on request)


def retrieve_patient(archive: Archive, patient_id: str, visits: Sequence[ClinicalVisit], folder: Path,
                     skip_visits_without_t1: bool = False, t1_rule: T1Rule | None = None) -> Retrieval:
    """Retrieve into ``folder`` the chosen T1 series of every MR study of ``patient_id`` linked to one of ``visits``
    (the patient's clinical rows).

    Raises:
        UserError: no MR study; a visit whose study has no T1 series (unless ``skip_visits_without_t1``); no visit
            with both a study and a T1; a retrieval cut off or returning other instances than the headers listed.
    """
    refs = archive.mr_series(patient_id)
    if not refs:
        raise UserError("the PACS holds no MR study of the patient given by --patient-id")
    study_folders = {uid: f"study_{n:02d}" for n, uid in enumerate(dict.fromkeys(r.study_uid for r in refs), 1)}
    headers, problems, refs_of = [], [], {}
    for n, ref in enumerate(refs, 1):
        series_folder = folder / study_folders[ref.study_uid] / f"series_{n:03d}"
        refs_of[ref.series_uid] = ref
        for i, dataset in enumerate(archive.headers(ref), 1):
            path = series_folder / f"{i:05d}.dcm"
            try:
                headers.append(header_from_dataset(dataset, path, pixels_elsewhere=True))
            except UnusableFile as err:
                problems.append(Problem(relative_name(path, folder), str(err)))
    n_headers = len(headers) + len(problems)
    scan = group_headers(headers, problems, folder, t1_rule)
    logger.info("PACS: %d MR studies, headers of %d series (%d instances) read", len(study_folders), len(refs),
                n_headers)
    for line in problem_summary(scan.problems):
        logger.warning("left out: %s", line)
    linked, exclusions = link_visits(visits, scan.studies)
    studies = {study.study_uid: study for study in scan.studies}
    without_t1 = [e for e in exclusions if e.kind == "visit" and e.study_uid in studies
                  and studies[e.study_uid].t1 is None]
    used = [lv.study for lv in linked if lv.has_image]
    if without_t1 and not skip_visits_without_t1:
        raise UserError(_missing_t1(without_t1, studies, len(used)))
    for exclusion in exclusions:
        if exclusion.kind == "study":  # not retrieved, so the prediction never sees it
            logger.warning("left out: the MR study of %s: %s", exclusion.date or "unknown date", exclusion.reason)
    if not used:
        raise UserError("no visit of the patient has both an MR study with a T1 series in the PACS and a valid row in "
                        f"--clinical ({len(visits)} clinical rows, {len(studies)} MR studies)")
    sop_of = {h.path: h.sop_uid for h in headers}
    instances = sum(_retrieve(archive, refs_of[study.t1.series_uid], study, sop_of) for study in used)
    logger.info("PACS: pixel data of %d T1 series (%d instances) retrieved", len(used), instances)
    left_out = {e.row: f"the MR study of {_date(studies[e.study_uid])} has no T1 series (found "
                f"{series_found(studies[e.study_uid])}); the visit is skipped" for e in without_t1}
    return Retrieval(len(study_folders), len(refs), n_headers, len(used), instances, left_out)


def _retrieve(archive: Archive, ref: SeriesRef, study: Study, sop_of: dict[Path, str]) -> int:
    """Write the T1 series of ``study`` where its headers said (``sop_of``: path -> SOPInstanceUID); returns the
    number of instances."""
    series: Series = study.t1
    wanted = {sop_of[path]: path for path in series.files}
    received: set[str] = set()
    where = f"the T1 series of the MR study of {_date(study)}"
    try:
        for dataset in archive.instances(ref):
            sop = str(dataset.get("SOPInstanceUID", ""))
            if sop not in wanted:
                continue  # an instance whose header was unusable: not part of the series that was chosen
            received.add(sop)
            path = wanted[sop]
            path.parent.mkdir(parents=True, exist_ok=True)
            dataset.save_as(path, enforce_file_format=True)
    except UserError as err:
        raise UserError(f"retrieval of {where} failed after {len(received)} of {len(wanted)} instances: "
                        f"{err}") from None
    if len(received) != len(wanted):
        raise UserError(f"retrieval of {where} cut off: {len(received)} of {len(wanted)} instances received")
    return len(received)


def _missing_t1(without_t1: list, studies: dict[str, Study], n_used: int) -> str:
    """The one line for visits whose MR study has no T1 series."""
    which = "; ".join(f"{_date(studies[e.study_uid])}, --clinical row {e.row}: found "
                      f"{series_found(studies[e.study_uid])}" for e in without_t1)
    return (f"{len(without_t1)} visit(s) of the patient have an MR study without a T1 series ({which}); the model uses "
            f"the T1 of every visit: store it in the PACS, or pass --skip-visits-without-t1 to predict from the other "
            f"{n_used} visit(s)")


def _date(study: Study) -> str:
    return study.study_date.isoformat() if study.study_date else "unknown date"
