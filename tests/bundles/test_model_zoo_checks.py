"""The MONAI Model Zoo's checks, offline: metadata schema, network input/output, TorchScript export."""

import json

import pytest
import torch
from monai.bundle import ConfigParser, ckpt_export, verify_metadata, verify_net_in_out

from tests.bundles.conftest import BUNDLES, REPO, TINY_SPATIAL_SIZE

SCHEMA = REPO / "bundles" / "meta_schema.json"


def configs(bundle: str) -> tuple[str, str]:
    root = REPO / "bundles" / bundle / "configs"
    return str(root / "train.json"), str(root / "metadata.json")


@pytest.mark.parametrize("bundle", BUNDLES)
def test_metadata_verifies_against_the_offline_schema(bundle):
    _, meta = configs(bundle)
    verify_metadata(meta_file=meta, filepath=str(SCHEMA))  # raises ValueError on a violation
    assert json.loads(open(meta).read())["required_packages_version"]["msmonai"]


@pytest.mark.parametrize("bundle", BUNDLES)
def test_network_input_and_output_match_the_metadata(bundle):
    train, meta = configs(bundle)
    verify_net_in_out(
        net_id="network_def", config_file=train, meta_file=meta, device="cpu",
        extra_forward_args={"edss": torch.rand(1, 1, 8), "lengths": torch.ones(1, dtype=torch.int64)},
        **{"bundle_root": str(REPO / "bundles" / bundle), "pretrained": False} if "2d" in bundle else {},
    )


@pytest.mark.parametrize("bundle", BUNDLES)
def test_torchscript_export_gives_the_eager_outputs(bundle, tmp_path):
    train, meta = configs(bundle)
    overrides = {"spatial_size": TINY_SPATIAL_SIZE, "bundle_root": str(tmp_path)}
    if "2d" in bundle:
        overrides["pretrained"] = False
    parser = ConfigParser()
    parser.read_config(train)
    parser.update(overrides)
    net = parser.get_parsed_content("network_def").eval()
    torch.save(net.state_dict(), tmp_path / "model.pt")
    ckpt_export(net_id="network_def", filepath=str(tmp_path / "model.ts"), ckpt_file=str(tmp_path / "model.pt"),
                meta_file=meta, config_file=train, **overrides)
    scripted = torch.jit.load(str(tmp_path / "model.ts"))
    gen = torch.Generator().manual_seed(0)
    image = torch.rand(2, 3, 1, *TINY_SPATIAL_SIZE, generator=gen) * 255
    edss = torch.rand(2, 3, 8, generator=gen)
    lengths = torch.tensor([3, 2])
    with torch.no_grad():
        assert torch.allclose(scripted(image, edss, lengths), net(image, edss, lengths), atol=1e-5)
