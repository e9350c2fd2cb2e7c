"""Linking clinical visits to DICOM studies: explicit study_uid, else PatientID + StudyDate within the tolerance."""

import datetime
from pathlib import Path

import pytest

from msmonai.data.clinical import ClinicalVisit
from msmonai.data.linking import link_visits
from msmonai.io.model import Series, Study

DAY0 = datetime.date(2020, 3, 1)


def visit(row, patient="A", days=0, study_uid=None):
    return ClinicalVisit(row, patient, DAY0 + datetime.timedelta(days=days), (0,) * 8, study_uid=study_uid)


def study(uid, patient="A", days=0, t1=True):
    series = Series(uid + ".1", "T1 SE AX" if t1 else "T2", "T1" if t1 else "T2", "axial",
                    [Path(f"/d/{uid}/{i}.dcm") for i in range(3)], 3, False, selected=t1)
    date = None if days is None else DAY0 + datetime.timedelta(days=days)
    return Study(patient, uid, date, [series])


@pytest.mark.parametrize("offset, linked", [(59, True), (60, True), (61, False), (-60, True), (-61, False)])
def test_date_tolerance_is_inclusive(offset, linked):
    (result,), exclusions = link_visits([visit(2)], [study("1.1", days=offset)], tolerance_days=60)
    assert result.has_image is linked
    if not linked:
        assert [e.kind for e in exclusions] == ["visit", "study"]
        assert f"no DICOM study within 60 days (nearest is {abs(offset)} days away)" in exclusions[0].reason
        assert exclusions[1].reason == "not linked to any clinical visit"


def test_tolerance_is_an_option():
    (result,), _ = link_visits([visit(2)], [study("1.1", days=61)], tolerance_days=61)
    assert result.has_image


def test_nearest_study_of_the_same_patient_is_chosen():
    studies = [study("1.1", days=-20), study("1.2", days=5), study("1.3", patient="B", days=0)]
    (result,), exclusions = link_visits([visit(2)], studies)
    assert result.study.study_uid == "1.2"
    assert sorted(e.study_uid for e in exclusions) == ["1.1", "1.3"]


def test_explicit_study_uid_ignores_dates():
    (result,), exclusions = link_visits([visit(2, study_uid="1.9")], [study("1.9", days=400)])
    assert result.study.study_uid == "1.9" and exclusions == []


def test_explicit_study_uid_must_exist_and_belong_to_the_patient():
    visits = [visit(2, study_uid="9.9"), visit(3, patient="A", days=400, study_uid="1.5")]
    results, exclusions = link_visits(visits, [study("1.5", patient="B", days=400)])
    assert not any(r.has_image for r in results)
    reasons = [e.reason for e in exclusions if e.kind == "visit"]
    assert reasons[0].startswith("no DICOM study with study_uid 9.9")
    assert reasons[1].startswith("study_uid 1.5 belongs to a different DICOM PatientID")


def test_study_without_t1_leaves_the_visit_without_image():
    (result,), (exclusion,) = link_visits([visit(4)], [study("1.1", t1=False)])
    assert not result.has_image
    assert (exclusion.kind, exclusion.row, exclusion.study_uid) == ("visit", 4, "1.1")  # the study linked by date
    assert exclusion.reason.startswith("linked study 1.1 has no T1 series")


def test_visit_without_any_study_of_the_patient():
    (result,), (exclusion,) = link_visits([visit(2, patient="C")], [])
    assert not result.has_image and "no dated DICOM study with this patient's PatientID" in exclusion.reason


def test_one_study_serves_one_visit_the_closest():
    visits = [visit(2, days=0), visit(3, days=30)]
    results, (exclusion,) = link_visits(visits, [study("1.1", days=25)])
    assert [r.has_image for r in results] == [False, True]
    assert exclusion.row == 2 and "study 1.1 is already linked to the visit on row 3" in exclusion.reason


def test_undated_study_is_reported_with_a_hint():
    _, (exclusion,) = link_visits([], [study("1.1", days=None)])
    assert exclusion.kind == "study" and "no StudyDate: link it with study_uid" in exclusion.reason
