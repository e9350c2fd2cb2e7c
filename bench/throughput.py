"""Row 3: training throughput (visit volumes per second, forward + backward + optimizer step) through the bundle
workflow (MONAI SupervisedTrainer built from the bundle's train.json) against a minimal plain-PyTorch loop over the
same batches as plain in-memory tensors.

The two are interleaved, so that the load of a shared machine hits both alike: right after each workflow iteration,
a copy of the network (with its own optimizer of the same kind) takes a plain step on that iteration's batch, and
that step is left out of the workflow's time.
"""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Sequence

import torch

from bench.report import Row
from bench.timing import median
from bench.workspace import bundle_workflow


class PlainStep:
    """A minimal PyTorch training step on a copy of ``network``: zero_grad, forward, loss, backward, step."""

    def __init__(self, network: torch.nn.Module, loss_function, optimizer: torch.optim.Optimizer) -> None:
        self.network = copy.deepcopy(network).train()
        self.loss_function = loss_function
        self.optimizer = type(optimizer)(self.network.parameters(), **optimizer.defaults)

    def __call__(self, batch: dict) -> float:
        """Seconds of one step on ``batch`` (``image``/``edss`` as plain float32 tensors, converted before timing)."""
        image, edss = batch["image"].as_subclass(torch.Tensor).float(), batch["edss"].as_subclass(torch.Tensor)
        start = time.perf_counter()
        self.optimizer.zero_grad(set_to_none=True)
        self.loss_function(self.network(image, edss, batch["length"]), batch["label"]).backward()
        self.optimizer.step()
        return time.perf_counter() - start


def interleaved_iterations(architecture: str, items: Sequence[dict], volumes, work: Path, datalist: Path,
                           batch_size: int, iterations: int) -> tuple[list[float], list[float], list[int], int]:
    """``iterations`` + 1 workflow iterations (validation off), each followed by a plain step on its batch.

    Returns per measured iteration (the first is warm-up): the workflow's seconds (from the end of the previous
    iteration's plain step to this ``ITERATION_COMPLETED``: data loading, prepare_batch with its augmentation,
    the step and the handlers), the plain step's seconds, and the number of visit volumes in the batch; and the
    workflow's DataLoader worker count.
    """
    from ignite.engine import Events

    out = work / f"throughput_{architecture}"
    workflow = bundle_workflow(
        architecture,
        datalist=str(datalist), ckpt_path=str(out / "model.pt"), log_dir=str(out / "logs"), output_dir=str(out / "eval"),
        num_epochs=1, batch_size=batch_size, device="$torch.device('cpu')",
        **{"train#items": list(items), "train#volumes": volumes, "validate#volumes": volumes,
           "train#trainer#epoch_length": iterations + 1, "recalibrate_batchnorm": False,
           "train#handlers#2#_disabled_": True},  # handler 2: the ValidationHandler
    )
    parsed = workflow.parser.get_parsed_content
    plain_step = PlainStep(parsed("network"), parsed("loss"), parsed("optimizer"))
    trainer = parsed("train#trainer")
    bundle_s, plain_s, counts = [], [], []
    last = [0.0]

    def pair(engine) -> None:
        bundle_s.append(time.perf_counter() - last[0])
        counts.append(int(engine.state.batch["length"].sum()))
        plain_s.append(plain_step(engine.state.batch))
        last[0] = time.perf_counter()

    trainer.add_event_handler(Events.ITERATION_COMPLETED, pair)
    last[0] = time.perf_counter()
    workflow.run()
    return bundle_s[1:], plain_s[1:], counts[1:], parsed("train#dataloader").num_workers


def measure_throughput(architecture: str, items: Sequence[dict], volumes, work: Path, datalist: Path,
                       batch_size: int = 4, iterations: int = 4, note: str = "") -> Row:
    """Volumes/s of each arm over all measured iterations; overhead = median over iterations of bundle / plain - 1."""
    bundle_s, plain_s, counts, workers = interleaved_iterations(architecture, items, volumes, work, datalist, batch_size, iterations)
    overhead = median([b / p for b, p in zip(bundle_s, plain_s)]) - 1.0
    bundle, plain = sum(counts) / sum(bundle_s), sum(counts) / sum(plain_s)
    return Row(
        number=f"3 {architecture}",
        measurement=f"training throughput, {architecture}",
        figure=f"{bundle:.2f} volumes/s (bundle workflow)",
        baseline=f"plain PyTorch loop {plain:.2f} volumes/s",
        ratio=overhead * 100.0,
        ratio_label="% workflow overhead",
        target="<= 10 %",
        met=overhead <= 0.10,
        runs=f"median of {len(counts)} paired iterations",
        notes=(f"Full size, CPU fp32, batch {batch_size}, {sum(counts)} visit volumes in {len(counts)} measured "
               f"iterations after 1 warm-up. {note + ' ' if note else ''}Bundle: SupervisedTrainer from train.json "
               f"(DataLoader from the in-memory cache, {workers} workers; SequenceBatch with the noise augmentation; "
               "StatsHandler, TensorBoard, ProgressBar), validation disabled. Plain: zero_grad, forward, loss, "
               "backward, step on the same batch as plain tensors, interleaved with the workflow's iterations. "
               "Volumes/s = all volumes / all seconds."),
        values={"volumes": counts, "bundle_s": bundle_s, "plain_s": plain_s, "bundle_volumes_per_s": bundle,
                "plain_volumes_per_s": plain, "overhead": overhead},
    )
