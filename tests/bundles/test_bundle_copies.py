"""The files every bundle carries by design stay identical, and each ``train.json`` and ``inference.json`` differs
from the others only in the ids that make its architecture: a fix made in one bundle cannot silently miss the other
two."""

import json

import pytest

from tests.bundles.conftest import BUNDLES, REPO

SHARED = ("configs/evaluate.json", "configs/multi_gpu_train.json", "configs/logging.conf", "LICENSE")
REFERENCE = "ms_activity_resnet3d"
ARCHITECTURE_IDS = {  # ids of train.json that may differ from the ResNet3D bundle's, and why
    "ms_activity_resnext3d": {
        "num_epochs", "weight_decay", "optimizer#_target_", "optimizer#weight_decay",  # the paper's NAdam schedule
        "optimizer#decoupled_weight_decay",  # ... with the decay decoupled from the gradient
        "normalized", "network_def#normalized",  # batch-norm + stem max-pool, or the paper's self-normalising network
        "network_def#_target_", "checkpoint_stem", "network_def#checkpoint_stem", "encode_chunk",
        "network_def#encode_chunk",  # memory saving that fits each encoder
        "mid_channels", "network_def#mid_channels",  # the ResNeXt blocks' bottleneck widths
    },
    "ms_activity_pretrained_resnet2d": {
        "network_def#_target_", "checkpoint_stem", "network_def#checkpoint_stem", "pretrained", "pretrained_weights",
        "network_def#pretrained", "network_def#pretrained_weights", "freeze_backbone", "network_def#freeze_backbone",
        "backbone_lr_scale", "optimizer#params",  # ImageNet weights and the backbone's learning rate
        "channels", "network_def#channels",  # ResNet18's widths are fixed ...
        "backbone_width", "network_def#width",  # ... up to a factor for CPU schedules without ImageNet weights
        "slice_encoding", "network_def#slice_encoding",  # each slice through the backbone, or the paper's embedding
        "pooling", "network_def#pooling",  # the 3D encoders' global pooling; ResNet18 pools each slice itself
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


def differing_ids(bundle: str, config: str, nested: bool = True) -> set:
    """Ids whose values differ from the ResNet3D bundle's (leaves when ``nested``, else top-level ids)."""
    def read(name: str) -> dict:
        content = json.loads((REPO / "bundles" / name / "configs" / config).read_text())
        return flat(content) if nested else content

    reference, other = read(REFERENCE), read(bundle)
    return {key for key in reference.keys() | other.keys() if reference.get(key, KeyError) != other.get(key, KeyError)}


def unexplained(differing: set, bundle: str) -> list:
    """The differing ids that are neither an architecture id nor inside one (``channels#0``)."""
    allowed = ARCHITECTURE_IDS[bundle]
    return sorted(key for key in differing if not any(key == a or key.startswith(f"{a}#") for a in allowed))


@pytest.mark.parametrize("bundle", sorted(ARCHITECTURE_IDS))
def test_train_configs_differ_only_in_architecture_ids(bundle):
    differing = differing_ids(bundle, "train.json")
    assert not unexplained(differing, bundle), unexplained(differing, bundle)
    assert {"network_def#_target_"} <= differing


@pytest.mark.parametrize("bundle", sorted(ARCHITECTURE_IDS))
def test_inference_configs_differ_only_in_the_architecture_ids_they_take_from_train(bundle):
    """inference.json stands alone by macros of train.json ids; it names the ids its network_def refers to."""
    differing = differing_ids(bundle, "inference.json", nested=False)
    assert differing and not unexplained(differing, bundle), unexplained(differing, bundle)
    for name in (REFERENCE, bundle):
        inference = json.loads((REPO / "bundles" / name / "configs" / "inference.json").read_text())
        assert all(inference[key] == f"%configs/train.json#{key}" for key in differing if key in inference)


@pytest.mark.parametrize("bundle", BUNDLES)
def test_overlays_set_top_level_ids_only(bundle):
    """A nested id in an overlay would land inside one of inference.json's macros before MONAI expands it."""
    for overlay in ("cpu_small.json", "paper_recipe.json"):
        path = REPO / "bundles" / bundle / "configs" / overlay
        if path.is_file():
            assert not [key for key in json.loads(path.read_text()) if "#" in key or "::" in key], path
