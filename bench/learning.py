"""Rows 7 and 9: does each architecture's MRI path learn, and how small a change does it detect?

Row 7: ``msmonai cv`` of each architecture's bundle three ways on the ``make demo`` cohort.

The three ways (issue 14, section 5), each over all 5 patient-grouped folds with the architecture's CPU settings:
MRI + EDSS; MRI only (every observation's EDSS held at its first visit, ``hold_edss``); EDSS only (images blanked,
``blank_images``). ``msmonai compare`` puts them beside the baselines that ``msmonai cv`` fits on the same folds
(always remission, EDSS logistic regression, image-histogram logistic regression). Target: MRI only ROC AUC >= 0.75
with the interval's lower bound above 0.5.

Row 9, the detection limit (issue 24, section 5): the ResNet3D bundle's ``msmonai cv`` (MRI + EDSS, CPU schedule)
on demo cohorts of ``LESION_STRENGTHS`` (``msmonai demo-data --lesion-strength``: 0 no lesion change tied to activity,
1 realistic, 3 about the earlier demo), beside the baselines of the same folds; a table and
``detection_limit.png``. At strength 0 the network must sit at chance: a leakage check. Beside them the ceiling of
any detector of change (:func:`change_detector_ceiling`): a patient's first visit has nothing to compare with.

Hours on 2 cores, so ``make bench`` leaves both out: ``make bench-learning``.
"""

from __future__ import annotations

import time
from pathlib import Path

from bench.report import Row
from bench.workspace import BUNDLES, Cohort, demo_cohort
from msmonai.constants import DEMO_PATIENTS
from msmonai.errors import UserError

CPU_OVERLAYS = {architecture: ["configs/cpu_small.json"] for architecture in BUNDLES}
WAYS = {"MRI + EDSS": {}, "MRI only": {"hold_edss": True}, "EDSS only": {"blank_images": True}}
SEED = 0
LESION_STRENGTHS = (0.0, 1.0, 2.0, 3.0)
DETECTION_ARCHITECTURE = "ResNet3D"


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
    settings = " + ".join(CPU_OVERLAYS[architecture])
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


def change_detector_ceiling(strength: float, seed: int = 0, min_diameter_mm: float = 4.0) -> float:
    """ROC AUC of an oracle that knows, from the demo's ground truth, whether new black holes (T1 contrast >= 0.5) of
    at least ``min_diameter_mm`` appeared at each observation's last visit since the visit before: 1 if so, 0 if not,
    and 0.5 where the last visit is the patient's first (nothing to compare with). What a perfect detector of new
    black holes reaches on the cohort of ``make demo``."""
    import numpy as np
    from sklearn.metrics import roc_auc_score

    from msmonai.demo.cohort import BLACK_HOLE_CONTRAST, simulate_cohort

    labels, scores = [], []
    for patient in simulate_cohort(DEMO_PATIENTS, seed, strength):
        for index, visit in enumerate(patient.visits[:-1]):
            new = visit.lesions[len(visit.lesions) - visit.new_lesions:]
            seen = any(lesion.contrast >= BLACK_HOLE_CONTRAST[0] and 2 * np.cbrt(np.prod(lesion.radii)) >= min_diameter_mm
                       for lesion in new)
            labels.append(patient.visits[index + 1].status)
            scores.append(float(seen) if index else 0.5)
    return float(roc_auc_score(labels, scores))


def measure_detection_limit(work: Path, plot_dir: Path) -> list[Row]:
    """One row per lesion strength: the network's pooled ROC AUC and the baselines', and ``detection_limit.png``."""
    from msmonai.bundle_tools.cross_validation import cross_validate

    overlays = CPU_OVERLAYS[DETECTION_ARCHITECTURE]
    curve, rows = {}, []
    for strength in LESION_STRENGTHS:
        datalist = five_fold_datalist(demo_cohort(work, DEMO_PATIENTS, manifest=False, lesion_strength=strength))
        started = time.perf_counter()
        metrics = cross_validate(BUNDLES[DETECTION_ARCHITECTURE], datalist, work / f"detection_{strength:g}",
                                 overlays=overlays, seed=SEED)
        seconds = time.perf_counter() - started
        baselines = {name: b["intervals"]["roc_auc"] for name, b in metrics["baselines"].items()}
        ceiling = change_detector_ceiling(strength)
        curve[strength] = {DETECTION_ARCHITECTURE: metrics["intervals"]["roc_auc"], **baselines}
        at_chance = metrics["intervals"]["roc_auc"]["low"] <= 0.5 <= metrics["intervals"]["roc_auc"]["high"]
        rows.append(Row(
            number=f"9 detection limit, strength {strength:g}",
            measurement=f"{DETECTION_ARCHITECTURE} MRI + EDSS, 5-fold cv pooled, lesion strength {strength:g}",
            figure=f"ROC AUC {_figure(metrics['intervals']['roc_auc'])}",
            baseline="; ".join(f"{name} {_figure(auc)}" for name, auc in baselines.items())
                     + f"; a perfect change detector (ground truth) {ceiling:.3f}",
            target="chance (interval holds 0.5): leakage check" if strength == 0 else "",
            met=at_chance if strength == 0 else None, runs="1",
            notes=(f"msmonai demo-data --patients {DEMO_PATIENTS} --lesion-strength {strength:g} (seed 0), msmonai "
                   f"manifest --folds 5, msmonai cv of the {DETECTION_ARCHITECTURE} bundle with {' + '.join(overlays)} "
                   f"(seed {SEED}); 95 % patient-bootstrap intervals; wall time {seconds:.0f} s"),
            values={"roc_auc": curve[strength], "change_detector_ceiling": ceiling, "wall_s": seconds, "seed": SEED},
        ))
    _plot_detection_limit(curve, plot_dir / "detection_limit.png")
    return rows


def _plot_detection_limit(curve: dict[float, dict[str, dict]], path: Path) -> None:
    """ROC AUC (with its interval) against lesion strength, one line per model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from msmonai.fileio import atomic_path

    figure, axes = plt.subplots(figsize=(6, 4))
    strengths = sorted(curve)
    for name in curve[strengths[0]]:
        values = [curve[s][name] for s in strengths]
        axes.errorbar(strengths, [v["value"] for v in values], capsize=3, marker="o", label=name,
                      yerr=[[v["value"] - v["low"] for v in values], [v["high"] - v["value"] for v in values]])
    axes.axhline(0.5, color="grey", linestyle=":", linewidth=1)
    axes.set(xlabel="lesion strength (msmonai demo-data --lesion-strength; 1 = realistic)",
             ylabel="pooled ROC AUC (95 % interval)", ylim=(0.2, 1.02), title="Detection limit")
    axes.legend(fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=120)
    plt.close(figure)
