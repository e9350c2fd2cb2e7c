"""Ignite handlers of the bundles: per-epoch seeding, the resumable last checkpoint, and the writer of
``metrics.json`` / ``predictions.csv`` (with Monte-Carlo-dropout uncertainty)."""

from __future__ import annotations

import logging
import pickle
import random
from pathlib import Path

import numpy as np
import torch
from ignite.engine import Engine, Events

from msmonai.engine.mc_dropout import mc_dropout_probabilities
from msmonai.engine.selection import decision_threshold
from msmonai.evaluation.threshold import apply_threshold
from msmonai.fileio import atomic_path, write_json

logger = logging.getLogger(__name__)


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


class LastCheckpoint:
    """The resumable checkpoint: saved atomically to ``path`` after every epoch, loaded at start with ``resume``.

    It holds the ``state_dict`` of each object of ``save_dict`` (network, optimizer), the trainer's and the validator's
    best metric, so a resumed run neither repeats epochs nor overwrites a better best checkpoint. Loading uses
    ``torch.load(weights_only=True)``: a checkpoint carrying pickled code is refused. Only rank 0 writes.

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
        if _rank():
            return
        state = {name: _unwrap(obj).state_dict() for name, obj in self.save_dict.items()}
        state["trainer"] = {"epoch": engine.state.epoch, "iteration": engine.state.iteration}
        if self.validator is not None:
            state["best"] = {"metric": float(self.validator.state.best_metric),
                             "epoch": int(self.validator.state.best_metric_epoch)}
        with atomic_path(self.path) as tmp:
            torch.save(state, tmp)

    def load(self, engine: Engine) -> None:
        """Restore the last checkpoint when resuming; a fresh run when there is none yet."""
        if not self.resume:
            return
        if not self.path.is_file():
            logger.info("resume: no checkpoint at %s yet, starting from epoch 1", self.path)
            return
        max_epochs = engine.state.max_epochs
        state = load_checkpoint(self.path, map_location="cpu")
        for name, obj in self.save_dict.items():
            _unwrap(obj).load_state_dict(state[name])
        engine.state.epoch = state["trainer"]["epoch"]
        engine.state.iteration = state["trainer"]["iteration"]
        engine.state.max_epochs = max_epochs
        if self.validator is not None and "best" in state:
            self.validator.state.best_metric = state["best"]["metric"]
            self.validator.state.best_metric_epoch = state["best"]["epoch"]
        logger.info("resumed from %s after epoch %d", self.path, engine.state.epoch)


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict:
    """``torch.load(path, weights_only=True)`` with a one-line error for unsafe or unreadable files."""
    from msmonai.errors import UserError

    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        raise UserError(f"{path}: refused, the checkpoint holds more than tensors (pickled code?); "
                        "only weights-only checkpoints are loaded") from err
    except (OSError, RuntimeError, EOFError) as err:
        raise UserError(f"{path}: cannot read checkpoint ({err})") from err


def loss_value(output: dict) -> float:
    """Output transform for loss logging from a non-decollated trainer output."""
    return float(output["loss"])


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
        if engine.state.best_metric_epoch != engine.state.epoch or _rank():
            return
        with atomic_path(self.path) as tmp:
            torch.save(_unwrap(self.network).state_dict(), tmp)
        logger.info("best %s %.4f at epoch %d: saved %s", engine.state.key_metric_name, engine.state.best_metric,
                    engine.state.epoch, self.path)


def _rank() -> int:
    dist = torch.distributed
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def _unwrap(obj):
    return obj.module if isinstance(obj, torch.nn.parallel.DistributedDataParallel) else obj


class PredictionWriter:
    """Collects every observation's probability of activity and writes the evaluation or inference outputs.

    Attach to an evaluator built with ``decollate=False`` so that ``engine.state.batch`` is the collated batch.
    On completion it writes ``predictions.csv`` (the format of :mod:`msmonai.evaluation.predictions`) and, with
    ``metrics=True``, ``metrics.json`` (``msmonai.evaluation.binary_metrics``),
    ``confusion_matrix.png`` and ``roc.png`` into ``output_dir``.

    Args:
        output_dir: folder of the outputs.
        threshold: probability at or above which an observation is predicted active; None (default): the threshold
            stored in the network when it was selected (``msmonai.engine.selection``).
        metrics: also write metrics and figures (needs labels).
        mc_samples: Monte-Carlo dropout passes per observation for the uncertainty (0: none).
        model_name: shown in figure titles.
    """

    def __init__(
        self,
        output_dir: str,
        threshold: float | None = None,
        metrics: bool = False,
        mc_samples: int = 0,
        model_name: str = "model",
    ) -> None:
        self.output_dir = Path(output_dir)
        self.threshold = None if threshold is None else float(threshold)
        self.metrics = metrics
        self.mc_samples = int(mc_samples)
        self.model_name = model_name
        self.rows: list[dict] = []

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(Events.EPOCH_STARTED, lambda _: self.rows.clear())
        engine.add_event_handler(Events.ITERATION_COMPLETED, self.collect)
        engine.add_event_handler(Events.EPOCH_COMPLETED, self.write)

    def cut(self, engine: Engine) -> float:
        """The threshold in force: the one given, else the one stored in the evaluated network."""
        return self.threshold if self.threshold is not None else decision_threshold(engine.network)

    def collect(self, engine: Engine) -> None:
        """Append the rows of the batch that just ran."""
        batch = engine.state.batch
        cut = self.cut(engine)
        prob = torch.softmax(engine.state.output["pred"].float(), dim=1)[:, 1]
        spread = self._mc_dropout_std(engine, batch) if self.mc_samples else None
        for i, patient in enumerate(batch["patient"]):
            label = int(batch["label"][i])
            self.rows.append(
                {
                    "patient": patient,
                    "fold": None,  # filled in by cross-validation, which knows the held-out fold
                    "last_visit_date": batch["last_visit_date"][i],
                    "probability_active": float(prob[i]),
                    "prediction": int(apply_threshold(float(prob[i]), cut)),
                    "uncertainty": float(spread[i]) if spread is not None else None,
                    "label": label if label >= 0 else None,
                }
            )

    def _mc_dropout_std(self, engine: Engine, batch: dict) -> torch.Tensor:
        """Std over ``mc_samples`` passes with dropout active (batch norm stays in eval mode) -> ``[B]``."""
        image, _, args, kwargs = engine.prepare_batch(batch, engine.state.device, engine.non_blocking)
        samples = mc_dropout_probabilities(engine.network, (image, *args), self.mc_samples)
        return samples.std(dim=0)

    def write(self, engine: Engine) -> None:
        """Write the outputs for everything collected this run."""
        import pandas as pd

        from msmonai.evaluation import binary_metrics, write_predictions
        from msmonai.evaluation.figures import plot_confusion_matrix, plot_roc
        from msmonai.evaluation.predictions import COLUMNS

        table = pd.DataFrame(self.rows, columns=list(COLUMNS))
        write_predictions(table, self.output_dir / "predictions.csv")
        logger.info("wrote %d predictions to %s", len(table), self.output_dir / "predictions.csv")
        if not self.metrics:
            return
        labelled = table.dropna(subset=["label"])
        y_true = labelled["label"].astype(int).to_numpy()
        y_score = labelled["probability_active"].to_numpy()
        y_pred = labelled["prediction"].astype(int).to_numpy()
        result = binary_metrics(y_true, y_pred, y_score)
        result["threshold"] = self.cut(engine)
        write_json(self.output_dir / "metrics.json", result)
        plot_confusion_matrix(result["confusion_matrix"]["counts"], self.output_dir / "confusion_matrix.png", self.model_name)
        if len(set(y_true.tolist())) == 2:
            plot_roc(y_true, y_score, self.output_dir / "roc.png", self.model_name)
        logger.info("metrics: %s", {k: result[k] for k in ("accuracy", "precision", "recall", "f1", "fbeta")})
