"""Output transforms of the trainer's and evaluators' outputs for logging and metrics."""

from __future__ import annotations

import torch


def loss_value(output: dict) -> float:
    """Output transform for loss logging from a non-decollated trainer output."""
    return float(output["loss"])


def probability_and_label(output: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """Output transform of a non-decollated trainer or evaluator: (probability of activity ``[B]``, label ``[B]``)."""
    return torch.softmax(output["pred"].detach().float(), dim=1)[:, 1], output["label"]
