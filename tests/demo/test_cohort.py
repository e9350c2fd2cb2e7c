"""The simulated demo cohort (no I/O): visits, EDSS, statuses and the lesion changes that precede activity."""

import numpy as np
import pytest

from msmonai.data.clinical import EDSS_MAXIMA
from msmonai.demo.cohort import edss_total, simulate_cohort


@pytest.fixture(scope="module")
def cohort():
    return simulate_cohort(28, seed=0)


def test_deterministic_for_a_seed(cohort):
    assert simulate_cohort(28, seed=0) == cohort
    assert simulate_cohort(28, seed=1) != cohort


def test_visits_are_annual_and_scans_near_the_visit(cohort):
    assert len({p.patient_id for p in cohort}) == 28
    for patient in cohort:
        assert 2 <= len(patient.visits) <= 5
        assert patient.matrix in range(112, 145)
        dates = [v.visit_date for v in patient.visits]
        assert all(335 <= (b - a).days <= 395 for a, b in zip(dates, dates[1:]))
        for visit in patient.visits:
            assert abs((visit.scan_date - visit.visit_date).days) <= 21
            assert 30 <= visit.n_slices <= 60
            assert all(0 <= value <= maximum for value, maximum in zip(visit.edss, EDSS_MAXIMA))


def test_about_one_in_eight_labelled_observations_is_active(cohort):
    labels = [visit.status for patient in cohort for visit in patient.visits[1:]]
    assert 0.10 <= np.mean(labels) <= 0.15
    assert all(patient.visits[0].status == 0 for patient in cohort)
    assert all(sum(v.status for v in patient.visits) <= 1 for patient in cohort)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_activity_is_preceded_by_new_lesions_and_quiet_years_are_not(seed):
    for patient in simulate_cohort(28, seed=seed):
        for k in range(1, len(patient.visits)):
            new = len(patient.visits[k].lesions) - len(patient.visits[k - 1].lesions)
            next_active = k + 1 < len(patient.visits) and patient.visits[k + 1].status == 1
            if next_active:
                assert new >= 4  # the year before the active phase
            else:
                assert new <= 1


def test_simplified_edss_total():
    assert edss_total((0, 0, 0, 0, 0, 0, 0, 0)) == 0.0
    assert edss_total((1, 0, 0, 0, 0, 0, 0, 0)) == 1.0
    assert edss_total((1, 1, 0, 0, 0, 0, 0, 0)) == 1.5
    assert edss_total((2, 0, 2, 1, 0, 0, 0, 0)) == 2.5
    assert edss_total((0, 0, 3, 0, 0, 0, 0, 0)) == 3.0
    assert edss_total((1, 0, 0, 0, 0, 0, 0, 2)) == 5.0
    assert edss_total((6, 5, 6, 5, 6, 6, 5, 12)) == 10.0
