"""The visit-sequence classifier shared by all three networks, and the base class that pairs it with an encoder.

Paper section 3: each visit's image feature vector is concatenated with that visit's EDSS subscores and
fed to a plain ``nn.RNN`` (tanh) over the visits; a linear layer on the state at the last real visit gives
the two logits (no activity / activity within a year). The dropout before that layer is what Monte-Carlo
dropout samples at inference.
"""

from __future__ import annotations

from typing import List, Sequence

import torch
from torch import nn

from msmonai.constants import DEFAULT_SPATIAL_SIZE, DEFAULT_THRESHOLD
from msmonai.networks.checkpointing import checkpointed


def check_lengths(lengths: torch.Tensor, batch: int, max_visits: int) -> None:
    """ValueError unless ``lengths`` has shape ``[batch]`` with every entry in ``[1, max_visits]``.

    Reads the values (a data-dependent check): eager and TorchScript run it, exported graphs leave it to the caller.
    """
    if lengths.dim() != 1 or lengths.shape[0] != batch:
        raise ValueError(f"lengths must have shape [{batch}], got {lengths.shape}")
    if bool((lengths < 1).any()) or bool((lengths > max_visits).any()):
        raise ValueError(f"lengths must lie in [1, {max_visits}], got {lengths}")


def change_evidence(change: torch.Tensor) -> torch.Tensor:
    """Change maps ``[N, D, H, W]`` (noise standard deviations, ``msmonai.transforms.change``) -> ``[N, 2]``: log(1 + the
    depth of the most negative change), the darkest new spot in the white matter; and 1 where there is a map at all,
    0 for a first visit (its zero map means "nothing to compare with", not "no change").

    What a reader takes first from a subtraction image, given to the head beside the learned features: on the realistic
    demo the depth ranks the observations with a previous visit at ROC AUC 0.86, while encoders trained on about 60
    observations did not learn it from the map (``docs/training.md``).
    """
    depth = torch.log1p(torch.relu(-change.amin(dim=(1, 2, 3))))
    seen = (change != 0).flatten(1).any(dim=1).to(change.dtype)
    return torch.stack([depth, seen], dim=1)


def real_visit_mask(lengths: torch.Tensor, max_visits: int) -> torch.Tensor:
    """``[B]`` int sequence lengths -> ``[B, T]`` bool, True for visits ``t < lengths[b]`` (T = ``max_visits``)."""
    return torch.arange(max_visits, device=lengths.device).unsqueeze(0) < lengths.unsqueeze(1)


class VisitSequenceClassifier(nn.Module):
    """Per-visit features + EDSS -> tanh RNN over visits -> dropout -> linear, read at the last real visit.

    Padded visits (index ``>= lengths[b]``) are replaced by zeros before the RNN and the output is read at
    ``lengths[b] - 1``; since the RNN is causal, their content (even NaN) never reaches the logits or the
    gradients.

    The buffer ``decision_threshold`` (a scalar, 0.5 until validation chooses one, see
    ``msmonai.engine.selection``) travels with the ``state_dict``, so every workflow applies the threshold the
    model was selected with; checkpoints written before it existed load with 0.5.

    The RNN's input weights are drawn U(-1/sqrt(F + E), 1/sqrt(F + E)), scaled by its input width: PyTorch's default
    scales them by the hidden size, which with ResNet18's 512 features saturated 17 % of the tanh states at
    initialisation (``docs/networks.md``).

    Args:
        feature_dim: F, size of one visit's image feature vector.
        edss_dim: E, number of EDSS subscores per visit.
        num_classes: number of logits.
        rnn_hidden: hidden size of the RNN.
        dropout: drop probability before the linear layer.
        alpha_dropout: use ``nn.AlphaDropout`` (self-normalising networks) instead of ``nn.Dropout``.
    """

    def __init__(
        self,
        feature_dim: int,
        edss_dim: int = 8,
        num_classes: int = 2,
        rnn_hidden: int = 64,
        dropout: float = 0.2,
        alpha_dropout: bool = False,
    ) -> None:
        super().__init__()
        self.rnn = nn.RNN(feature_dim + edss_dim, rnn_hidden, nonlinearity="tanh", batch_first=True)
        bound = (feature_dim + edss_dim) ** -0.5
        nn.init.uniform_(self.rnn.weight_ih_l0, -bound, bound)
        self.dropout = nn.AlphaDropout(dropout) if alpha_dropout else nn.Dropout(dropout)
        self.fc = nn.Linear(rnn_hidden, num_classes)
        self.register_buffer("decision_threshold", torch.tensor(DEFAULT_THRESHOLD))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        state_dict.setdefault(prefix + "decision_threshold", torch.tensor(DEFAULT_THRESHOLD))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def forward(self, features: torch.Tensor, edss: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``features [B, T, F]``, ``edss [B, T, E]``, ``lengths [B]`` int64 in ``[1, T]`` -> logits ``[B, C]``."""
        lengths = lengths.to(features.device)
        check_lengths(lengths, features.shape[0], features.shape[1])
        return self.unchecked(features, edss, lengths)

    @torch.jit.export
    def unchecked(self, features: torch.Tensor, edss: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``forward`` without the check of ``lengths`` (on the same device as ``features``): the graph an export
        traces, free of data-dependent Python."""
        real = real_visit_mask(lengths, features.shape[1]).unsqueeze(2)
        inputs = torch.cat([features, edss], dim=2)
        inputs = torch.where(real, inputs, torch.zeros_like(inputs))
        states, _ = self.rnn(inputs)  # [B, T, H]
        last_states = states[torch.arange(states.shape[0], device=states.device), lengths - 1]  # [B, H]
        return self.fc(self.dropout(last_states))


class VisitSequenceNetwork(nn.Module):
    """Base of the three networks: a per-visit image encoder followed by :class:`VisitSequenceClassifier`.

    This is the one place where a batch of visit sequences is flattened into volumes for the encoder: only
    the real visits are encoded (padding costs no compute and never enters batch-norm statistics).

    Args:
        encoder: maps volumes ``[N, C, D, H, W]`` to features ``[N, feature_dim]``.
        feature_dim: the encoder's output size; F, a visit's features, is two more with ``in_channels`` 2.
        spatial_size: (D, H, W) the network is built for; inputs of another size are rejected.
        in_channels: C, channels of one visit's volume (1: the T1 volume; 2: with the change map of its difference
            from the visit before, ``msmonai.engine.VisitVolumes``). With 2, each visit's features end in its
            :func:`change_evidence`.
        edss_dim, num_classes, rnn_hidden, dropout, alpha_dropout: see :class:`VisitSequenceClassifier`.
        encode_chunk: when > 0, the volumes are encoded this many at a time, so that memory stops growing with
            the batch; in training each chunk runs under activation checkpointing (its activations are recomputed
            in the backward pass, about one more encoder forward). Results and gradients are unchanged, hence only
            for encoders without batch statistics (batch-norm would see each chunk instead of the batch).
            0 (default): all volumes at once.
    """

    def __init__(
        self,
        encoder: nn.Module,
        feature_dim: int,
        spatial_size: Sequence[int] = DEFAULT_SPATIAL_SIZE,
        edss_dim: int = 8,
        num_classes: int = 2,
        rnn_hidden: int = 64,
        dropout: float = 0.2,
        alpha_dropout: bool = False,
        encode_chunk: int = 0,
        in_channels: int = 1,
    ) -> None:
        super().__init__()
        if len(spatial_size) != 3:
            raise ValueError(f"spatial_size must be (D, H, W), got {spatial_size}")
        if encode_chunk < 0:
            raise ValueError(f"encode_chunk must be >= 0, got {encode_chunk}")
        if encode_chunk and any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in encoder.modules()):
            raise ValueError("encode_chunk needs an encoder without batch-norm: its statistics would come from "
                             "each chunk instead of the whole batch")
        self.encode_chunk = int(encode_chunk)
        self.in_channels = int(in_channels)
        self.spatial_size: List[int] = [int(s) for s in spatial_size]
        self.edss_dim = edss_dim
        self.feature_dim = feature_dim + (2 if self.in_channels == 2 else 0)
        self.encoder = encoder
        self.head = VisitSequenceClassifier(self.feature_dim, edss_dim, num_classes, rnn_hidden, dropout, alpha_dropout)

    @torch.jit.export
    def encode(self, volumes: torch.Tensor) -> torch.Tensor:
        """The per-visit image encoder alone: ``[N, C, D, H, W]`` -> ``[N, F]``."""
        if volumes.dim() != 5 or volumes.shape[1] != self.in_channels or list(volumes.shape[2:]) != self.spatial_size:
            raise ValueError(f"volumes must have shape [N, {self.in_channels}, {self.spatial_size}], got {volumes.shape}")
        return self.unchecked_encode(volumes)

    @torch.jit.export
    def unchecked_encode(self, volumes: torch.Tensor) -> torch.Tensor:
        """``encode`` without the check of the shape: the graph an export traces."""
        if self.encode_chunk > 0:
            chunks = volumes.split(self.encode_chunk)
            if not torch.jit.is_scripting() and self.training and torch.is_grad_enabled():
                features = torch.cat([checkpointed(self.encoder, chunk) for chunk in chunks])
            else:
                features = torch.cat([self.encoder(chunk) for chunk in chunks])
        else:
            features = self.encoder(volumes)
        if self.in_channels == 2:
            features = torch.cat([features, change_evidence(volumes[:, 1])], dim=1)
        return features

    @torch.jit.export
    def classify(self, features: torch.Tensor, edss: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The head alone: ``features [B, T, F]``, ``edss [B, T, E]``, ``lengths [B]`` -> logits ``[B, C]``."""
        if features.shape[2] != self.feature_dim or edss.shape[2] != self.edss_dim:
            raise ValueError(
                f"features/edss must end in {self.feature_dim}/{self.edss_dim}, got {features.shape}/{edss.shape}"
            )
        if features.shape[:2] != edss.shape[:2]:
            raise ValueError(f"features {features.shape} and edss {edss.shape} disagree on [B, T]")
        return self.head(features, edss, lengths)

    @torch.jit.export
    def visit_features(self, image: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Encode the real visits only: ``image [B, T, C, D, H, W]``, ``lengths [B]`` -> ``[B, T, F]`` (zeros after each length)."""
        if image.dim() != 6:
            raise ValueError(f"image must have shape [B, T, C, D, H, W], got {image.shape}")
        batch, max_visits = image.shape[0], image.shape[1]
        lengths = lengths.to(image.device)
        check_lengths(lengths, batch, max_visits)
        real = real_visit_mask(lengths, max_visits)  # [B, T]
        encoded = self.encode(image[real])  # [N_real, F]
        features = encoded.new_zeros((batch, max_visits, encoded.shape[1]))
        features[real] = encoded
        return features

    def forward(self, image: torch.Tensor, edss: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``image [B, T, C, D, H, W]``, ``edss [B, T, E]``, ``lengths [B]`` int64 -> logits ``[B, num_classes]``."""
        lengths = lengths.to(image.device)
        return self.classify(self.visit_features(image, lengths), edss, lengths)
