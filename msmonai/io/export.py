"""Write a study's preprocessed T1 volume as NIfTI and the ``index.csv`` that lists the written volumes.

File names and the index hold only the pseudonymous patient key, the study date and UIDs of the series:
no PatientID, name, birth date, accession number or institution.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Callable

from msmonai.errors import UserError, root_cause
from msmonai.fileio import write_text
from msmonai.io.model import Study
from msmonai.io.nifti import write_nifti

INDEX_NAME = "index.csv"
INDEX_COLUMNS = ("patient_key", "study_date", "series_uid", "file", "original_slices")


def export_study(
    study: Study, transform: Callable[[dict], dict], out_dir: str | os.PathLike, patient_key: str, taken: set[str]
) -> dict:
    """Preprocess ``study.t1`` and write ``<patient_key>_<YYYYMMDD>.nii.gz`` into ``out_dir``.

    Args:
        study: a study with a chosen T1 series.
        transform: maps ``{"image": [file paths]}`` to ``{"image": MetaTensor [1, D, H, W]}``.
        out_dir: output folder.
        patient_key: pseudonym of ``study.patient_id``.
        taken: file names already written in this run (a same-day second study gets a ``_2`` suffix).

    Returns:
        The index row (keys INDEX_COLUMNS).

    Raises:
        UserError: the series cannot be read (the message names the file and the reason).
    """
    series = study.t1
    try:
        image = transform({"image": [str(f) for f in series.files]})["image"]
    except Exception as err:  # MONAI wraps errors of a transform; only the user-fixable ones are reported
        cause = root_cause(err)
        if isinstance(cause, UserError):
            raise cause from None
        raise
    date = study.study_date.strftime("%Y%m%d") if study.study_date else "nodate"
    stem, number = f"{patient_key}_{date}", 1
    name = f"{stem}.nii.gz"
    while name in taken:
        number += 1
        name = f"{stem}_{number}.nii.gz"
    write_nifti(image, image.affine, Path(out_dir) / name)
    return {
        "patient_key": patient_key,
        "study_date": study.study_date.isoformat() if study.study_date else "",
        "series_uid": series.series_uid,
        "file": name,
        "original_slices": series.n_slices,
    }


def write_index(rows: list[dict], out_dir: str | os.PathLike) -> Path:
    """Atomically write ``out_dir/index.csv`` with one row per written volume."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=INDEX_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return write_text(Path(out_dir) / INDEX_NAME, buffer.getvalue())
