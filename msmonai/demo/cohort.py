"""The embedded demo cohort: synthetic MS patients followed yearly with MRI and EDSS.

SYNTHETIC DATA, for demonstrating and testing the pipeline, never for clinical claims. Each patient has
2-5 annual visits; each visit is an MR study (an axial T1 series of 30-60 slices, a T2 series and a
sagittal localizer) of the head phantom of :mod:`msmonai.demo.phantom`, plus a row of the clinical CSV
(EDSS subscores, a simplified composite EDSS and the disease status). Deterministic for a given seed.

Ground truth (what a model can learn, and what it must not):
- Every follow-up visit is active with probability ``ACTIVE_FRACTION`` (0.3), independently of the patient, the
  visit number, the number of visits, the acquisition and the dates, so none of these carries the label. Activity
  is possible from the second visit on: an observation of a single visit can be active. The acquisition varies
  between studies: T1 slice count (30-60 over ``T1_COVERAGE_MM``), in-plane matrix (``MATRIX_SIZES``), stored-value
  encoding (``INTENSITY_ENCODINGS``) and the head's pose (rotation up to +-``MAX_ROTATION_DEG`` about each axis,
  translation up to +-``MAX_TRANSLATION_MM`` along each, the same for the study's series; the DICOM geometry stays
  the scanner's: the patient moved, not the frame).
- Every year, whatever the label: the lesions' T1 hypointensity fades (contrast x ``FADING``, not below the chronic
  ``CHRONIC_CONTRAST[0]``), they grow by up to ``YEARLY_GROWTH`` in radius, and with probability
  ``BACKGROUND_NEW_LESION_PROBABILITY`` one small new lesion appears. The first visit shows Poisson(``CHRONIC_LESIONS``)
  chronic lesions.
- The cause, in the images: the year before an active phase (the last visit of the observation whose label is
  active) adds the lesion changes below; ``lesion_strength`` S scales them (1 = realistic, the default). At S = 1
  they are the constants ``NEW_LESIONS``, ``NEW_LESION_DIAMETER_MM``, ``BLACK_HOLE_FRACTION``, ``ENLARGING_FRACTION``
  and ``ENLARGEMENT``:

  ==============================  ======================  ==========================
  year before an active phase     S = 1                   strength S
  ==============================  ======================  ==========================
  new lesions                     2-8, uniform            round(2 S) to round(8 S)
  their diameters                 3-10 mm, log-uniform    3-10 mm x sqrt(S)
  black holes among them          40 %                    min(1, 0.4 S)
  existing lesions that enlarge   30 %                    min(1, 0.3 S)
  their radius growth             5-15 %                  5-15 % x sqrt(S)
  ==============================  ======================  ==========================

  A black hole's T1 contrast is drawn from ``BLACK_HOLE_CONTRAST`` (0.5-1, 1 = fully dark), the other new lesions'
  from ``FAINT_CONTRAST`` (nearly T1-isointense; T2 shows every lesion). S = 0 leaves only the yearly changes, the
  same in active and quiet years, so the images carry no label. S = 3 gives 6-24 new lesions of 5-17 mm, all black
  holes, and 90 % of the old lesions 9-26 % larger: close to the demo before issue 24 (10-20 new lesions of
  10-18 mm at full contrast, every old lesion 10-25 % larger). Lesions only accumulate, so the cue is the fresh
  lesions and the change from the visit before, not the lesion count.
- The cause, in the EDSS: in half of the years before an active phase one subscore rises by 1; the active visit
  itself (a relapse) raises 1-3 subscores, partly recovered the year after; slow progression elsewhere. EDSS is
  a weak cue on its own.

The S = 1 figures follow the imaging literature of relapsing MS (1.5 T spin-echo MRI):
- Counts: placebo arms of phase 3 trials with annual scans show about 5 new or enlarging T2 lesions per patient and
  year, skewed (many patients have none): mean 11.0 over 2 years in AFFIRM (Miller et al., Neurology 2007), median 5.0
  and mean 9.8 over 2 years in FREEDOMS (Kappos et al., N Engl J Med 2010). The year before an active phase,
  above the median year: 2-8.
- Sizes: lesions count from about 3 mm in diameter (the threshold of the diagnostic criteria, supported by Grahl et
  al., Mult Scler Relat Disord 2019); about 20 % of lesions are below 3.5 mm and 80 % below about 10 mm in equivalent
  diameter (under 80 mm2 in area; Wang et al., J Neurol Neurosurg Psychiatry 1997). Hence 3-10 mm, small ones more
  frequent.
- T1 contrast: AFFIRM's placebo arm had 4.6 new T1-hypointense lesions for 11.0 new or enlarging T2 lesions over
  2 years (Miller et al. 2007), about 40 %. 80 % of enhancing lesions are hypointense at onset, but more than half of
  those turn isointense within 6 months and 36 % stay hypointense (van Waesberghe et al., AJNR Am J Neuroradiol 1998);
  black holes keep recovering partly over the following months (Bagnato et al., Brain 2003), and how dark one is
  grades with its axonal loss (van Walderveen et al., Neurology 1998): a contrast drawn per lesion, and yearly fading.
- Enlargement: modest; the median T2 lesion volume of AFFIRM's placebo arm grew 8.8 % in 2 years (Miller et al. 2007).
"""

from __future__ import annotations

import csv
import datetime
import io
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.uid import generate_uid

from msmonai.constants import DEMO_PATIENTS
from msmonai.data.clinical import EDSS_COLUMNS, EDSS_MAXIMA
from msmonai.demo.dicom_writer import write_series
from msmonai.demo.phantom import (Anatomy, Lesion, Pose, acquire, axial_grid, random_anatomy, random_lesion, render_posed,
                                  sagittal_grid)
from msmonai.errors import UserError
from msmonai.fileio import write_text

ACTIVE_FRACTION = 0.3  # probability that a follow-up visit is active, independently of everything else
# The year before an active phase at lesion strength 1 (the module docstring has the sources and the scaling).
NEW_LESIONS = (2, 8)  # new lesions, uniform (inclusive range)
NEW_LESION_DIAMETER_MM = (3.0, 10.0)  # volume-equivalent diameter, log-uniform: small lesions are the frequent ones
BLACK_HOLE_FRACTION = 0.4  # share of new lesions T1-hypointense at the annual scan that first shows them
BLACK_HOLE_CONTRAST = (0.5, 1.0)  # T1 contrast of such a "black hole" (fraction of the full hypointensity)
FAINT_CONTRAST = (0.05, 0.3)  # T1 contrast of the other new lesions: nearly isointense (T2-hyperintense all the same)
ENLARGING_FRACTION = 0.3  # share of the existing lesions that enlarge
ENLARGEMENT = (0.05, 0.15)  # their radius growth (fraction)
# Every year, whatever the label.
CHRONIC_LESIONS = 4  # Poisson mean of the lesions at the first visit
CHRONIC_DIAMETER_MM = (4.0, 9.0)  # their diameters, uniform
CHRONIC_CONTRAST = (0.35, 0.6)  # their T1 contrast; the floor of fading
FADING = (0.55, 0.75)  # yearly factor on a lesion's T1 contrast above the floor (black holes partly recover)
YEARLY_GROWTH = 0.04  # most a lesion's radius grows in a year (fraction)
BACKGROUND_NEW_LESION_PROBABILITY = 0.15  # chance of one new lesion in any year, active or not
BACKGROUND_NEW_LESION_DIAMETER_MM = (3.0, 5.0)  # its diameter, log-uniform; its contrast as a new lesion's
# Acquisition, varying between studies.
MATRIX_SIZES = (112, 120, 128, 136, 144)  # in-plane rows = columns
FIELD_OF_VIEW_MM = 230.0
T1_COVERAGE_MM = 140.0
T2_SLICES, T2_THICKNESS_MM = 16, 8.0
LOCALIZER_SHAPE, LOCALIZER_SPACING_MM = (3, 128, 128), (12.0, 2.0, 2.0)
# Stored-value encodings: real = slope * stored + intercept; "high" stores values above 3000.
INTENSITY_ENCODINGS = {"plain": (1.0, 1.0, 0.0), "high": (3.6, 1.0, 0.0), "rescaled": (1.0, 0.25, -50.0)}
MAX_ROTATION_DEG = 3.0  # head pose: rotation about each axis, uniform in +-this
MAX_TRANSLATION_MM = 3.0  # head pose: translation along each axis, uniform in +-this
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
        lesions: the lesions visible at this visit; new_lesions: how many of them, the last ones, appeared since the
            visit before (at the first visit: in the year before it).
        n_slices: T1 slice count (30-60); matrix: in-plane rows = columns of T1 and T2; encoding: key of
            :data:`INTENSITY_ENCODINGS`; pose: the head's pose in the scanner, for every series of the study.
    """

    visit_date: datetime.date
    scan_date: datetime.date
    edss: tuple[int, ...]
    status: int
    lesions: tuple[Lesion, ...]
    new_lesions: int
    n_slices: int
    matrix: int
    encoding: str
    pose: Pose


@dataclass(frozen=True)
class DemoPatient:
    """A synthetic patient: fake identifiers (as a hospital export would carry), anatomy and visits."""

    patient_id: str
    patient_name: str
    folder: str
    anatomy: Anatomy
    visits: tuple[DemoVisit, ...]


def simulate_cohort(n_patients: int = DEMO_PATIENTS, seed: int = 0, lesion_strength: float = 1.0) -> list[DemoPatient]:
    """The cohort's patients (no I/O); the ground truth, and what ``lesion_strength`` scales, is the module docstring's."""
    if n_patients < 1:
        raise UserError(f"the cohort needs at least 1 patient, got {n_patients}")
    if not (math.isfinite(lesion_strength) and lesion_strength >= 0):
        raise UserError(f"the lesion strength must be a finite number >= 0, got {lesion_strength}")
    rng = np.random.default_rng(seed)
    n_visits = rng.integers(2, 6, size=n_patients)
    return [
        _simulate_patient(index, int(n_visits[index]), lesion_strength, np.random.default_rng([seed, index]))
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


def write_demo_cohort(
    out_dir: str | os.PathLike, n_patients: int = DEMO_PATIENTS, seed: int = 0, lesion_strength: float = 1.0
) -> str:
    """Write ``out_dir/dicom/case_NNN/visit_N/*.dcm``, ``out_dir/clinical.csv`` and ``out_dir/README.txt``; return a summary."""
    out_dir = Path(out_dir)
    dicom_dir = out_dir / "dicom"
    if dicom_dir.exists() and any(dicom_dir.iterdir()):
        raise UserError(f"{dicom_dir} already exists and is not empty; choose a new output folder")
    patients = simulate_cohort(n_patients, seed, lesion_strength)
    rows = []
    for index, patient in enumerate(patients):
        for number, visit in enumerate(patient.visits, start=1):
            study_uid = generate_uid(entropy_srcs=["msmonai demo", str(seed), patient.patient_id, str(number)])
            _write_study(patient, visit, study_uid, dicom_dir / patient.folder / f"visit_{number}", [seed, index, number])
            # Every third visit links by study_uid explicitly; the others by PatientID + StudyDate.
            rows.append(_clinical_row(patient, visit, study_uid if number % 3 == 0 else ""))
    write_text(out_dir / "clinical.csv", _to_csv(rows))
    write_text(out_dir / "README.txt", _readme(n_patients, seed, lesion_strength))
    labelled = sum(len(p.visits) - 1 for p in patients)
    active = sum(v.status for p in patients for v in p.visits[1:])
    size_mb = sum(f.stat().st_size for f in dicom_dir.rglob("*") if f.is_file()) / 1e6
    return (
        f"synthetic demo cohort (lesion strength {lesion_strength:g}): {n_patients} patients, {len(rows)} visits/studies "
        f"({size_mb:.0f} MB of DICOM), "
        f"{labelled} labelled observations, {active} active ({100 * active / max(labelled, 1):.1f} %) -> {out_dir}"
    )


def _simulate_patient(index: int, n_visits: int, strength: float, rng: np.random.Generator) -> DemoPatient:
    anatomy = random_anatomy(rng)
    statuses = [0] + [int(rng.random() < ACTIVE_FRACTION) for _ in range(n_visits - 1)]
    lesions = [
        random_lesion(anatomy, rng, float(rng.uniform(*CHRONIC_DIAMETER_MM)) / 2, float(rng.uniform(*CHRONIC_CONTRAST)))
        for _ in range(rng.poisson(CHRONIC_LESIONS))
    ]
    edss = [int(rng.choice(3, p=(0.5, 0.35, 0.15))) for _ in EDSS_COLUMNS[:7]] + [int(rng.choice(2, p=(0.85, 0.15)))]
    date = datetime.date(2014, 1, 1) + datetime.timedelta(days=int(rng.integers(0, 4 * 365)))
    relapse: list[int] = []
    visits = []
    for number in range(n_visits):
        new: list[Lesion] = []
        if number:
            date += datetime.timedelta(days=365 + int(rng.integers(-30, 31)))
            lesions = [
                lesion.grown(1 + float(rng.uniform(0, YEARLY_GROWTH))).faded(float(rng.uniform(*FADING)), CHRONIC_CONTRAST[0])
                for lesion in lesions
            ]
            if rng.random() < BACKGROUND_NEW_LESION_PROBABILITY:
                new.append(_new_lesion(anatomy, BACKGROUND_NEW_LESION_DIAMETER_MM, BLACK_HOLE_FRACTION, rng))
        if number + 1 < n_visits and statuses[number + 1]:
            # The year before an active phase: new lesions, enlarging old ones, sometimes a first subscore change.
            lesions = [_maybe_enlarged(lesion, strength, rng) for lesion in lesions]
            new += _new_lesions_before_activity(anatomy, strength, rng)
            if rng.random() < 0.5:
                edss[int(rng.integers(0, 7))] += 1
        lesions += new
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
                new_lesions=len(new),
                n_slices=int(rng.integers(30, 61)),
                matrix=int(rng.choice(MATRIX_SIZES)),
                encoding=str(rng.choice(list(INTENSITY_ENCODINGS))),
                pose=Pose(tuple(rng.uniform(-MAX_ROTATION_DEG, MAX_ROTATION_DEG, 3).tolist()),
                          tuple(rng.uniform(-MAX_TRANSLATION_MM, MAX_TRANSLATION_MM, 3).tolist())),
            )
        )
    name = f"{SURNAMES[int(rng.integers(len(SURNAMES)))]}^{GIVEN_NAMES[int(rng.integers(len(GIVEN_NAMES)))]}"
    return DemoPatient(
        patient_id=f"MSD{index + 1:03d}{int(rng.integers(1000, 10000))}",
        patient_name=name,
        folder=f"case_{index + 1:03d}",
        anatomy=anatomy,
        visits=tuple(visits),
    )


def _new_lesions_before_activity(anatomy: Anatomy, strength: float, rng: np.random.Generator) -> list[Lesion]:
    """The new lesions of a year before an active phase, at lesion strength ``strength`` (the module docstring's table)."""
    count = int(rng.integers(round(NEW_LESIONS[0] * strength), round(NEW_LESIONS[1] * strength) + 1))
    diameters_mm = tuple(d * math.sqrt(strength) for d in NEW_LESION_DIAMETER_MM)
    return [_new_lesion(anatomy, diameters_mm, min(1.0, BLACK_HOLE_FRACTION * strength), rng) for _ in range(count)]


def _new_lesion(anatomy: Anatomy, diameters_mm: tuple[float, float], black_hole_fraction: float,
                rng: np.random.Generator) -> Lesion:
    """A new white-matter lesion of log-uniform diameter within ``diameters_mm``: a black hole with probability
    ``black_hole_fraction``, else nearly T1-isointense."""
    diameter = math.exp(rng.uniform(math.log(diameters_mm[0]), math.log(diameters_mm[1])))
    dark = rng.random() < black_hole_fraction
    contrast = float(rng.uniform(*(BLACK_HOLE_CONTRAST if dark else FAINT_CONTRAST)))
    return random_lesion(anatomy, rng, diameter / 2, contrast)


def _maybe_enlarged(lesion: Lesion, strength: float, rng: np.random.Generator) -> Lesion:
    """``lesion``, enlarged with the probability and by the growth of a year before an active phase at ``strength``."""
    if rng.random() < min(1.0, ENLARGING_FRACTION * strength):
        return lesion.grown(1 + math.sqrt(strength) * float(rng.uniform(*ENLARGEMENT)))
    return lesion


def _write_study(patient: DemoPatient, visit: DemoVisit, study_uid: str, folder: Path, seed: list[int]) -> None:
    """T1 (axial), T2 (axial) and localizer (sagittal) series of one visit, all files in one folder; the head in the
    visit's pose, the series' geometry the scanner's."""
    rng = np.random.default_rng(seed)
    identity = dict(patient_id=patient.patient_id, patient_name=patient.patient_name, study_uid=study_uid,
                    study_date=visit.scan_date, shuffle_seed=int(rng.integers(2**31)))
    pixel = FIELD_OF_VIEW_MM / visit.matrix
    gain, slope, intercept = INTENSITY_ENCODINGS[visit.encoding]
    thickness = T1_COVERAGE_MM / visit.n_slices
    t1_shape = (visit.n_slices, visit.matrix, visit.matrix)
    x, y, z = axial_grid(t1_shape, (thickness, pixel, pixel))
    t1 = acquire(render_posed(patient.anatomy, visit.lesions, x, y, z, "T1", visit.pose), rng) * gain
    write_series(
        np.clip(np.rint((t1 - intercept) / slope), 0, 65535).astype(np.uint16), folder, **identity,
        series_description="T1 SE AX", weighting="T1", series_number=3, pixel_spacing=(pixel, pixel),
        slice_thickness=thickness, origin=(float(x.min()), float(y.min()), float(z.min())),
        rescale_slope=slope, rescale_intercept=intercept, misleading_instance_numbers=bool(rng.random() < 0.5),
    )
    x, y, z = axial_grid((T2_SLICES, visit.matrix, visit.matrix), (T2_THICKNESS_MM, pixel, pixel))
    t2 = acquire(render_posed(patient.anatomy, visit.lesions, x, y, z, "T2", visit.pose), rng)
    write_series(
        np.clip(np.rint(t2), 0, 65535).astype(np.uint16), folder, **identity, series_description="T2 TSE AX",
        weighting="T2", series_number=4, pixel_spacing=(pixel, pixel), slice_thickness=T2_THICKNESS_MM,
        origin=(float(x.min()), float(y.min()), float(z.min())),
    )
    x, y, z = sagittal_grid(LOCALIZER_SHAPE, LOCALIZER_SPACING_MM)
    localizer = acquire(render_posed(patient.anatomy, visit.lesions, x, y, z, "T1", visit.pose), rng)
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


def _readme(n_patients: int, seed: int, lesion_strength: float) -> str:
    return f"""SYNTHETIC DEMO COHORT - NOT PATIENT DATA - NEVER FOR CLINICAL CLAIMS

Generated by `msmonai demo-data --patients {n_patients} --seed {seed} --lesion-strength {lesion_strength:g}` to
demonstrate and test msmonai.
Every image is an analytic head phantom (msmonai/demo/phantom.py) and every clinical value is simulated
(msmonai/demo/cohort.py). Names, IDs, birth dates, accession numbers and the institution in the DICOM
headers are invented, so that privacy checks have identifiers to look for.

dicom/case_NNN/visit_N/   one MR study per visit: axial T1 (30-60 slices; some scans store values above 3000,
                          some use RescaleSlope/Intercept), axial T2, sagittal localizer; files named by UID;
                          matrix, slice count and the head's position (a few degrees and millimetres) vary
                          between studies
clinical.csv              the clinical visits format of data_manifests/README.md: 8 EDSS subscores, a
                          simplified composite EDSS (edss_total), status (1 = active phase), and study_uid
                          on every third visit (the others link by PatientID + StudyDate)

About 30 % of the labelled observations are active, independently of visit number, acquisition and dates. The
year before each active phase new lesions appear and some old ones enlarge, at lesion strength {lesion_strength:g}:
1 = as in relapsing MS (2-8 new lesions of 3-10 mm, 40 % of them dark on T1), 0 = none (the images carry no
label), 3 = about the earlier, easily learnt demo. msmonai/demo/cohort.py documents the ground truth and its
sources. Same seed, same files.
"""
