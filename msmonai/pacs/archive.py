"""What ``msmonai pacs`` asks of an archive, whatever it speaks: the patient's MR series, their headers, the images
of one series, the store of the report. :mod:`msmonai.pacs.dicomweb` and :mod:`msmonai.pacs.dimse` provide it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Protocol

import pydicom

from msmonai.errors import UserError

WILDCARDS = ("*", "?", "\\")  # DICOM matching characters: an ID holding one would match other patients
TIMEOUT_S = 60  # seconds the archive may take to answer one request (or between two parts of a retrieval)


@dataclass(frozen=True)
class SeriesRef:
    """One MR series of the patient in the archive."""

    study_uid: str
    series_uid: str
    study_date: str  # YYYYMMDD as the archive gives it ("" when absent)


class Archive(Protocol):
    """A PACS as the retrieval and the store use it; every failure is a :class:`UserError` naming ``where``."""

    where: str  # the archive in messages: its URL, or HOST:PORT:AET

    def mr_series(self, patient_id: str) -> list[SeriesRef]:
        """Every MR series of the patient whose PatientID is exactly ``patient_id``, oldest study first."""

    def headers(self, series: SeriesRef) -> list[pydicom.Dataset]:
        """The series' instances as header-only datasets (no pixel data)."""

    def instances(self, series: SeriesRef) -> Iterator[pydicom.Dataset]:
        """The series' instances with their pixel data."""

    def store(self, dataset: pydicom.Dataset) -> None:
        """Store ``dataset``; raises unless the archive accepted it."""

    def has_series(self, study_uid: str, series_uid: str) -> bool:
        """Whether the archive lists the series."""


def check_patient_id(patient_id: str) -> None:
    """Refuse an ID that is empty or would match several patients."""
    if not patient_id.strip() or any(c in patient_id for c in WILDCARDS):
        raise UserError(f"--patient-id: give one exact patient ID (no wildcard {' '.join(WILDCARDS)}, not empty)")
