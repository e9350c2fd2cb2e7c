"""Row 1: one DICOM series -> preprocessed ``[1, 50, 128, 128]`` tensor, against reading and decoding the same files
with pydicom alone (the floor) and against ``dcm2niix`` converting the same series to NIfTI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Sequence

import pydicom

from bench.report import Row
from bench.timing import median, timed

DCM2NIIX = str(Path(sys.executable).with_name("dcm2niix"))


def distinct_series(items: Sequence[dict], count: int) -> list[list[str]]:
    """``count`` distinct visits' T1 series (file lists), spread evenly over the observations' visits."""
    series = list({tuple(v["image"]): None for item in items for v in item["visits"]})
    step = max(1, len(series) // count)
    return [list(s) for s in series[::step][:count]]


def pydicom_floor(files: Sequence[str]) -> None:
    """Read every file and decode its pixel data with pydicom alone."""
    for name in files:
        pydicom.dcmread(name).pixel_array


def linked_series_folder(files: Sequence[str], parent: Path) -> Path:
    """A new folder under ``parent`` holding links to ``files`` only (a study folder also holds T2 and localizer)."""
    folder = Path(tempfile.mkdtemp(dir=parent))
    for name in files:
        os.symlink(name, folder / Path(name).name)
    return folder


def dcm2niix(series_folder: Path, out_dir: Path) -> None:
    """Convert one series folder to uncompressed NIfTI (+ its JSON sidecar) with the dcm2niix binary."""
    out_dir.mkdir()
    subprocess.run([DCM2NIIX, "-z", "n", "-o", str(out_dir), str(series_folder)], check=True, capture_output=True)


def measure_ingestion(items: Sequence[dict], work: Path, studies: int = 6, runs: int = 3) -> Row:
    """Per study, the preset, the pydicom floor and dcm2niix timed in turn in each run; medians over runs, then
    the median over studies of the per-study figures and ratios."""
    from msmonai.transforms import preprocessing_transforms

    preset = preprocessing_transforms()
    series = distinct_series(items, studies)
    scratch = Path(tempfile.mkdtemp(dir=work))
    folders = [linked_series_folder(files, scratch) for files in series]
    times: dict[str, list[list[float]]] = {"preset": [], "floor": [], "dcm2niix": []}
    for files, folder in zip(series, folders):
        preset({"image": files})  # warm the page cache and imports alike for the three
        per = {key: [] for key in times}
        for run in range(runs):
            per["preset"].append(timed(preset, {"image": files})[0])
            per["floor"].append(timed(pydicom_floor, files)[0])
            per["dcm2niix"].append(timed(dcm2niix, folder, scratch / f"nifti_{folder.name}_{run}")[0])
        for key in times:
            times[key].append(per[key])
    shutil.rmtree(scratch)
    study = {key: [median(t) for t in per_study] for key, per_study in times.items()}
    vs_floor = median([p / f for p, f in zip(study["preset"], study["floor"])])
    vs_dcm2niix = median([p / d for p, d in zip(study["preset"], study["dcm2niix"])])
    slices = median([len(files) for files in series])
    return Row(
        number="1",
        measurement="ingestion: DICOM series -> [1,50,128,128] tensor, per study",
        figure=f"{median(study['preset']):.3f} s",
        baseline=f"pydicom floor {median(study['floor']):.3f} s; dcm2niix {median(study['dcm2niix']):.3f} s",
        ratio=vs_floor,
        ratio_label=f"preset / floor; preset / dcm2niix {vs_dcm2niix:.2f}",
        target="<= 1.5x floor and < 1x dcm2niix",
        met=vs_floor <= 1.5 and vs_dcm2niix < 1.0,
        runs=f"median of {runs} runs x {len(series)} studies",
        notes=(f"{len(series)} T1 series of the demo cohort (median {slices:.0f} slices, uncompressed, 112-144 px). "
               "Preset: msmonai.transforms.preprocessing_transforms() on the file list (read, sort, rescale, depth "
               "standardisation, resize). Floor: pydicom.dcmread + pixel_array on every file. dcm2niix: the "
               "binary of the dcm2niix PyPI package on a folder of links to the series' files (-z n), process start "
               "included. Page cache warm for all three."),
        values={"preset_s": study["preset"], "floor_s": study["floor"], "dcm2niix_s": study["dcm2niix"],
                "preset_over_floor": vs_floor, "preset_over_dcm2niix": vs_dcm2niix},
    )
