"""The whole pipeline on a small synthetic cohort whose DICOM and CSV carry planted identifiers.

One run of every step a hospital performs (ingestion, preprocessing, manifest, training, evaluation, inference,
cross-validation, prediction reports, bundle export), then checks of their outputs, including that no planted
patient identifier appears in any file written outside the source data.
"""

import csv
import json
import shutil
import zipfile
from pathlib import Path

import pandas as pd
import pydicom
import pytest

from msmonai.bundle_tools.runner import run_bundle
from msmonai.cli import main as cli
from msmonai.evaluation.baselines import BASELINES
from tests.bundles.conftest import REPO, TINY_SPATIAL_SIZE

pytestmark = pytest.mark.slow
BUNDLE = "ms_activity_pretrained_resnet2d"
PLANTED = {"name": "Quimbley^Zorgwaldine", "birth": "19111111", "accession": "ACCPLANT7755",
           "institution": "Plantedville Sanatorium"}


def plant_identifiers(cohort: Path) -> list[str]:
    """Rewrite every DICOM file and the CSV with distinctive identifiers; returns the strings to search for."""
    ids = {}
    with open(cohort / "clinical.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        ids.setdefault(row["patient_id"], f"PLANTID{len(ids):03d}Q")
        row["patient_id"] = ids[row["patient_id"]]
    with open(cohort / "clinical.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    for path in (cohort / "dicom").rglob("*"):
        if path.is_file():
            ds = pydicom.dcmread(path)
            ds.PatientID = ids[ds.PatientID]
            ds.PatientName = PLANTED["name"]
            ds.PatientBirthDate = PLANTED["birth"]
            ds.AccessionNumber = PLANTED["accession"]
            ds.InstitutionName = PLANTED["institution"]
            ds.save_as(path)
    return [*ids.values(), *PLANTED.values(), "Quimbley", "Zorgwaldine"]


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    """Run every step once; returns the folders (source data under ``src``, everything written under ``out``)."""
    root = tmp_path_factory.mktemp("e2e")
    src, out = root / "src", root / "out"
    assert cli(["demo-data", "--out", str(src), "--patients", "10", "--seed", "3"]) == 0
    secrets = plant_identifiers(src)
    key = str(root / "secret" / "site.key")
    assert cli(["preprocess", str(src / "dicom"), "--out", str(out / "preprocessed"), "--spatial-size", "6", "32", "32",
                "--secret-file", key, "--quiet"]) == 0
    datalist = out / "datalist.json"
    assert cli(["manifest", "--dicom", str(src / "dicom"), "--clinical", str(src / "clinical.csv"), "--out", str(datalist),
                "--folds", "4", "--test-fold", "3", "--secret-file", key, "--quiet"]) == 0
    bundle = out / BUNDLE
    shutil.copytree(REPO / "bundles" / BUNDLE, bundle)
    tiny = {"datalist": str(datalist), "num_epochs": 1, "batch_size": 4, "spatial_size": TINY_SPATIAL_SIZE,
            "num_workers": 0, "device": "$torch.device('cpu')"}
    run_bundle(bundle, "train", tiny, log_file=out / "train.log")
    run_bundle(bundle, "evaluate", tiny, log_file=out / "evaluate.log")
    run_bundle(bundle, "inference", {**tiny, "infer_split": "all", "output_dir": str(out / "inference")},
               log_file=out / "inference.log")
    assert cli(["cv", "--bundle", str(bundle), "--datalist", str(datalist), "--out", str(out / "cv"), "--folds", "2",
                "--num_epochs", "1", "--n_boot", "200", "--mc_samples", "3", "--threshold", "f1",
                "--set", f"spatial_size={json.dumps(TINY_SPATIAL_SIZE)}", "--set", "num_workers=0",
                "--set", "device=$torch.device('cpu')"]) == 0
    assert cli(["train", "--bundle", str(bundle), "--datalist", str(datalist), "--out", str(out / "run"), "--cv",
                str(out / "cv"), "--num_epochs", "1", "--set", f"spatial_size={json.dumps(TINY_SPATIAL_SIZE)}",
                "--set", "num_workers=0", "--set", "device=$torch.device('cpu')"]) == 0
    patient_dir = sorted((src / "dicom").iterdir())[0]
    assert cli(["predict", "--bundle", str(out / "run"), "--dicom", str(patient_dir), "--clinical",
                str(src / "clinical.csv"), "--out", str(out / "report_from_run"), "--secret-file", key, "--mc_samples",
                "0", "--no-explain", "--quiet", "--dicom-sr"]) == 0
    assert cli(["predict", "--bundle", str(bundle), "--dicom", str(patient_dir), "--clinical", str(src / "clinical.csv"),
                "--out", str(out / "report"), "--secret-file", key, "--mc_samples", "3", "--quiet",
                "--set", f"spatial_size={json.dumps(TINY_SPATIAL_SIZE)}", "--set", "num_workers=0"]) == 0
    assert cli(["export-bundle", str(bundle), "--out", str(out / "shared.zip"),
                "--spatial_size", *map(str, TINY_SPATIAL_SIZE)]) == 0
    assert cli(["predict", "--bundle", str(out / "shared.zip"), "--dicom", str(patient_dir), "--clinical",
                str(src / "clinical.csv"), "--out", str(out / "report_from_zip"), "--secret-file", key, "--mc_samples",
                "3", "--quiet", "--set", f"spatial_size={json.dumps(TINY_SPATIAL_SIZE)}", "--set", "num_workers=0"]) == 0
    return {"src": src, "out": out, "secrets": secrets, "datalist": datalist, "key": key, "bundle": bundle}


def test_cross_validation_predicts_every_held_out_observation_once(pipeline):
    cv = pipeline["out"] / "cv"
    training = json.loads(pipeline["datalist"].read_text())["training"]
    oof = pd.read_csv(cv / "oof_predictions.csv")
    assert len(oof) == sum(1 for it in training if it["fold"] in (0, 1))
    assert set(oof["fold"]) == {0, 1}
    for fold in (0, 1):  # a fold's patients never appear in its own training datalist
        fold_list = json.loads((cv / f"fold_{fold}" / "datalist.json").read_text())
        assert not {it["patient"] for it in fold_list["training"]} & {it["patient"] for it in fold_list["testing"]}
    metrics = json.loads((cv / "metrics.json").read_text())
    assert metrics["n"] == len(oof)
    assert list(metrics["baselines"]) == list(BASELINES)  # the change evidence's from the registered visit pairs
    assert all((cv / "baselines" / name.replace(" ", "_") / "oof_predictions.csv").is_file() for name in BASELINES)
    for name in ("accuracy", "f1", "fbeta"):
        interval = metrics["intervals"][name]
        assert interval["low"] <= metrics["pooled"][name] <= interval["high"]
    run = json.loads((cv / "run.json").read_text())
    assert set(run["thresholds"]) == {"0", "1"} and run["threshold_criterion"] == "f1"


def test_predict_writes_a_report_with_risk_over_visits(pipeline):
    report = json.loads((pipeline["out"] / "report" / "report.json").read_text())
    assert report["patient_key"].startswith("P-")
    assert 0.0 <= report["prediction"]["probability_active"] <= 1.0
    assert report["prediction"]["uncertainty"] >= 0.0
    assert len(report["visits"]) >= 2 and all(v["probability_active"] is not None for v in report["visits"])
    assert set(report["explanation"]) >= {"mri_contribution", "edss_contribution"}
    html = (pipeline["out"] / "report" / "report.html").read_text()
    assert "not a medical device" in html and report["patient_key"] in html and "data:image/png;base64," in html


def test_a_received_bundle_zip_predicts_as_the_folder_it_was_exported_from(pipeline):
    from_folder = json.loads((pipeline["out"] / "report" / "report.json").read_text())
    from_zip = json.loads((pipeline["out"] / "report_from_zip" / "report.json").read_text())
    assert from_zip["patient_key"] == from_folder["patient_key"]
    assert from_zip["prediction"]["probability_active"] == pytest.approx(
        from_folder["prediction"]["probability_active"], abs=1e-6)
    assert from_zip["prediction"]["threshold"] == pytest.approx(from_folder["prediction"]["threshold"])


def test_a_trained_run_reports_its_validated_performance_and_its_own_patients(pipeline):
    """Predicted from the run folder, nothing retyped: the cross-validation's figures on the report, and the flag
    when the patient was one the model was trained or validated on."""
    report = json.loads((pipeline["out"] / "report_from_run" / "report.json").read_text())
    cv_metrics = json.loads((pipeline["out"] / "cv" / "metrics.json").read_text())
    performance = report["validated_performance"]
    assert performance["roc_auc"]["value"] == pytest.approx(cv_metrics["pooled"]["roc_auc"])
    assert performance["n_observations"] == cv_metrics["n"] and performance["folds"] == 2
    patients = json.loads((pipeline["out"] / "run" / "patients.json").read_text())
    assert report["in_training_data"] == (report["patient_key"] in patients["training"] + patients["validation"])
    html = (pipeline["out"] / "report_from_run" / "report.html").read_text()
    assert ("not a fair test" in html) == report["in_training_data"]
    plain = json.loads((pipeline["out"] / "report" / "report.json").read_text())  # the bundle folder: no record
    assert plain["validated_performance"] is None and plain["in_training_data"] is False


def test_the_dicom_sr_holds_the_reports_prediction_for_the_patients_record(pipeline):
    from msmonai.evaluation.report_sr import read_report_sr

    report = json.loads((pipeline["out"] / "report_from_run" / "report.json").read_text())
    values = read_report_sr(pipeline["out"] / "report_from_run" / "report.dcm")
    assert values["Probability of an active phase within one year"] == pytest.approx(
        report["prediction"]["probability_active"], abs=1e-6)
    assert values["Cross-validated ROC AUC"] == pytest.approx(report["validated_performance"]["roc_auc"]["value"])
    assert pydicom.dcmread(pipeline["out"] / "report_from_run" / "report.dcm").PatientID.startswith("PLANTID")


def test_no_patient_identifier_leaves_the_source_data(pipeline):
    """Everything written outside the source data, except the DICOM SR that `predict --dicom-sr` writes on request
    for the patient's record, which must carry the source studies' identifiers."""
    needles = [s.encode() for s in pipeline["secrets"]]
    searched = 0
    for path in pipeline["out"].rglob("*"):
        if not path.is_file() or path.name == "report.dcm":
            continue
        blobs = [path.read_bytes()]
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as zf:
                blobs += [zf.read(name) for name in zf.namelist()]
        for blob in blobs:
            searched += 1
            for needle in needles:
                assert needle not in blob, f"{path.relative_to(pipeline['out'])} contains {needle.decode()!r}"
    assert searched > 50  # logs, TensorBoard events, checkpoints, caches, datalists, reports, NIfTI, zip members


def test_secret_key_file_is_owner_only(pipeline):
    assert (Path(pipeline["key"]).stat().st_mode & 0o777) == 0o600


def test_concurrent_predict_calls_on_one_bundle_agree(pipeline):
    """Four `msmonai predict` processes at once on the same bundle: all finish, each output complete and identical."""
    import subprocess
    import sys

    patient_dir = sorted((pipeline["src"] / "dicom").iterdir())[0]
    outs = [pipeline["out"] / f"concurrent_{i}" for i in range(4)]
    procs = [subprocess.Popen([sys.executable, "-m", "msmonai.cli", "predict", "--bundle", str(pipeline["bundle"]),
                               "--dicom", str(patient_dir), "--clinical", str(pipeline["src"] / "clinical.csv"),
                               "--out", str(out), "--secret-file", pipeline["key"], "--mc_samples", "0", "--no-explain",
                               "--quiet", "--set", f"spatial_size={json.dumps(TINY_SPATIAL_SIZE)}", "--set", "num_workers=0"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for out in outs]
    for proc in procs:
        output, _ = proc.communicate(timeout=600)
        assert proc.returncode == 0, output.decode()[-2000:]
    reports = [json.loads((out / "report.json").read_text()) for out in outs]
    first = json.loads((pipeline["out"] / "report" / "report.json").read_text())
    for report in reports:
        assert report["patient_key"] == first["patient_key"]
        assert report["prediction"]["probability_active"] == pytest.approx(first["prediction"]["probability_active"], abs=1e-6)
        assert (report["visits"] and all(v["probability_active"] is not None for v in report["visits"]))
