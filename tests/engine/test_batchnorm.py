"""Batch-norm recalibration: running statistics become the average over the training batches of the final weights,
frozen layers are left alone, and the training/eval mode is restored."""

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
