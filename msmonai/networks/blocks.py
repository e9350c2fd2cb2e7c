"""Building blocks of the 3D encoders: the paper's ``ResidualBlock3D`` (3.1) and ``ResNeXtBlock3D`` (3.3).

Volumes are ``[N, C, D, H, W]`` with D the slice axis; no block ever strides along D.
"""

from __future__ import annotations

import torch
from monai.networks.blocks import ChannelSELayer
from monai.networks.layers.factories import Act, Conv
from monai.networks.layers.utils import get_norm_layer
from torch import nn


def init_lecun_normal(module: nn.Module) -> None:
    """Self-normalising initialisation of one module: conv/linear weights ~ N(0, 1/fan_in), biases 0.

    Use as ``net.apply(init_lecun_normal)``.
    """
    if isinstance(module, (nn.Conv3d, nn.Linear)):
        nn.init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="linear")
        if module.bias is not None:
            nn.init.zeros_(module.bias)


POOLING = ("avg", "avgmax")


def standardize_per_volume(volumes: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """``[N, C, D, H, W]`` -> same shape with each channel of each volume at zero mean and unit (biased) variance.

    Brings channels of different units to one scale: the T1 volume (0-255) and the change map of the difference
    channel (noise standard deviations, mostly 0); a constant channel (a first visit's change map) becomes 0.
    """
    dims = [2, 3, 4]
    mean = volumes.mean(dim=dims, keepdim=True)
    var = volumes.var(dim=dims, unbiased=False, keepdim=True)
    return (volumes - mean) / torch.sqrt(var + eps)


class GlobalPool3D(nn.Module):
    """``[N, C, D, H, W]`` -> ``[N, C]`` (``"avg"``: global average, the paper's) or ``[N, 2C]`` (``"avgmax"``: average
    and maximum side by side). A new lesion is a few voxels of the last feature maps: the average over the whole
    volume dilutes it, the maximum keeps it (multiple-instance pooling)."""

    def __init__(self, mode: str = "avg") -> None:
        super().__init__()
        if mode not in POOLING:
            raise ValueError(f"pooling must be one of {POOLING}, got {mode!r}")
        self.with_max = mode == "avgmax"

    def output_dim(self, channels: int) -> int:
        return channels * (2 if self.with_max else 1)

    def forward(self, maps: torch.Tensor) -> torch.Tensor:
        average = maps.mean(dim=(2, 3, 4))
        if self.with_max:
            return torch.cat([average, maps.amax(dim=(2, 3, 4))], dim=1)
        return average


class ResidualBlock3D(nn.Module):
    """``[N, m, D, H, W]`` -> ``[N, n, D, ceil(H / s), ceil(W / s)]``, paper Figure 3.

    Main branch: conv 3x3x3 stride (1, s, s) m->n, norm, ReLU, conv 3x3x3 n->n, norm.
    Skip branch: Way 1 (``s != 1`` or ``m != n``) conv 1x1x1 stride (1, s, s) m->n + norm; Way 2 identity.
    Output: ReLU(main + skip).

    Args:
        in_channels: m.
        out_channels: n.
        stride: s, in-plane stride (the slice axis keeps stride 1).
        norm: MONAI normalisation spec, e.g. ``"batch"``, ``"instance"``, ``("group", {"num_groups": 8})``.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, norm: str | tuple = "batch") -> None:
        super().__init__()
        conv = Conv[Conv.CONV, 3]
        block_stride = (1, stride, stride)
        self.conv1 = conv(in_channels, out_channels, kernel_size=3, stride=block_stride, padding=1, bias=False)
        self.norm1 = get_norm_layer(name=norm, spatial_dims=3, channels=out_channels)
        self.conv2 = conv(out_channels, out_channels, kernel_size=3, padding=1, bias=False)
        self.norm2 = get_norm_layer(name=norm, spatial_dims=3, channels=out_channels)
        self.act = Act[Act.RELU](inplace=True)
        if stride != 1 or in_channels != out_channels:  # Way 1: projection skip
            self.skip: nn.Module = nn.Sequential(
                conv(in_channels, out_channels, kernel_size=1, stride=block_stride, bias=False),
                get_norm_layer(name=norm, spatial_dims=3, channels=out_channels),
            )
        else:  # Way 2: identity skip
            self.skip = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.act(self.norm1(self.conv1(x)))
        out = self.norm2(self.conv2(out))
        return self.act(out + self.skip(x))


class ResNeXtBlock3D(nn.Module):
    """``[N, C_in, D, H, W]`` -> same shape, paper Figure 6b: ``x + alpha * SE(F(x))`` with alpha = 0 at init.

    F: ``branches`` parallel branches (1x1x1 conv C_in->C_mid, SELU, 3x3x3 conv C_mid->C_mid, SELU),
    concatenated to ``branches * C_mid`` channels, 1x1x1 conv back to C_in. The parallel branches are
    computed as one 1x1x1 conv to ``branches * C_mid`` channels followed by a grouped conv with
    ``groups=branches`` -- the same function, in two kernels instead of ``2 * branches``.
    SE: MONAI's squeeze-and-excitation with SELU in its hidden layer. Self-normalising: no normalisation
    layers, SELU activations, LeCun-normal weights; the ReZero scalar makes the block the identity at init.

    Args:
        in_channels: C_in.
        mid_channels: C_mid, width of one branch.
        branches: b, number of parallel branches (cardinality).
        se_reduction: channel reduction ratio of the squeeze-and-excitation layer.
    """

    def __init__(self, in_channels: int, mid_channels: int, branches: int, se_reduction: int = 4) -> None:
        super().__init__()
        conv = Conv[Conv.CONV, 3]
        width = branches * mid_channels
        self.branch_in = conv(in_channels, width, kernel_size=1)
        self.branch_conv = conv(width, width, kernel_size=3, padding=1, groups=branches)
        self.merge = conv(width, in_channels, kernel_size=1)
        self.act = Act[Act.SELU]()
        self.attention = ChannelSELayer(3, in_channels, r=se_reduction, acti_type_1="selu", acti_type_2="sigmoid")
        self.alpha = nn.Parameter(torch.zeros(1))
        self.apply(init_lecun_normal)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.act(self.branch_in(x))
        out = self.act(self.branch_conv(out))
        out = self.attention(self.merge(out))
        return x + self.alpha * out
