"""The embedded demo cohort: synthetic MS patients followed yearly with MRI and EDSS.

SYNTHETIC DATA, for demonstrating and testing the pipeline, never for clinical claims. Each patient has
2-5 annual visits; each visit is an MR study (an axial T1 series of 30-60 slices, a T2 series and a
sagittal localizer) of the head phantom of :mod:`msmonai.demo.phantom`, plus a row of the clinical CSV
(EDSS subscores, a simplified composite EDSS and the disease status). Deterministic for a given seed.

Ground truth (what a model can learn, and what it must not):
- Every follow-up visit is active with probability ``ACTIVE_FRACTION`` (0.3), independently of the patient, the
  visit number, the number of visits, the acquisition (slice count, matrix, stored-value encoding) and the dates,
  so none of these carries the label. Activity is possible from the second visit on: an observation of a single
  visit can be active.
- The cause, in the images: the year before an active phase (the last visit of the observation whose label is
  active), ``NEW_LESIONS`` fresh T1-hypointense lesions of ``NEW_LESION_RADIUS_MM`` appear in the white matter at
  full contrast and the existing ones enlarge by 10-25 %. Lesions then fade every year (``FADING``, down to
  ``CHRONIC_CONTRAST``), as acute black holes partly recover, so the lesion count alone (which only grows) is a
  weak cue; fresh dark lesions, and the change from the visit before, are the strong one. In quiet years a single
  small, paler lesion appears in 15 % of visits.
- The cause, in the EDSS: in half of the years before an active phase one subscore rises by 1; the active visit
  itself (a relapse) raises 1-3 subscores, partly recovered the year after; slow progression elsewhere. EDSS is
  a weak cue on its own.
"""

from __future__ import annotations

import csv
import datetime
import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.uid import generate_uid

from msmonai.constants import DEMO_PATIENTS
from msmonai.data.clinical import EDSS_COLUMNS, EDSS_MAXIMA
from msmonai.demo.dicom_writer import write_series
from msmonai.demo.phantom import Anatomy, Lesion, acquire, axial_grid, random_anatomy, random_lesion, render, sagittal_grid
from msmonai.errors import UserError
from msmonai.fileio import write_text

ACTIVE_FRACTION = 0.3  # probability that a follow-up visit is active, independently of everything else
NEW_LESIONS = (10, 20)  # fresh lesions the year before an active phase (inclusive range)
NEW_LESION_RADIUS_MM = (5.0, 9.0)
CHRONIC_CONTRAST = (0.35, 0.6)  # contrast of lesions present at the first visit; the floor of fading
FADING = (0.55, 0.75)  # yearly factor on a lesion's contrast (fresh black holes partly recover)
MATRIX_SIZES = (112, 120, 128, 136, 144)  # in-plane rows = columns, varying between patients
FIELD_OF_VIEW_MM = 230.0
T1_COVERAGE_MM = 140.0
T2_SLICES, T2_THICKNESS_MM = 16, 8.0
LOCALIZER_SHAPE, LOCALIZER_SPACING_MM = (3, 128, 128), (12.0, 2.0, 2.0)
# Stored-value encodings: real = slope * stored + intercept; "high" stores values above 3000.
INTENSITY_ENCODINGS = {"plain": (1.0, 1.0, 0.0), "high": (3.6, 1.0, 0.0), "rescaled": (1.0, 0.25, -50.0)}
SURNAMES = ("Quillfeather", "Marchetti", "Okonkwo", "Lindqvist", "Abernathy", "Castellanos", "Nakashima", "Wojcik",
            "Fairbairn", "Haddad", "Van der Berg", "Sorensen", "Petrakis", "Delacroix")
GIVEN_NAMES = ("Ottoline", "Bartholomew", "Ines", "Radomir", "Sunniva", "Ezekiel", "Mireille", "Casimir",
               "Henrike", "Leopold", "Amaranta", "Ignatius")


@dataclass(frozen=True)
class DemoVisit:
    """One annual visit: the clinical row and what its MR study shows.

    Attributes:
        visit_date: clinical visit date; scan_date: StudyDate of the MRI (a few days apart).
        edss: the 8 subscores in :data:`msmonai.data.clinical.EDSS_COLUMNS` order.
        status: 1 = active phase at this visit.
        lesions: the T1-hypointense lesions visible at this visit.
        n_slices: T1 slice count (30-60); encoding: key of :data:`INTENSITY_ENCODINGS`.
    """

    visit_date: datetime.date
    scan_date: datetime.date
    edss: tuple[int, ...]
    status: int
    lesions: tuple[Lesion, ...]
    n_slices: int
    encoding: str


@dataclass(frozen=True)
class DemoPatient:
    """A synthetic patient: fake identifiers (as a hospital export would carry), anatomy, in-plane matrix and visits."""

    patient_id: str
    patient_name: str
    folder: str
    anatomy: Anatomy
    matrix: int
    visits: tuple[DemoVisit, ...]


def simulate_cohort(n_patients: int = DEMO_PATIENTS, seed: int = 0) -> list[DemoPatient]:
    """The cohort's patients (no I/O); the ground truth is the module docstring's."""
    if n_patients < 1:
        raise UserError(f"the cohort needs at least 1 patient, got {n_patients}")
    rng = np.random.default_rng(seed)
    n_visits = rng.integers(2, 6, size=n_patients)
    return [
        _simulate_patient(index, int(n_visits[index]), np.random.default_rng([seed, index]))
        for index in range(n_patients)
    ]


def edss_total(subscores: tuple[int, ...]) -> float:
    """A simplified composite EDSS (0-10, steps of 0.5) from the 8 subscores, for synthetic data only (not Kurtzke's
    full rules): the highest functional-system grade sets the step, a second system at that grade adds 0.5, and
    ambulation a >= 1 raises it to at least 4.0 + 0.5 a."""
    systems, ambulation = subscores[:7], subscores[7]
    top = max(systems)
    total = {0: 0.0, 1: 1.0, 2: 2.0, 3: 3.0, 4: 4.0, 5: 5.0, 6: 5.5}[top]
    if top > 0 and sum(grade == top for grade in systems) > 1:
        total += 0.5
    if ambulation:
        total = max(total, 4.0 + 0.5 * ambulation)
    return min(total, 10.0)


def write_demo_cohort(out_dir: str | os.PathLike, n_patients: int = DEMO_PATIENTS, seed: int = 0) -> str:
    """Write ``out_dir/dicom/case_NNN/visit_N/*.dcm``, ``out_dir/clinical.csv`` and ``out_dir/README.txt``; return a summary."""
    out_dir = Path(out_dir)
    dicom_dir = out_dir / "dicom"
    if dicom_dir.exists() and any(dicom_dir.iterdir()):
        raise UserError(f"{dicom_dir} already exists and is not empty; choose a new output folder")
    patients = simulate_cohort(n_patients, seed)
    rows = []
    for index, patient in enumerate(patients):
        for number, visit in enumerate(patient.visits, start=1):
            study_uid = generate_uid(entropy_srcs=["msmonai demo", str(seed), patient.patient_id, str(number)])
            _write_study(patient, visit, study_uid, dicom_dir / patient.folder / f"visit_{number}", [seed, index, number])
            # Every third visit links by study_uid explicitly; the others by PatientID + StudyDate.
            rows.append(_clinical_row(patient, visit, study_uid if number % 3 == 0 else ""))
    write_text(out_dir / "clinical.csv", _to_csv(rows))
    write_text(out_dir / "README.txt", _readme(n_patients, seed))
    labelled = sum(len(p.visits) - 1 for p in patients)
    active = sum(v.status for p in patients for v in p.visits[1:])
    size_mb = sum(f.stat().st_size for f in dicom_dir.rglob("*") if f.is_file()) / 1e6
    return (
        f"synthetic demo cohort: {n_patients} patients, {len(rows)} visits/studies ({size_mb:.0f} MB of DICOM), "
        f"{labelled} labelled observations, {active} active ({100 * active / max(labelled, 1):.1f} %) -> {out_dir}"
    )


def _simulate_patient(index: int, n_visits: int, rng: np.random.Generator) -> DemoPatient:
    anatomy = random_anatomy(rng)
    statuses = [0] + [int(rng.random() < ACTIVE_FRACTION) for _ in range(n_visits - 1)]
    lesions = [random_lesion(anatomy, rng, float(rng.uniform(2.0, 4.5)), float(rng.uniform(*CHRONIC_CONTRAST)))
               for _ in range(rng.poisson(4))]
    edss = [int(rng.choice(3, p=(0.5, 0.35, 0.15))) for _ in EDSS_COLUMNS[:7]] + [int(rng.choice(2, p=(0.85, 0.15)))]
    date = datetime.date(2014, 1, 1) + datetime.timedelta(days=int(rng.integers(0, 4 * 365)))
    relapse: list[int] = []
    visits = []
    for number in range(n_visits):
        if number:
            date += datetime.timedelta(days=365 + int(rng.integers(-30, 31)))
            lesions = [lesion.grown(float(rng.uniform(1.0, 1.04))).faded(float(rng.uniform(*FADING)), CHRONIC_CONTRAST[0])
                       for lesion in lesions]
        if number + 1 < n_visits and statuses[number + 1]:
            # The year before an active phase: new fresh lesions, enlarging old ones, sometimes a first subscore change.
            lesions = [lesion.grown(float(rng.uniform(1.1, 1.25))) for lesion in lesions]
            lesions += [random_lesion(anatomy, rng, float(rng.uniform(*NEW_LESION_RADIUS_MM)))
                        for _ in range(rng.integers(NEW_LESIONS[0], NEW_LESIONS[1] + 1))]
            if rng.random() < 0.5:
                edss[int(rng.integers(0, 7))] += 1
        elif number and rng.random() < 0.15:
            lesions.append(random_lesion(anatomy, rng, float(rng.uniform(2.0, 3.0)), 0.8))  # a small quiet new lesion
        if statuses[number]:
            relapse = [int(s) for s in rng.choice(7, size=int(rng.integers(1, 4)), replace=False)]
            for subscale in relapse:
                edss[subscale] += int(rng.integers(1, 3))
        elif relapse:
            edss[relapse[0]] -= 1  # partial recovery the year after a relapse
            relapse = []
        elif number and rng.random() < 0.1:
            edss[int(rng.integers(0, 8))] += 1  # slow progression
        edss = [min(max(value, 0), maximum) for value, maximum in zip(edss, EDSS_MAXIMA)]
        visits.append(
            DemoVisit(
                visit_date=date,
                scan_date=date + datetime.timedelta(days=int(rng.integers(-21, 8))),
                edss=tuple(edss),
                status=statuses[number],
                lesions=tuple(lesions),
                n_slices=int(rng.integers(30, 61)),
                encoding=str(rng.choice(list(INTENSITY_ENCODINGS))),
            )
        )
    name = f"{SURNAMES[int(rng.integers(len(SURNAMES)))]}^{GIVEN_NAMES[int(rng.integers(len(GIVEN_NAMES)))]}"
    return DemoPatient(
        patient_id=f"MSD{index + 1:03d}{int(rng.integers(1000, 10000))}",
        patient_name=name,
        folder=f"case_{index + 1:03d}",
        anatomy=anatomy,
        matrix=int(rng.choice(MATRIX_SIZES)),
        visits=tuple(visits),
    )


def _write_study(patient: DemoPatient, visit: DemoVisit, study_uid: str, folder: Path, seed: list[int]) -> None:
    """T1 (axial), T2 (axial) and localizer (sagittal) series of one visit, all files in one folder."""
    rng = np.random.default_rng(seed)
    identity = dict(patient_id=patient.patient_id, patient_name=patient.patient_name, study_uid=study_uid,
                    study_date=visit.scan_date, shuffle_seed=int(rng.integers(2**31)))
    pixel = FIELD_OF_VIEW_MM / patient.matrix
    gain, slope, intercept = INTENSITY_ENCODINGS[visit.encoding]
    thickness = T1_COVERAGE_MM / visit.n_slices
    t1_shape = (visit.n_slices, patient.matrix, patient.matrix)
    x, y, z = axial_grid(t1_shape, (thickness, pixel, pixel))
    t1 = acquire(render(patient.anatomy, visit.lesions, x, y, z, "T1"), rng) * gain
    write_series(
        np.clip(np.rint((t1 - intercept) / slope), 0, 65535).astype(np.uint16), folder, **identity,
        series_description="T1 SE AX", weighting="T1", series_number=3, pixel_spacing=(pixel, pixel),
        slice_thickness=thickness, origin=(float(x.min()), float(y.min()), float(z.min())),
        rescale_slope=slope, rescale_intercept=intercept, misleading_instance_numbers=bool(rng.random() < 0.5),
    )
    x, y, z = axial_grid((T2_SLICES, patient.matrix, patient.matrix), (T2_THICKNESS_MM, pixel, pixel))
    t2 = acquire(render(patient.anatomy, visit.lesions, x, y, z, "T2"), rng)
    write_series(
        np.clip(np.rint(t2), 0, 65535).astype(np.uint16), folder, **identity, series_description="T2 TSE AX",
        weighting="T2", series_number=4, pixel_spacing=(pixel, pixel), slice_thickness=T2_THICKNESS_MM,
        origin=(float(x.min()), float(y.min()), float(z.min())),
    )
    x, y, z = sagittal_grid(LOCALIZER_SHAPE, LOCALIZER_SPACING_MM)
    localizer = acquire(render(patient.anatomy, visit.lesions, x, y, z, "T1"), rng)
    write_series(
        np.clip(np.rint(localizer), 0, 65535).astype(np.uint16), folder, **identity, series_description="Localizer",
        weighting="localizer", series_number=1, orientation="sagittal", pixel_spacing=LOCALIZER_SPACING_MM[1:],
        slice_thickness=LOCALIZER_SPACING_MM[0], origin=(float(x.max()), float(y.min()), float(z.max())),
    )


def _clinical_row(patient: DemoPatient, visit: DemoVisit, study_uid: str) -> list:
    return [patient.patient_id, visit.visit_date.isoformat(), *visit.edss, edss_total(visit.edss), visit.status, study_uid]


def _to_csv(rows: list[list]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["patient_id", "visit_date", *EDSS_COLUMNS, "edss_total", "status", "study_uid"])
    writer.writerows(rows)
    return buf.getvalue()


def _readme(n_patients: int, seed: int) -> str:
    return f"""SYNTHETIC DEMO COHORT - NOT PATIENT DATA - NEVER FOR CLINICAL CLAIMS

Generated by `msmonai demo-data --patients {n_patients} --seed {seed}` to demonstrate and test msmonai.
Every image is an analytic head phantom (msmonai/demo/phantom.py) and every clinical value is simulated
(msmonai/demo/cohort.py). Names, IDs, birth dates, accession numbers and the institution in the DICOM
headers are invented, so that privacy checks have identifiers to look for.

dicom/case_NNN/visit_N/   one MR study per visit: axial T1 (30-60 slices; some scans store values above 3000,
                          some use RescaleSlope/Intercept), axial T2, sagittal localizer; files named by UID
clinical.csv              the clinical visits format of data_manifests/README.md: 8 EDSS subscores, a
                          simplified composite EDSS (edss_total), status (1 = active phase), and study_uid
                          on every third visit (the others link by PatientID + StudyDate)

About 30 % of the labelled observations are active, independently of visit number, acquisition and dates; the
year before each active phase the T1 images show new, dark and enlarging hypointense lesions (msmonai/demo/cohort.py
documents the ground truth). Same seed, same files.
"""
