"""Monte-Carlo dropout (Gal & Ghahramani 2016; used for MS progression by Tousignant et al., MIDL 2019)."""

from __future__ import annotations

import torch
from torch import nn

DROPOUT_TYPES = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout, nn.FeatureAlphaDropout)


@torch.no_grad()
def mc_dropout_probabilities(network: nn.Module, inputs: tuple, samples: int) -> torch.Tensor:
    """Probabilities of activity from ``samples`` stochastic passes -> ``[samples, B]``.

    Only dropout layers are switched to training mode; normalisation layers keep their running statistics. For the
    msmonai sequence networks, whose only dropout is in the head, visits are encoded once and only the head is sampled.
    The network's modes are restored afterwards. A network without dropout gives identical samples (std 0).
    """
    modes = {m: m.training for m in network.modules()}
    try:
        network.eval()
        if _dropout_only_in_head(network):  # encode each visit once, sample only the head
            image, edss, lengths = inputs
            features = network.visit_features(image, lengths)
            network.head.train()

            def sample() -> torch.Tensor:
                return network.classify(features, edss, lengths)
        else:
            for module in network.modules():
                if isinstance(module, DROPOUT_TYPES):
                    module.train()

            def sample() -> torch.Tensor:
                return network(*inputs)
        return torch.stack([torch.softmax(sample().float(), dim=1)[:, 1] for _ in range(samples)])
    finally:
        for module, mode in modes.items():
            module.train(mode)


def _dropout_only_in_head(network: nn.Module) -> bool:
    """Whether ``network`` is a visit-sequence network whose encoder holds no dropout (the head may)."""
    encoder = getattr(network, "encoder", None)
    return (hasattr(network, "visit_features") and hasattr(network, "head") and encoder is not None
            and not any(isinstance(m, DROPOUT_TYPES) for m in encoder.modules()))
