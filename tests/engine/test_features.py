"""The frozen-backbone fast path: features computed once per distinct visit, a head-only module with the network's
checkpoint keys, and the bundle overlay ``configs/frozen_backbone.json`` run as users run it."""

import json
import subprocess

import pandas as pd
import pytest
import torch

from msmonai.bundle_tools.runner import bundle_command, run_bundle
from msmonai.engine import VisitSequenceDataset, VisitVolumes, collate_sequences, load_datalist
from msmonai.engine.features import FeatureBatch, FeatureClassifier, VisitFeatureDataset, collate_features
from msmonai.networks import PretrainedResNet2D
from msmonai.transforms import preprocessing_transforms
from tests.bundles.conftest import REPO, TINY_SPATIAL_SIZE, tiny_overrides

SIZE = tuple(TINY_SPATIAL_SIZE)
BUNDLE = REPO / "bundles" / "ms_activity_pretrained_resnet2d"


@pytest.fixture(scope="module")
def cohort(tiny_datalist):
    items = load_datalist(tiny_datalist, "all")
    return items, VisitVolumes(items, preprocessing_transforms(SIZE), progress=False)


def frozen_network(seed: int = 0) -> PretrainedResNet2D:
    torch.manual_seed(seed)
    return PretrainedResNet2D(SIZE, pretrained=False, freeze_backbone=True)


def test_each_distinct_visit_is_encoded_once_in_batches(cohort):
    items, volumes = cohort
    network = frozen_network()
    calls = []
    network.encoder.register_forward_hook(lambda module, args, out: calls.append(args[0].shape[0]))
    dataset = VisitFeatureDataset(items, volumes, network, batch_size=5)
    assert not calls  # nothing is encoded before the first item is read
    for _ in range(2):  # two epochs
        for i in range(len(dataset)):
            item = dataset[i]
            assert item["features"].shape == (len(items[i]["visits"]), network.feature_dim)
            assert "image" not in item and item["length"] == len(items[i]["visits"])
    assert sum(calls) == len(volumes) == len({tuple(v["image"]) for it in items for v in it["visits"]})
    assert calls == [5] * (len(volumes) // 5) + ([len(volumes) % 5] if len(volumes) % 5 else [])
    visit = items[3]["visits"][-1]["image"]
    with torch.no_grad():
        expected = network.eval().encode(volumes.volume(visit)[None].float())[0]
    assert torch.allclose(dataset[3]["features"][-1], expected, atol=1e-5)


def test_features_use_the_weights_loaded_after_the_dataset_was_built(cohort):
    """Evaluation loads the checkpoint at the evaluator's start, after the dataset exists."""
    items, volumes = cohort
    network = frozen_network(seed=0)
    dataset = VisitFeatureDataset(items, volumes, network)
    trained = frozen_network(seed=1)
    network.load_state_dict(trained.state_dict())
    with torch.no_grad():
        expected = trained.eval().encode(volumes.volume(items[0]["visits"][0]["image"])[None].float())[0]
    assert torch.allclose(dataset[0]["features"][0], expected, atol=1e-5)


def test_wrapper_logits_equal_the_full_network_and_its_state_dict_is_the_networks(cohort):
    items, volumes = cohort
    network = frozen_network()
    wrapper = FeatureClassifier(network).eval()
    assert list(wrapper.state_dict()) == list(network.state_dict())
    assert all(wrapper.state_dict()[k].data_ptr() == v.data_ptr() for k, v in network.state_dict().items())  # shared
    assert {id(p) for p in wrapper.parameters() if p.requires_grad} == {id(p) for p in network.head.parameters()}

    chosen = [0, 5, 7, 2]  # sequences of different lengths, so padding is exercised
    images = collate_sequences([VisitSequenceDataset(items, volumes)[i] for i in chosen])
    features = collate_features([VisitFeatureDataset(items, volumes, network)[i] for i in chosen])
    assert images["length"].tolist() == features["length"].tolist() and len(set(features["length"].tolist())) > 1
    args = FeatureBatch()(features, device="cpu")
    with torch.no_grad():
        full = network.eval()(images["image"].float(), images["edss"], images["length"])
        fast = wrapper(args[0], *args[2])
    assert torch.allclose(fast, full, atol=1e-5)

    other = frozen_network(seed=1)  # a checkpoint of the full network loads into the wrapper and back
    wrapper.load_state_dict(other.state_dict())
    assert all(torch.equal(network.state_dict()[k], v) for k, v in other.state_dict().items())


@pytest.mark.slow
def test_overlay_trains_two_epochs_and_its_checkpoint_evaluates_in_the_normal_workflow(tiny_datalist, tmp_path):
    overrides = tiny_overrides(tiny_datalist, tmp_path, num_epochs=2)
    train = bundle_command(BUNDLE, "train", overrides)
    train[train.index("--config_file") + 1] = json.dumps(
        [str(BUNDLE / "configs" / name) for name in ("train.json", "frozen_backbone.json")])
    with open(tmp_path / "train.log", "w") as log:
        assert subprocess.run(train, stdout=log, stderr=subprocess.STDOUT).returncode == 0, (tmp_path / "train.log").read_text()
    assert torch.load(tmp_path / "models" / "last.pt", weights_only=True)["trainer"]["epoch"] == 2
    checkpoint = torch.load(tmp_path / "models" / "model.pt", weights_only=True)
    assert list(checkpoint) == list(PretrainedResNet2D(TINY_SPATIAL_SIZE, pretrained=False).state_dict())

    run_bundle(BUNDLE, "evaluate", overrides, log_file=tmp_path / "evaluate.log")
    fast = overrides | {"output_dir": str(tmp_path / "eval_fast")}
    evaluate = bundle_command(BUNDLE, "evaluate", fast)
    evaluate[evaluate.index("--config_file") + 1] = json.dumps(
        [str(BUNDLE / "configs" / name) for name in ("train.json", "frozen_backbone.json", "evaluate.json")])
    assert subprocess.run(evaluate, capture_output=True).returncode == 0
    normal = pd.read_csv(tmp_path / "eval" / "predictions.csv")
    cached = pd.read_csv(tmp_path / "eval_fast" / "predictions.csv")
    assert len(normal) == len(json.loads(tiny_datalist.read_text())["testing"])
    assert normal["probability_active"].tolist() == pytest.approx(cached["probability_active"].tolist(), abs=1e-5)
