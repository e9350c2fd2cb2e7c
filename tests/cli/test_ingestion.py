"""``msmonai inspect`` and ``msmonai preprocess`` through the real command-line entry point."""

from __future__ import annotations

import csv
import gzip
import json
import os
import subprocess
import sys

import nibabel as nib
import numpy as np
import pydicom
import pytest
from pydicom.encaps import encapsulate

from msmonai.cli import main
from msmonai.data.pseudonym import default_secret_file, load_or_create_secret, pseudonym
from tests.io.dicom_trees import write

PLANTED = {  # distinctive values that must never appear in anything preprocess writes
    "PatientName": "Zyzzyva^Quintessa", "PatientBirthDate": "19010203", "AccessionNumber": "ACCZQX99",
    "InstitutionName": "Klinikum Zyzzyva",
}
PATIENT_IDS = ("ZQX-PID-4711", "ZQX-PID-0815")


@pytest.fixture
def archive(tmp_path):
    """Two patients, three studies with T1 (two on one day), one study without T1, one non-DICOM file."""
    root = tmp_path / "export"
    a, b = PATIENT_IDS
    identity = dict(patient_name=PLANTED["PatientName"], extra=PLANTED)
    write(root, "a/2021", 12, patient_id=a, study_uid="1.2.3.1", study_date="20210315", **identity)
    write(root, "a/2021", 12, patient_id=a, study_uid="1.2.3.1", study_date="20210315", series_description="t2_tse",
          weighting="T2", series_number=2, **identity)
    write(root, "a/2022", 9, patient_id=a, study_uid="1.2.3.2", study_date="20220310", **identity)
    write(root, "a/2022 second", 9, patient_id=a, study_uid="1.2.3.3", study_date="20220310", **identity)
    write(root, "b", 7, patient_id=b, study_uid="1.2.3.4", study_date="20200101", **identity)
    write(root, "b/t2only", 7, patient_id=b, study_uid="1.2.3.5", study_date="20200601", series_description="t2",
          weighting="T2", **identity)
    (root / "b" / "export.log").write_text("transfer complete\n")
    return root


def test_inspect_json_has_the_documented_shape(archive, capsys):
    assert main(["inspect", str(archive), "--json", "--quiet"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report) == {"studies", "problems"}
    assert [(s["patient_id"], s["study_date"]) for s in report["studies"]] == [
        (PATIENT_IDS[1], "2020-01-01"), (PATIENT_IDS[1], "2020-06-01"), (PATIENT_IDS[0], "2021-03-15"),
        (PATIENT_IDS[0], "2022-03-10"), (PATIENT_IDS[0], "2022-03-10"),
    ]
    for study in report["studies"]:
        assert set(study) == {"patient_id", "study_uid", "study_date", "t1_series_uid", "series"}
        for series in study["series"]:
            assert set(series) == {"series_uid", "description", "weighting", "n_slices", "orientation", "selected"}
        selected = [s["series_uid"] for s in study["series"] if s["selected"]]
        assert selected == ([study["t1_series_uid"]] if study["t1_series_uid"] else [])
    first = report["studies"][2]
    found = [(s["weighting"], s["n_slices"], s["orientation"]) for s in first["series"]]
    assert found == [("T1", 12, "axial"), ("T2", 12, "axial")]
    assert report["problems"] == [
        {"path": "b/export.log", "reason": "not a DICOM file (no DICM preamble)"},
        {"path": "b/t2only", "reason": "study 1.2.3.5: no T1 series (found T2 't2')"},
    ]


def test_inspect_table_and_exit_status_when_nothing_is_usable(archive, tmp_path, capsys):
    assert main(["inspect", str(archive), "--quiet"]) == 0
    table = capsys.readouterr().out
    assert "  * T1        axial      12 slices" in table and "b/export.log: not a DICOM file" in table
    assert main(["inspect", str(archive / "b" / "t2only"), "--json", "--quiet"]) == 1
    captured = capsys.readouterr()
    assert json.loads(captured.out)["studies"][0]["t1_series_uid"] is None
    assert "no usable T1 series" in captured.err


def test_preprocess_writes_pseudonymous_nifti_and_index(archive, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("MSMONAI_SITE_SECRET", raising=False)
    out, secret_file = tmp_path / "out", tmp_path / "site.key"
    assert main(["preprocess", str(archive), "--out", str(out), "--spatial-size", "6", "12", "10",
                 "--secret-file", str(secret_file), "--quiet"]) == 0
    captured = capsys.readouterr()
    assert "b/export.log: not a DICOM file" in captured.err and "wrote 4 of 4 T1 volumes" in captured.out
    key_a, key_b = (pseudonym(pid, load_or_create_secret(secret_file)) for pid in PATIENT_IDS)
    with open(out / "index.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["patient_key"], r["study_date"], r["file"], r["original_slices"]) for r in rows] == [
        (key_b, "2020-01-01", f"{key_b}_20200101.nii.gz", "7"),
        (key_a, "2021-03-15", f"{key_a}_20210315.nii.gz", "12"),
        (key_a, "2022-03-10", f"{key_a}_20220310.nii.gz", "9"),
        (key_a, "2022-03-10", f"{key_a}_20220310_2.nii.gz", "9"),
    ]
    assert sorted(p.name for p in out.iterdir()) == sorted(["index.csv", *(r["file"] for r in rows)])
    for row in rows:
        volume = nib.load(out / row["file"])
        data = np.asarray(volume.dataobj)
        assert data.shape == (6, 12, 10) and data.dtype == np.float32 and 0 <= data.min() <= data.max() <= 255
        assert nib.aff2axcodes(volume.affine) == ("S", "P", "L")  # slices up, rows back, columns left
        assert np.allclose(volume.get_qform(), volume.get_sform())
    forbidden = [value.encode() for value in (*PLANTED.values(), *PATIENT_IDS, "Zyzzyva")]
    for path in out.iterdir():
        content = path.read_bytes()
        readable = gzip.decompress(content) if path.suffix == ".gz" else content
        assert not any(value in readable or value in path.name.encode() for value in forbidden), path


def test_preprocess_with_parallel_workers_writes_the_same_bytes(archive, tmp_path, monkeypatch):
    monkeypatch.setenv("MSMONAI_SITE_SECRET", "a-test-secret-of-enough-length")
    outputs = {}
    for workers in (1, 3):
        out = tmp_path / f"out{workers}"
        assert main(["preprocess", str(archive), "--out", str(out), "--spatial-size", "6", "12", "10", "--quiet",
                     "--workers", str(workers)]) == 0
        outputs[workers] = {path.name: path.read_bytes() for path in out.iterdir()}
    assert len(outputs[1]) == 5 and outputs[1] == outputs[3]


def test_preprocess_as_a_process_of_its_own(archive, tmp_path):
    """The console command as users start it: its workers import MONAI without the optional packages it skips."""
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "msmonai.cli", "preprocess", str(archive), "--out", str(out), "--spatial-size", "6", "12",
         "10", "--quiet", "--workers", "2"],
        env={**os.environ, "MSMONAI_SITE_SECRET": "a-test-secret-of-enough-length"}, capture_output=True, text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "wrote 4 of 4 T1 volumes" in done.stdout and "Traceback" not in done.stderr
    assert len(list(out.glob("*.nii.gz"))) == 4


def test_preprocess_as_the_readme_gives_it_creates_the_site_secret(archive, tmp_path, monkeypatch, caplog):
    monkeypatch.delenv("MSMONAI_SITE_SECRET", raising=False)
    assert main(["preprocess", str(archive), "--out", str(tmp_path / "out")]) == 0
    secret = default_secret_file()
    assert f"created a new site secret in {secret}" in caplog.text
    keys = {row["patient_key"] for row in csv.DictReader(open(tmp_path / "out" / "index.csv", newline=""))}
    assert keys == {pseudonym(pid, secret.read_bytes().strip()) for pid in PATIENT_IDS}


def test_preprocess_refuses_zero_workers(archive, tmp_path, capsys):
    assert main(["preprocess", str(archive), "--out", str(tmp_path / "out"), "--workers", "0"]) != 0
    assert capsys.readouterr().err.strip().splitlines()[-1].endswith("--workers must be at least 1, got 0")


@pytest.mark.parametrize("workers", ["1", "2"])
def test_preprocess_reports_a_series_that_fails_to_decode_and_goes_on(tmp_path, capsys, monkeypatch, workers):
    monkeypatch.setenv("MSMONAI_SITE_SECRET", "a-test-secret-of-enough-length")
    write(tmp_path / "export", "good", 4)
    broken = write(tmp_path / "export", "broken", 4, size=32, patient_id="PAT-0002", study_uid="1.2.3.9",
                   transfer_syntax="jpeg2000")
    ds = pydicom.dcmread(broken[2])
    ds.PixelData = encapsulate([b"\xff\x4f\xff\x51" + bytes(200)])  # a JPEG 2000 codestream that cannot decode
    ds.save_as(broken[2], enforce_file_format=True)
    out = tmp_path / "out"
    arguments = ["preprocess", str(tmp_path / "export"), "--out", str(out), "--spatial-size", "4", "8", "8", "--quiet",
                 "--workers", workers]
    assert main(arguments) == 0
    captured = capsys.readouterr()
    (line,) = [line for line in captured.err.splitlines() if "cannot decode pixel data" in line]
    assert str(broken[2]) in line
    assert "wrote 1 of 2 T1 volumes" in captured.out
    assert len((out / "index.csv").read_text().splitlines()) == 2
