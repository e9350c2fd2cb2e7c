"""The simulated demo cohort (no I/O): visits, EDSS, statuses, acquisition, and the lesion changes that precede
activity at realistic strength (the ranges of the module docstring) and at other strengths."""

import math

import numpy as np
import pytest
from scipy.spatial.transform import Rotation
from sklearn.metrics import roc_auc_score

from msmonai.constants import DEMO_PATIENTS
from msmonai.data.clinical import EDSS_MAXIMA
from msmonai.demo.cohort import (
    BACKGROUND_NEW_LESION_DIAMETER_MM, BLACK_HOLE_CONTRAST, BLACK_HOLE_FRACTION, CHRONIC_CONTRAST, ENLARGEMENT,
    ENLARGING_FRACTION, FADING, FAINT_CONTRAST, INTENSITY_ENCODINGS, MATRIX_SIZES, MAX_ROTATION_DEG, MAX_TRANSLATION_MM,
    NEW_LESION_DIAMETER_MM, NEW_LESIONS, YEARLY_GROWTH, edss_total, simulate_cohort,
)
from msmonai.errors import UserError


@pytest.fixture(scope="module")
def cohort():
    return simulate_cohort(28, seed=0)


@pytest.fixture(scope="module")
def large_cohort():
    """600 patients at the default (realistic) lesion strength."""
    return simulate_cohort(600, seed=0)


def diameter_mm(lesion) -> float:
    """Volume-equivalent diameter of an ellipsoidal lesion."""
    return 2 * float(np.cbrt(np.prod(lesion.radii)))


def years(patients):
    """``(visit before or None, visit, next status)`` of every visit that has a next one: the visit shows the lesion
    changes of the year that precedes the next visit's status."""
    for patient in patients:
        for k in range(len(patient.visits) - 1):
            yield (patient.visits[k - 1] if k else None), patient.visits[k], patient.visits[k + 1].status


def old_and_new(visit) -> tuple[tuple, tuple]:
    """The lesions of ``visit`` that the visit before showed (in its order), and those new since."""
    split = len(visit.lesions) - visit.new_lesions
    return visit.lesions[:split], visit.lesions[split:]


def lesion_change(before, visit) -> tuple[int, float, float]:
    """(new lesions, their volume in mm^3, largest radius growth factor of the lesions already there) of ``visit``."""
    old, new = old_and_new(visit)
    earlier = before.lesions if before else ()
    growth = max((after.radii[0] / then.radii[0] for then, after in zip(earlier, old)), default=1.0)
    return len(new), sum(4 / 3 * math.pi * float(np.prod(lesion.radii)) for lesion in new), growth


def chance_auc_tolerance(labels: np.ndarray) -> float:
    """Three standard errors of the ROC AUC of a feature unrelated to ``labels`` (the Mann-Whitney statistic's null
    variance, (n1 + n0 + 1) / (12 n1 n0)): 0.049 for the 600-patient cohort (1554 observations, 440 active), 0.19 for
    the 40-patient demo cohort (103, 28 active)."""
    positives, negatives = int(labels.sum()), int((1 - labels).sum())
    return 3 * math.sqrt((positives + negatives + 1) / (12 * positives * negatives))


def test_deterministic_for_a_seed(cohort):
    assert simulate_cohort(28, seed=0) == cohort
    assert simulate_cohort(28, seed=1) != cohort
    assert simulate_cohort(28, seed=0, lesion_strength=2.0) != cohort


def test_visits_are_annual_and_scans_near_the_visit(cohort):
    assert len({p.patient_id for p in cohort}) == 28
    for patient in cohort:
        assert 2 <= len(patient.visits) <= 5
        dates = [v.visit_date for v in patient.visits]
        assert all(335 <= (b - a).days <= 395 for a, b in zip(dates, dates[1:]))
        for visit in patient.visits:
            assert abs((visit.scan_date - visit.visit_date).days) <= 21
            assert 30 <= visit.n_slices <= 60 and visit.matrix in MATRIX_SIZES
            assert all(0 <= value <= maximum for value, maximum in zip(visit.edss, EDSS_MAXIMA))


def test_matrix_and_head_pose_vary_between_the_studies_of_a_patient(cohort):
    """Each study has its own matrix draw and pose: rotations within +-3 degrees about each axis and translations within
    +-3 mm, so two visits of a patient differ by a rotation of a few degrees (at most 2 * 3 * sqrt(3))."""
    assert any(len({visit.matrix for visit in patient.visits}) > 1 for patient in cohort)
    for patient in cohort:
        poses = [visit.pose for visit in patient.visits]
        for pose in poses:
            assert np.all(np.abs(pose.rotation_deg) <= MAX_ROTATION_DEG)
            assert np.all(np.abs(pose.translation_mm) <= MAX_TRANSLATION_MM)
        for first, second in zip(poses, poses[1:]):
            between = Rotation.from_matrix(first.rotation().T @ second.rotation()).magnitude()
            assert 0 < np.degrees(between) <= 2 * MAX_ROTATION_DEG * math.sqrt(3)
            assert first.translation_mm != second.translation_mm


def test_about_three_in_ten_labelled_observations_are_active_from_the_second_visit_on(cohort):
    labels = [visit.status for patient in cohort for visit in patient.visits[1:]]
    assert 0.2 <= np.mean(labels) <= 0.4
    assert all(patient.visits[0].status == 0 for patient in cohort)
    assert any(patient.visits[1].status == 1 for patient in cohort)  # an observation of one visit can be active


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_activity_is_preceded_by_new_lesions_and_quiet_years_show_at_most_one(seed):
    """2-8 new lesions the year before an active phase, plus the one any year may bring; quiet years that one only."""
    for before, visit, next_status in years(simulate_cohort(28, seed=seed)):
        new, _, _ = lesion_change(before, visit)
        if next_status:
            assert NEW_LESIONS[0] <= new <= NEW_LESIONS[1] + 1
        else:
            assert new <= (1 if before else 0)


def test_realistic_new_lesions_count_size_and_t1_contrast_as_documented(large_cohort):
    """Over 600 patients: counts per active year, log-uniform 3-10 mm diameters (median sqrt(30) = 5.5 mm, 42 % below
    5 mm), about 40 % black holes (T1 contrast 0.5-1, some fully dark), the others nearly isointense (0.05-0.3)."""
    counts, new_lesions = [], []
    for _, visit, next_status in years(large_cohort):
        if next_status:
            counts.append(visit.new_lesions)
            new_lesions += old_and_new(visit)[1]
    assert min(counts) >= NEW_LESIONS[0] and max(counts) <= NEW_LESIONS[1] + 1
    assert 4.6 <= np.mean(counts) <= 5.6  # 5 on average, plus the 0.15 of any year
    diameters = np.array([diameter_mm(lesion) for lesion in new_lesions])
    assert diameters.min() >= NEW_LESION_DIAMETER_MM[0] - 1e-9 and diameters.max() <= NEW_LESION_DIAMETER_MM[1] + 1e-9
    assert 5.0 <= np.median(diameters) <= 6.0 and 0.36 <= np.mean(diameters < 5.0) <= 0.5
    contrasts = np.array([lesion.contrast for lesion in new_lesions])
    dark = (contrasts >= BLACK_HOLE_CONTRAST[0]) & (contrasts <= BLACK_HOLE_CONTRAST[1])
    faint = (contrasts >= FAINT_CONTRAST[0]) & (contrasts <= FAINT_CONTRAST[1])
    assert np.all(dark | faint)
    assert abs(dark.mean() - BLACK_HOLE_FRACTION) <= 0.05
    assert np.any(contrasts > 0.95) and np.mean(contrasts < 0.9) > 0.9  # some fully dark, most only partly


def test_lesions_fade_every_year_and_some_enlarge_modestly_before_activity(large_cohort):
    """T1 contrast above the chronic floor shrinks by FADING per year (black holes partly recover); radii grow by at
    most 4 % a year, and before an active phase about 30 % of the lesions already there grow by 5-15 % more."""
    floor = CHRONIC_CONTRAST[0]
    faded, enlarged, present = 0, 0, 0
    for before, visit, next_status in years(large_cohort):
        if before is None:
            continue
        for earlier, after in zip(before.lesions, old_and_new(visit)[0]):
            fading = FADING[0] - 1e-9 <= after.contrast / earlier.contrast <= FADING[1] + 1e-9
            if earlier.contrast * FADING[0] >= floor:
                assert fading
                faded += 1
            else:
                assert fading or after.contrast == min(floor, earlier.contrast)
            growth = after.radii[0] / earlier.radii[0]
            assert 1.0 <= growth <= (1 + YEARLY_GROWTH) * (1 + (ENLARGEMENT[1] if next_status else 0)) + 1e-9
            if next_status:
                present += 1
                enlarged += growth > 1 + YEARLY_GROWTH
    assert faded > 100 and abs(enlarged / present - ENLARGING_FRACTION) <= 0.05


def observation_features(patients) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Labels ``[N]`` of the observations and the lesion change of their last visit ``[N]`` per feature."""
    labels, columns = [], {"new lesions": [], "new lesion volume": [], "growth of old lesions": []}
    for before, visit, next_status in years(patients):
        labels.append(next_status)
        for name, value in zip(columns, lesion_change(before, visit)):
            columns[name].append(value)
    return np.array(labels), {name: np.array(values) for name, values in columns.items()}


def test_strength_zero_gives_active_and_quiet_years_the_same_lesion_changes():
    """At strength 0 only the changes of any year remain: at most one new lesion, no enlargement beyond the yearly 4 %,
    and no lesion-change feature ranks active observations above chance (ROC AUC within three chance standard errors
    of 0.5 over 600 patients, 0.049)."""
    labels, columns = observation_features(simulate_cohort(600, seed=0, lesion_strength=0.0))
    assert columns["new lesions"].max() <= 1
    assert columns["growth of old lesions"].max() <= 1 + YEARLY_GROWTH + 1e-9
    for name, values in columns.items():
        auc = roc_auc_score(labels, values)
        assert abs(auc - 0.5) <= chance_auc_tolerance(labels), f"{name}: ROC AUC {auc:.3f}"


def test_realistic_strength_lesion_changes_do_predict_activity(large_cohort):
    labels, columns = observation_features(large_cohort)
    assert roc_auc_score(labels, columns["new lesions"]) > 0.95
    assert roc_auc_score(labels, columns["growth of old lesions"]) > 0.6


def test_strength_scales_counts_linearly_sizes_with_its_square_root_and_darkens_new_lesions():
    """Strength 3 (about the earlier learnable demo): 6-24 new lesions of 3-10 mm x sqrt(3), all black holes
    (min(1, 0.4 x 3)); the one new lesion any year may bring (3-5 mm) is smaller than all of them."""
    low, high = (d * math.sqrt(3.0) for d in NEW_LESION_DIAMETER_MM)
    counts = []
    for _, visit, next_status in years(simulate_cohort(60, seed=0, lesion_strength=3.0)):
        if next_status:
            new = old_and_new(visit)[1]
            of_activity = [lesion for lesion in new if diameter_mm(lesion) > BACKGROUND_NEW_LESION_DIAMETER_MM[1]]
            counts.append(len(of_activity))
            assert all(low - 1e-9 <= diameter_mm(lesion) <= high + 1e-9 for lesion in of_activity)
            assert all(lesion.contrast >= BLACK_HOLE_CONTRAST[0] for lesion in of_activity)
    assert min(counts) >= 3 * NEW_LESIONS[0] and max(counts) <= 3 * NEW_LESIONS[1] and 13 <= np.mean(counts) <= 17


@pytest.mark.parametrize("strength", [-0.5, math.nan, math.inf])
def test_negative_or_non_finite_strength_is_refused(strength):
    with pytest.raises(UserError, match="lesion strength must be a finite number >= 0"):
        simulate_cohort(2, seed=0, lesion_strength=strength)


def observation_table(patients) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Labels ``[N]`` of every labelled observation and, per candidate confound, its value ``[N]``."""
    labels, columns = [], {"visits in the observation": [], "slices": [], "matrix": [], "encoding": [],
                           "rotation": [], "translation": [], "scan date": [], "visit date": []}
    encodings = sorted(INTENSITY_ENCODINGS)
    for patient in patients:
        for k in range(1, len(patient.visits)):
            last = patient.visits[k - 1]
            labels.append(patient.visits[k].status)
            columns["visits in the observation"].append(k)
            columns["slices"].append(last.n_slices)
            columns["matrix"].append(last.matrix)
            columns["encoding"].append(encodings.index(last.encoding))
            columns["rotation"].append(np.linalg.norm(last.pose.rotation_deg))
            columns["translation"].append(np.linalg.norm(last.pose.translation_mm))
            columns["scan date"].append(last.scan_date.toordinal())
            columns["visit date"].append(last.visit_date.toordinal())
    return np.array(labels), {name: np.array(values) for name, values in columns.items()}


@pytest.mark.parametrize("n_patients", [DEMO_PATIENTS, 600])
def test_no_acquisition_setting_visit_count_or_date_predicts_activity(n_patients):
    """Each candidate confound alone ranks active observations at chance: ROC AUC within 0.5 +- three chance standard
    errors, on the demo cohort and, more tightly, on a large simulated one. Statuses are drawn independently of all of
    them, so what remains is chance: with eight candidates, a deviation of 0.1 on the 103 observations of the demo cohort
    (1.6 standard errors) is common (seed 0: head rotation 0.12)."""
    labels, columns = observation_table(simulate_cohort(n_patients, seed=0))
    tolerance = chance_auc_tolerance(labels)
    for name, values in columns.items():
        auc = roc_auc_score(labels, values)
        assert abs(auc - 0.5) <= tolerance, f"{name}: ROC AUC {auc:.3f}"


def test_simplified_edss_total():
    assert edss_total((0, 0, 0, 0, 0, 0, 0, 0)) == 0.0
    assert edss_total((1, 0, 0, 0, 0, 0, 0, 0)) == 1.0
    assert edss_total((1, 1, 0, 0, 0, 0, 0, 0)) == 1.5
    assert edss_total((2, 0, 2, 1, 0, 0, 0, 0)) == 2.5
    assert edss_total((0, 0, 3, 0, 0, 0, 0, 0)) == 3.0
    assert edss_total((1, 0, 0, 0, 0, 0, 0, 2)) == 5.0
    assert edss_total((6, 5, 6, 5, 6, 6, 5, 12)) == 10.0
