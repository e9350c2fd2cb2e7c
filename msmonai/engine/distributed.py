"""What the handlers need to know about DistributedDataParallel: this process's rank, the wrapped module, and which
handlers every rank runs."""

from __future__ import annotations

import torch


def rank() -> int:
    """Global rank of this process; 0 without an initialised process group."""
    dist = torch.distributed
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def unwrap(obj):
    """The module inside a ``DistributedDataParallel`` wrapper; anything else unchanged."""
    return obj.module if isinstance(obj, torch.nn.parallel.DistributedDataParallel) else obj


def every_rank_handlers(handlers: list) -> list:
    """The training handlers that ranks other than 0 run: all but those that only log (statistics, TensorBoard, MLflow,
    progress bar), chosen by type rather than by position in the list. Seeding, recalibration, validation, early stopping
    and the resumable checkpoint stay: without them the ranks would drift apart or one would stop alone."""
    from ignite.handlers import ProgressBar
    from monai.handlers import MLFlowHandler, StatsHandler, TensorBoardStatsHandler

    logging_only = (StatsHandler, TensorBoardStatsHandler, MLFlowHandler, ProgressBar)
    return [h for h in handlers if not isinstance(h, logging_only)]
