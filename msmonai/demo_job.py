"""``make demo``: the main job on the embedded synthetic cohort.

demo cohort (DICOM + clinical CSV) -> manifest (patient-grouped folds, the last fold held out as the test set)
-> train the bundle on the other folds -> evaluate it on the held-out test set -> the paper's Table 7 layout.
Every step is the public interface a hospital uses: ``msmonai demo-data``, ``msmonai manifest``, and the
bundle's ``train`` and ``evaluate`` workflows through ``python -m monai.bundle run``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from msmonai.bundle_tools.runner import run_bundle
from msmonai.cli import main as msmonai_cli

TABLE7_COLUMNS = (("Accuracy", "accuracy"), ("Precision", "precision"), ("Recall", "recall"), ("F1-score", "f1"),
                  ("Fb-score", "fbeta"))


def table7(rows: dict[str, dict]) -> str:
    """Markdown table in the layout of the paper's Table 7 (one row per architecture)."""
    lines = ["| Architecture | " + " | ".join(c for c, _ in TABLE7_COLUMNS) + " |",
             "|---|" + "---|" * len(TABLE7_COLUMNS)]
    for name, m in rows.items():
        lines.append(f"| {name} | " + " | ".join(f"{m[k]:.3f}" for _, k in TABLE7_COLUMNS) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="demo", help="working folder (default: demo)")
    parser.add_argument("--bundle", default="bundles/ms_activity_pretrained_resnet2d")
    parser.add_argument("--num_epochs", type=int, default=15, help="short CPU schedule (the paper: 120)")
    parser.add_argument("--patients", type=int, default=28)
    parser.add_argument("--spatial_size", default="[50, 128, 128]")
    args = parser.parse_args(argv)

    out = Path(args.out).resolve()
    bundle = Path(args.bundle).resolve()
    started = time.time()

    def step(message: str) -> None:
        print(f"[demo {time.time() - started:6.1f} s] {message}", flush=True)

    if not (out / "cohort" / "clinical.csv").is_file():
        step(f"generating the synthetic cohort ({args.patients} patients) in {out / 'cohort'}")
        if msmonai_cli(["demo-data", "--out", str(out / "cohort"), "--patients", str(args.patients)]):
            return 1
    step("compiling the manifest (5 patient-grouped folds, fold 4 held out as the test set)")
    datalist = out / "datalist.json"
    if msmonai_cli(["manifest", "--dicom", str(out / "cohort" / "dicom"), "--clinical", str(out / "cohort" / "clinical.csv"),
                    "--out", str(datalist), "--folds", "5", "--test-fold", "4", "--secret-file", str(out / "site_secret.key")]):
        return 1
    run_dir = out / "runs" / bundle.name
    overrides = {
        "datalist": str(datalist),
        "ckpt_path": str(run_dir / "models" / "model.pt"),
        "output_dir": str(run_dir / "eval"),
        "log_dir": str(run_dir / "logs"),
        "num_epochs": args.num_epochs,
        "spatial_size": args.spatial_size,
        "val_fold": 0,
    }
    step(f"training {bundle.name} for {args.num_epochs} epochs (log: {run_dir / 'train.log'})")
    run_bundle(bundle, "train", overrides, log_file=run_dir / "train.log")
    step("evaluating on the held-out test fold")
    run_bundle(bundle, "evaluate", overrides, log_file=run_dir / "evaluate.log")
    metrics = json.loads((run_dir / "eval" / "metrics.json").read_text())
    name = json.loads((bundle / "configs" / "metadata.json").read_text())["name"].split(", ")[-1]
    step(f"done; outputs in {run_dir / 'eval'}")
    print()
    print(f"Held-out test set: n = {metrics['n']} observations; synthetic data, {args.num_epochs} epochs on CPU.")
    print(table7({name: metrics}))
    cm = metrics["confusion_matrix"]["fractions"]
    print(f"Confusion matrix (fractions of n): TP {cm['tp']:.2f} FP {cm['fp']:.2f} FN {cm['fn']:.2f} TN {cm['tn']:.2f}")
    print(f"ROC AUC {metrics['roc_auc']:.3f}, PR AUC {metrics['pr_auc']:.3f}. One held-out split of {metrics['n']} observations "
          "is a noisy estimate: `msmonai cv` gives intervals.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
