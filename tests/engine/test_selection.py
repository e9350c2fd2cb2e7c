"""Model selection: validation ROC AUC picks the epoch (ties to the later one, not the earliest), the threshold chosen on
that epoch's validation predictions is stored in the checkpoint, and every workflow reads it back."""

import warnings

import pytest
import torch
from ignite.engine import Engine, Events
from monai.engines import SupervisedEvaluator
from torch.utils.data import DataLoader

from msmonai.engine import (
    BestCheckpoint,
    EarlyStopping,
    FeatureBatch,
    FeatureClassifier,
    ValidationAUC,
    ValidationThreshold,
    collate_features,
    decision_threshold,
    later_epoch_wins,
)
from msmonai.engine.selection import roc_auc_or_chance
from msmonai.evaluation import select_threshold
from msmonai.networks import ResNet3D

LABELS = [0, 0, 1, 0, 1, 1, 0, 1]
SCORES = [0.1, 0.35, 0.3, 0.2, 0.8, 0.6, 0.7, 0.9]  # 13 of the 16 (active, quiet) pairs ranked right


def planted_network() -> FeatureClassifier:
    """A real network whose probability of activity is monotone in ``direction * edss[..., 0]`` (set per epoch)."""
    network = ResNet3D(spatial_size=(4, 16, 16), channels=(4,), strides=(1,), blocks_per_stage=(1,), rnn_hidden=2,
                       dropout=0.0)
    head = network.head
    with torch.no_grad():
        for parameter in head.parameters():
            parameter.zero_()
        head.rnn.weight_ih_l0[0, network.feature_dim] = 1.0  # hidden 0 = tanh(edss[0])
        head.fc.weight[1, 0] = 4.0  # logit of activity
    return FeatureClassifier(network)


def observations() -> list[dict]:
    return [{"features": torch.zeros(1, 4), "edss": torch.tensor([[score] + [0.0] * 7]), "length": 1, "label": label,
             "patient": f"P{i}", "last_visit_date": "2020-01-01"} for i, (label, score) in enumerate(zip(LABELS, SCORES))]


def test_auc_is_the_ranking_metric_and_chance_for_a_single_class():
    assert roc_auc_or_chance(torch.tensor(SCORES), torch.tensor(LABELS)) == pytest.approx(13 / 16)
    with pytest.warns(UserWarning, match="single class"):
        assert roc_auc_or_chance(torch.tensor(SCORES), torch.zeros(8)) == 0.5


def test_best_epoch_is_the_best_ranked_later_one_and_carries_its_threshold(tmp_path):
    model = planted_network()
    validator = SupervisedEvaluator(
        device="cpu", val_data_loader=DataLoader(observations(), batch_size=3, collate_fn=collate_features),
        network=model, prepare_batch=FeatureBatch(), key_val_metric={"val_auc": ValidationAUC()},
        metric_cmp_fn=later_epoch_wins, decollate=False,
        val_handlers=[ValidationThreshold(model), BestCheckpoint(str(tmp_path / "model.pt"), model)],
    )
    # epoch 1 ranks the observations backwards, epochs 2 and 3 rank them equally well (ties: the later wins)
    for epoch, direction in ((1, -1.0), (2, 1.0), (3, 2.0)):
        with torch.no_grad():
            model.head.rnn.weight_ih_l0[0, 4] = direction
        validator.run(epoch)
    assert validator.state.best_metric == pytest.approx(13 / 16)
    assert validator.state.best_metric_epoch == 3
    saved = torch.load(tmp_path / "model.pt", weights_only=True)
    assert float(saved["head.rnn.weight_ih_l0"][0, 4]) == 2.0
    probabilities = torch.sigmoid(4 * torch.tanh(2 * torch.tensor(SCORES)))
    expected = select_threshold(LABELS, probabilities.numpy(), "f1")
    assert float(saved["head.decision_threshold"]) == pytest.approx(expected, abs=1e-6)
    assert decision_threshold(model) == pytest.approx(expected, abs=1e-6)
    assert expected != 0.5


def test_checkpoints_from_before_the_stored_threshold_load_with_one_half():
    network = ResNet3D(spatial_size=(4, 16, 16), channels=(4,), strides=(1,), blocks_per_stage=(1,))
    old = {k: v for k, v in network.state_dict().items() if k != "head.decision_threshold"}
    fresh = ResNet3D(spatial_size=(4, 16, 16), channels=(4,), strides=(1,), blocks_per_stage=(1,))
    fresh.head.decision_threshold.fill_(0.3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fresh.load_state_dict(old)
    assert decision_threshold(fresh) == 0.5


def test_early_stopping_ends_training_patience_epochs_after_the_best():
    validator = Engine(lambda engine, batch: None)
    validator.state.best_metric_epoch, validator.state.key_metric_name = 0, "val_auc"
    scores = {1: 0.6, 2: 0.8, 3: 0.7, 4: 0.8, 5: 0.5, 6: 0.5, 7: 0.5, 8: 0.9}

    def validate(trainer):  # stands in for the ValidationHandler: best epoch by score, ties to the later
        epoch = trainer.state.epoch
        if scores[epoch] >= scores.get(validator.state.best_metric_epoch, -1):
            validator.state.best_metric_epoch = epoch

    trainer = Engine(lambda engine, batch: None)
    trainer.add_event_handler(Events.EPOCH_COMPLETED, validate)
    EarlyStopping(validator, patience=3).attach(trainer)
    trainer.run([0], max_epochs=8)
    assert validator.state.best_metric_epoch == 4  # the tie at epoch 4 moved the best forward
    assert trainer.state.epoch == 7  # three epochs without a new best; epoch 8's 0.9 is never reached

    never = Engine(lambda engine, batch: None)
    EarlyStopping(validator, patience=0).attach(never)
    assert never.run([0], max_epochs=5).epoch == 5
