"""Small real inputs for the manifest tests: clinical CSVs and tiny DICOM archives written with the project's writer.

Registered as a pytest plugin by ``tests/conftest.py``; test modules use its fixtures, never import it.
"""

from __future__ import annotations

import csv
import datetime
from pathlib import Path

import numpy as np
import pytest

from msmonai.data.clinical import EDSS_COLUMNS
from msmonai.demo.dicom_writer import write_series

HEADER = ["patient_id", "visit_date", *EDSS_COLUMNS, "edss_total", "status", "study_uid"]


def _visit_row(patient_id: str, date: str, edss=(1, 0, 2, 0, 1, 0, 0, 0), total="2.0", status="0", study_uid="") -> list[str]:
    return [patient_id, date, *map(str, edss), total, status, study_uid]


def _write_study(root: Path, patient_id: str, date: str, study_uid: str, t1: bool = True) -> None:
    write_series(
        np.arange(3 * 8 * 8, dtype=np.uint16).reshape(3, 8, 8),
        root / study_uid,
        patient_id=patient_id,
        patient_name=f"Name^{patient_id}",
        study_uid=study_uid,
        study_date=datetime.date.fromisoformat(date),
        series_description="T1 SE AX" if t1 else "T2 TSE AX",
        weighting="T1" if t1 else "T2",
    )


@pytest.fixture
def header():
    """The clinical CSV header with every column, in the order of :func:`visit_row`."""
    return list(HEADER)


@pytest.fixture
def visit_row():
    """``visit_row(patient_id, date, edss=..., total="2.0", status="0", study_uid="")`` -> CSV cells (strings)."""
    return _visit_row


@pytest.fixture
def csv_file(tmp_path):
    """``csv_file(rows, header=HEADER)`` -> path of a clinical CSV written in ``tmp_path``."""

    def write(rows, header=HEADER):
        path = tmp_path / "clinical.csv"
        with open(path, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(header)
            writer.writerows(rows)
        return path

    return write


@pytest.fixture
def dicom_root(tmp_path):
    """``dicom_root(studies)`` -> archive folder of tiny 3-slice 8x8 studies (PatientName ``Name^<patient_id>``);
    ``studies`` are ``(patient_id, date, study_uid[, t1])`` tuples; ``t1=False`` writes a T2 series only."""

    def make(studies):
        root = tmp_path / "dicom"
        for study in studies:
            _write_study(root, *study)
        return root

    return make
