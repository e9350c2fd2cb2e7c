"""Batch-norm statistics that match the trained weights, for validation on small batches.

Batch-norm layers normalise with the statistics of the current batch in training and with running averages
(momentum 0.1) in evaluation. With batches of 4 sequences (about 10 visit volumes) the batch statistics vary a lot
from step to step and the running averages trail weights that change every step, so the network evaluated in eval
mode is not the one that was trained: on the demo cohort the validation ROC AUC of the same run jumped between 0.1
and 0.9 from one epoch to the next, and the eval-mode training-set AUC between 0.56 and 0.93 (docs/training.md).
:class:`BatchNormRecalibration` recomputes the running statistics over the training data with the epoch's final
weights (PyTorch's cumulative average, ``momentum=None``, as ``torch.optim.swa_utils.update_bn`` does) before the
epoch is validated, so validation, model selection and the saved checkpoint see consistent statistics.
"""

from __future__ import annotations

from typing import Callable, Iterable

import torch
from ignite.engine import Engine, Events
from torch import nn

from msmonai.engine.distributed import unwrap


def _trainable_batchnorms(model: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    """Batch-norm layers that update running statistics in training mode (frozen ones stay in eval mode)."""
    return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats
            and m.training]


@torch.no_grad()
def recalibrate_batchnorm(model: nn.Module, batches: Iterable, forward: Callable[[nn.Module, object], None]) -> int:
    """Reset and recompute the running statistics of ``model``'s batch-norm layers over ``batches``.

    Args:
        model: the network (not wrapped in DDP: its forward would wait for the other ranks).
        batches: the training batches, in any order.
        forward: ``forward(model, batch)`` runs the model on one batch.

    Returns:
        The number of batch-norm layers recalibrated (0: the model has none, nothing ran).
    """
    was_training = model.training
    model.train()  # modules that keep themselves in eval mode (a frozen backbone) are left out below
    layers = _trainable_batchnorms(model)
    if layers:
        momenta = [layer.momentum for layer in layers]
        for layer in layers:
            layer.reset_running_stats()
            layer.momentum = None  # cumulative average over all batches
        for batch in batches:
            forward(model, batch)
        for layer, momentum in zip(layers, momenta):
            layer.momentum = momentum
    model.train(was_training)
    return len(layers)


class BatchNormRecalibration:
    """At the end of every training epoch, recompute batch-norm statistics over ``loader`` with the final weights.

    Attach to the trainer before the ``ValidationHandler`` (handlers of one event run in order). Costs one forward
    pass over the training data per epoch without gradients (about a third of an epoch); a no-op for networks
    without batch-norm (ResNeXt3D) or with a frozen backbone. Under DDP each rank recalibrates on its own shard.

    Args:
        network: the trained network (DDP is unwrapped).
        loader: the training data loader.
        prepare_batch: ``prepare_batch(batch, device, non_blocking) -> (image, label, args, kwargs)`` without
            augmentation (the validation one).
    """

    def __init__(self, network: nn.Module, loader: Iterable, prepare_batch: Callable) -> None:
        self.network = network
        self.loader = loader
        self.prepare_batch = prepare_batch

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(Events.EPOCH_COMPLETED, self)

    def __call__(self, engine: Engine) -> None:
        model = unwrap(self.network)

        def forward(module: nn.Module, batch) -> None:
            inputs, _, args, kwargs = self.prepare_batch(batch, engine.state.device, engine.non_blocking)
            module(inputs, *args, **kwargs)

        recalibrate_batchnorm(model, self.loader, forward)
