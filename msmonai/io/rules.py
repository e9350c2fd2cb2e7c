"""The rule tables that classify a series' weighting and contrast, as data (documented in docs/ingestion.md).

Descriptions are normalised before matching: lower case, with ``_ - / . , ; : ( ) [ ]`` turned into spaces,
so ``"AX_T1_MPRAGE(+C)"`` is matched as ``"ax t1 mprage +c"``. Times are in milliseconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# (weighting, regular expression searched in "SeriesDescription ProtocolName"); the first match wins.
# T1 comes before FLAIR because "T1 FLAIR" (GE's inversion-recovery T1) is T1-weighted.
KEYWORD_RULES: tuple[tuple[str, str], ...] = (
    ("localizer", r"locali[sz]er|\bscout|\bsurvey|\bloc\b|3 ?plane|tri ?pilot|\baahead"),
    ("other", r"\bdiff|\bdwi|\bdti|\badc\b|\btrace|\bswi|t2\*|t2 ?star|\bbold|\bfmri|\bperf|\btof\b|\bmra\b"),
    ("T1", r"t1(?!\d)|mp ?rage|spgr|\btfe\b|bravo"),
    ("FLAIR", r"flair|\btirm|dark ?fluid"),
    ("T2", r"t2(?!\d)"),
    ("PD", r"\bpd|proton density"),
)

# A series matching the localizer keywords is a localizer only when it has at most this many slices
# (ImageType LOCALIZER makes it one whatever its size).
LOCALIZER_MAX_SLICES = 5

INF = math.inf


@dataclass(frozen=True)
class TimingRule:
    """Header rule used when no keyword matched: all given conditions must hold (ranges are [low, high))."""

    weighting: str
    tr: tuple[float, float] = (0.0, INF)
    te: tuple[float, float] = (0.0, INF)
    ti: tuple[float, float] = (0.0, INF)
    inversion: bool | None = None  # True: IR in ScanningSequence or TI > 0; False: neither; None: either
    variant: str | None = None  # required code in SequenceVariant (e.g. "MP", magnetisation-prepared)


# The first rule that holds wins; a series with no TR/TE or no matching rule is "other".
TIMING_RULES: tuple[TimingRule, ...] = (
    TimingRule("FLAIR", tr=(5000, INF), te=(60, INF), ti=(1500, INF), inversion=True),
    TimingRule("T1", te=(0, 30), ti=(300, 1500), inversion=True),  # MPRAGE, IR-prepared T1, GE "T1 FLAIR"
    TimingRule("T1", te=(0, 30), variant="MP"),  # magnetisation-prepared gradient echo without TI in the header
    TimingRule("T1", tr=(0, 1000), te=(0, 30), inversion=False),  # T1 spin echo, SPGR/FLASH
    TimingRule("T2", tr=(2000, INF), te=(80, INF), inversion=False),
    TimingRule("PD", tr=(2000, INF), te=(0, 40), inversion=False),
)

# Contrast: ContrastBolusAgent filled in, or a description keyword. "pre"/"without" keywords win over "post" ones.
PRE_CONTRAST_PATTERN = r"\bpre\b|\bpre ?(contrast|gd|c)\b|\bnative?\b|\bw ?o\b|\bwithout\b|\bnon ?contrast"
POST_CONTRAST_PATTERN = r"\+ ?c\b|\+ ?gd|\bgd\b|\bgad|\bpost\b|contrast|\bce\b|\bkm\b"
