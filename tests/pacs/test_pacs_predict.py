"""``msmonai pacs predict`` against a real Orthanc (started by the suite from docs/pacs/orthanc.json): the query, the
selective retrieval (headers of every MR series, pixels of the T1 only), the report equal to a folder ``predict`` of
the same patient, the SR stored into the patient's latest study and valid for dciodvfy, the bad input, and that
identifiers, credentials and retrieved images stay where they belong."""

from __future__ import annotations

import csv
import datetime
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import pydicom
import pytest

from msmonai.cli import main as cli
from msmonai.data.clinical import load_clinical_visits
from msmonai.evaluation.report_sr import read_report_sr
from msmonai.pacs.dicomweb import DicomWebArchive
from msmonai.pacs.retrieval import retrieve_patient
from tests.bundles.conftest import REPO, TINY_SPATIAL_SIZE
from tests.pacs.orthanc import MISSING, PASSWORD, USER, Orthanc, Proxy, free_port, self_signed_certificate

pytestmark = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")
BUNDLE = REPO / "bundles" / "ms_activity_resnet3d"


@pytest.fixture(scope="module")
def site(tmp_path_factory, tiny_datalist):
    """A PACS holding a 4-patient demo cohort (T1, T2 and localizer per study; the T1 of patient C's second study
    deleted), a tiny trained model, the clinical CSV, a password file and an empty temporary folder."""
    root = tmp_path_factory.mktemp("pacs")
    assert cli(["demo-data", "--out", str(root / "src"), "--patients", "4", "--seed", "4"]) == 0
    assert cli(["train", "--bundle", str(BUNDLE), "--datalist", str(tiny_datalist), "--out", str(root / "model"),
                "--num-epochs", "1", "--set", f"spatial_size={json.dumps(TINY_SPATIAL_SIZE)}",
                "--set", "device=$torch.device('cpu')"]) == 0
    orthanc = Orthanc(root / "orthanc")
    orthanc.upload(root / "src" / "dicom")
    patients = {}
    for folder in sorted((root / "src" / "dicom").iterdir()):
        ds = pydicom.dcmread(next(f for f in sorted(folder.rglob("*")) if f.is_file()), stop_before_pixels=True)
        patients[folder.name] = {"id": ds.PatientID, "name": str(ds.PatientName), "folder": folder}
    a, b, c, d = (patients[name] for name in sorted(patients))
    studies_of_c = sorted(orthanc.find("Study", PatientID=c["id"]), key=lambda s: s["MainDicomTags"]["StudyDate"])
    second = studies_of_c[1]["MainDicomTags"]
    t1 = [s for s in orthanc.find("Series", StudyInstanceUID=second["StudyInstanceUID"])
          if s["MainDicomTags"].get("SeriesDescription", "").startswith("T1")]
    orthanc.session.delete(f"{orthanc.rest}/series/{t1[0]['ID']}").raise_for_status()
    c["t1_missing"] = datetime.datetime.strptime(second["StudyDate"], "%Y%m%d").date()
    (root / "password").write_text(PASSWORD + "\n")
    temporary = root / "tmp"
    temporary.mkdir()
    yield {"root": root, "orthanc": orthanc, "a": a, "b": b, "c": c, "d": d, "clinical": root / "src" / "clinical.csv",
           "model": root / "model", "password": root / "password", "tmp": temporary}
    orthanc.stop()


@pytest.fixture(autouse=True)
def private_tmp(site, monkeypatch):
    """Every test's temporary folders go to the site's own folder, so that what is left there can be checked."""
    monkeypatch.setenv("TMPDIR", str(site["tmp"]))
    monkeypatch.setattr(tempfile, "tempdir", None)
    yield
    assert list(site["tmp"].iterdir()) == [], "something retrieved was left in the temporary folder"


def pacs_predict(site, patient, out, *extra, url=None, password=None, clinical=None, verbose=False, dimse=None):
    """Run ``msmonai pacs predict`` as a user would (over DICOMweb, or DIMSE with ``dimse``); returns its exit code."""
    where = ["--dimse", dimse] if dimse else ["--url", url or site["orthanc"].url, "--username", USER,
                                              "--password-file", str(password or site["password"])]
    return cli([*(["-v"] if verbose else []), "pacs", "predict", *where, "--patient-id", patient["id"],
                "--clinical", str(clinical or site["clinical"]), "--bundle", str(site["model"]), "--out", str(out),
                "--secret-file", str(site["root"] / "site.key"), "--mc-samples", "0", "--no-explain", "--quiet",
                *extra])


@pytest.fixture(scope="module")
def stored(site):
    """``pacs predict --store`` of patient A, and ``predict --dicom-sr`` of A's DICOM folder for comparison."""
    out = site["root"] / "from_pacs"
    assert cli(["-v", "pacs", "predict", "--url", site["orthanc"].url, "--patient-id", site["a"]["id"],
                "--clinical", str(site["clinical"]), "--bundle", str(site["model"]), "--out", str(out),
                "--username", USER, "--password-file", str(site["password"]), "--secret-file",
                str(site["root"] / "site.key"), "--mc-samples", "0", "--no-explain", "--quiet", "--store"]) == 0
    folder = site["root"] / "from_folder"
    assert cli(["predict", "--bundle", str(site["model"]), "--dicom", str(site["a"]["folder"]), "--clinical",
                str(site["clinical"]), "--out", str(folder), "--secret-file", str(site["root"] / "site.key"),
                "--mc-samples", "0", "--no-explain", "--quiet", "--dicom-sr"]) == 0
    return out, folder


def test_the_report_equals_a_folder_prediction_of_the_same_patient(stored):
    out, folder = stored
    pacs, local = (json.loads((f / "report.json").read_text()) for f in (out, folder))
    assert pacs["patient_key"] == local["patient_key"]
    assert pacs["prediction"]["probability_active"] == pytest.approx(local["prediction"]["probability_active"],
                                                                     abs=1e-6)
    assert [v["date"] for v in pacs["visits"]] == [v["date"] for v in local["visits"]] and len(pacs["visits"]) >= 3
    assert [v["probability_active"] for v in pacs["visits"]] == pytest.approx(
        [v["probability_active"] for v in local["visits"]], abs=1e-6)
    assert read_report_sr(out / "report.dcm") == pytest.approx(read_report_sr(folder / "report.dcm"))


def test_the_sr_is_stored_in_the_patients_latest_study_and_is_valid(site, stored, tmp_path):
    out, _ = stored
    orthanc, patient = site["orthanc"], site["a"]
    [series] = orthanc.sr_series(patient["id"])
    latest = max(s["MainDicomTags"]["StudyDate"] for s in orthanc.find("Study", PatientID=patient["id"]))
    assert series["StudyDate"] == latest and series["MainDicomTags"]["SeriesNumber"] == "9901"
    [instance] = series["Instances"]
    copy = tmp_path / "stored.dcm"
    copy.write_bytes(orthanc.session.get(f"{orthanc.rest}/instances/{instance}/file").content)
    sr = pydicom.dcmread(copy)
    assert sr.PatientID == patient["id"] and str(sr.PatientName) == patient["name"]
    values = read_report_sr(copy)
    report = json.loads((out / "report.json").read_text())
    assert values["Probability of an active phase within one year"] == pytest.approx(
        report["prediction"]["probability_active"], abs=1e-6)
    assert values["Date of the last visit used"] == report["prediction"]["last_visit_date"]
    if shutil.which("dciodvfy"):
        result = subprocess.run(["dciodvfy", str(copy)], capture_output=True, text=True, check=False)
        assert [line for line in (result.stdout + result.stderr).splitlines() if line.startswith("Error")] == []


def test_headers_of_every_mr_series_are_read_but_pixels_of_the_t1_only(site, tmp_path):
    class Recording(DicomWebArchive):
        def headers(self, series):
            self.headers_of.append(series.series_uid)
            return super().headers(series)

        def instances(self, series):
            self.pixels_of.append(series.series_uid)
            return super().instances(series)

    archive = Recording(site["orthanc"].url, USER, site["password"])
    archive.headers_of, archive.pixels_of = [], []
    patient = site["b"]
    visits = [v for v in load_clinical_visits(site["clinical"])[0] if v.patient_id == patient["id"]]
    retrieval = retrieve_patient(archive, patient["id"], visits, tmp_path / "retrieved")
    described = {s["MainDicomTags"]["SeriesInstanceUID"]: s["MainDicomTags"]["SeriesDescription"]
                 for s in site["orthanc"].find("Series", PatientID=patient["id"], Modality="MR")}
    assert sorted(archive.headers_of) == sorted(described) and len(described) >= 3 * len(visits)
    assert sorted(described[uid] for uid in archive.pixels_of) == ["T1 SE AX"] * len(visits)
    files = [f for f in (tmp_path / "retrieved").rglob("*") if f.is_file()]
    assert len(files) == retrieval.retrieved_instances and {pydicom.dcmread(f).SeriesDescription for f in files} == {
        "T1 SE AX"}
    assert all(patient["id"] not in str(f) for f in files)  # named by position, never by patient or UID


def test_nothing_identifying_is_written_but_the_sr_and_no_credential_is_shown(site, stored, capfd, caplog):
    out, _ = stored
    needles = [site["a"]["id"], *site["a"]["name"].split("^"), PASSWORD]
    checked = 0
    for path in out.rglob("*"):
        if path.is_file() and path.name != "report.dcm":
            blob = path.read_bytes()
            assert not [n for n in needles if n.encode() in blob], path
            checked += 1
    assert checked >= 4  # report.json, report.html, the work folder's datalist and predictions
    caplog.set_level("DEBUG")
    assert pacs_predict(site, site["a"], site["root"] / "verbose", verbose=True) == 0
    shown = capfd.readouterr()
    assert "PACS: pixel data of" in caplog.text and "GET" in caplog.text  # dicomweb-client's own debug lines
    assert PASSWORD not in shown.out + shown.err + caplog.text


def last_error(capfd) -> str:
    return capfd.readouterr().err.strip().splitlines()[-1]


def test_a_visit_without_t1_is_named_and_refused_unless_skipped(site, capfd, caplog, tmp_path):
    patient = site["c"]
    assert pacs_predict(site, patient, tmp_path / "refused") == 2
    line = last_error(capfd)
    assert line.startswith("msmonai pacs: error: 1 visit(s) of the patient have an MR study without a T1 series (")
    assert patient["t1_missing"].isoformat() in line and "--skip-visits-without-t1" in line
    assert "T2 'T2 TSE AX'" in line and patient["id"] not in line
    assert pacs_predict(site, patient, tmp_path / "skipped", "--skip-visits-without-t1") == 0
    report = json.loads((tmp_path / "skipped" / "report.json").read_text())
    assert patient["t1_missing"].isoformat() not in [v["date"] for v in report["visits"]] and report["notes"]
    assert f"left out: the MR study of {patient['t1_missing']} has no T1 series (found " in caplog.text
    assert site["orthanc"].sr_series(patient["id"]) == []


def without_patient(site, patient, target: Path, replacement: str | None = None) -> Path:
    """The clinical CSV without the patient's rows, or with their ID replaced by ``replacement``."""
    with open(site["clinical"], newline="") as f:
        rows = list(csv.DictReader(f))
    kept = [dict(r, patient_id=replacement) if r["patient_id"] == patient["id"] else r for r in rows
            if replacement or r["patient_id"] != patient["id"]]
    with open(target, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(kept)
    return target


def test_bad_input_ends_with_one_line_and_stores_nothing(site, capfd, tmp_path):
    patient, orthanc = site["b"], site["orthanc"]
    wrong = tmp_path / "wrong-password"
    wrong.write_text("not-the-password\n")
    nobody = {"id": "NOMR0001"}
    cases = [
        (dict(url=f"http://127.0.0.1:{free_port()}/dicom-web"), patient, "PACS not reachable ([Errno 111] "
         "Connection refused)"),
        (dict(password=wrong), patient, "the PACS refused the credentials (HTTP 401)"),
        (dict(clinical=without_patient(site, patient, tmp_path / "others.csv")), patient,
         "no valid row for the patient given by --patient-id"),
        (dict(clinical=without_patient(site, patient, tmp_path / "nomr.csv", nobody["id"])), nobody,
         "the PACS holds no MR study of the patient given by --patient-id"),
    ]
    for flags, who, expected in cases:
        assert pacs_predict(site, who, tmp_path / "out", "--store", **flags) == 2, expected
        line = last_error(capfd)
        assert line.startswith("msmonai pacs: error: ") and expected in line, line
        assert PASSWORD not in line and "not-the-password" not in line
    assert orthanc.sr_series(patient["id"]) == []
    assert cli(["pacs", "predict", "--url", f"http://{USER}:{PASSWORD}@127.0.0.1:1/dicom-web", "--patient-id", "X",
                "--clinical", str(site["clinical"]), "--bundle", str(site["model"]), "--out", str(tmp_path)]) == 2
    assert "credentials in the URL are refused" in last_error(capfd)


def test_a_retrieval_cut_off_half_way_is_named_and_stores_nothing(site, capfd, tmp_path):
    proxy = Proxy(site["orthanc"].port, cut_after=300_000)
    try:
        assert pacs_predict(site, site["b"], tmp_path / "out", "--store", "--timeout", "20", url=proxy.url) == 2
    finally:
        proxy.close()
    line = last_error(capfd)
    assert proxy.cuts >= 1
    assert line.startswith("msmonai pacs: error: retrieval of the T1 series of the MR study of ") and "cut off" in line
    assert site["orthanc"].sr_series(site["b"]["id"]) == []
    assert not (tmp_path / "out" / "report.json").exists()


def test_the_dimse_variant_gives_the_same_report_and_stores_the_sr(site, tmp_path):
    orthanc, patient = site["orthanc"], site["d"]
    assert pacs_predict(site, patient, tmp_path / "web") == 0
    assert pacs_predict(site, patient, tmp_path / "dimse", "--calling-aet", "MSMONAI", "--store",
                        dimse=orthanc.dimse) == 0
    web, dimse = (json.loads((tmp_path / name / "report.json").read_text()) for name in ("web", "dimse"))
    assert [v["probability_active"] for v in dimse["visits"]] == pytest.approx(
        [v["probability_active"] for v in web["visits"]], abs=1e-6)
    [series] = orthanc.sr_series(patient["id"])
    studies = orthanc.find("Study", PatientID=patient["id"])
    assert series["StudyDate"] == max(s["MainDicomTags"]["StudyDate"] for s in studies)


def test_dimse_refusals_end_with_one_line(site, capfd, tmp_path):
    orthanc, patient = site["orthanc"], site["b"]
    cases = [(["--calling-aet", "STRANGER"], orthanc.dimse, "does the PACS know AE title STRANGER"),
             ([], f"127.0.0.1:{free_port()}:ORTHANC", "PACS not reachable"),
             (["--username", USER], orthanc.dimse, "--username, --password-file and --ca-bundle apply to --url"),
             ([], "127.0.0.1:ORTHANC", "give HOST:PORT:AET")]
    for flags, address, expected in cases:
        assert pacs_predict(site, patient, tmp_path / "out", "--store", *flags, dimse=address) == 2, expected
        line = last_error(capfd)
        assert line.startswith("msmonai pacs: error: ") and expected in line, line
    assert orthanc.sr_series(patient["id"]) == []


def test_tls_is_verified_against_the_given_ca_bundle(site, capfd, tmp_path):
    server, ca = self_signed_certificate(tmp_path / "tls")
    proxy = Proxy(site["orthanc"].port, tls_certificate=server)
    try:
        assert pacs_predict(site, site["a"], tmp_path / "unverified", url=proxy.url) == 2
        line = last_error(capfd)
        assert "TLS certificate not verified (certificate verify failed: self-signed certificate" in line, line
        assert "--ca-bundle" in line
        assert pacs_predict(site, site["a"], tmp_path / "verified", "--ca-bundle", str(ca), url=proxy.url) == 0
        assert (tmp_path / "verified" / "report.dcm").exists()
    finally:
        proxy.close()
