"""Weighting and contrast rules on header values typical of Siemens, GE and Philips exports."""

from __future__ import annotations

from pathlib import Path

import pytest

from msmonai.io import rules
from msmonai.io.classify import Acquisition, classify_weighting, has_contrast

DOCS = Path(__file__).resolve().parents[2] / "docs" / "ingestion.md"


@pytest.mark.parametrize(
    "acquisition, n_slices, expected",
    [
        (Acquisition("t1_mprage_sag_p2_iso"), 176, "T1"),
        (Acquisition("Sag T1 FLAIR"), 24, "T1"),  # GE's inversion-recovery T1
        (Acquisition("AX FSPGR 3D"), 150, "T1"),
        (Acquisition("", "sT1W_3D_TFE"), 170, "T1"),
        (Acquisition("t2_tirm_tra_dark-fluid"), 30, "FLAIR"),
        (Acquisition("Ax T2 FLAIR"), 30, "FLAIR"),
        (Acquisition("t2_tse_tra_512"), 30, "T2"),
        (Acquisition("PD_TSE_COR"), 30, "PD"),
        (Acquisition("ep2d_diff_3scan_trace_p2"), 30, "other"),
        (Acquisition("t2_swi_tra"), 88, "other"),
        (Acquisition("3-Plane Loc"), 3, "localizer"),
        (Acquisition("Survey", image_type=("ORIGINAL", "PRIMARY", "M")), 3, "localizer"),
        (Acquisition("Survey"), 40, "other"),  # keyword alone with many slices: not a localizer
        (Acquisition("anything", image_type=("ORIGINAL", "PRIMARY", "LOCALIZER")), 40, "localizer"),
        (Acquisition("", tr=450.0, te=12.0, scanning_sequence=("SE",)), 20, "T1"),
        (Acquisition("", tr=8.2, te=3.2, scanning_sequence=("GR",)), 150, "T1"),  # SPGR
        (Acquisition("", tr=2300.0, te=2.3, ti=900.0, scanning_sequence=("GR", "IR")), 176, "T1"),  # MPRAGE
        (Acquisition("", tr=2000.0, te=3.0, scanning_sequence=("GR",), sequence_variant=("SK", "MP")), 176, "T1"),
        (Acquisition("", tr=9000.0, te=90.0, ti=2500.0, scanning_sequence=("SE", "IR")), 30, "FLAIR"),
        (Acquisition("", tr=5000.0, te=100.0, scanning_sequence=("SE",)), 30, "T2"),
        (Acquisition("", tr=2500.0, te=20.0, scanning_sequence=("SE",)), 30, "PD"),
        (Acquisition("", tr=4000.0, te=60.0, ti=150.0, scanning_sequence=("SE", "IR")), 30, "other"),  # STIR
        (Acquisition("series 7"), 30, "other"),  # neither keywords nor timing
    ],
)
def test_weighting(acquisition, n_slices, expected):
    assert classify_weighting(acquisition, n_slices) == expected


@pytest.mark.parametrize(
    "acquisition, expected",
    [
        (Acquisition("AX T1 +C"), True),
        (Acquisition("T1_SE_TRA_POST_GD"), True),
        (Acquisition("t1_se_tra_KM"), True),
        (Acquisition("T1 SE", contrast_agent="Gadobutrol 1.0 mmol/ml"), True),
        (Acquisition("T1 pre-contrast"), False),
        (Acquisition("T1 w/o contrast"), False),
        (Acquisition("t1_se_tra"), False),
        (Acquisition("Sag T1 posterior fossa"), False),
    ],
)
def test_contrast(acquisition, expected):
    assert has_contrast(acquisition) is expected


def _documented_range(low: float, high: float) -> str:
    if high == rules.INF:
        return "any" if low == 0 else f">= {low:g}"
    return f"< {high:g}" if low == 0 else f"{low:g} to < {high:g}"


def _documented_row(rule: rules.TimingRule) -> str:
    inversion = {True: "yes", False: "no", None: "any"}[rule.inversion]
    ti = _documented_range(*rule.ti) if rule.inversion else "-"
    return (
        f"| {rule.weighting} | {inversion} | {rule.variant or 'any'} | {_documented_range(*rule.tr)} "
        f"| {_documented_range(*rule.te)} | {ti} |"
    )


def test_docs_state_the_rules_in_force():
    text = DOCS.read_text(encoding="utf-8")
    patterns = [pattern for _, pattern in rules.KEYWORD_RULES]
    patterns += [rules.PRE_CONTRAST_PATTERN, rules.POST_CONTRAST_PATTERN]
    for pattern in patterns:
        assert f"`{pattern}`".replace("|", r"\|") in text, pattern
    rows = [_documented_row(rule) for rule in rules.TIMING_RULES]
    assert "\n".join(rows) in text, "\n".join(rows)
    assert f"at most {rules.LOCALIZER_MAX_SLICES} slices" in text
