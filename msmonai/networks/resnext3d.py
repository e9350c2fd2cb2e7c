"""ResNeXt3D (paper 3.3): a 3D ResNeXt encoder + the shared visit-sequence classifier.

The default encoder adds batch-norm and a stem max-pool to the paper's self-normalising network: without both
it never learned small lesions (``docs/training.md``); ``normalized=False`` builds the paper's network.
"""

from __future__ import annotations

from typing import Sequence

import torch
from monai.networks.layers.factories import Act, Conv, Pool
from torch import nn

from msmonai.networks.blocks import GlobalPool3D, ResNeXtBlock3D, init_lecun_normal, standardize_per_volume
from msmonai.networks.sequence_head import VisitSequenceNetwork
from msmonai.constants import DEFAULT_SPATIAL_SIZE


class ResNeXt3DEncoder(nn.Module):
    """``[N, C, D, H, W]`` -> ``[N, channels[-1]]``.

    Each channel of each volume is standardised to zero mean / unit variance, then: stem conv 7x7x7 stride (1, 2, 2) + SELU;
    per stage, ``blocks`` ``ResNeXtBlock3D`` (the stages after the first start with a conv 3x3x3 stride
    (1, 2, 2) + SELU that changes the width); global pooling (``pooling``). Every conv/linear weight
    ~ N(0, 1/fan_in).

    ``normalized`` (default) puts batch-norm after the stem and after each width-changing conv, and a max-pool
    3x3x3 stride (1, 2, 2) after the stem, as ResNet3D has: the max keeps the local extremes that small dark
    lesions are, which the strided convolutions and the global average of the pure network drown.
    ``normalized=False`` is the paper's self-normalising network: no normalisation layers and no max-pooling.

    Args:
        channels: width of each stage; the stem has ``channels[0]``.
        blocks_per_stage: number of ``ResNeXtBlock3D`` per stage (depth).
        branches: b, parallel branches of every block.
        mid_channels: C_mid of each stage's blocks.
        se_reduction: squeeze-and-excitation reduction ratio.
        normalized: batch-norm + stem max-pool (True) or the paper's self-normalising network (False).
        in_channels: channels of the input volume (2 with the difference from the previous visit).
        pooling: ``"avg"`` (the paper's) or ``"avgmax"``, :class:`GlobalPool3D`; ``feature_dim`` is ``channels[-1]``
            or twice that.
    """

    def __init__(
        self,
        channels: Sequence[int] = (32, 64, 128, 256),
        blocks_per_stage: Sequence[int] = (2, 2, 2, 2),
        branches: int = 8,
        mid_channels: Sequence[int] = (4, 8, 16, 32),
        se_reduction: int = 4,
        normalized: bool = True,
        in_channels: int = 1,
        pooling: str = "avg",
    ) -> None:
        super().__init__()
        if not len(channels) == len(blocks_per_stage) == len(mid_channels):
            raise ValueError(
                "channels, blocks_per_stage, mid_channels differ in length: "
                f"{channels}, {blocks_per_stage}, {mid_channels}"
            )
        conv = Conv[Conv.CONV, 3]

        def width_change(c_in: int, c_out: int, **conv_args) -> list[nn.Module]:
            """conv [+ batch-norm] + SELU."""
            norm = [nn.BatchNorm3d(c_out)] if normalized else []
            return [conv(c_in, c_out, **conv_args), *norm, Act[Act.SELU]()]

        stem = width_change(in_channels, channels[0], kernel_size=7, stride=(1, 2, 2), padding=3)
        if normalized:
            stem.append(Pool[Pool.MAX, 3](kernel_size=3, stride=(1, 2, 2), padding=1))
        self.stem = nn.Sequential(*stem)
        layers: list[nn.Module] = []
        previous = channels[0]
        for stage, (width, depth, mid) in enumerate(zip(channels, blocks_per_stage, mid_channels)):
            if stage > 0:
                layers += width_change(previous, width, kernel_size=3, stride=(1, 2, 2), padding=1)
            layers += [ResNeXtBlock3D(width, mid, branches, se_reduction) for _ in range(depth)]
            previous = width
        self.stages = nn.Sequential(*layers)
        self.pool = GlobalPool3D(pooling)
        self.feature_dim = self.pool.output_dim(channels[-1])
        self.apply(init_lecun_normal)

    def forward(self, volumes: torch.Tensor) -> torch.Tensor:
        return self.pool(self.stages(self.stem(standardize_per_volume(volumes))))


class ResNeXt3D(VisitSequenceNetwork):
    """ResNeXt3D encoder per visit + tanh RNN over visits (``AlphaDropout`` in the head of the paper's network).

    ``forward(image [B, T, C, D, H, W], edss [B, T, edss_dim], lengths [B]) -> logits [B, num_classes]``;
    ``encode``, ``classify`` and ``feature_dim`` (``channels[-1]``, twice that with ``pooling="avgmax"``, plus two with
    the difference channel) as in :class:`VisitSequenceNetwork`.

    Args:
        spatial_size: (D, H, W) of one visit's volume.
        edss_dim, num_classes, rnn_hidden, dropout: the shared head (alpha dropout), see ``VisitSequenceClassifier``.
        channels, blocks_per_stage, branches, mid_channels, se_reduction, normalized, in_channels, pooling: see
            :class:`ResNeXt3DEncoder` (and ``VisitSequenceNetwork`` for in_channels).
        encode_chunk: volumes encoded at a time (0: all), each chunk under activation checkpointing in training,
            see ``VisitSequenceNetwork``; only with ``normalized=False`` (batch-norm needs the whole batch).
    """

    def __init__(
        self,
        spatial_size: Sequence[int] = DEFAULT_SPATIAL_SIZE,
        edss_dim: int = 8,
        num_classes: int = 2,
        rnn_hidden: int = 64,
        dropout: float = 0.2,
        channels: Sequence[int] = (32, 64, 128, 256),
        blocks_per_stage: Sequence[int] = (2, 2, 2, 2),
        branches: int = 8,
        mid_channels: Sequence[int] = (4, 8, 16, 32),
        se_reduction: int = 4,
        normalized: bool = True,
        encode_chunk: int = 0,
        in_channels: int = 1,
        pooling: str = "avg",
    ) -> None:
        encoder = ResNeXt3DEncoder(channels, blocks_per_stage, branches, mid_channels, se_reduction, normalized,
                                   in_channels, pooling)
        super().__init__(
            encoder, encoder.feature_dim, spatial_size, edss_dim, num_classes, rnn_hidden, dropout,
            alpha_dropout=not normalized, encode_chunk=encode_chunk, in_channels=in_channels,
        )
