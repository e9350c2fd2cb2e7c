"""Frozen-backbone fast path (PretrainedResNet2D + ``configs/frozen_backbone.json``): 120 epochs of the remainder
on the demo cohort, and its held-out accuracy against full fine-tuning on the same short schedule."""

from __future__ import annotations

import json
import time
from pathlib import Path

from bench.report import Row
from bench.timing import median, timed
from bench.workspace import BUNDLES, Cohort, bundle_workflow

ARCHITECTURE = "PretrainedResNet2D"
FAST_TARGET_S = 60.0
FROZEN = ("train.json", "frozen_backbone.json")


def train(cohort: Cohort, out: Path, configs: tuple, epochs: int, volumes: dict) -> tuple[float, float]:
    """Train the bundle with ``configs`` for ``epochs`` (validation on fold 0 every epoch, best checkpoint kept).

    Returns ``(feature seconds, training seconds)``: the one-off encoding of the distinct visits (0 without the
    overlay) and the trainer's run. ``volumes``: prebuilt ``train#volumes`` and ``validate#volumes`` (decoding is
    row 2's subject).
    """
    workflow = bundle_workflow(
        ARCHITECTURE, configs, datalist=str(cohort.datalist), num_epochs=epochs, ckpt_path=str(out / "models" / "model.pt"),
        log_dir=str(out / "logs"), output_dir=str(out / "eval"), device="$torch.device('cpu')",
        **volumes,
    )
    features = 0.0
    if "frozen_backbone.json" in configs:
        start = time.perf_counter()
        for part in ("train#dataset", "validate#dataset"):
            workflow.parser.get_parsed_content(part)[0]  # the first item encodes every distinct visit
        features = time.perf_counter() - start
    seconds, _ = timed(workflow.run)
    return features, seconds


def held_out(cohort: Cohort, out: Path, test_volumes) -> dict:
    """metrics.json of the normal evaluate workflow (train.json + evaluate.json) on the test split for ``out``'s checkpoint."""
    bundle_workflow(
        ARCHITECTURE, ("train.json", "evaluate.json"), datalist=str(cohort.datalist), ckpt_path=str(out / "models" / "model.pt"),
        output_dir=str(out / "test"), log_dir=str(out / "logs"), device="$torch.device('cpu')",
        **{"validate#volumes": test_volumes},
    ).run()
    return json.loads((out / "test" / "metrics.json").read_text())


def summary(metrics: dict) -> str:
    """Accuracy, F1, ROC AUC (and training time when present) of a metrics.json, in a few words."""
    text = f"accuracy {metrics['accuracy']:.3f} (F1 {metrics['f1']:.3f}, ROC AUC {metrics['roc_auc']:.2f})"
    return text + (f", trained in {metrics['train_s']:.0f} s" if "train_s" in metrics else "")


def measure_frozen(cohort: Cohort, work: Path, volumes: dict, test_volumes, runs: int = 3, epochs: int = 120,
                   short_epochs: int = 5) -> list[Row]:
    """The 120-epoch fast-path time (median of ``runs``) and the held-out comparison after ``short_epochs``."""
    fast = [train(cohort, work / f"frozen_{epochs}_{run}", FROZEN, epochs, volumes) for run in range(runs)]
    features, remainder = median([f for f, _ in fast]), median([s for _, s in fast])
    long_metrics = held_out(cohort, work / f"frozen_{epochs}_0", test_volumes)
    short = {}
    for name, configs in (("frozen", FROZEN), ("full", ("train.json",))):
        out = work / f"{name}_{short_epochs}"
        _, seconds = train(cohort, out, configs, short_epochs, volumes)
        short[name] = dict(held_out(cohort, out, test_volumes), train_s=seconds)
    pretrained = (BUNDLES[ARCHITECTURE] / "models" / "resnet18-f37072fd.pth").is_file()
    weights = "ImageNet ResNet18 weights" if pretrained else "no ImageNet weights file, so a random backbone"
    n = short["full"]["n"]
    return [
        Row(
            number="F1",
            measurement=f"frozen-backbone fast path: {epochs} epochs of the remainder",
            figure=f"{remainder:.1f} s (+ {features:.1f} s encoding each distinct visit once)",
            target=f"< {FAST_TARGET_S:.0f} s",
            met=remainder < FAST_TARGET_S,
            runs=f"median of {runs} runs",
            notes=(f"train.json + frozen_backbone.json on the demo cohort (val fold 0, validation every epoch, best "
                   f"checkpoint saved), CPU, full size, {weights}. The remainder: EDSS concatenation, RNN, classifier "
                   "on cached [T, 512] features. Visit volumes prebuilt (row 2); the one-off feature encoding is "
                   f"shown apart. Held-out after {epochs} epochs: {summary(long_metrics)}, n = {long_metrics['n']}."),
            values={"remainder_s": [s for _, s in fast], "features_s": [f for f, _ in fast], "held_out": long_metrics},
        ),
        Row(
            number="F2",
            measurement=f"held-out accuracy after {short_epochs} epochs: frozen fast path vs full fine-tuning",
            figure=f"frozen {summary(short['frozen'])}",
            baseline=f"full fine-tuning {summary(short['full'])}",
            ratio=short["frozen"]["accuracy"] - short["full"]["accuracy"],
            ratio_label="accuracy difference",
            runs="1 run each",
            notes=(f"Both trained {short_epochs} epochs from the same initialisation ({weights}), then evaluated by the "
                   f"normal train.json + evaluate.json workflow on the held-out test fold (n = {n} observations, "
                   f"{short['full']['confusion_matrix']['counts']['tp'] + short['full']['confusion_matrix']['counts']['fn']} "
                   "active): the fast path's checkpoint loads there unchanged. Synthetic data; too few cases for "
                   "more than a sanity check."),
            values=short,
        ),
    ]
