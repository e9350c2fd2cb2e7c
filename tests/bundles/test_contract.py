"""Every shipped bundle defines, for each workflow, the config ids msmonai's Python reads or sets."""

import json
import shutil

import pytest

from msmonai.bundle_tools import contract
from msmonai.bundle_tools.layout import TRAIN_CONFIG
from tests.bundles.conftest import BUNDLES, REPO


@pytest.mark.parametrize("workflow", contract.ALL)
@pytest.mark.parametrize("name", BUNDLES)
def test_each_workflow_defines_the_ids_msmonai_uses(name, workflow):
    assert contract.missing_ids(REPO / "bundles" / name, workflow) == []


def test_a_bundle_without_a_required_id_is_named(tmp_path):
    bundle = shutil.copytree(REPO / "bundles" / BUNDLES[0], tmp_path / "bundle")
    config = json.loads((bundle / TRAIN_CONFIG).read_text())
    del config["val_fold"], config["validate"]["handlers"]
    (bundle / TRAIN_CONFIG).write_text(json.dumps(config))
    assert contract.missing_ids(bundle, "train") == [contract.VAL_FOLD, contract.VALIDATION_HANDLERS]
    assert contract.missing_ids(bundle, "inference") == []  # inference.json's own handlers replace train.json's


def test_overlays_and_overrides_fold_into_train_json_but_run_local_ids_do_not():
    bundle = REPO / "bundles" / BUNDLES[0]
    folded = contract.folded_train_config(bundle, ["configs/cpu_small.json"],
                                          {"num_epochs": 3, "ckpt_path": "/elsewhere/model.pt", "train#handlers#0#seed": 5,
                                           "device": "$torch.device('cpu')"})
    original = json.loads((bundle / TRAIN_CONFIG).read_text())
    assert folded["channels"] == json.loads((bundle / "configs/cpu_small.json").read_text())["channels"]
    assert folded["num_epochs"] == 3 and folded["train"]["handlers"][0]["seed"] == 5
    assert folded["ckpt_path"] == original["ckpt_path"] and folded["device"] == original["device"]
    assert "_meta_" not in folded
