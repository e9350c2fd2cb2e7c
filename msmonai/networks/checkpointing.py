"""Activation checkpointing: a module's activations are not kept for the backward pass but recomputed there,
trading about one more forward pass of that module for its activation memory.

The recomputation must not change module state: batch-norm running statistics are restored after it, so a
checkpointed module trains exactly as an uncheckpointed one (it sees the same batch, hence the same statistics,
outputs and gradients; the random state of dropout is replayed by ``torch.utils.checkpoint`` itself).
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint


@contextlib.contextmanager
def batch_norm_state_kept(module: nn.Module) -> Iterator[None]:
    """Restore the running statistics (and batch counters) of ``module``'s batch-norm layers on exit."""
    norms = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
    saved = [[buffer.clone() for buffer in (m.running_mean, m.running_var, m.num_batches_tracked)] for m in norms]
    try:
        yield
    finally:
        with torch.no_grad():
            for norm, (mean, var, count) in zip(norms, saved):
                norm.running_mean.copy_(mean)
                norm.running_var.copy_(var)
                norm.num_batches_tracked.copy_(count)


def checkpointed(module: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    """``module(inputs)`` with its activations recomputed in the backward pass instead of kept (eager mode only)."""
    return checkpoint(
        module, inputs, use_reentrant=False,
        context_fn=lambda: (contextlib.nullcontext(), batch_norm_state_kept(module)),
    )
