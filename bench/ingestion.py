"""Row 1: ingestion at the sizes scanners write (256^2, 320^2, 512^2 slices, and 512^2 JPEG 2000).

Per matrix size, one T1 series -> preprocessed ``[1, 50, 128, 128]`` tensor (the preset, in process) against reading
and decoding the same files with pydicom alone (the floor) and against ``dcm2niix`` converting the same series; then
the ``msmonai preprocess`` command as a whole process (start-up apart from the marginal cost per study), and its wall
time for 100 studies with one worker and with every core.
"""

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
from bench.scanner_series import write_scanner_export
from bench.timing import median, timed

BIN = Path(sys.executable).parent
DCM2NIIX = str(BIN / "dcm2niix")
SIZES = (("256^2", 256, "explicit"), ("320^2", 320, "explicit"), ("512^2", 512, "explicit"),
         ("512^2 JPEG 2000", 512, "jpeg2000"))
SCALING_STUDIES = 100


def pydicom_floor(files: Sequence[str]) -> None:
    """Read every file and decode its pixel data with pydicom alone."""
    for name in files:
        pydicom.dcmread(name).pixel_array


def dcm2niix(folder: Path, out_dir: Path, gzip: bool = False) -> None:
    """Convert the series under ``folder`` to NIfTI (+ JSON sidecar) with the dcm2niix binary (process included)."""
    out_dir.mkdir(parents=True)
    subprocess.run([DCM2NIIX, "-z", "y" if gzip else "n", "-o", str(out_dir), str(folder)], check=True,
                   capture_output=True)


def preprocess_command(root: Path, out_dir: Path, workers: int) -> None:
    """``msmonai preprocess ROOT --out OUT --workers N --quiet`` as a new process (exit status 1 = nothing written)."""
    env = {**os.environ, "MSMONAI_SITE_SECRET": "bench-secret-0123456789abcdef"}
    done = subprocess.run([str(BIN / "msmonai"), "preprocess", str(root), "--out", str(out_dir), "--workers",
                           str(workers), "--quiet"], env=env, capture_output=True, text=True)
    if done.returncode not in (0, 1):
        raise RuntimeError(f"msmonai preprocess failed: {done.stderr.strip().splitlines()[-1:]}")


def measure_size(label: str, matrix: int, syntax: str, scratch: Path, studies: int, runs: int) -> Row:
    """The preset, the floor and dcm2niix on ``studies`` series of one size, timed in turn in each run; medians
    over runs, then the median over studies of the per-study figures and ratios."""
    from msmonai.transforms import preprocessing_transforms

    preset = preprocessing_transforms()
    root = scratch / f"export_{matrix}_{syntax}"
    series = write_scanner_export(root, matrix, studies, transfer_syntax=syntax)
    times: dict[str, list[float]] = {"preset": [], "floor": [], "dcm2niix": []}
    for files in series:
        preset({"image": files})  # warm the page cache and imports alike for the three
        per: dict[str, list[float]] = {key: [] for key in times}
        for run in range(runs):
            per["preset"].append(timed(preset, {"image": files})[0])
            per["floor"].append(timed(pydicom_floor, files)[0])
            per["dcm2niix"].append(timed(dcm2niix, Path(files[0]).parent, scratch / f"nifti_{matrix}_{syntax}_{run}_"
                                         f"{Path(files[0]).parent.name}")[0])
        for key in times:
            times[key].append(median(per[key]))
    vs_floor = median([p / f for p, f in zip(times["preset"], times["floor"])])
    vs_dcm2niix = median([p / d for p, d in zip(times["preset"], times["dcm2niix"])])
    return Row(
        number="1",
        measurement=f"ingestion {label}: T1 series -> [1,50,128,128] tensor, per study",
        figure=f"{median(times['preset']):.3f} s",
        baseline=f"pydicom floor {median(times['floor']):.3f} s; dcm2niix {median(times['dcm2niix']):.3f} s",
        ratio=vs_floor,
        ratio_label=f"preset / floor; preset / dcm2niix {vs_dcm2niix:.2f}",
        target="<= 1.5x floor and < 1x dcm2niix",
        met=vs_floor <= 1.5 and vs_dcm2niix < 1.0,
        runs=f"median of {runs} runs x {studies} studies",
        notes=(f"{studies} phantom T1 series of 40 slices of {matrix}x{matrix} ({syntax}, uint16), written by "
               "bench/scanner_series.py. Preset: msmonai.transforms.preprocessing_transforms() on the file list "
               "(read, sort, check, resize, rescale, depth standardisation), in process. Floor: pydicom.dcmread + "
               "pixel_array on every file. dcm2niix: the binary of the dcm2niix PyPI package on the study folder "
               "(-z n), process start included. Page cache warm for all three."),
        values={"matrix": matrix, "transfer_syntax": syntax, "preset_s": times["preset"], "floor_s": times["floor"],
                "dcm2niix_s": times["dcm2niix"], "preset_over_floor": vs_floor, "preset_over_dcm2niix": vs_dcm2niix},
    )


def measure_command(scratch: Path, studies: int, runs: int) -> Row:
    """Whole ``msmonai preprocess`` processes on one worker: an empty folder (the fixed cost) and ``studies`` 512^2
    studies (marginal = the difference per study), against ``dcm2niix -z y`` on the same export (both gzip)."""
    root = scratch / "export_512_explicit"  # written by measure_size
    empty = scratch / "empty"
    empty.mkdir(exist_ok=True)
    fixed, full, converter = [], [], []
    imports = [timed(subprocess.run, [sys.executable, "-c", "import msmonai.transforms"], check=True)[0]
               for _ in range(runs)]
    torch_only = [timed(subprocess.run, [sys.executable, "-c", "import torch"], check=True)[0] for _ in range(runs)]
    for run in range(runs):
        fixed.append(timed(preprocess_command, empty, scratch / f"cmd_empty_{run}", 1)[0])
        full.append(timed(preprocess_command, root, scratch / f"cmd_{run}", 1)[0])
        converter.append(timed(dcm2niix, root, scratch / f"dcm2niix_z_{run}", True)[0])
    marginal = (median(full) - median(fixed)) / studies
    converter_per_study = median(converter) / studies
    return Row(
        number="1",
        measurement="msmonai preprocess (whole process, 1 worker): start-up; marginal per 512^2 study",
        figure=f"start-up {median(fixed):.2f} s; {marginal:.3f} s per study",
        baseline=f"dcm2niix -z y {converter_per_study:.3f} s per study (process included)",
        ratio=marginal / converter_per_study,
        ratio_label="marginal / dcm2niix",
        target="start-up < 2 s; marginal < 1x dcm2niix",
        met=median(fixed) < 2.0 and marginal < converter_per_study,
        runs=f"median of {runs} runs",
        notes=(f"Start-up: the command on an empty folder (imports, argument parsing, an empty scan, index.csv); of "
               f"it, 'import msmonai.transforms' (torch + MONAI, whose package import loads its submodules and their "
               f"optional dependencies eagerly) alone {median(imports):.2f} s and 'import torch' {median(torch_only):.2f}"
               f" s. Marginal: (time on {studies} studies - start-up) / {studies}; it holds the header scan, the "
               "preset and the gzip NIfTI write with fsync. dcm2niix -z y writes gzip NIfTI at full resolution."),
        values={"startup_s": fixed, "full_s": full, "studies": studies, "marginal_s": marginal,
                "import_msmonai_transforms_s": imports, "import_torch_s": torch_only, "dcm2niix_gzip_s": converter},
    )


def measure_workers(scratch: Path, runs: int) -> Row:
    """Wall time of ``msmonai preprocess`` on 100 256^2 studies with 1 worker and with one per core."""
    root = scratch / "export_100"
    write_scanner_export(root, 256, SCALING_STUDIES, slices=32, seed=1)
    cores = len(os.sched_getaffinity(0))
    walls: dict[int, list[float]] = {1: [], cores: []}
    for run in range(runs):
        for workers in walls:
            walls[workers].append(timed(preprocess_command, root, scratch / f"workers_{workers}_{run}", workers)[0])
    one, many = median(walls[1]), median(walls[cores])
    return Row(
        number="1",
        measurement=f"msmonai preprocess on {SCALING_STUDIES} studies: --workers 1 vs --workers {cores}",
        figure=f"{many:.1f} s with {cores} workers",
        baseline=f"{one:.1f} s with 1 worker",
        ratio=many / one,
        ratio_label=f"{cores} workers / 1 worker (ideal {1 / cores:.2f})",
        target=f"close to 1/{cores}",
        met=many / one <= 1.2 / cores,
        runs=f"median of {runs} runs",
        notes=(f"{SCALING_STUDIES} one-series studies of 32 slices of 256x256, whole processes (start-up included, "
               "paid once by each). Workers are forked after the imports; each preprocesses whole studies and writes "
               "their NIfTI files; the header scan stays in the main process."),
        values={"wall_s": {str(k): v for k, v in walls.items()}, "cores": cores},
    )


def measure_ingestion(work: Path, studies: int = 3, runs: int = 3) -> list[Row]:
    """Every row 1 measurement, in a scratch folder under ``work`` removed afterwards."""
    scratch = Path(tempfile.mkdtemp(dir=work))
    try:
        # a study takes 30-60 ms at these sizes, where the machine's load moves single runs by 20 %: 5 runs at least
        rows = [measure_size(label, matrix, syntax, scratch, studies, max(runs, 5)) for label, matrix, syntax in SIZES]
        rows.append(measure_command(scratch, studies, runs))
        rows.append(measure_workers(scratch, runs))
    finally:
        shutil.rmtree(scratch)
    return rows
