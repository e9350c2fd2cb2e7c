"""Model selection on small validation folds: a ranking metric for the best checkpoint, and the decision threshold
chosen on the same validation predictions and stored in the network.

With 1-3 active observations in a validation fold, F1 at a fixed 0.5 threshold is 0 for most epochs and says
nothing about which epoch ranks patients best. The bundles therefore select the epoch with the highest validation
ROC AUC (threshold-free; ties go to the later epoch through the evaluator's ``metric_cmp_fn``), and at that epoch
:class:`ValidationThreshold` stores the F1-maximising threshold of the validation predictions in the network
(``head.decision_threshold``), so that the checkpoint carries it to evaluation, inference and ``predict``.
"""

from __future__ import annotations

import logging
import warnings

import ignite.distributed as idist
import numpy as np
import torch
from ignite.engine import Engine, Events
from ignite.metrics import EpochMetric

from msmonai.engine.distributed import unwrap
from msmonai.engine.outputs import probability_and_label

logger = logging.getLogger(__name__)

CHANCE_AUC = 0.5


def roc_auc_or_chance(probabilities: torch.Tensor, labels: torch.Tensor) -> float:
    """ROC AUC of ``probabilities [N]`` against 0/1 ``labels [N]``; 0.5 when ``labels`` hold a single class.

    The constant for a single-class fold makes every epoch tie, and ties go to the later epoch: model selection then
    falls back to the last epoch (logged as a warning).
    """
    from sklearn.metrics import roc_auc_score

    y = labels.detach().cpu().numpy().astype(int)
    if len(np.unique(y)) < 2:
        warnings.warn(f"the validation fold holds a single class ({len(y)} observations): ROC AUC is undefined, "
                      "model selection keeps the last epoch", stacklevel=2)
        return CHANCE_AUC
    return float(roc_auc_score(y, probabilities.detach().float().cpu().numpy()))


class ValidationAUC(EpochMetric):
    """ROC AUC over the whole validation epoch (see :func:`roc_auc_or_chance`), as an ignite metric.

    Under DistributedDataParallel the ranks' shards of the validation fold may differ in size by one (the validation
    sampler does not pad, so every observation counts once); ignite's ``EpochMetric`` gathers them with one
    ``all_gather`` that gloo refuses for unequal sizes ("Received data size doesn't match expected size"), so the
    shards are padded to the longest for the gather and trimmed after it.
    """

    def __init__(self) -> None:
        super().__init__(roc_auc_or_chance, output_transform=probability_and_label, check_compute_fn=False)

    def compute(self) -> float:
        if idist.get_world_size() == 1 or self._result is not None or not self._predictions:
            return super().compute()
        self._predictions = [_gather_uneven(torch.cat(self._predictions, dim=0))]
        self._targets = [_gather_uneven(torch.cat(self._targets, dim=0))]
        self._result = float(idist.broadcast(self.compute_fn(self._predictions[0], self._targets[0])
                                             if idist.get_rank() == 0 else 0.0, src=0))
        return self._result


def _gather_uneven(values: torch.Tensor) -> torch.Tensor:
    """``[N_r]`` on each rank -> ``[sum N_r]`` on every rank, in rank order, for shards of different lengths."""
    sizes = [int(n) for n in idist.all_gather(torch.tensor([len(values)], device=values.device))]
    padded = torch.zeros(max(sizes), dtype=values.dtype, device=values.device)
    padded[: len(values)] = values
    gathered = idist.all_gather(padded).view(len(sizes), max(sizes))
    return torch.cat([row[:size] for row, size in zip(gathered, sizes)])


def later_epoch_wins(current: float, best: float) -> bool:
    """``metric_cmp_fn`` of the evaluators: an equal validation score replaces the earlier epoch's."""
    return current >= best


class ValidationThreshold:
    """Stores the decision threshold chosen on the validation predictions of the best epoch in the network.

    Attach to the validator before ``BestCheckpoint`` (handlers run in order), so the saved checkpoint holds the
    threshold of its own epoch.

    Args:
        network: the validated network (a ``VisitSequenceNetwork``, a ``FeatureClassifier`` or either inside DDP);
            its ``head.decision_threshold`` buffer receives the threshold.
        criterion: ``"f1"`` or ``"fbeta"`` (``msmonai.evaluation.select_threshold``); ``"fixed"`` keeps 0.5.
    """

    def __init__(self, network: torch.nn.Module, criterion: str = "f1") -> None:
        self.network = network
        self.criterion = criterion
        self.probabilities: list[torch.Tensor] = []
        self.labels: list[torch.Tensor] = []

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(Events.EPOCH_STARTED, self.reset)
        engine.add_event_handler(Events.ITERATION_COMPLETED, self.collect)
        engine.add_event_handler(Events.EPOCH_COMPLETED, self.store)

    def reset(self, _: Engine) -> None:
        self.probabilities.clear()
        self.labels.clear()

    def collect(self, engine: Engine) -> None:
        probability, label = probability_and_label(engine.state.output)
        self.probabilities.append(probability.detach().cpu())
        self.labels.append(label.detach().cpu())

    def store(self, engine: Engine) -> None:
        if engine.state.best_metric_epoch != engine.state.epoch or not self.labels:
            return
        from msmonai.evaluation.threshold import select_threshold  # scikit-learn, loaded only when validating

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a fold without an active observation keeps the default, said below
            cut = select_threshold(torch.cat(self.labels).numpy(), torch.cat(self.probabilities).numpy(), self.criterion)
        set_decision_threshold(self.network, cut)
        logger.info("decision threshold %.3f (%s on the validation predictions of epoch %d)", cut, self.criterion,
                    engine.state.epoch)


def _head(network: torch.nn.Module) -> torch.nn.Module:
    return unwrap(network).head


def decision_threshold(network: torch.nn.Module) -> float:
    """The threshold stored in ``network`` (0.5 for a network never validated)."""
    return float(_head(network).decision_threshold)


def set_decision_threshold(network: torch.nn.Module, value: float) -> None:
    """Store ``value`` as ``network``'s decision threshold (saved with its ``state_dict``)."""
    _head(network).decision_threshold.fill_(float(value))


class EarlyStopping:
    """Ends training when the validator's best epoch (by its key metric, ties to the later) lies ``patience`` epochs back.

    It reads the validator's own ``best_metric_epoch``, so it stops on exactly the metric and tie rule that select the
    checkpoint (ignite's ``EarlyStopping`` would keep a second, strict-improvement record). Attach to the trainer after
    the ``ValidationHandler``. ``patience`` < 1 disables it (the paper's fixed schedules).

    Args:
        validator: the evaluator run by the ``ValidationHandler``.
        patience: epochs without a new best before training stops.
    """

    def __init__(self, validator: Engine, patience: int = 0) -> None:
        self.validator = validator
        self.patience = int(patience)

    def attach(self, engine: Engine) -> None:
        if self.patience >= 1:
            engine.add_event_handler(Events.EPOCH_COMPLETED, self)

    def __call__(self, engine: Engine) -> None:
        since_best = engine.state.epoch - int(self.validator.state.best_metric_epoch)
        if since_best >= self.patience:
            logger.info("early stopping after epoch %d: no better validation %s for %d epochs (best at epoch %d)",
                        engine.state.epoch, self.validator.state.key_metric_name, since_best,
                        self.validator.state.best_metric_epoch)
            engine.terminate()
