"""Row 5: peak resident memory of training with the default batch, the bundle's train workflow run as users run it
(``python -m monai.bundle run``) in a child process, on the largest batch the demo cohort can make."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Sequence

from bench.report import Row
from bench.timing import median
from bench.workspace import BUNDLES, Cohort

RSS_TARGET_BYTES = 4e9
DEFAULT_BATCH = 4


def largest_batch_datalist(cohort: Cohort, out: Path) -> Path:
    """A datalist whose training fold is one default batch of the longest observations and whose validation fold
    (fold 0) is the next longest; image paths stay absolute."""
    from msmonai.data.datalist import load_datalist, write_datalist

    items = sorted(load_datalist(cohort.datalist), key=lambda item: -len(item["visits"]))
    chosen = [dict(item, fold=1) for item in items[:DEFAULT_BATCH]]
    chosen += [dict(item, fold=0) for item in items[DEFAULT_BATCH : 2 * DEFAULT_BATCH]]
    return write_datalist(out, {"training": chosen})


# Linux keeps a process's RSS high-water mark across fork and exec, so a child started straight from this (large)
# process would report at least this process's size. A fresh, small Python in between starts the training process
# and reports getrusage(RUSAGE_CHILDREN) -- the training process (and the maximum of its own children) alone.
MEASURER = ("import resource, subprocess, sys; log = open(sys.argv[1], 'w'); "
            "code = subprocess.call(sys.argv[2:], stdout=log, stderr=subprocess.STDOUT); "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(code)")


def peak_rss_of(command: Sequence[str], log_file: Path) -> int:
    """Peak resident set size in bytes of ``command`` run as a child of a fresh interpreter (see ``MEASURER``)."""
    result = subprocess.run([sys.executable, "-c", MEASURER, str(log_file), *command], capture_output=True, text=True)
    if result.returncode:
        raise RuntimeError(f"{' '.join(command[:4])}... failed with exit code {result.returncode}; see {log_file}")
    return int(result.stdout.split()[-1]) * 1024  # kilobytes on Linux


def measure_peak_rss(architecture: str, cohort: Cohort, work: Path, runs: int = 2) -> Row:
    """Median over ``runs`` child processes of one training epoch (one largest batch + validation) at full size."""
    from msmonai.bundle_tools.contract import run_outputs
    from msmonai.bundle_tools.runner import bundle_command

    out = work / f"memory_{architecture}"
    datalist = largest_batch_datalist(cohort, out / "datalist.json")
    overrides = {"datalist": str(datalist), **run_outputs(out), "num_epochs": 1,
                 "class_weights": [1.0, 1.0]}  # the longest observations may all be quiet; memory does not depend on it
    command = bundle_command(BUNDLES[architecture], "train", overrides)
    peaks = [peak_rss_of(command, out / f"train_{run}.log") for run in range(runs)]
    visits = sum(len(item["visits"]) for item in json.loads(datalist.read_text())["training"] if item["fold"] == 1)
    return Row(
        number=f"5 {architecture}",
        measurement=f"peak RSS of training, default batch, {architecture}",
        figure=f"{median(peaks) / 1e9:.2f} GB",
        target="< 4 GB",
        met=median(peaks) < RSS_TARGET_BYTES,
        runs=f"median of {runs} runs",
        notes=(f"python -m monai.bundle run of train.json, CPU fp32, full size, batch {DEFAULT_BATCH} of the demo "
               f"cohort's {DEFAULT_BATCH} longest observations ({visits} visit volumes: the largest batch it can make), "
               "1 epoch with validation, in-memory cache, the bundle's CPU defaults (no DataLoader workers; "
               "activation checkpointing for the 3D networks, row '5 ... checkpointing'); GB = 10^9 bytes."),
        values={"peak_rss_bytes": peaks, "visit_volumes_in_batch": visits},
    )
