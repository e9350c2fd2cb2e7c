"""Frozen-encoder fast path: each distinct visit's feature vector computed once, then only the head trains.

With a frozen encoder (``PretrainedResNet2D(freeze_backbone=True)``: here the slice embedding is fixed too),
a visit's features never change during training, so encoding its volume every epoch is wasted work. This
module computes ``network.encode`` once per distinct visit and trains the remainder (EDSS concatenation, RNN,
classifier) on the cached ``[T, F]`` feature sequences. It plugs into MONAI's ``SupervisedTrainer`` /
``SupervisedEvaluator`` unchanged through the bundle overlay ``configs/frozen_backbone.json``:

- :class:`VisitFeatureDataset` replaces ``VisitSequenceDataset`` (items carry ``features`` instead of ``image``),
- :func:`collate_features` replaces ``collate_sequences``, :class:`FeatureBatch` replaces ``SequenceBatch``,
- :class:`FeatureClassifier` replaces the network; its ``state_dict`` is the network's, key for key, so its
  checkpoints load in the normal evaluate/inference workflows.

The image noise augmentation of ``SequenceBatch`` does not apply to cached features.
"""

from __future__ import annotations

from typing import Sequence

import torch
from monai.networks.utils import eval_mode
from torch import nn

from msmonai.engine.dataset import VisitSequenceDataset, VisitVolumes, collate_sequences
from msmonai.errors import UserError


class VisitFeatures:
    """Encoder features of the distinct visits of ``volumes``, computed on first use, once, then kept on the CPU.

    The computation is deferred to the first :meth:`volume` call so that it sees the weights a workflow loads
    into the network at start (``CheckpointLoader`` in evaluation); it runs in the process that makes that call.

    Args:
        volumes: the preprocessed visit volumes.
        network: a ``VisitSequenceNetwork``; ``network.encode`` runs without gradients, in eval mode, on the
            device of its parameters.
        batch_size: volumes encoded per forward pass.
    """

    with_difference = False  # the features stand for whole visits; VisitSequenceDataset adds no channel to them

    def __init__(self, volumes: VisitVolumes, network: nn.Module, batch_size: int = 16) -> None:
        if volumes.with_difference:
            raise UserError("the frozen-backbone features encode each visit's volume alone: run configs/"
                            "frozen_backbone.json without difference=true")
        self.volumes = volumes
        self.network = network
        self.batch_size = int(batch_size)
        self.features: torch.Tensor | None = None  # [V, F], row i = volumes.records[i]

    def compute(self) -> torch.Tensor:
        """Encode every distinct visit volume once (batched) -> ``[V, F]`` float32 on the CPU."""
        device = next(self.network.parameters()).device
        files = [record["image"] for record in self.volumes.records]
        chunks = []
        with eval_mode(self.network):
            for start in range(0, len(files), self.batch_size):
                batch = torch.stack([self.volumes.volume(f) for f in files[start : start + self.batch_size]])
                chunks.append(self.network.encode(batch.to(device, torch.float32)).float().cpu())
        return torch.cat(chunks)

    def volume(self, image: Sequence[str]) -> torch.Tensor:
        """Feature vector ``[F]`` of the visit whose series files are ``image``.

        Named like ``VisitVolumes.volume`` so that ``VisitSequenceDataset`` assembles feature sequences from it.
        """
        if self.features is None:
            self.features = self.compute()
        return self.features[self.volumes.index[tuple(image)]]


class VisitFeatureDataset(VisitSequenceDataset):
    """Observations with cached encoder features: ``features`` ``[T, F]`` instead of ``image``.

    Other keys as ``VisitSequenceDataset``: ``edss`` ``[T, 8]``, ``length``, ``label``, ``patient``,
    ``last_visit_date``. Arguments as :class:`VisitFeatures`, plus the observations ``items``. Use a
    ``DataLoader`` with ``num_workers=0``: worker processes would each encode the visits again.
    """

    def __init__(self, items: Sequence[dict], volumes: VisitVolumes, network: nn.Module, batch_size: int = 16) -> None:
        super().__init__(items, VisitFeatures(volumes, network, batch_size))

    def __getitem__(self, index: int) -> dict:
        item = super().__getitem__(index)
        item["features"] = item.pop("image")
        return item


def collate_features(batch: Sequence[dict]) -> dict:
    """``collate_sequences`` for :class:`VisitFeatureDataset` items: ``features`` ``[B, T, F]`` zero-padded."""
    collated = collate_sequences([dict(item, image=item["features"]) for item in batch])
    collated["features"] = collated.pop("image")
    return collated


class FeatureBatch:
    """``prepare_batch`` for feature batches: ``(features, label, (edss, lengths), {})`` on ``device``."""

    def __call__(self, batchdata: dict, device: torch.device | str | None = None, non_blocking: bool = False, **_):
        features = batchdata["features"].to(device=device, non_blocking=non_blocking)
        label = batchdata["label"].to(device=device, non_blocking=non_blocking)
        edss = batchdata["edss"].to(device=device, non_blocking=non_blocking)
        return features, label, (edss, batchdata["length"]), {}  # lengths stay on the CPU, as in SequenceBatch


class FeatureClassifier(nn.Module):
    """The network's head as a module: ``forward(features [B, T, F], edss [B, T, E], lengths [B]) -> [B, C]``.

    Its submodules are the network's own (shared, not copied), registered under the same names, so its
    ``state_dict`` has exactly the network's keys: a checkpoint saved from it is a checkpoint of the full
    network (the unchanged encoder included) and loads in the normal workflows, and back. The encoder's
    parameters are frozen (``requires_grad=False``) because its output is precomputed.

    Args:
        network: a ``VisitSequenceNetwork`` (its ``classify`` is what ``forward`` calls).
    """

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        if any(True for _ in network.named_parameters(recurse=False)) or any(True for _ in network.named_buffers(recurse=False)):
            raise ValueError(f"{type(network).__name__} holds parameters outside its submodules; cannot mirror its state_dict")
        for name, module in network.named_children():
            self.add_module(name, module)
        network.encoder.requires_grad_(False)
        self.classify = network.classify

    def forward(self, features: torch.Tensor, edss: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.classify(features, edss, lengths)
