"""``msmonai demo-data`` -> ``msmonai manifest`` end to end on a 4-patient synthetic cohort."""

import csv
import json

import numpy as np
import pydicom
import pytest
from monai.data import load_decathlon_datalist

from msmonai.cli import main
from msmonai.data.clinical import load_clinical_visits
from msmonai.io import scan_dicom


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The cohort and its manifest (strict: the demo must link completely), written once for this module."""
    root = tmp_path_factory.mktemp("demo")
    assert main(["demo-data", "--out", str(root / "cohort"), "--patients", "4", "--seed", "1"]) == 0
    secret = root / "keys" / "site.key"
    assert main(["manifest", "--dicom", str(root / "cohort" / "dicom"), "--clinical", str(root / "cohort" / "clinical.csv"),
                 "--out", str(root / "work" / "datalist.json"), "--folds", "2", "--strict", "--quiet",
                 "--secret-file", str(secret)]) == 0
    return root


def test_each_study_holds_t1_t2_and_localizer_with_realistic_headers(demo):
    scan = scan_dicom(demo / "cohort" / "dicom")
    assert scan.problems == []
    assert len({s.patient_id for s in scan.studies}) == 4
    stored_max, slopes = [], set()
    for study in scan.studies:
        assert sorted(s.weighting for s in study.series) == ["T1", "T2", "localizer"]
        t1 = study.t1
        assert t1.orientation == "axial" and 30 <= t1.n_slices <= 60
        headers = [pydicom.dcmread(f) for f in t1.files[:1]]
        stored_max.append(int(np.max([pydicom.dcmread(f).pixel_array.max() for f in t1.files])))
        slopes.add(float(headers[0].RescaleSlope))
        ds = headers[0]
        assert ds.PatientName and ds.PatientID == study.patient_id and ds.StudyDate
        assert ds.RepetitionTime and ds.EchoTime and len(ds.ImageOrientationPatient) == 6 and len(ds.PixelSpacing) == 2
    assert max(stored_max) > 3000 and len(slopes) > 1
    assert len({pydicom.dcmread(s.t1.files[0]).Rows for s in scan.studies}) > 1  # matrices differ between patients


def test_clinical_csv_is_valid_and_readme_says_synthetic(demo):
    visits, exclusions = load_clinical_visits(demo / "cohort" / "clinical.csv")
    assert exclusions == [] and len({v.patient_id for v in visits}) == 4
    assert all(v.status in (0, 1) and v.edss_total is not None for v in visits)
    assert "SYNTHETIC" in (demo / "cohort" / "README.txt").read_text()


def test_manifest_reads_back_and_carries_no_identifier(demo):
    manifest = demo / "work" / "datalist.json"
    items = load_decathlon_datalist(manifest, data_list_key="training")
    visits, _ = load_clinical_visits(demo / "cohort" / "clinical.csv")
    assert len(items) == len(visits) - 4  # every visit but each patient's last labels one observation
    assert sum(item["label"] for item in items) >= 1
    for item in items:
        for visit in item["visits"]:
            assert all((manifest.parent / path).is_file() for path in visit["image"])

    identifiers = {v.patient_id for v in visits}
    for path in (demo / "cohort" / "dicom").rglob("*.dcm"):
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        identifiers |= {str(ds.PatientName), *str(ds.PatientName).split("^"), ds.PatientID}
    outputs = [manifest, manifest.with_name("datalist.exclusions.csv")]
    for output in outputs:
        text = output.read_text()
        assert not [name for name in identifiers if name in text], output
    with open(demo / "keys" / "pseudonyms.csv", newline="") as f:
        assert {row["patient_id"] for row in csv.DictReader(f)} == {v.patient_id for v in visits}
    assert json.loads(manifest.read_text())["metadata"]["label_sources"] == {"status": len(items)}


def test_refuses_to_write_over_an_existing_cohort(demo, capsys):
    assert main(["demo-data", "--out", str(demo / "cohort"), "--patients", "1"]) == 2
    assert "already exists and is not empty" in capsys.readouterr().err
