"""Observations: visit sequences up to t, labelled by the visit one horizon later; the negative filter."""

import datetime

import pytest

from msmonai.data.clinical import ClinicalVisit
from msmonai.data.linking import LinkedVisit
from msmonai.data.observations import build_observations, filter_negatives
from msmonai.io.model import Study

DAY0 = datetime.date(2015, 6, 1)


def linked(patient, days, statuses, images=None, totals=None):
    """LinkedVisits of one patient at ``days`` after DAY0; ``images[i]`` False -> no study."""
    out = []
    for i, (day, status) in enumerate(zip(days, statuses)):
        visit = ClinicalVisit(10 * i + 2, patient, DAY0 + datetime.timedelta(days=day), (i,) * 8,
                              edss_total=None if totals is None else totals[i], status=status)
        has_image = images is None or images[i]
        out.append(LinkedVisit(visit, Study(patient, f"1.{i}", visit.date) if has_image else None))
    return out


def test_one_observation_per_visit_with_a_following_visit():
    observations, exclusions = build_observations(linked("A", [0, 365, 730], [0, 0, 1]))
    assert exclusions == []
    assert [len(o.history) for o in observations] == [1, 2]
    assert [o.label for o in observations] == [0, 1]
    assert [o.following.row for o in observations] == [12, 22]
    assert [v.visit.row for v in observations[1].history] == [2, 12]  # oldest first, last = visit t


def test_history_keeps_the_most_recent_max_visits():
    observations, _ = build_observations(linked("A", [365 * i for i in range(7)], [0] * 7), max_visits=5)
    assert [len(o.history) for o in observations] == [1, 2, 3, 4, 5, 5]
    assert [v.visit.row for v in observations[-1].history] == [12, 22, 32, 42, 52]


@pytest.mark.parametrize("gap, ok", [(304, False), (305, True), (365, True), (425, True), (426, False)])
def test_following_visit_must_fall_in_the_horizon_window(gap, ok):
    observations, exclusions = build_observations(linked("A", [0, gap], [0, 0]), horizon_days=365, tolerance_days=60)
    assert len(observations) == int(ok)
    if not ok:
        (exclusion,) = exclusions
        assert (exclusion.kind, exclusion.row) == ("observation", 2)
        assert exclusion.reason == f"no following visit 305-425 days later (the next visit is {gap} days later)"


def test_interim_visit_does_not_label_but_the_annual_one_does():
    observations, (exclusion,) = build_observations(linked("A", [0, 180, 365], [0, 1, 0]))
    assert [(o.history[-1].visit.row, o.following.row, o.label) for o in observations] == [(2, 22, 0)]
    assert exclusion.row == 12 and "the next visit is 185 days later" in exclusion.reason


def test_visit_without_image_labels_the_previous_visit_but_is_not_an_input():
    observations, _ = build_observations(linked("A", [0, 365, 730], [0, 1, 0], images=[True, False, True]))
    assert [(o.history[-1].visit.row, o.label) for o in observations] == [(2, 1)]


def test_gap_in_images_skips_that_visit_in_later_histories():
    observations, _ = build_observations(linked("A", [0, 365, 730, 1095], [0, 0, 0, 0], images=[True, False, True, True]))
    assert [[v.visit.row for v in o.history] for o in observations] == [[2], [2, 22]]


def test_single_visit_patient_is_reported():
    observations, (exclusion,) = build_observations(linked("A", [0], [0]))
    assert observations == []
    assert (exclusion.kind, exclusion.patient_id) == ("patient", "A")
    assert "only one valid clinical visit" in exclusion.reason


def test_missing_label_is_reported_not_guessed():
    observations, (exclusion,) = build_observations(linked("A", [0, 365], [None, None], totals=[2.0, None]))
    assert observations == [] and exclusion.kind == "observation" and "no label" in exclusion.reason


def test_edss_rule_labels_when_status_is_absent():
    (obs,), _ = build_observations(linked("A", [0, 365], [None, None], totals=[1.0, 2.0]))
    assert (obs.label, obs.label_source) == (1, "edss_rule")


def test_filter_negatives_keeps_the_most_recent_negatives_and_every_positive():
    observations, _ = build_observations(
        linked("A", [365 * i for i in range(6)], [0, 0, 0, 1, 0, 0]) + linked("B", [0, 365], [0, 0])
    )
    kept, exclusions = filter_negatives(observations, max_per_patient=2)
    assert [(o.patient_id, o.history[-1].visit.row, o.label) for o in kept] == [
        ("A", 22, 1), ("A", 32, 0), ("A", 42, 0), ("B", 2, 0)
    ]
    assert [(e.patient_id, e.row) for e in exclusions] == [("A", 2), ("A", 12)]
    assert all("--filter-negatives 2" in e.reason for e in exclusions)
