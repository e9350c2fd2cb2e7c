"""The paper's three networks (ResNet3D, PretrainedResNet2D, ResNeXt3D) and their shared visit-sequence head.

Every network maps ``image [B, T, 1, D, H, W]``, ``edss [B, T, 8]`` and ``lengths [B]`` to logits ``[B, 2]``
for the last real visit of each sequence; see :class:`VisitSequenceNetwork`.
"""

from msmonai.networks.blocks import (
    GlobalPool3D,
    ResidualBlock3D,
    ResNeXtBlock3D,
    init_lecun_normal,
    standardize_per_volume,
)
from msmonai.networks.pretrained_resnet2d import (
    RESNET18_WEIGHTS_SHA256,
    RESNET18_WEIGHTS_URL,
    GreySlices,
    PretrainedResNet2D,
    PretrainedResNet2DEncoder,
    SliceEmbedding,
    load_torchvision_resnet18_weights,
    resnet18_backbone,
)
from msmonai.networks.portable import AllVisitSlots
from msmonai.networks.resnet3d import ResNet3D, ResNet3DEncoder
from msmonai.networks.resnext3d import ResNeXt3D, ResNeXt3DEncoder
from msmonai.networks.sequence_head import VisitSequenceClassifier, VisitSequenceNetwork, check_lengths, real_visit_mask

__all__ = [
    "AllVisitSlots",
    "RESNET18_WEIGHTS_SHA256",
    "RESNET18_WEIGHTS_URL",
    "PretrainedResNet2D",
    "PretrainedResNet2DEncoder",
    "ResNeXt3D",
    "ResNeXt3DEncoder",
    "ResNeXtBlock3D",
    "ResNet3D",
    "ResNet3DEncoder",
    "GlobalPool3D",
    "ResidualBlock3D",
    "GreySlices",
    "SliceEmbedding",
    "VisitSequenceClassifier",
    "VisitSequenceNetwork",
    "check_lengths",
    "init_lecun_normal",
    "load_torchvision_resnet18_weights",
    "real_visit_mask",
    "resnet18_backbone",
    "standardize_per_volume",
]
