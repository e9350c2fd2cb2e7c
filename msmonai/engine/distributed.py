"""What the handlers need to know about DistributedDataParallel: this process's rank and the wrapped module."""

from __future__ import annotations

import torch


def rank() -> int:
    """Global rank of this process; 0 without an initialised process group."""
    dist = torch.distributed
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def unwrap(obj):
    """The module inside a ``DistributedDataParallel`` wrapper; anything else unchanged."""
    return obj.module if isinstance(obj, torch.nn.parallel.DistributedDataParallel) else obj
