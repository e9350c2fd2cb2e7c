"""The label of an observation: status at the following visit, else the EDSS-worsening rule."""

import datetime

import pytest

from msmonai.data.clinical import ClinicalVisit
from msmonai.data.labels import EDSS_RULE, STATUS, LabelUnavailable, edss_worsened, observation_label


def visit(row, total=None, status=None):
    return ClinicalVisit(row=row, patient_id="A", date=datetime.date(2020, 1, 1), edss_raw=(0,) * 8, edss_total=total, status=status)


@pytest.mark.parametrize(
    "baseline, follow_up, worsened",
    [
        (0.0, 1.5, True),  # from 0: +1.5 needed
        (0.0, 1.0, False),
        (0.0, 0.0, False),
        (0.5, 1.5, True),  # 0.5 takes the 1.0 step
        (0.5, 1.0, False),
        (1.0, 2.0, True),  # 1.0-5.5: +1.0 needed
        (1.0, 1.5, False),
        (5.5, 6.5, True),
        (5.5, 6.0, False),
        (6.0, 6.5, True),  # above 5.5: +0.5 needed
        (6.0, 6.0, False),
        (9.5, 10.0, True),
        (3.0, 2.0, False),  # improvement
    ],
)
def test_edss_worsening_rule_boundaries(baseline, follow_up, worsened):
    assert edss_worsened(baseline, follow_up) is worsened


def test_status_at_following_visit_wins_over_edss():
    assert observation_label(visit(2, total=0.0), visit(3, total=5.0, status=0)) == (0, STATUS)
    assert observation_label(visit(2, total=5.0), visit(3, total=5.0, status=1)) == (1, STATUS)


def test_status_of_the_current_visit_is_not_the_label():
    assert observation_label(visit(2, status=1, total=2.0), visit(3, total=2.0)) == (0, EDSS_RULE)


def test_edss_rule_when_status_is_absent():
    assert observation_label(visit(2, total=1.0), visit(3, total=2.0)) == (1, EDSS_RULE)
    assert observation_label(visit(2, total=1.0), visit(3, total=1.5)) == (0, EDSS_RULE)


@pytest.mark.parametrize("current_total, following_total, rows", [(None, 2.0, "2"), (2.0, None, "3"), (None, None, "2, 3")])
def test_no_status_and_no_edss_total_is_an_error_naming_rows(current_total, following_total, rows):
    with pytest.raises(LabelUnavailable) as err:
        observation_label(visit(2, total=current_total), visit(3, total=following_total))
    assert "following visit (row 3) has no status" in str(err.value) and f"row(s) {rows}" in str(err.value)
