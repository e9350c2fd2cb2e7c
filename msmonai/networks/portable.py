"""The network as the portable exports hold it (``models/model.pt2``, ``models/model.onnx``): a fixed visit axis and
no data-dependent Python, so that ``torch.export`` and ONNX trace one graph with a dynamic batch."""

from __future__ import annotations

import torch
from torch import nn

from msmonai.networks.sequence_head import VisitSequenceNetwork


class AllVisitSlots(nn.Module):
    """``image [B, V, C, D, H, W]``, ``edss [B, V, E]``, ``lengths [B]`` int64 in ``[1, V]`` -> logits ``[B, C]``.

    Every visit slot is encoded, padding included, and the head masks the slots after each length, where the eager
    network encodes the real visits only (boolean indexing, which export cannot trace with a dynamic batch). In eval
    mode every encoder sees each volume alone (batch-norm uses its running statistics), so the logits equal the
    eager network's. ``lengths`` is not checked here: an exported graph leaves that to its caller.
    """

    def __init__(self, network: VisitSequenceNetwork) -> None:
        super().__init__()
        self.network = network

    def forward(self, image: torch.Tensor, edss: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        batch, slots = image.shape[0], image.shape[1]
        features = self.network.unchecked_encode(image.flatten(0, 1)).unflatten(0, (batch, slots))  # [B, V, F]
        return self.network.head.unchecked(features, edss, lengths)
