"""Bench-only DICOM exports at the sizes scanners write (256^2, 320^2, 512^2 slices, optionally JPEG 2000): the demo
cohort's 112-144 px slices leave the in-plane resize almost nothing to do, so ingestion is measured on these."""

from __future__ import annotations

import datetime
from pathlib import Path

import numpy as np

from msmonai.demo.dicom_writer import write_series
from msmonai.demo.phantom import acquire, axial_grid, random_anatomy, random_lesion, render

FIELD_OF_VIEW_MM = 240.0
COVERAGE_MM = 150.0


def write_scanner_export(root: Path, matrix: int, studies: int, slices: int = 40, transfer_syntax: str = "explicit",
                         seed: int = 0) -> list[list[str]]:
    """Write ``studies`` one-series studies (a T1 phantom head with lesions, one patient each) of ``slices`` slices of
    ``matrix`` x ``matrix`` pixels under ``root``; returns each study's T1 files in slice order."""
    rng = np.random.default_rng(seed)
    pixel, thickness = FIELD_OF_VIEW_MM / matrix, COVERAGE_MM / slices
    series = []
    for number in range(studies):
        anatomy = random_anatomy(rng)
        lesions = [random_lesion(anatomy, rng, float(rng.uniform(2, 6))) for _ in range(int(rng.integers(3, 15)))]
        x, y, z = axial_grid((slices, matrix, matrix), (thickness, pixel, pixel))
        volume = np.clip(np.rint(acquire(render(anatomy, lesions, x, y, z), rng) * 4), 0, 65535).astype(np.uint16)
        files = write_series(
            volume, root / f"study_{number:04d}", patient_id=f"BENCH-{seed}-{number:04d}", patient_name="Bench^Phantom",
            study_uid=f"1.2.826.0.1.3680043.10.1234.{seed}.{matrix}.{number}",
            study_date=datetime.date(2024, 1, 1) + datetime.timedelta(days=number), series_description="T1 SE AX",
            weighting="T1", pixel_spacing=(pixel, pixel), slice_thickness=thickness,
            origin=(float(x.min()), float(y.min()), float(z.min())), transfer_syntax=transfer_syntax,
        )
        series.append([str(f) for f in files])
    return series
