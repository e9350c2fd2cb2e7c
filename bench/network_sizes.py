"""Parameter counts and forward FLOPs of the three networks at their default configuration.

Run: ``.venv/bin/python -m bench.network_sizes`` (about 10 s on 2 CPU cores). One visit (B = 1, T = 1) of
a ``1 x 50 x 128 x 128`` volume plus 8 EDSS subscores, eval mode. FLOPs are counted by
``torch.utils.flop_counter.FlopCounterMode`` (convolutions and matrix products, 1 multiply-add = 2 FLOPs;
element-wise operations, pooling and the RNN's fused kernel are not counted -- all negligible here).
"""

from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode

from msmonai.networks import PretrainedResNet2D, ResNet3D, ResNeXt3D, VisitSequenceNetwork
from msmonai.constants import DEFAULT_SPATIAL_SIZE


def measure(net: VisitSequenceNetwork) -> dict:
    """Parameters (total, trainable), feature size and forward FLOPs of ``net`` on one default-size visit."""
    image = torch.rand(1, 1, 1, *net.spatial_size) * 255.0
    edss = torch.zeros(1, 1, net.edss_dim)
    lengths = torch.ones(1, dtype=torch.int64)
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        net.eval()(image, edss, lengths)
    return {
        "parameters": sum(p.numel() for p in net.parameters()),
        "trainable": sum(p.numel() for p in net.parameters() if p.requires_grad),
        "feature_dim": net.feature_dim,
        "gflops": counter.get_total_flops() / 1e9,
    }


def main() -> None:
    torch.manual_seed(0)
    networks = {
        "ResNet3D": ResNet3D(),
        "PretrainedResNet2D": PretrainedResNet2D(pretrained=False),
        "PretrainedResNet2D (frozen backbone)": PretrainedResNet2D(pretrained=False, freeze_backbone=True),
        "ResNeXt3D": ResNeXt3D(),
    }
    size = "x".join(str(s) for s in DEFAULT_SPATIAL_SIZE)
    print(f"B=1, T=1, image 1x{size}, EDSS 8, torch {torch.__version__}")
    print("| network | parameters | trainable | feature dim F | forward GFLOPs |")
    print("|---|---:|---:|---:|---:|")
    for name, net in networks.items():
        row = measure(net)
        print(f"| {name} | {row['parameters']:,} | {row['trainable']:,} | {row['feature_dim']} | {row['gflops']:.2f} |")


if __name__ == "__main__":
    main()
