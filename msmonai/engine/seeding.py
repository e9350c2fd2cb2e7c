"""Per-epoch seeding, so that a resumed run ends exactly as an uninterrupted one."""

from __future__ import annotations

import random

import numpy as np
import torch
from ignite.engine import Engine, Events


class EpochSeeder:
    """Seeds Python, NumPy and torch with ``seed + epoch`` at each epoch start.

    The data order, dropout and augmentation of an epoch then depend only on the seed and the epoch number, so a
    run resumed from its last checkpoint ends exactly as an uninterrupted one.
    """

    def __init__(self, seed: int = 0) -> None:
        self.seed = int(seed)

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(Events.EPOCH_STARTED, self)

    def __call__(self, engine: Engine) -> None:
        seed = self.seed + engine.state.epoch
        random.seed(seed)
        np.random.seed(seed % 2**32)
        torch.manual_seed(seed)
