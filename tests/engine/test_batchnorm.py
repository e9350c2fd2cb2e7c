"""Batch-norm recalibration: running statistics become the average over the training batches of the final weights,
frozen layers are left alone, and the training/eval mode is restored."""

import pytest
import torch

from msmonai.engine import recalibrate_batchnorm
from msmonai.networks import PretrainedResNet2D, ResNet3D


def forward(model, batch):
    image, edss, lengths = batch
    model(image, edss, lengths)


def test_running_statistics_are_the_average_of_the_batch_statistics():
    torch.manual_seed(0)
    net = ResNet3D(spatial_size=(4, 16, 16), channels=(4,), strides=(1,), blocks_per_stage=(1,)).eval()
    batches = [(torch.rand(2, 2, 1, 4, 16, 16) * 255 + 10 * i, torch.rand(2, 2, 8), torch.tensor([2, 1])) for i in range(3)]
    stem_norm = net.encoder.stem[1]
    stem_norm.running_mean.fill_(123.0)  # stale statistics, as momentum 0.1 leaves them
    assert recalibrate_batchnorm(net, batches, forward) > 0
    expected = []
    with torch.no_grad():
        for image, _, _ in batches:
            real = torch.stack([image[0, 0], image[0, 1], image[1, 0]])  # the real visits of lengths [2, 1]
            expected.append(net.encoder.stem[0](real).mean(dim=(0, 2, 3, 4)))
    assert torch.allclose(stem_norm.running_mean, torch.stack(expected).mean(0), rtol=1e-4, atol=1e-4)
    assert stem_norm.momentum == 0.1
    assert not net.training


def test_frozen_backbone_keeps_its_statistics():
    torch.manual_seed(0)
    net = PretrainedResNet2D(spatial_size=(4, 32, 32), pretrained=False, freeze_backbone=True)
    before = {k: v.clone() for k, v in net.encoder.backbone.state_dict().items() if "running" in k}
    batches = [(torch.rand(2, 1, 1, 4, 32, 32) * 255, torch.rand(2, 1, 8), torch.tensor([1, 1]))]
    assert recalibrate_batchnorm(net, batches, forward) == 0
    after = net.encoder.backbone.state_dict()
    assert all(torch.equal(value, after[key]) for key, value in before.items())
    assert net.training


def test_statistics_equal_pytorch_cumulative_average_on_ordinary_batches():
    """The per-batch sums give what PyTorch's own training-mode forward with momentum=None gives."""
    torch.manual_seed(0)
    ours = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.ReLU(), torch.nn.BatchNorm2d(4))
    theirs = type(ours)(*[type(m)(4) if isinstance(m, torch.nn.BatchNorm2d) else m for m in ours])
    theirs.load_state_dict(ours.state_dict())
    batches = [torch.randn(n, 3, 6, 6) * (i + 1) + i for i, n in enumerate((2, 5, 3))]
    recalibrate_batchnorm(ours, batches, lambda model, batch: model(batch))
    theirs.train()
    for layer in (theirs[1], theirs[3]):
        layer.reset_running_stats()
        layer.momentum = None
    with torch.no_grad():
        for batch in batches:
            theirs(batch)
    for mine, reference in ((ours[1], theirs[1]), (ours[3], theirs[3])):
        assert torch.allclose(mine.running_mean, reference.running_mean, atol=1e-5)
        assert torch.allclose(mine.running_var, reference.running_var, atol=1e-4)
        assert int(mine.num_batches_tracked) == 3


def test_a_batch_of_one_with_a_one_by_one_feature_map_is_recalibrated():
    """PyTorch refuses one value per channel in training mode ([1, 512, 1, 1] in a federated site's 2D encoder)."""
    torch.manual_seed(0)
    net = PretrainedResNet2D(spatial_size=(2, 16, 16), pretrained=False, slice_encoding="embedding")
    batches = [(torch.rand(1, 1, 1, 2, 16, 16) * 255, torch.rand(1, 1, 8), torch.tensor([1])) for _ in range(2)]
    with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
        net.train()(*batches[0])
    assert recalibrate_batchnorm(net, batches, forward) > 0
    for layer in net.modules():
        if isinstance(layer, torch.nn.BatchNorm2d):
            assert torch.isfinite(layer.running_mean).all() and (layer.running_var >= 0).all()
    net.eval()
    assert torch.isfinite(net(*batches[0])).all()
