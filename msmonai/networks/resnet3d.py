"""ResNet3D (paper 3.1): a fully trainable 3D residual encoder + the shared visit-sequence classifier."""

from __future__ import annotations

from typing import Sequence

import torch
from monai.networks.layers.factories import Act, Conv, Pool
from monai.networks.layers.utils import get_norm_layer
from torch import nn

from msmonai.networks.blocks import GlobalPool3D, ResidualBlock3D, standardize_per_volume
from msmonai.networks.checkpointing import checkpointed
from msmonai.networks.sequence_head import VisitSequenceNetwork
from msmonai.constants import DEFAULT_SPATIAL_SIZE


class ResNet3DEncoder(nn.Module):
    """``[N, 1, D, H, W]`` -> ``[N, channels[-1]]``.

    Stem: conv 7x7x7 stride (1, 2, 2), norm, ReLU, max-pool 3x3x3 stride (1, 2, 2); then one stage per entry
    of ``channels``: a ``ResidualBlock3D(prev, c, stride)`` followed by ``blocks - 1`` blocks ``(c, c, 1)``;
    global pooling (``pooling``). The slice axis D is never strided, so the in-plane size shrinks by
    ``4 * prod(strides)`` (32 with the defaults: 128x128 -> 4x4) while all D slices are kept.
    Convolutions use He (fan-out) initialisation as in torchvision/MONAI ResNets.

    Args:
        channels: output width of each stage; the stem has ``channels[0]``.
        strides: in-plane stride of each stage's first block.
        blocks_per_stage: number of ``ResidualBlock3D`` per stage.
        norm: MONAI normalisation spec used after every convolution.
        in_channels: channels of the input volume; with 2 (the T1 volume and the change map of the difference from the
            previous visit) each channel of each volume is first standardised (:func:`standardize_per_volume`): in
            their own units the T1 intensities (0-255) drowned the change map (noise units) in every stem filter.
            One channel enters as it is, the paper's network.
        pooling: ``"avg"`` (the paper's) or ``"avgmax"``, :class:`GlobalPool3D`; ``feature_dim`` is ``channels[-1]``
            or twice that.
        checkpoint_stem: in training, run the stem under activation checkpointing (``msmonai.networks.checkpointing``):
            its activations, the largest of the network (``channels[0]`` maps at half the in-plane size), are
            recomputed in the backward pass instead of kept: one 16-volume step at full size peaks at 3.0 instead
            of 3.9 GB for 1-11 % more time (docs/networks.md). Outputs, gradients and batch-norm statistics are
            unchanged.
    """

    def __init__(
        self,
        channels: Sequence[int] = (32, 64, 128, 256),
        strides: Sequence[int] = (1, 2, 2, 2),
        blocks_per_stage: Sequence[int] = (2, 2, 2, 2),
        norm: str | tuple = "batch",
        checkpoint_stem: bool = False,
        in_channels: int = 1,
        pooling: str = "avg",
    ) -> None:
        super().__init__()
        self.checkpoint_stem = bool(checkpoint_stem)
        self.standardize = in_channels > 1
        if not len(channels) == len(strides) == len(blocks_per_stage):
            raise ValueError(
                f"channels, strides, blocks_per_stage differ in length: {channels}, {strides}, {blocks_per_stage}"
            )
        self.stem = nn.Sequential(
            Conv[Conv.CONV, 3](in_channels, channels[0], kernel_size=7, stride=(1, 2, 2), padding=3, bias=False),
            get_norm_layer(name=norm, spatial_dims=3, channels=channels[0]),
            Act[Act.RELU](inplace=True),
            Pool[Pool.MAX, 3](kernel_size=3, stride=(1, 2, 2), padding=1),
        )
        blocks = []
        previous = channels[0]
        for width, stride, depth in zip(channels, strides, blocks_per_stage):
            blocks.append(ResidualBlock3D(previous, width, stride, norm))
            blocks += [ResidualBlock3D(width, width, 1, norm) for _ in range(depth - 1)]
            previous = width
        self.blocks = nn.Sequential(*blocks)
        self.pool = GlobalPool3D(pooling)
        self.feature_dim = self.pool.output_dim(channels[-1])
        for module in self.modules():
            if isinstance(module, nn.Conv3d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, volumes: torch.Tensor) -> torch.Tensor:
        if self.standardize:
            volumes = standardize_per_volume(volumes)
        if not torch.jit.is_scripting() and self.checkpoint_stem and self.training and torch.is_grad_enabled():
            stem = checkpointed(self.stem, volumes)
        else:
            stem = self.stem(volumes)
        return self.pool(self.blocks(stem))


class ResNet3D(VisitSequenceNetwork):
    """ResNet3D encoder per visit + tanh RNN over visits.

    ``forward(image [B, T, C, D, H, W], edss [B, T, edss_dim], lengths [B]) -> logits [B, num_classes]``;
    ``encode``, ``classify`` and ``feature_dim`` (``channels[-1]``, twice that with ``pooling="avgmax"``, plus two with
    the difference channel) as in :class:`VisitSequenceNetwork`.

    Args:
        spatial_size: (D, H, W) of one visit's volume; in_channels: C (see ``VisitSequenceNetwork``).
        edss_dim, num_classes, rnn_hidden, dropout: the shared head, see ``VisitSequenceClassifier``.
        channels, strides, blocks_per_stage, norm, checkpoint_stem, pooling: the encoder, see :class:`ResNet3DEncoder`.
    """

    def __init__(
        self,
        spatial_size: Sequence[int] = DEFAULT_SPATIAL_SIZE,
        edss_dim: int = 8,
        num_classes: int = 2,
        rnn_hidden: int = 64,
        dropout: float = 0.2,
        channels: Sequence[int] = (32, 64, 128, 256),
        strides: Sequence[int] = (1, 2, 2, 2),
        blocks_per_stage: Sequence[int] = (2, 2, 2, 2),
        norm: str | tuple = "batch",
        checkpoint_stem: bool = False,
        in_channels: int = 1,
        pooling: str = "avg",
    ) -> None:
        encoder = ResNet3DEncoder(channels, strides, blocks_per_stage, norm, checkpoint_stem, in_channels, pooling)
        super().__init__(encoder, encoder.feature_dim, spatial_size, edss_dim, num_classes, rnn_hidden, dropout,
                         in_channels=in_channels)
