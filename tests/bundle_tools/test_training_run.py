"""``msmonai train`` and ``msmonai evaluate``: the model to deploy trained with a non-default overlay into a run
folder, shared as a zip and used elsewhere with nothing retyped; its validated performance; no evaluation on its own
training patients."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from msmonai.bundle_tools.layout import METADATA, MODEL, RUN_PATIENTS, RUN_RECORD, TRAIN_CONFIG
from msmonai.bundle_tools.sharing import unpack_verified
from msmonai.bundle_tools.training_run import validated_performance
from msmonai.cli import main as cli
from msmonai.data.datalist import load_datalist, write_datalist
from msmonai.evaluation.cv_dir import write_cv_dir
from msmonai.evaluation.summary import summarize_predictions
from tests.bundles.conftest import REPO, TINY_SPATIAL_SIZE

pytestmark = pytest.mark.slow
BUNDLE = REPO / "bundles" / "ms_activity_resnet3d"
OVERLAY = "configs/cpu_small.json"  # channels [8, 16, 32, 64]: weights that do not fit the default network
SETTINGS = ["--overlay", OVERLAY, "--num_epochs", "1", "--set", f"spatial_size={json.dumps(TINY_SPATIAL_SIZE)}",
            "--set", "device=$torch.device('cpu')"]


def fake_cv_dir(out: Path, overrides: dict, overlays: list[str], bundle_version: str) -> Path:
    """A cv directory as `msmonai cv` writes it, over 30 synthetic out-of-fold predictions of 10 patients."""
    rng = np.random.default_rng(0)
    labels = np.arange(30) % 2
    probability = np.clip(0.3 + 0.4 * labels + rng.normal(0, 0.2, 30), 0, 1)
    table = pd.DataFrame({"patient": [f"P-{i % 10:016x}" for i in range(30)], "fold": np.arange(30) % 3,
                          "last_visit_date": [f"20{10 + i // 10}-01-01" for i in range(30)],
                          "probability_active": probability, "prediction": (probability >= 0.5).astype(int),
                          "uncertainty": None, "label": labels})
    metrics = summarize_predictions(table, n_boot=200)
    metrics["baselines"] = {"EDSS logistic regression": {"pooled": {}, "intervals": {"roc_auc": {"value": 0.55}}}}
    run = {"model": "ResNet3D", "bundle": "ms_activity_resnet3d", "bundle_version": bundle_version, "folds": [0, 1, 2],
           "overrides": overrides, "overlays": overlays}
    return write_cv_dir(out, table, run, metrics)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_datalist):
    """One run trained with the cpu_small overlay and a matching cross-validation, exported and signed, and
    evaluated on the datalist's testing patients."""
    root = tmp_path_factory.mktemp("training_run")
    version = json.loads((BUNDLE / METADATA).read_text())["version"]
    recipe = {"seed": 0, "num_epochs": 1, "spatial_size": TINY_SPATIAL_SIZE, "device": "$torch.device('cpu')"}
    cv = fake_cv_dir(root / "cv", {**recipe, "seed": 7}, [OVERLAY], version)  # another seed is the same recipe
    run = root / "run"
    assert cli(["train", "--bundle", str(BUNDLE), "--datalist", str(tiny_datalist), "--out", str(run),
                "--cv", str(cv), *SETTINGS]) == 0
    assert cli(["keygen", "--out", str(root / "keys")]) == 0
    assert cli(["export-bundle", str(run), "--out", str(root / "model.zip"),
                "--sign-key", str(root / "keys" / "signing-key.pem")]) == 0
    assert cli(["evaluate", str(run), "--datalist", str(tiny_datalist), "--out", str(root / "evaluation"),
                "--mc_samples", "0", "--n_boot", "100"]) == 0
    return {"root": root, "run": run, "cv": cv, "zip": root / "model.zip", "recipe": recipe, "version": version}


def test_the_run_records_how_the_model_was_made(trained, tiny_datalist):
    run = trained["run"]
    record = json.loads((run / RUN_RECORD).read_text())
    assert record["bundle"] == "ms_activity_resnet3d" and record["bundle_version"] == trained["version"]
    assert record["overlays"] == [OVERLAY] and record["seed"] == 0
    assert record["network"]["args"]["channels"] == [8, 16, 32, 64]
    assert record["network"]["args"]["spatial_size"] == TINY_SPATIAL_SIZE
    assert record["datalist"]["val_fold"] == 0 and len(record["datalist"]["sha256"]) == 64
    assert set(record["versions"]) == {"torch", "monai", "msmonai"}
    folded = json.loads((run / TRAIN_CONFIG).read_text())
    assert folded["channels"] == [8, 16, 32, 64] and folded["num_epochs"] == 1  # overlay and overrides folded in
    assert folded["ckpt_path"] == json.loads((BUNDLE / TRAIN_CONFIG).read_text())["ckpt_path"]  # run-local: default
    items = load_datalist(tiny_datalist, "training")
    patients = json.loads((run / RUN_PATIENTS).read_text())
    assert set(patients["validation"]) == {it["patient"] for it in items if it["fold"] == 0}
    assert set(patients["training"]) == {it["patient"] for it in items if it["fold"] != 0}
    weights = torch.load(run / MODEL, weights_only=True)
    assert weights["encoder.stem.0.weight"].shape[0] == 8


def test_the_cross_validation_becomes_numeric_eval_metrics(trained):
    metadata = json.loads((trained["run"] / METADATA).read_text())
    cv_metrics = json.loads((trained["cv"] / "metrics.json").read_text())
    performance = validated_performance(metadata["eval_metrics"])
    assert performance["roc_auc"] == {"value": cv_metrics["pooled"]["roc_auc"],
                                      "low": cv_metrics["intervals"]["roc_auc"]["low"],
                                      "high": cv_metrics["intervals"]["roc_auc"]["high"]}
    assert (performance["n_observations"], performance["n_patients"], performance["folds"]) == (30, 10, 3)
    assert metadata["eval_metrics"]["baseline_EDSS_logistic_regression_roc_auc"] == 0.55
    assert all(isinstance(v, (int, float)) for v in metadata["eval_metrics"].values())
    assert "Validated performance of this trained model" in (trained["run"] / "docs" / "README.md").read_text()
    assert json.loads((BUNDLE / METADATA).read_text())["eval_metrics"] != metadata["eval_metrics"]  # bundle unchanged


def last_error(capsys) -> str:
    """The last line the user saw on stderr."""
    return capsys.readouterr().err.strip().splitlines()[-1]


def test_a_cross_validation_of_another_recipe_is_refused(trained, tiny_datalist, capsys):
    other = fake_cv_dir(trained["root"] / "cv_other", {**trained["recipe"], "learning_rate": 0.01}, [OVERLAY],
                        trained["version"])
    train = ["train", "--bundle", str(BUNDLE), "--datalist", str(tiny_datalist), "--out", str(trained["root"] / "refused")]
    assert cli([*train, "--cv", str(other), *SETTINGS]) != 0
    assert "learning_rate: cross-validated 0.01, trained 'unset'" in last_error(capsys)
    no_overlay = fake_cv_dir(trained["root"] / "cv_plain", trained["recipe"], [], trained["version"])
    assert cli([*train, "--cv", str(no_overlay), *SETTINGS]) != 0
    assert "overlays: cross-validated [], trained ['configs/cpu_small.json']" in last_error(capsys)
    assert not (trained["root"] / "refused").exists()  # refused before anything was written


def test_evaluate_scores_unseen_patients_and_refuses_training_patients(trained, tiny_datalist, capsys):
    out = trained["root"] / "evaluation"
    metrics = json.loads((out / "metrics.json").read_text())
    predictions = pd.read_csv(out / "predictions.csv")
    testing = load_datalist(tiny_datalist, "testing")
    assert metrics["n"] == len(predictions) == len(testing)
    assert set(predictions["patient"]) == {it["patient"] for it in testing}
    assert metrics["intervals"]["accuracy"]["low"] <= metrics["accuracy"] <= metrics["intervals"]["accuracy"]["high"]
    assert (out / "confusion_matrix.png").is_file()
    assert cli(["evaluate", str(trained["run"]), "--datalist", str(tiny_datalist), "--out", str(out / "leak"),
                "--split", "training"]) != 0
    assert "6 of the 6 patients under 'training' were in the training or validation data" in last_error(capsys)
    assert not (out / "leak").exists()


def test_the_shared_zip_runs_elsewhere_with_nothing_retyped(trained, tiny_datalist, tmp_path):
    """Unpacked outside the repository: `monai.bundle run` of inference.json as the Model Zoo runs it, with the
    datalist and output folder only; no record of the site's patients travelled."""
    folder, verification = unpack_verified(trained["zip"], tmp_path, [trained["root"] / "keys" / "signing-key.pub.pem"])
    assert verification.signer is not None and folder.name == "ms_activity_resnet3d"  # the bundle's name, not RUN's
    assert not (folder / RUN_RECORD).exists() and not (folder / RUN_PATIENTS).exists()
    shipped = "\n".join(p.read_text(errors="replace") for p in folder.rglob("*.json"))
    for key in json.loads((trained["run"] / RUN_PATIENTS).read_text())["training"]:
        assert key not in shipped
    testing = {"training": [], "testing": load_datalist(tiny_datalist, "testing")}
    write_datalist(tmp_path / "datalist.json", testing)
    result = subprocess.run([sys.executable, "-m", "monai.bundle", "run", "--config_file", "configs/inference.json",
                             "--datalist", str(tmp_path / "datalist.json"), "--output_dir", str(tmp_path / "out"),
                             "--mc_samples", "0"], cwd=folder, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    received = pd.read_csv(tmp_path / "out" / "predictions.csv")
    at_site = pd.read_csv(trained["root"] / "evaluation" / "predictions.csv")
    assert len(received) == len(testing["testing"])
    merged = received.merge(at_site, on=["patient", "last_visit_date"], suffixes=("_received", "_site"))
    assert np.allclose(merged["probability_active_received"], merged["probability_active_site"], atol=1e-5)
