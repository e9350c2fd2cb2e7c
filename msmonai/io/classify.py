"""Classify a series' weighting (T1, T2, FLAIR, PD, localizer, other) and contrast from its headers.

Applies the tables of :mod:`msmonai.io.rules`: description keywords first, then ScanningSequence /
SequenceVariant and TR/TE/TI ranges.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from msmonai.io.rules import (
    KEYWORD_RULES,
    LOCALIZER_MAX_SLICES,
    POST_CONTRAST_PATTERN,
    PRE_CONTRAST_PATTERN,
    TIMING_RULES,
    TimingRule,
)

_SEPARATORS = re.compile(r"[_\-/.,;:()\[\]]+")


@dataclass(frozen=True)
class Acquisition:
    """The series-level header fields classification looks at (times in ms; None when absent)."""

    description: str = ""  # SeriesDescription
    protocol: str = ""  # ProtocolName
    image_type: tuple[str, ...] = ()
    scanning_sequence: tuple[str, ...] = ()  # e.g. ("SE",), ("GR", "IR")
    sequence_variant: tuple[str, ...] = ()  # e.g. ("SK", "SP", "MP")
    tr: float | None = None
    te: float | None = None
    ti: float | None = None
    contrast_agent: str = ""  # ContrastBolusAgent

    @property
    def text(self) -> str:
        """Description and protocol name, normalised for keyword matching."""
        return _SEPARATORS.sub(" ", f"{self.description} {self.protocol}".lower()).strip()


def classify_weighting(acq: Acquisition, n_slices: int) -> str:
    """Weighting of a series of ``n_slices`` slices: one of ``msmonai.io.model.WEIGHTINGS``."""
    if "LOCALIZER" in (t.upper() for t in acq.image_type):
        return "localizer"
    text = acq.text
    for weighting, pattern in KEYWORD_RULES:
        if re.search(pattern, text) and (weighting != "localizer" or n_slices <= LOCALIZER_MAX_SLICES):
            return weighting
    return next((rule.weighting for rule in TIMING_RULES if _timing_rule_holds(rule, acq)), "other")


def _timing_rule_holds(rule: TimingRule, acq: Acquisition) -> bool:
    if acq.tr is None or acq.te is None:
        return False
    ti = acq.ti or 0.0
    inverted = "IR" in acq.scanning_sequence or ti > 0
    if rule.inversion is not None and inverted != rule.inversion:
        return False
    if rule.variant is not None and rule.variant not in acq.sequence_variant:
        return False
    if rule.inversion and not rule.ti[0] <= ti < rule.ti[1]:
        return False
    return rule.tr[0] <= acq.tr < rule.tr[1] and rule.te[0] <= acq.te < rule.te[1]


def has_contrast(acq: Acquisition) -> bool:
    """True when the series was acquired after a contrast injection (agent recorded or description says so)."""
    if acq.contrast_agent.strip():
        return True
    text = acq.text
    return not re.search(PRE_CONTRAST_PATTERN, text) and bool(re.search(POST_CONTRAST_PATTERN, text))
