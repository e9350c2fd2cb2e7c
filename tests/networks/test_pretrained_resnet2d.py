"""PretrainedResNet2D: torchvision-format weights from a file, clear errors, embedding, freezing, parameter groups."""

import logging
import math

import pytest
import torch
import torch.nn.functional as F

from msmonai.errors import UserError
from msmonai.networks import (
    RESNET18_WEIGHTS_URL,
    PretrainedResNet2D,
    SliceEmbedding,
    load_torchvision_resnet18_weights,
    resnet18_backbone,
)

SIZE = (8, 32, 32)


def torchvision_resnet18_state_dict() -> dict[str, torch.Tensor]:
    """Random weights under torchvision's ResNet18 parameter names and shapes, written from its layout."""
    generator = torch.Generator().manual_seed(0)
    state: dict[str, torch.Tensor] = {}

    def conv(name, c_out, c_in, k):
        state[f"{name}.weight"] = torch.randn(c_out, c_in, k, k, generator=generator) * math.sqrt(2.0 / (c_in * k * k))

    def bn(name, c):
        state[f"{name}.weight"] = 1.0 + 0.1 * torch.randn(c, generator=generator)
        state[f"{name}.bias"] = 0.1 * torch.randn(c, generator=generator)
        state[f"{name}.running_mean"] = 0.1 * torch.randn(c, generator=generator)
        state[f"{name}.running_var"] = 0.5 + torch.rand(c, generator=generator)
        state[f"{name}.num_batches_tracked"] = torch.tensor(1000)

    conv("conv1", 64, 3, 7)
    bn("bn1", 64)
    c_in = 64
    for layer, c_out in enumerate((64, 128, 256, 512), start=1):
        for block in (0, 1):
            prefix = f"layer{layer}.{block}"
            conv(f"{prefix}.conv1", c_out, c_in if block == 0 else c_out, 3)
            bn(f"{prefix}.bn1", c_out)
            conv(f"{prefix}.conv2", c_out, c_out, 3)
            bn(f"{prefix}.bn2", c_out)
            if block == 0 and layer > 1:
                conv(f"{prefix}.downsample.0", c_out, c_in, 1)
                bn(f"{prefix}.downsample.1", c_out)
        c_in = c_out
    state["fc.weight"] = torch.randn(1000, 512, generator=generator) * 0.01
    state["fc.bias"] = torch.zeros(1000)
    return state


def torchvision_resnet18_features(state: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """torchvision's ResNet18 forward in eval mode up to the pooled 512 features, written with torch.nn.functional."""

    def bn(h, name):
        mean, var = state[f"{name}.running_mean"], state[f"{name}.running_var"]
        return F.batch_norm(h, mean, var, state[f"{name}.weight"], state[f"{name}.bias"])

    h = F.max_pool2d(F.relu(bn(F.conv2d(x, state["conv1.weight"], stride=2, padding=3), "bn1")), 3, 2, 1)
    for layer in (1, 2, 3, 4):
        for block in (0, 1):
            prefix = f"layer{layer}.{block}"
            stride = 2 if layer > 1 and block == 0 else 1
            out = F.relu(bn(F.conv2d(h, state[f"{prefix}.conv1.weight"], stride=stride, padding=1), f"{prefix}.bn1"))
            out = bn(F.conv2d(out, state[f"{prefix}.conv2.weight"], padding=1), f"{prefix}.bn2")
            if f"{prefix}.downsample.0.weight" in state:
                h = bn(F.conv2d(h, state[f"{prefix}.downsample.0.weight"], stride=stride), f"{prefix}.downsample.1")
            h = F.relu(out + h)
    return h.mean(dim=(2, 3))


@pytest.fixture(scope="module")
def torchvision_state() -> dict[str, torch.Tensor]:
    return torchvision_resnet18_state_dict()


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory, torchvision_state):
    path = tmp_path_factory.mktemp("weights") / "resnet18-f37072fd.pth"
    torch.save(torchvision_state, path)
    return path


def test_torchvision_weights_load_and_compute_like_torchvision(weights_file, torchvision_state):
    state = torchvision_state
    net = PretrainedResNet2D(spatial_size=SIZE, pretrained_weights=str(weights_file)).eval()
    loaded = net.encoder.backbone.state_dict()
    assert set(loaded) == {k for k in state if not k.startswith("fc.")}
    for key, value in loaded.items():
        assert torch.equal(value, state[key]), key
    images = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(net.encoder.backbone(images), torchvision_resnet18_features(state, images))


def test_per_slice_encoding_feeds_each_grey_slice_to_the_imagenet_backbone_and_averages(weights_file, torchvision_state):
    net = PretrainedResNet2D(spatial_size=SIZE, pretrained_weights=str(weights_file)).eval()
    volumes = torch.rand(2, 1, 8, 32, 32) * 255.0
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    with torch.no_grad():
        for volume, features in zip(volumes, net.encode(volumes)):
            # torchvision's preprocessing of a grey image: [0, 1], replicated to RGB, ImageNet mean and std
            slices = (volume.transpose(0, 1) / 255.0 - mean) / std  # [D, 3, H, W]
            expected = torchvision_resnet18_features(torchvision_state, slices).mean(dim=0)
            torch.testing.assert_close(features, expected, rtol=1e-4, atol=1e-5)


def test_per_slice_features_do_not_mix_volumes_and_narrow_backbones_shrink_the_features():
    net = PretrainedResNet2D(spatial_size=SIZE, pretrained=False, width=0.25).eval()
    assert net.feature_dim == 128
    volumes = torch.rand(3, 1, 8, 32, 32) * 255.0
    with torch.no_grad():
        together = net.encode(volumes)
        alone = torch.cat([net.encode(v[None]) for v in volumes])
    assert together.shape == (3, 128)
    torch.testing.assert_close(together, alone, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="slice_encoding"):
        PretrainedResNet2D(spatial_size=SIZE, pretrained=False, slice_encoding="mip")


def test_older_files_without_batch_counters_load(tmp_path, torchvision_state):
    path = tmp_path / "old.pth"
    torch.save({k: v for k, v in torchvision_state.items() if not k.endswith("num_batches_tracked")}, path)
    backbone = resnet18_backbone()
    load_torchvision_resnet18_weights(backbone, path)
    for key, value in backbone.state_dict().items():
        assert key.endswith("num_batches_tracked") or torch.equal(value, torchvision_state[key]), key


def _assert_one_line_error(call, *fragments):
    with pytest.raises(UserError) as caught:
        call()
    message = str(caught.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message


def test_missing_file_names_path_and_url(tmp_path):
    path = tmp_path / "absent" / "resnet18-f37072fd.pth"
    _assert_one_line_error(
        lambda: PretrainedResNet2D(spatial_size=SIZE, pretrained_weights=str(path)), str(path), RESNET18_WEIGHTS_URL
    )


def test_pretrained_without_a_path_says_how_to_fix():
    _assert_one_line_error(
        lambda: PretrainedResNet2D(spatial_size=SIZE), "pretrained_weights", RESNET18_WEIGHTS_URL, "pretrained=False"
    )


def test_wrong_keys_and_shapes_are_named(tmp_path, torchvision_state):
    state = dict(torchvision_state)
    del state["layer4.1.bn2.weight"]
    state["layer5.0.conv1.weight"] = torch.zeros(1)
    state["conv1.weight"] = torch.zeros(64, 1, 7, 7)
    path = tmp_path / "wrong.pth"
    torch.save(state, path)
    _assert_one_line_error(
        lambda: load_torchvision_resnet18_weights(resnet18_backbone(), path),
        str(path),
        "missing keys layer4.1.bn2.weight",
        "unexpected keys layer5.0.conv1.weight",
        "wrong shape keys conv1.weight",
    )


def test_truncated_garbage_and_non_state_dict_files(tmp_path, weights_file):
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(weights_file.read_bytes()[: weights_file.stat().st_size // 2])
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"<html>404 Not Found</html>")
    listed = tmp_path / "list.pth"
    torch.save([torch.zeros(1)], listed)
    for path, reason in ((truncated, "not a readable"), (garbage, "not a readable"), (listed, "expected a state dict")):
        _assert_one_line_error(lambda: load_torchvision_resnet18_weights(resnet18_backbone(), path), str(path), reason)


def test_pretrained_false_is_logged(caplog):
    with caplog.at_level(logging.INFO, logger="msmonai.networks.pretrained_resnet2d"):
        PretrainedResNet2D(spatial_size=SIZE, pretrained=False)
    assert any("pretrained=False" in record.getMessage() for record in caplog.records)


def test_embedding_starts_as_imagenet_preprocessing_of_the_slice_mean():
    embedding = SliceEmbedding(depth=8, intensity_range=(0.0, 255.0))
    volumes = torch.rand(2, 1, 8, 16, 16) * 255.0
    grey = volumes.mean(dim=2) / 255.0  # [N, 1, H, W] in [0, 1]
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    with torch.no_grad():
        torch.testing.assert_close(embedding(volumes), (grey - mean) / std)
    assert embedding.conv.kernel_size == (1, 1) and embedding.conv.in_channels == 8


def test_embedding_weights_are_of_unit_scale_and_old_checkpoints_keep_their_meaning():
    embedding = SliceEmbedding(depth=8)
    assert embedding.conv.weight.abs().min() > 0.5 / 8  # Adam's steps of ~lr are small against them
    volumes = torch.rand(2, 1, 8, 16, 16) * 255.0
    # a checkpoint of the time before input_scale: weights for raw [0, 255] input, no buffer
    old = {"conv.weight": embedding.conv.weight / 255.0, "conv.bias": embedding.conv.bias.clone()}
    restored = SliceEmbedding(depth=8)
    restored.load_state_dict(old)
    assert float(restored.input_scale) == 1.0
    with torch.no_grad():
        torch.testing.assert_close(restored(volumes), embedding(volumes))


def test_frozen_backbone_does_not_train_and_keeps_batch_norm_statistics(make_batch):
    net = PretrainedResNet2D(spatial_size=SIZE, pretrained=False, freeze_backbone=True, slice_encoding="embedding").train()
    backbone = net.encoder.backbone
    assert not backbone.training and all(not m.training for m in backbone.modules())
    assert net.encoder.embedding.training and net.head.training
    assert not any(p.requires_grad for p in backbone.parameters())
    before = {k: v.clone() for k, v in backbone.state_dict().items()}
    image, edss, lengths = make_batch(2, 2, [2, 1])
    net(image, edss, lengths).sum().backward()
    assert all(torch.equal(before[k], v) for k, v in backbone.state_dict().items())
    assert all(p.grad is None for p in backbone.parameters())
    assert net.encoder.embedding.conv.weight.grad is not None
    groups = net.parameter_groups(lr=1e-3)
    assert len(groups) == 1 and groups[0]["lr"] == 1e-3
    assert {id(p) for p in groups[0]["params"]} == {id(p) for p in net.parameters() if p.requires_grad}


def test_parameter_groups_give_the_backbone_a_smaller_learning_rate():
    net = PretrainedResNet2D(spatial_size=SIZE, pretrained=False)
    head_group, backbone_group = net.parameter_groups(lr=1e-4, backbone_lr_scale=0.1)
    assert head_group["lr"] == 1e-4 and backbone_group["lr"] == pytest.approx(1e-5)
    backbone_ids = {id(p) for p in net.encoder.backbone.parameters()}
    assert {id(p) for p in backbone_group["params"]} == backbone_ids
    assert {id(p) for p in head_group["params"]} == {id(p) for p in net.parameters()} - backbone_ids
    optimizer = torch.optim.Adam(net.parameter_groups(lr=1e-4))
    assert [g["lr"] for g in optimizer.param_groups] == [1e-4, pytest.approx(1e-5)]
