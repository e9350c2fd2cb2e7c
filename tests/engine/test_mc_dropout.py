"""Monte-Carlo dropout: the head-only sampling equals full stochastic passes, and eval mode is restored."""

import torch

from msmonai.engine import mc_dropout_probabilities
from msmonai.engine.mc_dropout import DROPOUT_TYPES
from msmonai.networks import ResNet3D


def test_head_only_sampling_matches_full_passes_and_restores_modes():
    torch.manual_seed(0)
    net = ResNet3D(spatial_size=(4, 16, 16), channels=(4, 8), strides=(1, 2), blocks_per_stage=(1, 1), dropout=0.5).eval()
    image, edss, lengths = torch.rand(3, 2, 1, 4, 16, 16), torch.rand(3, 2, 8), torch.tensor([2, 1, 2])
    torch.manual_seed(1)
    fast = mc_dropout_probabilities(net, (image, edss, lengths), samples=8)
    assert not any(m.training for m in net.modules())
    # the same samples from full forward passes with only the dropout layers in training mode
    torch.manual_seed(1)
    for m in net.modules():
        if isinstance(m, DROPOUT_TYPES):
            m.train()
    with torch.no_grad():
        full = torch.stack([torch.softmax(net(image, edss, lengths), 1)[:, 1] for _ in range(8)])
    assert fast.shape == (8, 3)
    assert torch.allclose(fast, full, atol=1e-6)
    assert fast.std(0).gt(0).all()  # dropout really samples
