"""The clinical visits table: one CSV row per visit, validated row by row against the JSON Schema.

Columns, ranges and meaning: ``msmonai/schemas/clinical_visits.schema.json`` and data_manifests/README.md.
Row numbers are CSV line numbers as a spreadsheet shows them (the header is line 1).
"""

from __future__ import annotations

import csv
import datetime
import difflib
import math
import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jsonschema import ValidationError

from msmonai.data.exclusions import Exclusion
from msmonai.data.schemas import CLINICAL_VISITS, load_schema, validator
from msmonai.errors import UserError

SCHEMA = load_schema(CLINICAL_VISITS)
COLUMNS: tuple[str, ...] = tuple(SCHEMA["properties"])
REQUIRED_COLUMNS: tuple[str, ...] = tuple(SCHEMA["required"])
EDSS_COLUMNS: tuple[str, ...] = tuple(SCHEMA["x-edss-subscores"])
EDSS_MAXIMA: tuple[int, ...] = tuple(SCHEMA["properties"][c]["maximum"] for c in EDSS_COLUMNS)
_TEXT_COLUMNS = {c for c, spec in SCHEMA["properties"].items() if spec.get("type") == "string"}


@dataclass(frozen=True)
class ClinicalVisit:
    """One valid row of the clinical table.

    Attributes:
        row: CSV line number (header = 1).
        patient_id: raw patient id (equals the DICOM PatientID).
        date: visit date.
        edss_raw: the 8 EDSS subscores in :data:`EDSS_COLUMNS` order.
        edss_total: composite EDSS, or None.
        status: 1 active / 0 remission at this visit, or None.
        study_uid: explicit StudyInstanceUID link, or None.
    """

    row: int
    patient_id: str
    date: datetime.date
    edss_raw: tuple[int, ...]
    edss_total: float | None = None
    status: int | None = None
    study_uid: str | None = None

    @property
    def edss_normalised(self) -> tuple[float, ...]:
        """The 8 subscores divided by their subscale maxima, each in [0, 1]."""
        return tuple(value / maximum for value, maximum in zip(self.edss_raw, EDSS_MAXIMA))


def load_clinical_visits(csv_path: str | os.PathLike) -> tuple[list[ClinicalVisit], list[Exclusion]]:
    """Read and validate the clinical CSV.

    Returns the valid visits and one :class:`Exclusion` per ignored column, invalid row and duplicate
    (patient_id, visit_date) row. Raises :class:`UserError` when the file cannot be used at all
    (unreadable, no header, a required column missing, or a column that looks like a misspelling).
    """
    path = Path(csv_path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            header = [name.strip() for name in next(reader, [])]
            records = [(reader.line_num, cells) for cells in reader if any(cell.strip() for cell in cells)]
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise UserError(f"{path}: cannot read the clinical CSV ({err})") from err
    exclusions = _check_header(path, header)
    check = validator(CLINICAL_VISITS)
    visits = []
    for line, cells in records:
        if len(cells) != len(header):
            exclusions.append(Exclusion("row", f"has {len(cells)} fields, the header has {len(header)}", row=line))
            continue
        row = _parse_row(dict(zip(header, cells)))
        errors = sorted(check.iter_errors(row), key=lambda e: list(e.path))
        if errors:
            reason = "; ".join(_describe(error) for error in errors)
            exclusions.append(Exclusion("row", reason, row=line, patient_id=row.get("patient_id")))
            continue
        visits.append(_to_visit(line, row))
    kept, duplicates = _drop_duplicates(visits)
    return kept, exclusions + duplicates


def _check_header(path: Path, header: list[str]) -> list[Exclusion]:
    """Raise on missing or misspelled columns; report unrelated extra columns as ignored."""
    if not header or header == [""]:
        raise UserError(f"{path}: empty file, expected a header row with columns {', '.join(REQUIRED_COLUMNS)}")
    seen = set()
    for name in header:
        if name in seen:
            raise UserError(f"{path}: column '{name}' appears twice in the header")
        seen.add(name)
    unknown = [name for name in header if name not in COLUMNS]
    for name in unknown:
        match = difflib.get_close_matches(name.lower(), [c for c in COLUMNS if c not in seen], n=1, cutoff=0.8)
        if match:
            raise UserError(f"{path}: unknown column '{name}' (did you mean '{match[0]}'?)")
    missing = [name for name in REQUIRED_COLUMNS if name not in seen]
    if missing:
        raise UserError(f"{path}: missing required column(s) {', '.join(missing)}")
    return [Exclusion("column", f"column '{name}' ignored: not part of the clinical visits format") for name in unknown]


def _parse_row(cells: dict[str, str]) -> dict[str, Any]:
    """Known columns only; empty cells dropped; numeric cells parsed (unparseable or non-finite ones kept as text)."""
    row: dict[str, Any] = {}
    for name, raw in cells.items():
        text = raw.strip()
        if name not in COLUMNS or not text:
            continue
        row[name] = text if name in _TEXT_COLUMNS else _parse_number(text)
    return row


def _parse_number(text: str) -> int | float | str:
    """``"3"`` -> 3, ``"2.5"`` -> 2.5; text that is not a finite number is returned unchanged (the schema rejects it)."""
    try:
        value = float(text)
    except ValueError:
        return text
    if not math.isfinite(value):
        return text
    return int(value) if value.is_integer() else value


def _describe(error: ValidationError) -> str:
    """One short phrase for a schema violation, naming the column."""
    value = error.instance
    if error.validator == "required":
        missing = error.message.split("'")[1]
        return f"{missing}: missing value"
    column = error.path[0] if error.path else "row"
    spec = error.schema
    if error.validator == "type":
        if isinstance(value, str) and _is_nonfinite(value):
            return f"{column}: {value!r} (NaN/infinite) is not allowed"
        return f"{column}: {value!r} is not {'an integer' if spec['type'] == 'integer' else 'a number'}"
    if error.validator in ("minimum", "maximum"):
        return f"{column}: {value!r} is out of range {spec['minimum']}-{spec['maximum']}"
    if error.validator == "multipleOf":
        return f"{column}: {value!r} is not a multiple of {spec['multipleOf']}"
    if error.validator == "enum":
        return f"{column}: {value!r} is not one of {', '.join(map(str, spec['enum']))}"
    if error.validator == "format":
        return f"{column}: {value!r} is not a valid date (expected YYYY-MM-DD)"
    if error.validator in ("pattern", "maxLength"):
        return f"{column}: {value!r} is not a DICOM UID"
    return f"{column}: {error.message}"


def _is_nonfinite(text: str) -> bool:
    try:
        return not math.isfinite(float(text))
    except ValueError:
        return False


def _to_visit(line: int, row: dict[str, Any]) -> ClinicalVisit:
    return ClinicalVisit(
        row=line,
        patient_id=row["patient_id"],
        date=datetime.date.fromisoformat(row["visit_date"]),
        edss_raw=tuple(row[c] for c in EDSS_COLUMNS),
        edss_total=row.get("edss_total"),
        status=row.get("status"),
        study_uid=row.get("study_uid"),
    )


def _drop_duplicates(visits: list[ClinicalVisit]) -> tuple[list[ClinicalVisit], list[Exclusion]]:
    """Remove every row whose (patient_id, date) occurs more than once: which one is right cannot be known."""
    by_key: dict[tuple[str, datetime.date], list[ClinicalVisit]] = defaultdict(list)
    for visit in visits:
        by_key[(visit.patient_id, visit.date)].append(visit)
    kept, exclusions = [], []
    for visit in visits:
        group = by_key[(visit.patient_id, visit.date)]
        if len(group) == 1:
            kept.append(visit)
            continue
        others = ", ".join(str(v.row) for v in group if v is not visit)
        exclusions.append(
            Exclusion(
                "row",
                f"duplicate (patient_id, visit_date): same patient and date on row(s) {others}",
                row=visit.row,
                patient_id=visit.patient_id,
                date=visit.date,
            )
        )
    return kept, exclusions
