"""PretrainedResNet2D (paper 3.2): ImageNet ResNet18 on the slices of each visit + the shared visit-sequence classifier.

Two ways for a volume to reach the 2D backbone: every slice on its own as a grey ImageNet image, features averaged
over slices (``slice_encoding="per_slice"``, the default, 2.5D), or the paper's learned 1x1 embedding of all slices
into one 3-channel image (``"embedding"``), which mixes the slices linearly before any non-linearity and never learned
small lesions here (``docs/training.md``).

The ImageNet weights are torchvision's ``resnet18-f37072fd.pth``, given as a file; nothing is ever
downloaded. MONAI's 2D ResNet18 with a 7x7 stride-2 stem, max-pooling and bias-free downsampling has
exactly torchvision's parameter names and shapes, so torchvision itself is not needed.
"""

from __future__ import annotations

import logging
import os
import pickle
from typing import Mapping, Sequence

import torch
from monai.networks.nets import resnet18
from torch import nn

from msmonai.errors import UserError
from msmonai.networks.sequence_head import VisitSequenceNetwork
from msmonai.constants import DEFAULT_SPATIAL_SIZE, INTENSITY_RANGE

logger = logging.getLogger(__name__)

RESNET18_WEIGHTS_URL = "https://download.pytorch.org/models/resnet18-f37072fd.pth"
# torchvision checks only the 8-hex prefix in the file name; the full digest (and size, 46,830,571 bytes)
# is the one independently recorded by several public projects that pin this file.
RESNET18_WEIGHTS_SHA256 = "f37072fd47e89c5e827621c5baffa7500819f7896bbacec160b1a16c560e07ec"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
BACKBONE_FEATURES = 512


SLICE_ENCODINGS = ("per_slice", "embedding")


def resnet18_backbone(width: float = 1.0) -> nn.Module:
    """MONAI 2D ResNet18 laid out like torchvision's, without the classifier: ``[N, 3, H, W]`` -> ``[N, 512 * width]``.

    ``width`` < 1 narrows every layer (MONAI's ``widen_factor``), for CPU schedules without ImageNet weights.
    """
    return resnet18(
        spatial_dims=2,
        n_input_channels=3,
        conv1_t_size=7,
        conv1_t_stride=2,
        feed_forward=False,
        bias_downsample=False,
        widen_factor=width,
    )


def load_torchvision_resnet18_weights(backbone: nn.Module, path: str | os.PathLike) -> None:
    """Load a torchvision ResNet18 state dict file into ``backbone`` (from :func:`resnet18_backbone`).

    The classifier (``fc.*``) is dropped; every other key must match in name and shape
    (``num_batches_tracked`` may be absent, as in older torchvision files).

    Raises:
        UserError: the file is missing, unreadable, or not a ResNet18 state dict (names the offending keys).
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise UserError(
            f"{path}: ImageNet ResNet18 weights not found; download {RESNET18_WEIGHTS_URL} "
            f"(SHA-256 {RESNET18_WEIGHTS_SHA256}) to this path, or set pretrained=False"
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, OSError, EOFError, ValueError, pickle.UnpicklingError) as err:
        raise UserError(
            f"{path}: not a readable PyTorch weights file (truncated, corrupted or another format); "
            f"download {RESNET18_WEIGHTS_URL} again and check its SHA-256 {RESNET18_WEIGHTS_SHA256}"
        ) from err
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise UserError(f"{path}: expected a state dict of parameter name -> tensor, got {type(state).__name__}")
    state = {key: value for key, value in state.items() if not key.startswith("fc.")}
    expected = backbone.state_dict()
    problems = {
        "missing": sorted(k for k in expected.keys() - state.keys() if not k.endswith("num_batches_tracked")),
        "unexpected": sorted(state.keys() - expected.keys()),
        "wrong shape": sorted(k for k in state.keys() & expected.keys() if state[k].shape != expected[k].shape),
    }
    found = [f"{kind} keys {_preview(keys)}" for kind, keys in problems.items() if keys]
    if found:
        raise UserError(f"{path}: not torchvision ResNet18 weights: {'; '.join(found)}")
    backbone.load_state_dict(state, strict=False)
    logger.info("PretrainedResNet2D: loaded ImageNet ResNet18 weights from %s", path)


def _preview(keys: list[str], limit: int = 5) -> str:
    """First ``limit`` keys of a list, with the count of the rest."""
    shown = ", ".join(keys[:limit])
    return f"{shown} (+{len(keys) - limit} more)" if len(keys) > limit else shown


class SliceEmbedding(nn.Module):
    """``[N, 1, D, H, W]`` -> ``[N, 3, H, W]``: the D slices become channels, then a learned 1x1 conv D -> 3.

    ImageNet normalisation is this layer's job, since it is affine like the 1x1 conv: the conv is initialised
    to the torchvision preprocessing of a grey image, i.e. channel c = ((mean over slices - lo) / (hi - lo)
    - IMAGENET_MEAN[c]) / IMAGENET_STD[c] for inputs in ``intensity_range`` = (lo, hi), and then trained.

    The conv sees the input multiplied by the buffer ``input_scale`` = 1 / (hi - lo), so that its weights start near
    1 / (D * std), not 1 / (D * 255 * std) (about 2e-4): Adam moves every weight by about the learning rate per step,
    which rewrote the unscaled weights several times over at the first step (docs/training.md). Checkpoints written
    before the buffer existed load with ``input_scale`` = 1, the scale their weights were trained for.

    Args:
        depth: D, number of slices.
        intensity_range: (lo, hi) of the input intensities; default: the range the preprocessing preset scales every scan to.
    """

    def __init__(self, depth: int, intensity_range: Sequence[float] = INTENSITY_RANGE) -> None:
        super().__init__()
        self.conv = nn.Conv2d(depth, 3, kernel_size=1)
        low, high = (float(v) for v in intensity_range)
        std = torch.tensor(IMAGENET_STD)
        self.register_buffer("input_scale", torch.tensor(1.0 / (high - low)))
        with torch.no_grad():
            self.conv.weight.copy_((1.0 / (depth * std)).view(3, 1, 1, 1).expand(3, depth, 1, 1))
            self.conv.bias.copy_(-(low / (high - low) + torch.tensor(IMAGENET_MEAN)) / std)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        state_dict.setdefault(prefix + "input_scale", torch.tensor(1.0))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def forward(self, volumes: torch.Tensor) -> torch.Tensor:
        return self.conv(torch.flatten(volumes, 1, 2) * self.input_scale)


class GreySlices(nn.Module):
    """``[N, C, D, H, W]`` -> ``[N * D, 3, H, W]``: every slice as the torchvision preprocessing of a grey image,
    i.e. channel c = ((x - lo) / (hi - lo) - IMAGENET_MEAN[c]) / IMAGENET_STD[c] for inputs x in ``intensity_range``.

    With ``in_channels`` 2, the second channel (the change map of the difference from the previous visit, in noise
    standard deviations, already of the grey slices' scale) is added through a learned 1x1 conv 1 -> 3, initialised to
    zero: training starts from the plain grey slices the ImageNet weights expect and learns how much change to let in.
    """

    def __init__(self, intensity_range: Sequence[float] = INTENSITY_RANGE, in_channels: int = 1) -> None:
        super().__init__()
        if in_channels not in (1, 2):
            raise ValueError(f"in_channels must be 1 or 2, got {in_channels}")
        low, high = (float(v) for v in intensity_range)
        std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
        self.register_buffer("scale", 1.0 / ((high - low) * std))
        self.register_buffer("shift", (low / (high - low) + torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) / std)
        self.difference = nn.Conv2d(1, 3, kernel_size=1, bias=False) if in_channels == 2 else None
        if self.difference is not None:
            nn.init.zeros_(self.difference.weight)

    def forward(self, volumes: torch.Tensor) -> torch.Tensor:
        slices = volumes.transpose(1, 2).flatten(0, 1)  # [N * D, C, H, W]
        grey = slices[:, :1] * self.scale - self.shift
        if self.difference is None:
            return grey
        return grey + self.difference(slices[:, 1:])


class PretrainedResNet2DEncoder(nn.Module):
    """``[N, C, D, H, W]`` -> ``[N, F]`` (F = 512 * ``width``) through the ResNet18 backbone.

    ``slice_encoding="per_slice"``: :class:`GreySlices`, the backbone on each slice, the mean over the D slices of
    their features. ``"embedding"`` (the paper's): :class:`SliceEmbedding`, then the backbone once per volume.
    With ``freeze_backbone`` the backbone's parameters do not train and it stays in eval mode (batch-norm
    statistics frozen) whatever ``train()`` is called with. The paper's embedding takes one channel (C = 1).
    """

    def __init__(
        self,
        depth: int,
        intensity_range: Sequence[float] = INTENSITY_RANGE,
        freeze_backbone: bool = False,
        slice_encoding: str = "per_slice",
        width: float = 1.0,
        in_channels: int = 1,
    ):
        super().__init__()
        if slice_encoding not in SLICE_ENCODINGS:
            raise ValueError(f"slice_encoding must be one of {SLICE_ENCODINGS}, got {slice_encoding!r}")
        self.per_slice = slice_encoding == "per_slice"
        if not self.per_slice and in_channels != 1:
            raise ValueError(f"the paper's slice embedding takes one channel, got in_channels={in_channels}")
        self.embedding: nn.Module = (GreySlices(intensity_range, in_channels) if self.per_slice
                                     else SliceEmbedding(depth, intensity_range))
        self.backbone = resnet18_backbone(width)
        self.freeze_backbone = freeze_backbone
        if freeze_backbone:
            self.backbone.requires_grad_(False)
            self.backbone.eval()

    def train(self, mode: bool = True) -> "PretrainedResNet2DEncoder":
        super().train(mode)
        if self.freeze_backbone:
            self.backbone.eval()
        return self

    def forward(self, volumes: torch.Tensor) -> torch.Tensor:
        features = self.backbone(self.embedding(volumes))
        if self.per_slice:
            features = features.view(volumes.shape[0], volumes.shape[2], -1).mean(dim=1)
        return features


class PretrainedResNet2D(VisitSequenceNetwork):
    """ImageNet ResNet18 on each visit's slices (:class:`PretrainedResNet2DEncoder`) + tanh RNN over visits.

    ``forward(image [B, T, C, D, H, W], edss [B, T, edss_dim], lengths [B]) -> logits [B, num_classes]``;
    ``encode``, ``classify`` and ``feature_dim`` (512 * ``width``, plus two with the difference channel) as in
    :class:`VisitSequenceNetwork`.

    Args:
        spatial_size: (D, H, W) of one visit's volume; D is the embedding's number of input channels.
        edss_dim, num_classes, rnn_hidden, dropout: the shared head, see ``VisitSequenceClassifier``.
        pretrained: load ImageNet weights from ``pretrained_weights``; False (logged) starts from random weights.
        pretrained_weights: path of torchvision's ``resnet18-f37072fd.pth`` (see ``RESNET18_WEIGHTS_URL``).
        freeze_backbone: train only the embedding and the head.
        intensity_range: input intensity range the slices are normalised from, see :class:`GreySlices`.
        slice_encoding: ``"per_slice"`` (default) or the paper's ``"embedding"``, see :class:`PretrainedResNet2DEncoder`.
        width: backbone width relative to ResNet18 (1.0 for the ImageNet weights; narrower for CPU schedules).
        in_channels: C, 1 or 2 (with the difference from the previous visit, see :class:`GreySlices`).

    Raises:
        UserError: ``pretrained`` without a usable ``pretrained_weights`` file.
    """

    def __init__(
        self,
        spatial_size: Sequence[int] = DEFAULT_SPATIAL_SIZE,
        edss_dim: int = 8,
        num_classes: int = 2,
        rnn_hidden: int = 64,
        dropout: float = 0.2,
        pretrained: bool = True,
        pretrained_weights: str | None = None,
        freeze_backbone: bool = False,
        intensity_range: Sequence[float] = INTENSITY_RANGE,
        slice_encoding: str = "per_slice",
        width: float = 1.0,
        in_channels: int = 1,
    ) -> None:
        encoder = PretrainedResNet2DEncoder(int(spatial_size[0]), intensity_range, freeze_backbone, slice_encoding, width,
                                            in_channels)
        if pretrained:
            if pretrained_weights is None:
                raise UserError(
                    "PretrainedResNet2D: pretrained=True needs pretrained_weights, the path of torchvision's "
                    f"resnet18-f37072fd.pth (download {RESNET18_WEIGHTS_URL}), or set pretrained=False"
                )
            load_torchvision_resnet18_weights(encoder.backbone, pretrained_weights)
        else:
            logger.info("PretrainedResNet2D: pretrained=False, the ResNet18 backbone starts from random weights")
        feature_dim = int(BACKBONE_FEATURES * width)
        super().__init__(encoder, feature_dim, spatial_size, edss_dim, num_classes, rnn_hidden, dropout,
                         in_channels=in_channels)

    def parameter_groups(self, lr: float, backbone_lr_scale: float = 0.1) -> list[dict]:
        """Optimizer parameter groups: trainable backbone parameters at ``lr * backbone_lr_scale``, the rest at ``lr``.

        A frozen backbone contributes no group.
        """
        backbone: list[nn.Parameter] = []
        rest: list[nn.Parameter] = []
        for name, parameter in self.named_parameters():
            if parameter.requires_grad:
                (backbone if name.startswith("encoder.backbone.") else rest).append(parameter)
        groups = [{"params": rest, "lr": lr}]
        if backbone:
            groups.append({"params": backbone, "lr": lr * backbone_lr_scale})
        return groups
