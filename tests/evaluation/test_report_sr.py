"""The prediction as a DICOM Comprehensive SR: valid for dciodvfy, read back by pydicom and highdicom to the values of
report.json, the studies it used as evidence, the patient's identifiers taken from them."""

import datetime
import shutil
import subprocess

import numpy as np
import pydicom
import pytest

from msmonai.demo.dicom_writer import write_series
from msmonai.evaluation.report_sr import read_report_sr, write_report_sr

REPORT = {
    "patient_key": "P-0123456789abcdef",
    "model": {"name": "MS activity prediction, ResNet3D", "version": "0.6.0", "bundle": "ms_activity_resnet3d"},
    "prediction": {"probability_active": 0.73, "uncertainty": 0.08, "threshold": 0.41, "prediction": 1,
                   "last_visit_date": "2021-05-01"},
    "validated_performance": {"roc_auc": {"value": 0.81, "low": 0.7, "high": 0.9}, "pr_auc": {"value": 0.6},
                              "f1": {"value": None}, "n_observations": 103, "n_patients": 40, "folds": 5, "seed": 0},
}


@pytest.fixture
def written(tmp_path):
    files = []
    for visit, year in enumerate((2020, 2021)):
        volume = np.random.default_rng(visit).integers(100, 1200, size=(4, 16, 16)).astype(np.uint16)
        files += write_series(volume, tmp_path / "dicom" / f"visit_{visit}", patient_id="SRPAT001",
                              patient_name="Doe^Jane", study_uid=f"1.2.826.0.1.3680043.10.998.{visit}",
                              study_date=datetime.date(year, 5, 1), series_description="T1 AX SE")
    return write_report_sr(REPORT, files, tmp_path / "report.dcm"), files


def test_the_sr_reads_back_to_the_report(written):
    path, _ = written
    values = read_report_sr(path)
    assert values["Probability of an active phase within one year"] == pytest.approx(0.73)
    assert values["Decision threshold"] == pytest.approx(0.41)
    assert values["Predicted disease activity within one year"] == "Active phase expected"
    assert values["Uncertainty (Monte-Carlo dropout standard deviation)"] == pytest.approx(0.08)
    assert values["Date of the last visit used"] == "2021-05-01"
    assert values["Algorithm Name"] == "MS activity prediction, ResNet3D" and values["Algorithm Version"] == "0.6.0"
    assert values["Cross-validated ROC AUC"] == pytest.approx(0.81) and "Cross-validated F1" not in values
    assert "not a medical device" in values["Intended use"]


def test_the_sr_carries_the_source_patient_and_references_every_study(written):
    path, files = written
    sr = pydicom.dcmread(path)
    assert sr.SOPClassUID == pydicom.uid.ComprehensiveSRStorage and sr.CompletionFlag == "COMPLETE"
    assert sr.PatientID == "SRPAT001" and str(sr.PatientName) == "Doe^Jane"
    assert sr.StudyInstanceUID == "1.2.826.0.1.3680043.10.998.1"  # a new series of the latest study
    assert (sr.SeriesDate, sr.SeriesTime) == (sr.ContentDate, sr.ContentTime)  # where viewers list it
    referenced = [*sr.CurrentRequestedProcedureEvidenceSequence, *sr.get("PertinentOtherEvidenceSequence", [])]
    studies = {item.StudyInstanceUID for item in referenced}
    assert studies == {pydicom.dcmread(f, stop_before_pixels=True).StudyInstanceUID for f in files}
    instances = {ref.ReferencedSOPInstanceUID for item in referenced for series in item.ReferencedSeriesSequence
                 for ref in series.ReferencedSOPSequence}
    assert instances == {pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID for f in files}


@pytest.mark.skipif(shutil.which("dciodvfy") is None, reason="dciodvfy (Debian's dicom3tools) not installed")
def test_dciodvfy_reports_no_error(written):
    path, _ = written
    result = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, check=False)
    errors = [line for line in (result.stdout + result.stderr).splitlines() if line.startswith("Error")]
    assert errors == [], "\n".join(errors)
