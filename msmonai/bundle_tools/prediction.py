"""``msmonai predict``: one or more new patients' DICOM + clinical table -> prediction reports.

The patients' visits are ingested, linked and preprocessed exactly as for training (``scan_dicom``,
``link_visits``, the bundle's preprocessing preset), and the bundle's own inference workflow
(``configs/train.json`` + ``configs/inference.json``) runs in-process. Each patient gets the prediction made
at every visit (the risk over visits), Monte-Carlo-dropout uncertainty, a saliency montage of the last visit and
the MRI vs EDSS contribution, written as ``report.json`` and a self-contained ``report.html``.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import logging
from collections import defaultdict
from pathlib import Path
from typing import Mapping

from msmonai.bundle_tools import contract
from msmonai.bundle_tools.layout import METADATA, bundle_folder, bundle_identity, config_files
from msmonai.bundle_tools.training_run import trained_patients, validated_performance
from msmonai.constants import DEFAULT_MC_SAMPLES, LINK_TOLERANCE_DAYS, MAX_VISITS
from msmonai.data.clinical import EDSS_COLUMNS, load_clinical_visits
from msmonai.data.datalist import TESTING, observation_item, visit_record, write_datalist
from msmonai.data.linking import link_visits
from msmonai.data.pseudonym import load_or_create_secret, pseudonym
from msmonai.errors import UserError
from msmonai.fileio import write_json, write_text
from msmonai.io.scan import problem_summary, scan_dicom

logger = logging.getLogger(__name__)


def patient_observations(dicom_root, clinical_csv, secret: bytes, tolerance_days: int = LINK_TOLERANCE_DAYS,
                         quiet: bool = True, left_out: Mapping[int, str] | None = None):
    """Observations ending at every usable visit of every patient found in ``dicom_root``.

    Returns ``(items, visits_by_key, identities, problems)``: datalist items (no label), the linked clinical visits per
    pseudonymous key, key -> raw patient id (for the optional identity line), and the reasons visits were left out
    (``left_out``: the caller's reason, by clinical CSV row, for a visit whose images it kept out of ``dicom_root``).
    """
    scan = scan_dicom(dicom_root, progress=not quiet)
    for line in problem_summary(scan.problems):
        logger.warning("left out: %s", line)
    clinical, clinical_problems = load_clinical_visits(clinical_csv)
    dicom_patients = sorted({study.patient_id for study in scan.studies})
    if not dicom_patients:
        reasons = "; ".join(f"{p.path}: {p.reason}" for p in scan.problems[:3])
        raise UserError(f"{dicom_root}: no usable DICOM study found ({reasons or 'empty'})")
    clinical = [v for v in clinical if v.patient_id in dicom_patients]
    linked, link_problems = link_visits(clinical, scan.studies, tolerance_days)
    by_patient = defaultdict(list)
    for lv in linked:
        if lv.has_image:
            by_patient[lv.visit.patient_id].append(lv)
    items, visits_by_key, identities = [], {}, {}
    problems = [(left_out or {}).get(e.row, e.reason) if e.kind == "visit" else e.reason
                for e in [*clinical_problems, *link_problems] if e.patient_id in (None, *dicom_patients)]
    for patient_id in dicom_patients:
        key = pseudonym(patient_id, secret)
        usable = sorted(by_patient.get(patient_id, []), key=lambda lv: lv.visit.date)
        if not usable:
            raise UserError(f"patient {key}: no visit with both a T1 study and valid EDSS subscores "
                            f"({len([v for v in clinical if v.patient_id == patient_id])} clinical rows, "
                            f"{len([s for s in scan.studies if s.patient_id == patient_id])} studies)")
        identities[key] = patient_id
        visits_by_key[key] = [lv.visit for lv in usable]
        records = [visit_record(lv) for lv in usable]
        for t in range(len(records)):
            items.append(observation_item(key, 0, records[max(0, t + 1 - MAX_VISITS): t + 1]))
    return items, visits_by_key, identities, problems


def predict(
    bundle_dir,
    dicom_root,
    clinical_csv,
    out_dir,
    secret_file=None,
    overrides: Mapping[str, object] | None = None,
    mc_samples: int = DEFAULT_MC_SAMPLES,
    threshold: float | None = None,
    explain: bool = True,
    show_identity: bool = False,
    quiet: bool = True,
    dicom_sr: bool = False,
    left_out: Mapping[int, str] | None = None,
) -> list[Path]:
    """Write a report for every patient in ``dicom_root``; returns the report.json paths.

    ``threshold`` None applies the decision threshold stored with the model when it was selected. ``dicom_sr`` also
    writes ``report.dcm``, the DICOM SR of :mod:`msmonai.evaluation.report_sr`, which carries the patient's
    identifiers from the source studies. ``left_out``: as in :func:`patient_observations`.
    """
    import pandas as pd
    from monai.bundle import ConfigWorkflow

    from msmonai.engine.dataset import collate_sequences
    from msmonai.engine.selection import decision_threshold
    from msmonai.evaluation import read_predictions, render_report_html

    bundle = bundle_folder(bundle_dir)
    out = Path(out_dir).resolve()
    work = out / "work"
    items, visits_by_key, identities, problems = patient_observations(
        dicom_root, clinical_csv, load_or_create_secret(secret_file), quiet=quiet, left_out=left_out)
    for reason in problems:
        logger.warning("left out: %s", reason)
    write_datalist(work / "datalist.json", {TESTING: items})
    with contextlib.chdir(bundle):  # where Model Zoo commands run, and inference.json's macros resolve
        workflow = ConfigWorkflow(
            config_file=config_files(bundle, contract.INFERENCE),
            meta_file=str(bundle / METADATA), logging_file=False, workflow_type="infer",
            **{contract.BUNDLE_ROOT: str(bundle), contract.DATALIST: str(work / "datalist.json"),
               contract.INFER_SPLIT: TESTING, contract.OUTPUT_DIR: str(work), contract.MC_SAMPLES: mc_samples,
               contract.THRESHOLD: threshold, **(overrides or {})})
        workflow.initialize()
        workflow.run()
        network = workflow.parser.get_parsed_content(contract.NETWORK).eval()
        dataset = workflow.parser.get_parsed_content(contract.VALIDATION_DATASET)
        device = workflow.parser.get_parsed_content(contract.DEVICE)
        prepare_batch = workflow.parser.get_parsed_content(contract.VALIDATION_BATCH)
    if threshold is None:
        threshold = decision_threshold(network)
    predictions = read_predictions(work / "predictions.csv")
    meta = json.loads((bundle / METADATA).read_text())
    trained = trained_patients(bundle)
    written = []
    for key, visits in visits_by_key.items():
        rows = predictions[predictions["patient"] == key].sort_values("last_visit_date")
        last = rows.iloc[-1]
        report = {
            "patient_key": key,
            "model": {"name": meta.get("name"), "version": meta.get("version"),
                      "bundle": bundle_identity(bundle)["bundle"]},
            "validated_performance": validated_performance(meta.get("eval_metrics")),
            "in_training_data": key in trained,
            "prediction": {"probability_active": float(last["probability_active"]),
                           "uncertainty": None if pd.isna(last["uncertainty"]) else float(last["uncertainty"]),
                           "threshold": threshold, "prediction": int(last["prediction"]),
                           "last_visit_date": str(last["last_visit_date"])},
            "visits": _visit_rows(visits, rows),
            "generated_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "notes": [f"{len(problems)} clinical row(s) or studies of this run were left out; the command output lists why"]
            if problems else [],
        }
        if show_identity:
            report["patient_id"] = identities[key]
        images = {}
        latest = max(i for i, item in enumerate(items) if item["patient"] == key)  # the observation reported
        if explain:
            batch = collate_sequences([dataset[latest]])
            images, report["explanation"] = _explain(network, prepare_batch(batch, device))
        target = out / key if len(visits_by_key) > 1 else out
        write_json(target / "report.json", report)
        write_text(target / "report.html", render_report_html(report, images))
        if dicom_sr:
            from msmonai.evaluation.report_sr import write_report_sr

            # the series of the visits the reported observation used (the latest MAX_VISITS)
            write_report_sr(report, [f for visit in items[latest]["visits"] for f in visit["image"]],
                            target / "report.dcm")
        written.append(target / "report.json")
    workflow.finalize()
    return written


def _visit_rows(visits, rows) -> list[dict]:
    by_date = {str(r["last_visit_date"]): r for _, r in rows.iterrows()}
    out = []
    for visit in visits:
        row = by_date.get(visit.date.isoformat())
        out.append({
            "date": visit.date.isoformat(),
            "probability_active": None if row is None else float(row["probability_active"]),
            "uncertainty": None if row is None or row["uncertainty"] != row["uncertainty"] else float(row["uncertainty"]),
            "edss": dict(zip(EDSS_COLUMNS, visit.edss_raw)),
        })
    return out


def _explain(network, inputs: tuple) -> tuple[dict, dict]:
    """Explanations of one observation, ``inputs`` as the workflow's ``prepare_batch`` gives them."""
    from msmonai.evaluation.explanations import (
        modality_contributions,
        modality_sentence,
        saliency_montage,
        visit_saliency,
    )

    image, _, (edss, lengths), _ = inputs
    contributions = modality_contributions(network, image, edss, lengths)
    last = int(lengths[0]) - 1
    saliency = visit_saliency(network, image, edss, lengths, visit=last)
    volume = image[0, last, 0].detach().cpu().numpy()
    caption = (f"Most informative axial slices of the last visit (gradient x input). {modality_sentence(contributions)}")
    return {caption: saliency_montage(volume, saliency, title="saliency, last visit")}, contributions
