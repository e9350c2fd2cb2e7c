"""Observations: for one patient at visit t, the visits with an image up to t and the label of the year after.

An observation exists for every visit t that has an image and a following visit whose date lies within
``horizon_days ± tolerance_days`` after t (the earliest such visit labels it, see
:mod:`msmonai.data.labels`). The input sequence is the patient's image visits up to and including t,
the most recent ``max_visits``, oldest first. A patient's last visit only labels the previous one.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Sequence

from msmonai.constants import HORIZON_DAYS, LINK_TOLERANCE_DAYS, MAX_VISITS
from msmonai.data.clinical import ClinicalVisit
from msmonai.data.exclusions import Exclusion
from msmonai.data.labels import LabelUnavailable, observation_label
from msmonai.data.linking import LinkedVisit


@dataclass(frozen=True)
class Observation:
    """One training/evaluation sample.

    Attributes:
        patient_id: raw patient id (pseudonymised when written).
        history: image visits up to t, oldest first; ``history[-1]`` is the visit t the prediction is made at.
        following: the visit whose status (or EDSS change) gives the label.
        label: 1 = active phase at the following visit, 0 = not.
        label_source: ``"status"`` or ``"edss_rule"``.
    """

    patient_id: str
    history: tuple[LinkedVisit, ...]
    following: ClinicalVisit
    label: int
    label_source: str


def build_observations(
    linked: Sequence[LinkedVisit], horizon_days: int = HORIZON_DAYS, tolerance_days: int = LINK_TOLERANCE_DAYS,
    max_visits: int = MAX_VISITS
) -> tuple[list[Observation], list[Exclusion]]:
    """All observations of all patients (patients in first-appearance order, visits by date), and an
    :class:`Exclusion` for each single-visit patient and each image visit that cannot become an observation."""
    by_patient: dict[str, list[LinkedVisit]] = defaultdict(list)
    for item in linked:
        by_patient[item.visit.patient_id].append(item)
    observations: list[Observation] = []
    exclusions: list[Exclusion] = []
    window = (horizon_days - tolerance_days, horizon_days + tolerance_days)
    for patient_id, items in by_patient.items():
        items = sorted(items, key=lambda item: item.visit.date)
        if len(items) == 1:
            visit = items[0].visit
            exclusions.append(
                Exclusion("patient", "only one valid clinical visit: no observation can be labelled",
                          row=visit.row, patient_id=patient_id, date=visit.date)
            )
            continue
        for t, current in enumerate(items):
            if not current.has_image or t == len(items) - 1:
                continue
            visit = current.visit
            following = next(
                (later.visit for later in items[t + 1:] if window[0] <= (later.visit.date - visit.date).days <= window[1]),
                None,
            )
            if following is None:
                gap = (items[t + 1].visit.date - visit.date).days
                reason = f"no following visit {window[0]}-{window[1]} days later (the next visit is {gap} days later)"
                exclusions.append(Exclusion("observation", reason, row=visit.row, patient_id=patient_id, date=visit.date))
                continue
            try:
                label, source = observation_label(visit, following)
            except LabelUnavailable as err:
                exclusions.append(Exclusion("observation", str(err), row=visit.row, patient_id=patient_id, date=visit.date))
                continue
            history = tuple(item for item in items[: t + 1] if item.has_image)[-max_visits:]
            observations.append(Observation(patient_id, history, following, label, source))
    return observations, exclusions


def filter_negatives(observations: Sequence[Observation], max_per_patient: int) -> tuple[list[Observation], list[Exclusion]]:
    """The paper's "filtering of observations with an excessive number of negative labels", as an explicit rule:
    keep at most ``max_per_patient`` label-0 observations per patient (the most recent ones); every positive is kept."""
    negatives: dict[str, list[Observation]] = defaultdict(list)
    for obs in observations:
        if obs.label == 0:
            negatives[obs.patient_id].append(obs)
    dropped = {
        id(obs)
        for group in negatives.values()
        for obs in sorted(group, key=lambda o: o.history[-1].visit.date)[: max(len(group) - max_per_patient, 0)]
    }
    exclusions = [
        Exclusion(
            "observation",
            f"negative-observation filter: the patient has more than {max_per_patient} label-0 observations "
            f"(--filter-negatives {max_per_patient})",
            row=obs.history[-1].visit.row,
            patient_id=obs.patient_id,
            date=obs.history[-1].visit.date,
        )
        for obs in observations
        if id(obs) in dropped
    ]
    return [obs for obs in observations if id(obs) not in dropped], exclusions
