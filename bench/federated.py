"""Row 8: federated training against centralised training and each site alone, on one held-out test set.

The ``make demo`` cohort (40 patients), its manifest's fold 4 held out as the test set; the other patients split by
``msmonai federated split`` into 3 sites (4 folds each, fold 0 validates). ResNet3D with the CPU schedule
(``configs/cpu_small.json``, with 40 epochs): centralised on all training patients (fold 0 validates); each site
alone on its own datalist; FedAvg in NVFlare's simulator for 40 rounds of 1 local epoch (the same number of passes
over each observation). Every model is scored on the same held-out patients by the bundle's evaluate workflow:
ROC AUC, PR AUC and F1 with 95 % patient-bootstrap intervals. About 12 minutes on 2 cores (``make bench-federated``,
``python -m bench.run --only 8``; needs the ``.[federated]`` extra).
"""

from __future__ import annotations

import time
from pathlib import Path

from bench.report import Row
from bench.workspace import BUNDLES, demo_cohort
from msmonai.constants import DEMO_PATIENTS

SITES = 3
EPOCHS = 40  # cpu_small's 20 epochs left FedAvg still improving at its last round (measured)
OVERLAYS = ["configs/cpu_small.json"]
SEED = 0


def _score(bundle: Path, datalist: Path, model: Path, out: Path) -> dict:
    """ROC AUC, PR AUC and F1 (at the model's stored threshold) of ``model`` on the datalist's testing list, with
    patient-bootstrap intervals."""
    from msmonai.bundle_tools.runner import run_bundle
    from msmonai.evaluation import read_predictions, summarize_predictions

    run_bundle(bundle, "evaluate", {"datalist": str(datalist), "ckpt_path": str(model), "output_dir": str(out),
                                    "mc_samples": 0}, log_file=out / "evaluate.log", overlays=OVERLAYS)
    return summarize_predictions(read_predictions(out / "predictions.csv"), seed=SEED)["intervals"]


def _train(bundle: Path, datalist: Path, out: Path) -> Path:
    from msmonai.bundle_tools.contract import run_outputs
    from msmonai.bundle_tools.runner import run_bundle

    outputs = run_outputs(out)
    run_bundle(bundle, "train", {"datalist": str(datalist), **outputs, "seed": SEED,
                                 "cache_dir": str(out.parent / "cache"), "num_epochs": EPOCHS},
               log_file=out / "train.log", overlays=OVERLAYS)
    return Path(outputs["ckpt_path"])


def _figure(interval: dict) -> str:
    return f"{interval['value']:.3f} ({interval['low']:.3f}-{interval['high']:.3f})"


def measure_federated(work: Path) -> list[Row]:
    """One row per way of training: centralised, each site alone, federated."""
    from msmonai.bundle_tools.layout import MODEL
    from msmonai.federated.job import simulate
    from msmonai.federated.sites import split_sites

    bundle = BUNDLES["ResNet3D"]
    datalist = demo_cohort(work, DEMO_PATIENTS).datalist  # folds 0-3 training, fold 4 testing
    out = work / "federated"
    sites = split_sites(datalist, SITES, out / "sites", n_folds=4, seed=SEED)
    scores, seconds = {}, {}

    started = time.perf_counter()
    scores["centralised"] = _score(bundle, datalist, _train(bundle, datalist, out / "centralised"), out / "centralised")
    seconds["centralised"] = time.perf_counter() - started
    for site in sites:
        started = time.perf_counter()
        model = _train(bundle, site, out / site.stem)
        scores[f"{site.stem} alone"] = _score(bundle, datalist, model, out / site.stem)
        seconds[f"{site.stem} alone"] = time.perf_counter() - started
    started = time.perf_counter()
    fed = simulate(bundle, sites, EPOCHS, 1, out / "fedavg", OVERLAYS,
                   {"seed": SEED, "cache_dir": str(out / "cache")})
    scores["federated (FedAvg)"] = _score(bundle, datalist, fed / MODEL, out / "fedavg")
    seconds["federated (FedAvg)"] = time.perf_counter() - started

    rows = []
    for way, intervals in scores.items():
        rows.append(Row(
            number="8", measurement=f"ResNet3D trained {way}, scored on the held-out fold",
            figure=(f"ROC AUC {_figure(intervals['roc_auc'])}, PR AUC {_figure(intervals['pr_auc'])}, "
                    f"F1 {_figure(intervals['f1'])}"),
            baseline="centralised training on the same patients", target="", met=None, runs="1",
            notes=(f"{DEMO_PATIENTS}-patient demo cohort, fold 4 held out; {SITES} sites by msmonai federated split "
                   f"(4 folds each); configs/cpu_small.json, {EPOCHS} epochs or rounds of 1 local epoch, seed {SEED}; "
                   f"95 % patient-bootstrap intervals; wall time {seconds[way]:.0f} s"),
            values={"intervals": intervals, "wall_s": seconds[way], "seed": SEED},
        ))
    return rows
