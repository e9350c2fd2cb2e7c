"""metrics.json of a cv run from its out-of-fold predictions, and `msmonai compare` end to end on two cv dirs."""

import json

import numpy as np
import pandas as pd
import pytest

from msmonai.cli import main
from msmonai.errors import UserError
from msmonai.evaluation import apply_threshold, binary_metrics, summarize_predictions
from msmonai.evaluation.compare import compare_runs
from msmonai.evaluation.cv_dir import read_cv_dir, write_cv_dir


def oof_predictions(seed: int, signal: float, n_patients: int = 30, folds: int = 3) -> pd.DataFrame:
    """Synthetic out-of-fold predictions: 1-4 observations per patient, folds by patient."""
    rng = np.random.default_rng(seed)
    visits = rng.integers(1, 5, size=n_patients)
    patient = np.repeat(np.arange(n_patients), visits)
    label = rng.integers(0, 2, size=patient.size)
    probability = np.clip(signal * label + (1 - signal) * rng.random(patient.size), 0, 1)
    return pd.DataFrame(
        {
            "patient": [f"P-{p:016x}" for p in patient],
            "fold": patient % folds,
            "last_visit_date": [f"{2015 + i % 5}-06-01" for i in range(patient.size)],
            "label": label,
            "probability_active": probability,
            "prediction": apply_threshold(probability, 0.5),
            "uncertainty": rng.random(patient.size) * 0.2,
        }
    )


def make_cv_dir(path, model, seed, signal):
    predictions = oof_predictions(seed, signal)
    metrics = summarize_predictions(predictions, n_boot=200, seed=seed)
    return write_cv_dir(path, predictions, {"model": model, "bundle": f"bundles/{model}", "threshold": 0.5}, metrics)


def test_summary_pools_folds_patients_and_uncertainty():
    predictions = oof_predictions(seed=0, signal=0.4)
    summary = summarize_predictions(predictions, n_boot=200, seed=1)
    json.dumps(summary, allow_nan=False)
    assert summary["n"] == len(predictions) and summary["n_patients"] == 30
    assert summary["pooled"] == binary_metrics(predictions["label"], predictions["prediction"], predictions["probability_active"])
    assert [f["fold"] for f in summary["per_fold"]] == [0, 1, 2]
    for entry in summary["per_fold"]:
        rows = predictions[predictions["fold"] == entry["fold"]]
        assert entry["n"] == len(rows)
        assert entry["f1"] == binary_metrics(rows["label"], rows["prediction"])["f1"]
    for metric, interval in summary["intervals"].items():
        assert interval["low"] <= interval["value"] <= interval["high"], metric
    assert sum(b["n"] for b in summary["error_by_uncertainty"]) == len(predictions)
    assert 0 <= summary["brier"] <= 1


def test_summary_needs_every_label_and_consistent_folds():
    predictions = oof_predictions(seed=0, signal=0.4)
    unlabelled = predictions.assign(label=None)
    with pytest.raises(UserError, match="no labels"):
        summarize_predictions(unlabelled, n_boot=10)
    partly = predictions.astype({"fold": "object"})
    partly.loc[3, "fold"] = None
    with pytest.raises(UserError, match="row 4: fold is empty while other rows have one"):
        summarize_predictions(partly, n_boot=10)


def test_compare_end_to_end(tmp_path, capsys, assert_png):
    first = make_cv_dir(tmp_path / "cv_resnet3d", "ResNet3D", seed=1, signal=0.3)
    second = make_cv_dir(tmp_path / "cv_2d", "PretrainedResNet2D", seed=2, signal=0.45)
    out = tmp_path / "comparison"
    assert main(["compare", str(first), str(second), "--out", str(out)]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3

    markdown = (out / "comparison.md").read_text().splitlines()
    assert markdown[0] == "| Architecture | Accuracy | Precision | Recall | F1-score | Fb-score | ROC AUC | PR AUC |"
    assert markdown[2].startswith("| ResNet3D | ") and markdown[3].startswith("| PretrainedResNet2D | ")
    table = pd.read_csv(out / "comparison.csv")
    for run_dir, (_, row) in zip((first, second), table.iterrows()):
        intervals = read_cv_dir(run_dir).metrics["intervals"]
        assert row["F1-score"] == pytest.approx(intervals["f1"]["value"])
        assert row["Fb-score_low"] == pytest.approx(intervals["fbeta"]["low"])
        assert row["ROC AUC"] == pytest.approx(intervals["roc_auc"]["value"])
        assert f"{intervals['accuracy']['value']:.3f} ({intervals['accuracy']['low']:.3f}–" in "\n".join(markdown)
    assert_png(out / "comparison.png", min_colours=50)


def test_compare_adds_the_baselines_of_the_first_run_and_says_whether_each_model_beats_them(tmp_path):
    model = make_cv_dir(tmp_path / "cv", "ResNet3D", seed=1, signal=0.45)
    make_cv_dir(model / "baselines" / "weak", "baseline: weak", seed=4, signal=0.05)
    strong = make_cv_dir(model / "baselines" / "strong", "baseline: strong", seed=5, signal=0.6)
    table = compare_runs([model], tmp_path / "out")
    assert list(table["Architecture"]) == ["ResNet3D", "baseline: strong", "baseline: weak"]
    model_auc = read_cv_dir(model).metrics["intervals"]["roc_auc"]["value"]
    strong_auc = read_cv_dir(strong).metrics["intervals"]["roc_auc"]["value"]
    verdict = (tmp_path / "out" / "comparison.md").read_text().splitlines()[-1]
    assert verdict.startswith("- ResNet3D: ROC AUC")
    assert ("does NOT beat the best baseline" in verdict) == (model_auc <= strong_auc)
    assert "best: baseline: strong" in verdict


def test_compare_user_errors(tmp_path, capsys):
    run = make_cv_dir(tmp_path / "cv", "ResNeXt", seed=3, signal=0.5)
    assert main(["compare", str(run), "--out", str(tmp_path / "o"), "--names", "a", "b"]) == 2
    assert "2 names for 1 directories" in capsys.readouterr().err
    (run / "metrics.json").unlink()
    assert main(["compare", str(run), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "metrics.json: not found" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()
