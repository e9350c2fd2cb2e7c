"""Which T1 series of a study feeds the model.

The default rule prefers, in this order: pre-contrast (the paper uses T1 without contrast enhancement, and
gadolinium-enhancing lesions are themselves a marker of the activity being predicted), axial (the paper's
slices are axial), then the most slices. Ties go to the lowest SeriesNumber.
"""

from __future__ import annotations

from typing import Any, Callable

from msmonai.io.model import Series, Study

T1Rule = Callable[[Series], Any]  # sort key of a T1 candidate: the largest wins


def default_t1_rule(series: Series) -> tuple[bool, bool, int]:
    """Sort key: (pre-contrast, axial, number of slices)."""
    return (not series.contrast, series.orientation == "axial", series.n_slices)


def choose_t1(study: Study, rule: T1Rule | None = None) -> Series | None:
    """Mark and return the study's best T1 series under ``rule`` (None: no T1 series).

    ``study.series`` must be in SeriesNumber order; the first of equally ranked series wins.
    """
    candidates = [s for s in study.series if s.weighting == "T1"]
    if not candidates:
        return None
    chosen = max(candidates, key=rule or default_t1_rule)
    chosen.selected = True
    return chosen
