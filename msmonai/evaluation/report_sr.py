"""A patient's prediction as a DICOM Comprehensive SR (highdicom), for the patient's record in the PACS.

Not TID 1500 (Measurement Report): that template is for measurements of image regions, and this result is one
patient-level estimate from several studies. The document is a plain Comprehensive SR whose root container holds, as
content items: the probability of an active phase within one year, the decision threshold, the resulting finding
(active / no active phase), the uncertainty, the model's name and version (DCM "Algorithm Name"/"Algorithm Version",
as the IHE AI Results profile identifies algorithms), its validated performance where it has one, and the research-use
statement. The studies and series it used are its evidence (CurrentRequestedProcedureEvidenceSequence), and it takes
the patient's identifiers from them, as a DICOM object must: it is the one output of msmonai that carries them, so it
belongs in the PACS (or the folder the user asked for), nowhere else.
"""

from __future__ import annotations

import datetime
import os
from pathlib import Path
from typing import Mapping, Sequence

import highdicom as hd
import pydicom
from pydicom.sr.coding import Code

from msmonai.evaluation.report_html import NOTICE
from msmonai.fileio import atomic_path

SCHEME = "99MSMONAI"  # private coding scheme of this document's concepts
TITLE = Code("MSACT", SCHEME, "Multiple sclerosis activity prediction")
PROBABILITY = Code("PACTIVE", SCHEME, "Probability of an active phase within one year")
THRESHOLD = Code("THRESH", SCHEME, "Decision threshold")
UNCERTAINTY = Code("UNCERT", SCHEME, "Uncertainty (Monte-Carlo dropout standard deviation)")
FINDING = Code("FINDING", SCHEME, "Predicted disease activity within one year")
ACTIVE = Code("ACTIVE", SCHEME, "Active phase expected")
STABLE = Code("STABLE", SCHEME, "No active phase expected")
LAST_VISIT = Code("LASTVISIT", SCHEME, "Date of the last visit used")
VALIDATED = {"roc_auc": Code("VROCAUC", SCHEME, "Cross-validated ROC AUC"),
             "pr_auc": Code("VPRAUC", SCHEME, "Cross-validated PR AUC"),
             "f1": Code("VF1", SCHEME, "Cross-validated F1")}
NOTE = Code("NOTE", SCHEME, "Intended use")
ALGORITHM_NAME = Code("111001", "DCM", "Algorithm Name")
ALGORITHM_VERSION = Code("111003", "DCM", "Algorithm Version")
UNIT_ONE = Code("1", "UCUM", "no units")


def write_report_sr(report: Mapping, source_files: Sequence[str | os.PathLike], path: str | os.PathLike) -> Path:
    """Write ``report`` (the content of ``report.json``) as a Comprehensive SR to ``path`` (atomically), with the
    instances of ``source_files`` (the T1 series used) as evidence; returns the path. The SR joins the latest of
    their studies (a new series in it); the earlier studies are its other pertinent evidence."""
    evidence = sorted((pydicom.dcmread(f, stop_before_pixels=True) for f in source_files),
                      key=lambda ds: (str(ds.get("StudyDate", "")), str(ds.get("StudyTime", ""))), reverse=True)
    prediction = report["prediction"]
    items = [hd.sr.NumContentItem(PROBABILITY, float(prediction["probability_active"]), UNIT_ONE,
                                  relationship_type="CONTAINS"),
             hd.sr.NumContentItem(THRESHOLD, float(prediction["threshold"]), UNIT_ONE, relationship_type="CONTAINS"),
             hd.sr.CodeContentItem(FINDING, ACTIVE if int(prediction["prediction"]) else STABLE,
                                   relationship_type="CONTAINS"),
             hd.sr.DateContentItem(LAST_VISIT, _date(prediction["last_visit_date"]), relationship_type="CONTAINS")]
    if prediction.get("uncertainty") is not None:
        items.append(hd.sr.NumContentItem(UNCERTAINTY, float(prediction["uncertainty"]), UNIT_ONE,
                                          relationship_type="CONTAINS"))
    model = report.get("model") or {}
    items += [hd.sr.TextContentItem(ALGORITHM_NAME, str(model.get("name")), relationship_type="CONTAINS"),
              hd.sr.TextContentItem(ALGORITHM_VERSION, str(model.get("version")), relationship_type="CONTAINS")]
    for name, code in VALIDATED.items():
        entry = (report.get("validated_performance") or {}).get(name) or {}
        if entry.get("value") is not None:
            items.append(hd.sr.NumContentItem(code, float(entry["value"]), UNIT_ONE, relationship_type="CONTAINS"))
    items.append(hd.sr.TextContentItem(NOTE, NOTICE.replace("\u2014", "-"), relationship_type="CONTAINS"))  # Latin-1
    root = hd.sr.ContainerContentItem(TITLE)
    root.ContentSequence = items
    sr = hd.sr.ComprehensiveSR(
        evidence=evidence, content=root, series_instance_uid=hd.UID(), series_number=9901,
        sop_instance_uid=hd.UID(), instance_number=1, manufacturer="msmonai (research use only)", is_complete=True,
        series_description="MS activity prediction (research use only)")
    scheme = pydicom.Dataset()  # declares the private coding scheme of the concepts above
    scheme.CodingSchemeDesignator = SCHEME
    scheme.CodingSchemeName = "msmonai prediction concepts"
    scheme.CodingSchemeResponsibleOrganization = "msmonai contributors"
    sr.CodingSchemeIdentificationSequence = [scheme]
    sr.SeriesDate, sr.SeriesTime = sr.ContentDate, sr.ContentTime  # viewers list a study's series by date
    with atomic_path(path) as tmp:
        sr.save_as(tmp)
    return Path(path)


def read_report_sr(path: str | os.PathLike) -> dict:
    """The values of an SR written by :func:`write_report_sr`, by concept meaning (numbers, codes' meanings, texts,
    dates as ISO strings)."""
    document = hd.sr.srread(path)
    values = {}
    for item in document.ContentSequence:
        meaning = item.ConceptNameCodeSequence[0].CodeMeaning
        if item.ValueType == "NUM":
            values[meaning] = float(item.MeasuredValueSequence[0].NumericValue)
        elif item.ValueType == "CODE":
            values[meaning] = item.ConceptCodeSequence[0].CodeMeaning
        elif item.ValueType == "DATE":
            values[meaning] = _iso(item.Date)
        else:
            values[meaning] = item.TextValue
    return values


def _date(iso: str) -> datetime.date:
    return datetime.date.fromisoformat(str(iso))


def _iso(dicom_date) -> str:
    text = str(dicom_date)
    return f"{text[:4]}-{text[4:6]}-{text[6:8]}"
