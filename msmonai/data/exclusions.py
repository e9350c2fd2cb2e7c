"""Everything a manifest leaves out, with its reason: the ``FILE.exclusions.csv`` next to a manifest.

Raw patient ids are held in memory only; the writer replaces them with pseudonyms, and reasons never
quote a patient id.
"""

from __future__ import annotations

import csv
import datetime
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from msmonai.fileio import write_text

COLUMNS = ("kind", "row", "patient", "date", "study_uid", "path", "reason")


@dataclass(frozen=True)
class Exclusion:
    """One thing left out of the manifest.

    Attributes:
        kind: what is left out: ``column``, ``row``, ``visit``, ``study``, ``file``, ``patient`` or ``observation``.
        reason: one line saying why (never containing a patient id).
        row: line number in the clinical CSV (the header is line 1), when a row is concerned.
        patient_id: the raw patient id; written only as its pseudonym.
        date: visit or study date concerned.
        study_uid: StudyInstanceUID concerned.
        path: DICOM file concerned, relative to the DICOM root.
    """

    kind: str
    reason: str
    row: int | None = None
    patient_id: str | None = None
    date: datetime.date | None = None
    study_uid: str | None = None
    path: str | None = None


def exclusions_path(manifest_path: str | os.PathLike) -> Path:
    """``FILE.exclusions.csv`` for manifest ``FILE.json``."""
    manifest_path = Path(manifest_path)
    return manifest_path.with_name(manifest_path.stem + ".exclusions.csv")


def write_exclusions(
    target: str | os.PathLike, exclusions: Iterable[Exclusion], pseudonymise: Callable[[str], str]
) -> Path:
    """Atomically write ``exclusions`` as CSV (columns :data:`COLUMNS`), patient ids replaced by ``pseudonymise(id)``."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    for exc in exclusions:
        writer.writerow(
            [
                exc.kind,
                "" if exc.row is None else exc.row,
                pseudonymise(exc.patient_id) if exc.patient_id else "",
                exc.date.isoformat() if exc.date else "",
                exc.study_uid or "",
                exc.path or "",
                exc.reason,
            ]
        )
    return write_text(target, buf.getvalue())
