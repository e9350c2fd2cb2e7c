"""Checkpoints: the resumable last checkpoint, the best checkpoint, and loading weights-only files safely (also into
the evaluate and inference workflows)."""

from __future__ import annotations

import contextlib
import logging
import pickle
from pathlib import Path
from typing import Iterator

import torch
from ignite.engine import Engine, Events

from msmonai.engine.distributed import rank, unwrap
from msmonai.errors import UserError
from msmonai.fileio import atomic_path

logger = logging.getLogger(__name__)


class LastCheckpoint:
    """The resumable checkpoint: saved atomically to ``path`` after every epoch, loaded at start with ``resume``.

    It holds the ``state_dict`` of each object of ``save_dict`` (network, optimizer), the trainer's and the validator's
    best metric, so a resumed run neither repeats epochs nor overwrites a better best checkpoint. Loading uses
    ``torch.load(weights_only=True)``: a checkpoint carrying pickled code is refused. Only rank 0 writes.
    It is loaded at the first start only: a trainer that runs again (a federated round, see ``docs/federated.md``)
    keeps the weights it was given instead of going back to ``path``.

    Args:
        path: checkpoint file.
        save_dict: ``{name: object with state_dict()}``; the trainer it is attached to is saved as ``"trainer"``.
        resume: load ``path`` (when it exists) before the first epoch.
        validator: the evaluator whose ``best_metric`` / ``best_metric_epoch`` are saved and restored.
    """

    def __init__(self, path: str, save_dict: dict, resume: bool = False, validator: Engine | None = None) -> None:
        self.path = Path(path)
        self.save_dict = save_dict
        self.resume = resume
        self.validator = validator

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(Events.STARTED, self.load)
        engine.add_event_handler(Events.EPOCH_COMPLETED, self.save)

    def save(self, engine: Engine) -> None:
        """Write the checkpoint of the epoch that just completed."""
        if rank():
            return
        state = {name: unwrap(obj).state_dict() for name, obj in self.save_dict.items()}
        state["trainer"] = {"epoch": engine.state.epoch, "iteration": engine.state.iteration}
        if self.validator is not None:
            state["best"] = {"metric": float(self.validator.state.best_metric),
                             "epoch": int(self.validator.state.best_metric_epoch)}
        with atomic_path(self.path) as tmp:
            torch.save(state, tmp)

    def load(self, engine: Engine) -> None:
        """Restore the last checkpoint when resuming (once); a fresh run when there is none yet."""
        if not self.resume:
            return
        self.resume = False
        if not self.path.is_file():
            logger.info("resume: no checkpoint at %s yet, starting from epoch 1", self.path)
            return
        max_epochs = engine.state.max_epochs
        state = load_checkpoint(self.path, map_location="cpu")
        for name, obj in self.save_dict.items():
            unwrap(obj).load_state_dict(state[name])
        engine.state.epoch = state["trainer"]["epoch"]
        engine.state.iteration = state["trainer"]["iteration"]
        engine.state.max_epochs = max_epochs
        if self.validator is not None and "best" in state:
            self.validator.state.best_metric = state["best"]["metric"]
            self.validator.state.best_metric_epoch = state["best"]["epoch"]
        logger.info("resumed from %s after epoch %d", self.path, engine.state.epoch)


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict:
    """``torch.load(path, weights_only=True)`` with a one-line error for unsafe or unreadable files."""
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        if "Unsupported global" in str(err):  # torch's weights-only unpickler met a class or function
            raise UserError(f"{path}: refused, the checkpoint holds more than tensors (pickled code?); "
                            "only weights-only checkpoints are loaded") from err
        raise UserError(f"{path}: cannot read checkpoint (not a PyTorch checkpoint, or damaged)") from err
    except (OSError, RuntimeError, EOFError) as err:
        raise UserError(f"{path}: cannot read checkpoint ({err})") from err


class BestCheckpoint:
    """Saves the network's ``state_dict`` atomically to ``path`` whenever the validator's key metric improves.

    Attach to the validator. It follows the validator's ``best_metric_epoch`` (which :class:`LastCheckpoint`
    restores on resume), so a resumed run keeps the same best model as an uninterrupted one. The file is a plain
    state_dict, as MONAI's ``ckpt_export`` and ``CheckpointLoader`` expect. Only rank 0 writes.
    """

    def __init__(self, path: str, network: torch.nn.Module) -> None:
        self.path = Path(path)
        self.network = network

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(Events.EPOCH_COMPLETED, self)

    def __call__(self, engine: Engine) -> None:
        if engine.state.best_metric_epoch != engine.state.epoch or rank():
            return
        with atomic_path(self.path) as tmp:
            torch.save(unwrap(self.network).state_dict(), tmp)
        logger.info("best %s %.4f at epoch %d: saved %s", engine.state.key_metric_name, engine.state.best_metric,
                    engine.state.epoch, self.path)


class TrainedWeights:
    """Loads the selected weights (a weights-only state_dict, ``models/model.pt``) into ``network`` when the evaluator
    starts, as MONAI's ``CheckpointLoader`` does, with one-line errors: a missing, damaged or code-carrying file
    (:func:`load_checkpoint`), or weights that do not fit the network (another architecture or ``spatial_size``).
    Attach to the evaluator."""

    def __init__(self, path: str, network: torch.nn.Module) -> None:
        self.path = Path(path)
        self.network = network

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(Events.STARTED, self)

    def __call__(self, engine: Engine) -> None:
        state = load_checkpoint(self.path, map_location="cpu")
        with weights_that_fit(self.path):
            unwrap(self.network).load_state_dict(state)


@contextlib.contextmanager
def weights_that_fit(path: str | Path) -> Iterator[None]:
    """Turn the RuntimeError of loading the weights of ``path`` into a network they do not fit (keys or shapes differ)
    into a one-line UserError naming the file."""
    try:
        yield
    except RuntimeError as err:
        reason = " ".join(str(err).split())[:300]
        raise UserError(f"{path}: these weights do not fit the bundle's network_def (another architecture "
                        f"or spatial_size?): {reason}") from err
