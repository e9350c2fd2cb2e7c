"""The resumable last checkpoint, the best checkpoint and safe checkpoint loading, on a real ignite training loop."""

import pytest
import torch
from ignite.engine import Engine, Events

from msmonai.engine import BestCheckpoint, EpochSeeder, LastCheckpoint, load_checkpoint
from msmonai.errors import UserError


def _trainer(network, optimizer):
    """One SGD step per iteration on data drawn from torch's global generator (which ``EpochSeeder`` seeds)."""
    def step(engine, _):
        x = torch.randn(8, 3)
        loss = ((network(x) - x.sum(1, keepdim=True)) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.item()
    return Engine(step)


def _validator():
    """An evaluator holding a best metric and its epoch, as MONAI's evaluator does."""
    validator = Engine(lambda engine, batch: None)
    validator.state.best_metric, validator.state.best_metric_epoch = -1.0, -1
    return validator


def _train(path, epochs, resume, stop_after=None):
    torch.manual_seed(0)
    network = torch.nn.Linear(3, 1)
    optimizer = torch.optim.Adam(network.parameters(), lr=0.05)
    trainer = _trainer(network, optimizer)
    validator = _validator()

    @trainer.on(Events.EPOCH_COMPLETED)
    def validate(engine):  # registered before the checkpoint, as ValidationHandler is in the bundles
        if engine.state.epoch % 2 == 0:
            validator.state.best_metric, validator.state.best_metric_epoch = float(engine.state.epoch), engine.state.epoch

    EpochSeeder(seed=3).attach(trainer)
    LastCheckpoint(str(path), {"model": network, "optimizer": optimizer}, resume=resume, validator=validator).attach(trainer)
    if stop_after is not None:
        trainer.add_event_handler(Events.EPOCH_COMPLETED(once=stop_after), lambda engine: engine.terminate())
    trainer.run(range(5), max_epochs=epochs)
    return network, trainer, validator


def test_a_run_resumed_from_its_last_checkpoint_ends_as_an_uninterrupted_one(tmp_path):
    whole, _, _ = _train(tmp_path / "a" / "last.pt", epochs=5, resume=False)
    _train(tmp_path / "b" / "last.pt", epochs=5, resume=False, stop_after=2)
    saved = load_checkpoint(tmp_path / "b" / "last.pt")
    assert saved["trainer"]["epoch"] == 2 and saved["best"] == {"metric": 2.0, "epoch": 2}
    resumed, trainer, validator = _train(tmp_path / "b" / "last.pt", epochs=5, resume=True)
    assert trainer.state.epoch == 5 and trainer.state.iteration == 25
    assert validator.state.best_metric_epoch == 4
    for a, b in zip(whole.parameters(), resumed.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_resume_without_a_checkpoint_starts_fresh(tmp_path):
    _, trainer, _ = _train(tmp_path / "none" / "last.pt", epochs=2, resume=True)
    assert trainer.state.epoch == 2 and (tmp_path / "none" / "last.pt").is_file()


def test_a_trainer_run_again_keeps_the_weights_it_was_given(tmp_path):
    """A federated round (MONAI's MonaiAlgo) loads the global weights, raises max_epochs and runs the trainer again:
    resuming must not bring back last.pt's local weights over them."""
    path = tmp_path / "last.pt"
    _train(path, epochs=2, resume=False)
    network, trainer, _ = _train(path, epochs=3, resume=True)  # resumed once from epoch 2, trained epoch 3
    assert trainer.state.epoch == 3
    global_weights = {k: torch.full_like(v, 0.25) for k, v in network.state_dict().items()}
    network.load_state_dict(global_weights)
    seen = []
    trainer.add_event_handler(Events.EPOCH_STARTED, lambda engine: seen.append(network.weight.clone()))
    trainer.state.max_epochs = 4
    trainer.run()
    assert trainer.state.epoch == 4
    torch.testing.assert_close(seen[0], global_weights["weight"], rtol=0, atol=0)


def test_the_best_checkpoint_is_written_only_at_the_best_epoch(tmp_path):
    network = torch.nn.Linear(3, 1)
    validator = Engine(lambda engine, batch: None)
    path = tmp_path / "model.pt"
    BestCheckpoint(str(path), network).attach(validator)
    validator.state.key_metric_name = "val_auc"
    written = []

    @validator.on(Events.EPOCH_COMPLETED)
    def record(engine):
        written.append(path.is_file() and load_checkpoint(path)["weight"].clone())

    best_epochs = {1: 1, 2: 1, 3: 3}

    @validator.on(Events.EPOCH_STARTED)
    def change(engine):
        with torch.no_grad():
            network.weight.fill_(float(engine.state.epoch))
        engine.state.best_metric_epoch, engine.state.best_metric = best_epochs[engine.state.epoch], 0.5

    validator.run([0], max_epochs=3)
    assert [float(w.flatten()[0]) for w in written] == [1.0, 1.0, 3.0]


def test_a_checkpoint_carrying_pickled_code_is_refused(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"model": torch.nn.Linear(2, 1)}, path)  # a whole module: unpickling would run its class's code
    with pytest.raises(UserError, match="refused"):
        load_checkpoint(path)
    (tmp_path / "broken.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match="cannot read checkpoint"):
        load_checkpoint(tmp_path / "broken.pt")
