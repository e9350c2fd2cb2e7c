"""The default recipe learns: a short seeded training of each bundle on a tiny cohort with a planted image signal
ranks its held-out observations far better than chance (chance: ROC AUC 0.5; the 8 held-out observations hold 4
active ones, and exactly one random ranking in ten reaches the bound below; the run is deterministic)."""

import json

import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from msmonai.bundle_tools.runner import run_bundle
from tests.bundles.conftest import REPO, tiny_overrides
from tests.cohort import write_tiny_cohort

pytestmark = pytest.mark.slow

AUC_BOUND = 0.8


@pytest.mark.parametrize("bundle", ["ms_activity_resnet3d", "ms_activity_resnext3d", "ms_activity_pretrained_resnet2d"])
def test_held_out_ranking_clears_a_bound_chance_fails(bundle, tmp_path):
    datalist = write_tiny_cohort(tmp_path / "cohort", seed=1, n_patients=16)
    overrides = tiny_overrides(datalist, tmp_path, num_epochs=8)
    run_bundle(REPO / "bundles" / bundle, "train", overrides, log_file=tmp_path / "train.log")
    run_bundle(REPO / "bundles" / bundle, "evaluate", overrides, log_file=tmp_path / "evaluate.log")
    predictions = pd.read_csv(tmp_path / "eval" / "predictions.csv")
    testing = json.loads(datalist.read_text())["testing"]
    assert len(predictions) == len(testing) and 0 < predictions["label"].sum() < len(testing)
    assert roc_auc_score(predictions["label"], predictions["probability_active"]) >= AUC_BOUND
