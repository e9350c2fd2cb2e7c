"""What a scan of a DICOM archive finds: studies, their series, and the problems with everything else."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from pathlib import Path

WEIGHTINGS = ("T1", "T2", "FLAIR", "PD", "localizer", "other")


@dataclass(frozen=True)
class Problem:
    """A file (or folder, for study-level problems) that could not be used, and why, in one line."""

    path: str  # relative to the scanned root where possible
    reason: str


@dataclass
class Series:
    """One usable image series: two or more parallel, uniformly spaced MR slices."""

    series_uid: str
    description: str
    weighting: str  # one of WEIGHTINGS
    orientation: str  # "axial", "coronal", "sagittal" or "oblique"
    files: list[Path]  # absolute, sorted by position along the slice normal
    n_slices: int
    contrast: bool
    selected: bool = False  # True for the study's chosen T1 series


@dataclass
class Study:
    """One imaging visit of one patient."""

    patient_id: str
    study_uid: str
    study_date: datetime.date | None
    series: list[Series] = field(default_factory=list)

    @property
    def t1(self) -> Series | None:
        """The chosen T1 series, or None when the study has none."""
        return next((s for s in self.series if s.selected), None)


@dataclass
class ScanResult:
    """Everything found under one root: usable studies and one problem line per unusable item."""

    studies: list[Study]
    problems: list[Problem]
