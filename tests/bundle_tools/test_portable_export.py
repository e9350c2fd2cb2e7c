"""The torch.export and ONNX exports refuse to write a graph that differs from the eager network.

The exports encode every visit slot, padding included (``AllVisitSlots``); that equals the eager network only for
encoders that see each volume alone. An encoder that normalises by the batch's statistics breaks it, and the check
at export time must say so instead of shipping a different model.
"""

import pytest
import torch
from torch import nn

from msmonai.bundle_tools.portable_export import TOLERANCE, export_portable
from msmonai.errors import UserError
from msmonai.networks import PretrainedResNet2D, ResNet3D, ResNeXt3D, VisitSequenceNetwork

SMALL = [6, 32, 32]


class BatchCentred(nn.Module):
    """``[N, 1, D, H, W]`` -> ``[N, 4]``: per-volume means minus the batch's mean (depends on the other volumes)."""

    def __init__(self) -> None:
        super().__init__()
        self.project = nn.Linear(1, 4)

    def forward(self, volumes: torch.Tensor) -> torch.Tensor:
        means = volumes.flatten(1).mean(1, keepdim=True)
        return self.project(means - means.mean())


@pytest.mark.parametrize("build", [
    lambda: ResNet3D(spatial_size=SMALL, channels=(4, 8, 8, 8)),
    lambda: ResNet3D(spatial_size=SMALL, channels=(4, 8, 8, 8), in_channels=2, pooling="avgmax"),  # difference recipe
    lambda: ResNeXt3D(spatial_size=SMALL, channels=(8, 16), blocks_per_stage=(1, 1), branches=2, mid_channels=(2, 4)),
    lambda: PretrainedResNet2D(spatial_size=SMALL, pretrained=False, width=0.25, in_channels=2),  # per slice
], ids=["ResNet3D", "ResNet3D with difference and avgmax pooling", "ResNeXt3D", "PretrainedResNet2D per slice with difference"])
def test_exports_of_the_default_networks_match_them(build, tmp_path):
    torch.manual_seed(0)
    network = build()
    differences = export_portable(network, tmp_path / "m.pt2", tmp_path / "m.onnx")
    assert set(differences) == {"pt2", "onnx"}
    assert all(0 <= d <= TOLERANCE for d in differences.values())
    assert (tmp_path / "m.pt2").stat().st_size > 0 and (tmp_path / "m.onnx").stat().st_size > 0


def test_an_encoder_with_batch_statistics_is_refused_naming_the_export(tmp_path):
    torch.manual_seed(0)
    network = VisitSequenceNetwork(BatchCentred(), feature_dim=4, spatial_size=SMALL)
    with pytest.raises(UserError, match=r"m\.pt2: the pt2 export differs from the eager network by .* in the logits"):
        export_portable(network, tmp_path / "m.pt2", tmp_path / "m.onnx")
