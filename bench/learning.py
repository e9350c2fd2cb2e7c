"""Row 7: does each architecture's MRI path learn? ``msmonai cv`` of its bundle three ways on the ``make demo`` cohort.

The three ways (issue 14, section 5), each over all 5 patient-grouped folds with the architecture's CPU settings:
MRI + EDSS; MRI only (every observation's EDSS held at its first visit, ``hold_edss``); EDSS only (images blanked,
``blank_images``). ``msmonai compare`` puts them beside the baselines that ``msmonai cv`` fits on the same folds
(always remission, EDSS logistic regression, image-histogram logistic regression). Target: MRI only ROC AUC >= 0.75
with the interval's lower bound above 0.5. Hours on 2 cores, so ``make bench`` leaves it out: ``make bench-learning``.
"""

from __future__ import annotations

import time
from pathlib import Path

from bench.report import Row
from bench.workspace import BUNDLES, Cohort, demo_cohort
from msmonai.constants import DEMO_PATIENTS
from msmonai.errors import UserError

CPU_OVERLAYS = {"ResNet3D": ["configs/cpu_small.json"], "ResNeXt3D": ["configs/cpu_small.json"],
                "PretrainedResNet2D": []}  # the 2D network runs at full size on CPU
WAYS = {"MRI + EDSS": {}, "MRI only": {"hold_edss": True}, "EDSS only": {"blank_images": True}}
SEED = 0


def five_fold_datalist(cohort: Cohort) -> Path:
    """The cohort's manifest with 5 folds and no held-out test fold, as ``make demo`` writes it."""
    from msmonai.cli import main as msmonai_cli

    datalist = cohort.root / "datalist_5_folds.json"
    if not datalist.is_file() and msmonai_cli(
            ["manifest", "--dicom", str(cohort.dicom), "--clinical", str(cohort.clinical), "--out", str(datalist),
             "--folds", "5", "--secret-file", str(cohort.secret), "--quiet"]):
        raise UserError(f"{cohort.root}: msmonai manifest failed")
    return datalist


def _figure(interval: dict) -> str:
    return f"{interval['value']:.3f} ({interval['low']:.3f}-{interval['high']:.3f})"


def measure_learning(architecture: str, work: Path) -> list[Row]:
    """One row per way: pooled ROC AUC, PR AUC and F1 with 95 % patient-bootstrap intervals, the baselines beside."""
    from msmonai.bundle_tools.cross_validation import cross_validate
    from msmonai.evaluation.compare import compare_runs

    datalist = five_fold_datalist(demo_cohort(work, DEMO_PATIENTS, manifest=False))
    out = work / f"learning_{architecture}"
    runs, seconds = {}, {}
    for way, overrides in WAYS.items():
        started = time.perf_counter()
        runs[way] = cross_validate(BUNDLES[architecture], datalist, out / way.replace(" ", "_").replace("+", "and"),
                                   overrides=overrides, overlays=CPU_OVERLAYS[architecture], seed=SEED)
        seconds[way] = time.perf_counter() - started
    compare_runs([out / way.replace(" ", "_").replace("+", "and") for way in WAYS], out / "comparison", list(WAYS))
    baselines = runs["MRI + EDSS"]["baselines"]
    baseline_text = "; ".join(f"{name} {_figure(b['intervals']['roc_auc'])}" for name, b in baselines.items())
    settings = " + ".join(CPU_OVERLAYS[architecture]) or "full size (50x128x128)"
    rows = []
    for way, metrics in runs.items():
        auc = metrics["intervals"]["roc_auc"]
        target, met = "", None
        if way == "MRI only":
            target, met = "ROC AUC >= 0.75, lower bound > 0.5", auc["value"] >= 0.75 and auc["low"] > 0.5
        rows.append(Row(
            number=f"7 {architecture}", measurement=f"learning, {way} (5-fold cv, pooled)",
            figure=(f"ROC AUC {_figure(auc)}, PR AUC {_figure(metrics['intervals']['pr_auc'])}, "
                    f"F1 {_figure(metrics['intervals']['f1'])}"),
            baseline=f"ROC AUC of the baselines on the same folds: {baseline_text}", target=target, met=met, runs="1",
            notes=(f"msmonai cv of the {architecture} bundle ({settings}, seed {SEED}) on the {DEMO_PATIENTS}-patient "
                   f"demo cohort, 5 patient-grouped folds; {way}; 95 % patient-bootstrap intervals (2000 replicates); "
                   f"wall time {seconds[way]:.0f} s; side by side in {out / 'comparison' / 'comparison.md'}"),
            values={"metrics": metrics["intervals"], "baselines": {k: v["intervals"] for k, v in baselines.items()},
                    "wall_s": seconds[way], "seed": SEED, "overlays": CPU_OVERLAYS[architecture]},
        ))
    return rows
