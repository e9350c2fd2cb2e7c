"""The activity label of an observation: the disease status at the following visit.

When the following visit has no ``status``, the documented EDSS-worsening rule on ``edss_total`` decides:
worsening (label 1) is an increase of at least 1.5 from a baseline of 0, at least 1.0 from a baseline of
0.5-5.5, and at least 0.5 from a baseline above 5.5 (the usual confirmed-disability-progression
thresholds; a baseline of 0.5 takes the 1.0 step).
"""

from __future__ import annotations

from msmonai.data.clinical import ClinicalVisit

STATUS = "status"
EDSS_RULE = "edss_rule"


class LabelUnavailable(ValueError):
    """Neither a status at the following visit nor edss_total at both visits: the observation has no label."""


def edss_worsening_threshold(baseline: float) -> float:
    """Minimum increase of the composite EDSS over ``baseline`` that counts as worsening."""
    if baseline == 0:
        return 1.5
    if baseline <= 5.5:
        return 1.0
    return 0.5


def edss_worsened(baseline: float, follow_up: float) -> bool:
    """True when ``follow_up - baseline`` reaches :func:`edss_worsening_threshold` of ``baseline``."""
    return follow_up - baseline >= edss_worsening_threshold(baseline)


def observation_label(current: ClinicalVisit, following: ClinicalVisit) -> tuple[int, str]:
    """Label (0 or 1) of the observation made at ``current`` and where it came from (:data:`STATUS` or :data:`EDSS_RULE`).

    Raises:
        LabelUnavailable: with a one-line reason naming the CSV rows.
    """
    if following.status is not None:
        return following.status, STATUS
    if current.edss_total is None or following.edss_total is None:
        missing = ", ".join(str(v.row) for v in (current, following) if v.edss_total is None)
        raise LabelUnavailable(
            f"no label: the following visit (row {following.row}) has no status and edss_total is missing on row(s) {missing}"
        )
    return int(edss_worsened(current.edss_total, following.edss_total)), EDSS_RULE
