"""The MONAI Model Zoo's checks, offline: metadata schema, network input/output, TorchScript export."""

import json

import pytest
import torch
from monai.bundle import ConfigParser, ckpt_export, verify_metadata, verify_net_in_out

from msmonai.bundle_tools.sharing import metadata_schema
from tests.bundles.conftest import BUNDLES, REPO, TINY_SPATIAL_SIZE

SCHEMA = metadata_schema()


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


# Each case is metadata that MONAI's published meta_schema_20240725.json rejects (its "required" lists, the tensor
# definition, the *_data_format pattern and the property types); the package's schema must reject it too.
REAL_SCHEMA_REQUIRED = ("schema", "version", "monai_version", "pytorch_version", "numpy_version",
                        "required_packages_version", "task", "description", "authors", "copyright",
                        "network_data_format")
TENSOR_REQUIRED = ("type", "format", "num_channels", "spatial_shape", "dtype", "value_range")


def rejected_by_monai_schema():
    for field in REAL_SCHEMA_REQUIRED:
        yield f"without {field}", lambda m, f=field: m.pop(f)
    for name in ("image", "edss", "lengths"):
        for field in TENSOR_REQUIRED:
            yield f"input {name} without {field}", lambda m, n=name, f=field: m["network_data_format"]["inputs"][n].pop(f)
    yield "network_data_format without outputs", lambda m: m["network_data_format"].pop("outputs")
    yield "another_data_format without inputs", lambda m: m.update(another_data_format={"outputs": {}})
    yield "references not a list", lambda m: m.update(references="a paper")
    yield "eval_metrics not an object", lambda m: m.update(eval_metrics="0.9")
    yield "pred_classes not a string", lambda m: m.update(pred_classes=["remission", "active"])


@pytest.mark.parametrize("case, mutate", list(rejected_by_monai_schema()), ids=lambda v: v if isinstance(v, str) else "")
def test_package_schema_is_never_looser_than_monai_meta_schema_20240725(case, mutate, tmp_path):
    _, meta = configs(BUNDLES[0])
    metadata = json.loads(open(meta).read())
    mutate(metadata)
    bad = tmp_path / "metadata.json"
    bad.write_text(json.dumps(metadata))
    with pytest.raises(ValueError):
        verify_metadata(meta_file=str(bad), filepath=str(SCHEMA))


@pytest.mark.parametrize("bundle", BUNDLES)
@pytest.mark.parametrize("workflow, workflow_type", [("train", "train"), ("evaluate", "infer"), ("inference", "infer")])
def test_monai_check_properties_passes(bundle, workflow, workflow_type, tiny_datalist, tmp_path, monkeypatch):
    """The ids MONAI's train and infer properties require (trainer, inferer, dataset, evaluator...) are declared,
    so MONAI tooling and monai.fl can drive every workflow."""
    from monai.bundle import ConfigWorkflow

    from msmonai.bundle_tools.layout import config_files
    from tests.bundles.conftest import tiny_overrides

    root = REPO / "bundles" / bundle
    monkeypatch.chdir(root)  # where bundle commands run and inference.json's macros resolve
    overrides = tiny_overrides(tiny_datalist, tmp_path)
    if "2d" in bundle:
        overrides["pretrained"] = False
    flow = ConfigWorkflow(config_file=config_files(root, workflow), workflow_type=workflow_type,
                          meta_file=str(root / "configs" / "metadata.json"), **overrides)
    flow.initialize()
    assert flow.check_properties() == []
    assert flow.bundle_root and flow.network_def is not None
