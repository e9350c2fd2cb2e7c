"""Monte-Carlo dropout (Gal & Ghahramani 2016; used for MS progression by Tousignant et al., MIDL 2019)."""

from __future__ import annotations

import torch
from torch import nn

DROPOUT_TYPES = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout, nn.FeatureAlphaDropout)


@torch.no_grad()
def mc_dropout_probabilities(network: nn.Module, inputs: tuple, samples: int) -> torch.Tensor:
    """Probabilities of activity from ``samples`` stochastic passes -> ``[samples, B]``.

    Only dropout layers are switched to training mode; normalisation layers keep their running statistics.
    The network's modes are restored afterwards. A network without dropout gives identical samples (std 0).
    """
    modes = {m: m.training for m in network.modules()}
    try:
        network.eval()
        for module in network.modules():
            if isinstance(module, DROPOUT_TYPES):
                module.train()
        return torch.stack([torch.softmax(network(*inputs).float(), dim=1)[:, 1] for _ in range(samples)])
    finally:
        for module, mode in modes.items():
            module.train(mode)
