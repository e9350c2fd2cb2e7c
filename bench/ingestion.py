"""Row 1: ingestion at the sizes scanners write (256^2, 320^2, 512^2 slices, and 512^2 JPEG 2000).

Per matrix size, on the same phantom export: the ``msmonai preprocess`` command as users run it (a whole process,
its default workers), on all studies and on one, which gives its marginal cost per study and its fixed cost; reading
and decoding every file with pydicom alone (the floor); ``dcm2niix -z y`` converting the same export; and, for the
profile, the preset alone in this process. Then the command's fixed cost at 512^2 beside its imports, and its wall
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
SIZES = (("256^2", 256, "explicit", 24), ("320^2", 320, "explicit", 24), ("512^2", 512, "explicit", 24),
         ("512^2 JPEG 2000", 512, "jpeg2000", 8))  # (label, matrix, transfer syntax, studies)
SCALING_STUDIES = 100


def pydicom_floor(files: Sequence[str]) -> None:
    """Read every file and decode its pixel data with pydicom alone."""
    for name in files:
        pydicom.dcmread(name).pixel_array


def dcm2niix(folder: Path, out_dir: Path) -> None:
    """Convert every series under ``folder`` to gzipped NIfTI (+ JSON sidecar) with the dcm2niix binary."""
    out_dir.mkdir(parents=True)
    subprocess.run([DCM2NIIX, "-z", "y", "-o", str(out_dir), str(folder)], check=True, capture_output=True)


def preprocess_command(root: Path, out_dir: Path, workers: int | None = None) -> None:
    """``msmonai preprocess ROOT --out OUT [--workers N] --quiet`` as a new process (exit status 1 = nothing
    written); without ``workers``, the command's default (one per core)."""
    env = {**os.environ, "MSMONAI_SITE_SECRET": "bench-secret-0123456789abcdef"}
    command = [str(BIN / "msmonai"), "preprocess", str(root), "--out", str(out_dir), "--quiet"]
    command += [] if workers is None else ["--workers", str(workers)]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode not in (0, 1):
        raise RuntimeError(f"msmonai preprocess failed: {done.stderr.strip().splitlines()[-1:]}")


def measure_size(label: str, matrix: int, syntax: str, studies: int, scratch: Path, runs: int) -> Row:
    """The command's marginal and fixed cost, the floor, dcm2niix and the preset on ``studies`` studies of one size.

    Each run times, in turn: the command on all studies and on the first alone, the floor over all studies, dcm2niix
    over the export, the preset over all studies. Marginal = (all - one) / (studies - 1); fixed = one - marginal.
    """
    from msmonai.transforms import preprocessing_transforms

    root = scratch / f"export_{matrix}_{syntax}"
    series = write_scanner_export(root, matrix, studies, transfer_syntax=syntax)
    single = scratch / f"single_{matrix}_{syntax}"
    shutil.copytree(Path(series[0][0]).parent, single / Path(series[0][0]).parent.name)
    preset = preprocessing_transforms()
    times: dict[str, list[float]] = {"all": [], "one": [], "floor": [], "dcm2niix": [], "preset": []}
    for files in series:
        pydicom_floor(files)  # page cache warm for every arm
    for run in range(runs):
        out = scratch / f"out_{matrix}_{syntax}_{run}"
        times["all"].append(timed(preprocess_command, root, out / "all")[0])
        times["one"].append(timed(preprocess_command, single, out / "one")[0])
        times["floor"].append(sum(timed(pydicom_floor, files)[0] for files in series))
        times["dcm2niix"].append(timed(dcm2niix, root, out / "dcm2niix")[0])
        times["preset"].append(sum(timed(preset, {"image": files})[0] for files in series))
    marginal = (median(times["all"]) - median(times["one"])) / (studies - 1)
    fixed = median(times["one"]) - marginal
    floor, converter, alone = (median(times[k]) / studies for k in ("floor", "dcm2niix", "preset"))
    cores = len(os.sched_getaffinity(0))
    return Row(
        number="1",
        measurement=f"msmonai preprocess at {label}: marginal cost per study",
        figure=f"{marginal:.3f} s (fixed {fixed:.2f} s)",
        baseline=f"pydicom floor {floor:.3f} s; dcm2niix -z y {converter:.3f} s per study",
        ratio=marginal / floor,
        ratio_label=f"marginal / floor; / dcm2niix {marginal / converter:.2f}",
        target="<= 1.5x floor and < 1x dcm2niix",
        met=marginal <= 1.5 * floor and marginal < converter,
        runs=f"median of {runs} runs",
        notes=(f"{studies} phantom T1 studies of 40 slices of {matrix}x{matrix} ({syntax}, uint16), written by "
               f"bench/scanner_series.py. Command: whole processes with the default --workers ({cores} on this "
               f"machine), on all {studies} studies and on the first alone; it scans the headers, chooses the T1, "
               "preprocesses and writes gzipped NIfTI files and index.csv. Floor: pydicom.dcmread + pixel_array on "
               "every file, one process. dcm2niix: one process over the export, gzipped NIfTI at full resolution, "
               f"divided by {studies}. Page cache warm for all. The preset alone, in this process with "
               f"{_threads()} intra-op threads: {alone:.3f} s per study ({alone / floor:.2f}x the floor)."),
        values={"matrix": matrix, "transfer_syntax": syntax, "studies": studies, "command_all_s": times["all"],
                "command_one_s": times["one"], "floor_total_s": times["floor"], "dcm2niix_total_s": times["dcm2niix"],
                "preset_total_s": times["preset"], "marginal_s": marginal, "fixed_s": fixed, "floor_s": floor,
                "dcm2niix_s": converter, "preset_s": alone, "workers": cores},
    )


def measure_fixed_cost(scratch: Path, runs: int, fixed_512: float) -> Row:
    """The command on an empty folder, beside the imports it cannot avoid, against the fixed cost at 512^2."""
    empty = scratch / "empty"
    empty.mkdir(exist_ok=True)
    imports = {
        "torch": "import torch",
        "worker": "import msmonai.cli.ingestion as c; c._preset((50, 128, 128))",
        "monai": "import monai",
    }
    seconds: dict[str, list[float]] = {"empty": [], **{name: [] for name in imports}}
    for run in range(runs):
        seconds["empty"].append(timed(preprocess_command, empty, scratch / f"empty_out_{run}")[0])
        for name, code in imports.items():
            seconds[name].append(timed(subprocess.run, [sys.executable, "-c", code], check=True,
                                       capture_output=True)[0])
    empty_s = median(seconds["empty"])
    return Row(
        number="1",
        measurement="msmonai preprocess: fixed cost (start-up)",
        figure=f"{fixed_512:.2f} s at 512^2; {empty_s:.2f} s on an empty folder",
        baseline=f"python -c 'import torch' {median(seconds['torch']):.2f} s",
        ratio=fixed_512 / median(seconds["torch"]),
        ratio_label="fixed / torch's import",
        target="< 2 s",
        met=max(fixed_512, empty_s) < 2.0,
        runs=f"median of {runs} runs",
        notes=(f"Fixed cost at 512^2: from the row above (one study minus the marginal cost). Whole processes, "
               f"interpreter start and exit included: a preprocess worker's imports (torch, then MONAI without the "
               f"optional packages it does not need, the preset built) {median(seconds['worker']):.2f} s; 'import "
               f"monai' with all its optional packages {median(seconds['monai']):.2f} s. The workers start first and "
               "import while the main process scans the headers."),
        values={f"{name}_s": values for name, values in seconds.items()} | {"fixed_512_s": fixed_512},
    )


def measure_workers(scratch: Path, runs: int) -> Row:
    """Wall time of ``msmonai preprocess`` on 100 256^2 studies with 1 worker and with one per core, and on the first
    study alone (the fixed cost, paid once at any number of workers)."""
    root = scratch / "export_100"
    series = write_scanner_export(root, 256, SCALING_STUDIES, slices=32, seed=1)
    single = scratch / "single_100"
    shutil.copytree(Path(series[0][0]).parent, single / Path(series[0][0]).parent.name)
    cores = len(os.sched_getaffinity(0))
    walls: dict[int, list[float]] = {1: [], cores: []}
    alone: list[float] = []
    for run in range(runs):
        for workers in walls:
            walls[workers].append(timed(preprocess_command, root, scratch / f"workers_{workers}_{run}", workers)[0])
        alone.append(timed(preprocess_command, single, scratch / f"workers_one_{run}", 1)[0])
    one, many, fixed = median(walls[1]), median(walls[cores]), median(alone)
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
        notes=(f"{SCALING_STUDIES} one-series studies of 32 slices of 256x256, whole processes. The fixed cost (the "
               f"command on the first study alone, {fixed:.1f} s) is paid once at any number of workers; without "
               f"it the {cores} workers take {(many - fixed) / (one - fixed):.2f} of one worker's time. The header "
               "scan runs in the main process and as many forked helpers while the workers' imports run in the "
               "process they fork from."),
        values={"wall_s": {str(k): v for k, v in walls.items()}, "one_study_s": alone, "cores": cores,
                "without_fixed": (many - fixed) / (one - fixed)},
    )


def measure_ingestion(work: Path, runs: int = 3) -> list[Row]:
    """Every row 1 measurement, in a scratch folder under ``work`` removed afterwards."""
    scratch = Path(tempfile.mkdtemp(dir=work))
    try:
        rows = [measure_size(label, matrix, syntax, studies, scratch, runs)
                for label, matrix, syntax, studies in SIZES]
        fixed_512 = next(row.values["fixed_s"] for row in rows if row.values["matrix"] == 512
                         and row.values["transfer_syntax"] == "explicit")
        rows.append(measure_fixed_cost(scratch, runs, fixed_512))
        rows.append(measure_workers(scratch, runs))
    finally:
        shutil.rmtree(scratch)
    return rows


def _threads() -> int:
    import torch

    return torch.get_num_threads()
