"""Batch-norm statistics that match the trained weights, for validation on small batches.

Batch-norm layers normalise with the statistics of the current batch in training and with running averages
(momentum 0.1) in evaluation. With batches of 4 sequences (about 10 visit volumes) the batch statistics vary a lot
from step to step and the running averages trail weights that change every step, so the network evaluated in eval
mode is not the one that was trained: on the demo cohort the validation ROC AUC of the same run jumped between 0.1
and 0.9 from one epoch to the next, and the eval-mode training-set AUC between 0.56 and 0.93 (docs/training.md).
:class:`BatchNormRecalibration` recomputes the running statistics over the training data with the epoch's final
weights (PyTorch's cumulative average, as ``torch.optim.swa_utils.update_bn`` computes it with ``momentum=None``)
before the epoch is validated, so validation, model selection and the saved checkpoint see consistent statistics.
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

    Each layer normalises every batch with that batch's statistics, as in training, and its running statistics
    become PyTorch's cumulative average (``momentum=None``): the mean of the batch means and of the unbiased batch
    variances. The statistics are taken here rather than by PyTorch's training-mode forward, which refuses a layer
    input with one value per channel (a batch of one volume whose feature map is 1x1): such a batch adds its mean,
    and its variance is left to the batches with more values (all batches pooled when none has).

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
    statistics: dict[nn.Module, list[tuple[int, torch.Tensor, torch.Tensor]]] = {layer: [] for layer in layers}
    try:
        for layer in layers:
            layer.forward = _batch_statistics_forward(layer, statistics[layer])  # an instance attribute, removed below
        for batch in batches if layers else ():
            forward(model, batch)
    finally:
        for layer in layers:
            del layer.forward
    for layer, seen in statistics.items():
        if seen:
            _set_running_statistics(layer, seen)
    model.train(was_training)
    return len(layers)


def _batch_statistics_forward(
    layer: nn.modules.batchnorm._BatchNorm, seen: list[tuple[int, torch.Tensor, torch.Tensor]]
) -> Callable[[torch.Tensor], torch.Tensor]:
    """The training-mode forward of ``layer`` ([N, C, ...] -> same shape, normalised by the batch's own statistics)
    that appends ``(values per channel, sum [C], sum of squares [C])`` of each input to ``seen``."""

    def forward(x: torch.Tensor) -> torch.Tensor:
        values = x.float()
        dims = [0, *range(2, x.dim())]
        count = values.numel() // values.shape[1]
        total, squares = values.sum(dims), values.square().sum(dims)
        seen.append((count, total, squares))
        mean = total / count
        variance = (squares / count - mean.square()).clamp_min(0)  # biased, as the training-mode normalisation
        shape = [1, -1] + [1] * (x.dim() - 2)
        out = (values - mean.view(shape)) / torch.sqrt(variance.view(shape) + layer.eps)
        if layer.affine:
            out = out * layer.weight.view(shape) + layer.bias.view(shape)
        return out.to(x.dtype)

    return forward


def _set_running_statistics(layer: nn.modules.batchnorm._BatchNorm,
                            seen: list[tuple[int, torch.Tensor, torch.Tensor]]) -> None:
    """Running mean and variance of ``layer`` from the per-batch sums ``seen`` (see :func:`recalibrate_batchnorm`)."""
    means = [total / count for count, total, _ in seen]
    spread = [(squares - total.square() / count) / (count - 1) for count, total, squares in seen if count > 1]
    if not spread:  # every batch had one value per channel: the variance of the batches' values
        values = torch.stack(means)
        spread = [values.var(dim=0, unbiased=len(means) > 1)]
    layer.running_mean.copy_(torch.stack(means).mean(dim=0))
    layer.running_var.copy_(torch.stack(spread).mean(dim=0).clamp_min(0))
    layer.num_batches_tracked.fill_(len(seen))


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
