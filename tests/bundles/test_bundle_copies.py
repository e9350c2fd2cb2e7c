"""The files every bundle carries by design stay identical, and each ``train.json`` differs from the others only in
the ids that make its architecture: a fix made in one bundle cannot silently miss the other two."""

import json

import pytest

from tests.bundles.conftest import BUNDLES, REPO

SHARED = ("configs/evaluate.json", "configs/inference.json", "configs/multi_gpu_train.json", "configs/logging.conf",
          "LICENSE")
REFERENCE = "ms_activity_resnet3d"
ARCHITECTURE_IDS = {  # ids of train.json that may differ from the ResNet3D bundle's, and why
    "ms_activity_resnext3d": {
        "num_epochs", "weight_decay", "optimizer#_target_", "optimizer#weight_decay",  # the paper's NAdam schedule
        "network_def#_target_", "checkpoint_stem", "network_def#checkpoint_stem", "encode_chunk",
        "network_def#encode_chunk",  # memory saving that fits each encoder
    },
    "ms_activity_pretrained_resnet2d": {
        "network_def#_target_", "checkpoint_stem", "network_def#checkpoint_stem", "pretrained", "pretrained_weights",
        "network_def#pretrained", "network_def#pretrained_weights", "freeze_backbone", "network_def#freeze_backbone",
        "backbone_lr_scale", "optimizer#params",  # ImageNet weights and the backbone's learning rate
    },
}


def flat(value, prefix: str = "") -> dict:
    """``{"a#b#0": leaf}`` of a nested config, with MONAI's ``#`` id syntax."""
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return {prefix: value}
    out = {}
    for key, item in items:
        out.update(flat(item, f"{prefix}#{key}" if prefix else str(key)))
    return out


@pytest.mark.parametrize("name", SHARED)
def test_shared_files_are_identical(name):
    contents = {bundle: (REPO / "bundles" / bundle / name).read_bytes() for bundle in BUNDLES}
    assert len(set(contents.values())) == 1, f"{name} differs between bundles"


@pytest.mark.parametrize("bundle", sorted(ARCHITECTURE_IDS))
def test_train_configs_differ_only_in_architecture_ids(bundle):
    def train(name: str) -> dict:
        return flat(json.loads((REPO / "bundles" / name / "configs" / "train.json").read_text()))

    reference, other = train(REFERENCE), train(bundle)
    differing = {key for key in reference.keys() | other.keys() if reference.get(key, KeyError) != other.get(key, KeyError)}
    assert differing <= ARCHITECTURE_IDS[bundle], sorted(differing - ARCHITECTURE_IDS[bundle])
    assert {"network_def#_target_"} <= differing
