"""The writer of ``predictions.csv`` and ``metrics.json`` (with Monte-Carlo-dropout uncertainty) of evaluation and inference."""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from ignite.engine import Engine, Events

from msmonai.engine.mc_dropout import mc_dropout_probabilities
from msmonai.engine.selection import decision_threshold
from msmonai.evaluation.threshold import apply_threshold
from msmonai.fileio import write_json

logger = logging.getLogger(__name__)


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
        model_name: shown in figure titles; None (default): the class name of the evaluated network.
    """

    def __init__(
        self,
        output_dir: str,
        threshold: float | None = None,
        metrics: bool = False,
        mc_samples: int = 0,
        model_name: str | None = None,
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
        name = self.model_name or type(engine.network).__name__
        plot_confusion_matrix(result["confusion_matrix"]["counts"], self.output_dir / "confusion_matrix.png", name)
        if len(set(y_true.tolist())) == 2:
            plot_roc(y_true, y_score, self.output_dir / "roc.png", name)
        logger.info("metrics: %s", {k: result[k] for k in ("accuracy", "precision", "recall", "f1", "fbeta")})
