"""Row 6: ingestion and inference time for 1, 10 and 50 patients, and how much of it is a fixed cost per call.

Ingestion(N): what prediction and training do to N patients' DICOM -- scan, T1 choice and linking
(``patient_observations``), then every distinct visit through the preprocessing preset into the in-memory cache
(``VisitVolumes``, 2 threads as the bundles). Inference(N): ``msmonai predict`` end to end (its in-process bundle
inference workflow and a report per patient) for the same N patients, without Monte-Carlo dropout and explanations.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Sequence

import numpy as np

from bench.inference import random_checkpoint
from bench.report import Row
from bench.timing import median, timed
from bench.workspace import BUNDLES, Cohort


def patients_folder(cohort: Cohort, count: int, parent: Path) -> tuple[Path, int]:
    """A folder of links to the first ``count`` patient folders of ``cohort``, and their number of studies."""
    folder = Path(tempfile.mkdtemp(prefix=f"patients_{count}_", dir=parent))
    studies = 0
    for patient in sorted(cohort.dicom.iterdir())[:count]:
        os.symlink(patient, folder / patient.name)
        studies += len([v for v in patient.iterdir() if v.is_dir()])
    return folder, studies


def ingest(folder: Path, cohort: Cohort, secret: bytes) -> int:
    """Scan, link and preprocess every visit under ``folder``; returns the number of volumes cached."""
    from msmonai.bundle_tools.prediction import patient_observations
    from msmonai.engine import VisitVolumes
    from msmonai.transforms import preprocessing_transforms

    items, *_ = patient_observations(folder, cohort.clinical, secret)
    return len(VisitVolumes(items, preprocessing_transforms(), num_workers=2, progress=False))


def fixed_cost(studies: Sequence[int], seconds: Sequence[float]) -> tuple[float, float]:
    """Least-squares line ``seconds = fixed + per_study * studies`` -> ``(fixed, per_study)``."""
    per_study, fixed = np.polyfit(np.asarray(studies, float), np.asarray(seconds, float), 1)
    return float(fixed), float(per_study)


def scaling_row(name: str, counts: Sequence[int], studies: Sequence[int], seconds: Sequence[float], runs: int,
                notes: str) -> Row:
    """Row: per-patient times at each N, and the fitted fixed cost against one patient's variable cost."""
    fixed, per_study = fixed_cost(studies, seconds)
    one_patient = per_study * studies[0]
    figures = "; ".join(f"N={n}: {s:.1f} s ({s / k:.3f} s/study)" for n, k, s in zip(counts, studies, seconds))
    return Row(
        number=f"6 {name}",
        measurement=f"scaling of {name} with patients",
        figure=figures,
        baseline=f"fit: {fixed:.2f} s per call + {per_study:.3f} s per study",
        ratio=(seconds[-1] / studies[-1]) / (seconds[0] / studies[0]),
        ratio_label=f"s/study at N={counts[-1]} / at N={counts[0]}",
        target="fixed cost per call <= variable cost of 1 patient",
        met=fixed <= one_patient,
        runs=f"median of {runs} runs",
        notes=notes,
        values={"patients": list(counts), "studies": list(studies), "seconds": list(seconds), "fixed_s": fixed,
                "per_study_s": per_study},
    )


def measure_scaling(cohort: Cohort, work: Path, counts: Sequence[int] = (1, 10, 50), runs: int = 3) -> list[Row]:
    """Ingestion and inference rows over the first ``counts`` patients of ``cohort`` (random-weight checkpoint)."""
    from msmonai.bundle_tools.prediction import predict
    from msmonai.data.pseudonym import load_or_create_secret

    scratch = Path(tempfile.mkdtemp(prefix="scaling_", dir=work))
    checkpoint = random_checkpoint(scratch / "model.pt")
    secret = load_or_create_secret(cohort.secret)
    folders = [patients_folder(cohort, n, scratch) for n in counts]
    ingestion, inference = [], []
    for folder, _ in folders:
        ingestion.append(median([timed(ingest, folder, cohort, secret)[0] for _ in range(runs)]))
        inference.append(median([
            timed(predict, BUNDLES["PretrainedResNet2D"], folder, cohort.clinical, scratch / f"{folder.name}_{run}",
                  secret_file=cohort.secret, overrides={"ckpt_path": str(checkpoint)}, mc_samples=0, explain=False)[0]
            for run in range(runs)]))
    studies = [s for _, s in folders]
    common = (f"First {'/'.join(map(str, counts))} patients of the {cohort.root.name.split('_')[-1]}-patient demo "
              f"cohort ({'/'.join(map(str, studies))} studies), full size, CPU.")
    return [
        scaling_row("ingestion", counts, studies, ingestion, runs,
                    f"{common} scan_dicom + T1 choice + linking (patient_observations), then the preset on every "
                    "visit into VisitVolumes (2 threads)."),
        scaling_row("inference", counts, studies, inference, runs,
                    f"{common} msmonai predict (bundle_tools.prediction.predict) of the PretrainedResNet2D bundle "
                    "with mc_samples=0 and no explanations: ingestion, the inference workflow, reports."),
    ]
