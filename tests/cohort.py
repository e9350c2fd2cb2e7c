"""A tiny longitudinal cohort for workflow tests: real DICOM series on disk and a datalist over them.

8 patients x 3 visits of 12-slice 40x40 T1 series (written with the project's DICOM writer), observations
at visits 1 and 2 labelled with a rule the image carries (a bright block appears before activity), 4 folds by
patient, fold 3 under ``testing``.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import numpy as np

from msmonai.data.datalist import write_datalist
from msmonai.demo.dicom_writer import write_series

N_PATIENTS = 8
N_VISITS = 3


def write_tiny_cohort(root: Path, seed: int = 0, n_patients: int = N_PATIENTS) -> Path:
    """Write the cohort under ``root`` and return the path of its ``datalist.json``."""
    rng = np.random.default_rng(seed)
    items = []
    for p in range(n_patients):
        active_next = [int(rng.random() < 0.35) for _ in range(N_VISITS)]
        visits = []
        for v in range(N_VISITS):
            volume = rng.integers(100, 1200, size=(12, 40, 40)).astype(np.uint16)
            if v + 1 < N_VISITS and active_next[v + 1]:
                volume[4:8, 10:20, 10:20] = 3000
            files = write_series(
                volume, root / "dicom" / f"patient_{p}" / f"visit_{v}", patient_id=f"TINY{p:03d}",
                patient_name=f"Tiny^Patient{p}", study_uid=f"1.2.826.0.1.3680043.10.999.{p}.{v}",
                study_date=datetime.date(2015 + v, 3, 1), series_description="T1 AX SE",
            )
            visits.append({
                "image": sorted(str(f.relative_to(root)) for f in files),
                "series_uid": f"1.2.826.0.1.3680043.10.999.{p}.{v}.1",
                "edss": [round(float(x), 3) for x in rng.random(8)],
                "edss_raw": [0] * 8,
                "date": f"{2015 + v}-03-01",
            })
        for t in range(1, N_VISITS):
            items.append({"patient": f"P-{p:016x}", "fold": p % 4, "label": active_next[t], "visits": visits[:t]})
    datalist = {"training": [i for i in items if i["fold"] != 3], "testing": [i for i in items if i["fold"] == 3]}
    return write_datalist(root / "datalist.json", datalist)
