"""``msmonai pacs predict``: one patient's visits from a PACS -> the same ``predict`` as for a folder -> the report,
and on request its DICOM SR stored back into the patient's latest study.

The retrieved images live only in a private temporary folder (mode 0700) that is removed when the command ends,
whatever the outcome; the model's visit cache stays in memory. The SR is stored only once the report is complete.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Mapping

import pydicom

from msmonai.bundle_tools import contract
from msmonai.bundle_tools.prediction import predict
from msmonai.constants import DEFAULT_MC_SAMPLES
from msmonai.data.clinical import load_clinical_visits
from msmonai.errors import UserError
from msmonai.pacs.archive import Archive
from msmonai.pacs.retrieval import Retrieval, retrieve_patient

logger = logging.getLogger(__name__)


def pacs_predict(
    archive: Archive,
    patient_id: str,
    clinical_csv: str | os.PathLike,
    bundle_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    store: bool = False,
    skip_visits_without_t1: bool = False,
    secret_file: str | os.PathLike | None = None,
    overrides: Mapping[str, object] | None = None,
    mc_samples: int = DEFAULT_MC_SAMPLES,
    threshold: float | None = None,
    explain: bool = True,
    quiet: bool = True,
) -> tuple[Path, Retrieval, bool]:
    """Predict for the patient ``patient_id`` of ``archive``; returns (report.json path, what was retrieved, stored).

    ``DIR/report.json``, ``report.html`` and ``report.dcm`` are written as by :func:`msmonai.bundle_tools.prediction.
    predict` with ``dicom_sr``; ``store`` then stores ``report.dcm`` into the archive and checks that it lists it.
    """
    visits, _ = load_clinical_visits(clinical_csv)
    visits = [visit for visit in visits if visit.patient_id == patient_id]
    if not visits:
        raise UserError(f"--clinical {clinical_csv}: no valid row for the patient given by --patient-id")
    with tempfile.TemporaryDirectory(prefix="msmonai-pacs-") as folder:
        retrieval = retrieve_patient(archive, patient_id, visits, Path(folder), skip_visits_without_t1)
        [report] = predict(bundle_dir, folder, clinical_csv, out_dir, secret_file=secret_file,
                           overrides={**(overrides or {}), contract.CACHE_DIR: None}, mc_samples=mc_samples,
                           threshold=threshold, explain=explain, quiet=quiet, dicom_sr=True,
                           left_out=retrieval.left_out)
    if not store:
        return report, retrieval, False
    sr = pydicom.dcmread(report.with_name("report.dcm"))
    archive.store(sr)
    if not archive.has_series(sr.StudyInstanceUID, sr.SeriesInstanceUID):
        raise UserError(f"{archive.where}: the PACS accepted the report but does not list it (series "
                        f"{sr.SeriesNumber} of the study of {sr.StudyDate}); check its storage")
    return report, retrieval, True
