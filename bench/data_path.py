"""Row 2: the bundles' data path across epochs -- epoch 1 (every distinct visit decoded into the in-memory cache,
then one pass of the training DataLoader) against epoch 2 (a pass served from the cache), with decodes counted;
and filling that cache from scanner-size series with one worker process against every core."""

from __future__ import annotations

import contextlib
import multiprocessing
import shutil
import tempfile
import time
from pathlib import Path
from typing import Iterator

from bench.report import Row
from bench.timing import median, timed
from bench.workspace import Cohort, bundle_workflow


@contextlib.contextmanager
def counting_decodes() -> Iterator:
    """Count ``DicomSeriesReader.get_data`` calls (one per series decoded) here and in forked DataLoader workers."""
    from msmonai.io.reader import DicomSeriesReader

    counter = multiprocessing.Value("i", 0)
    original = DicomSeriesReader.get_data

    def counted(self, img):
        with counter.get_lock():
            counter.value += 1
        return original(self, img)

    DicomSeriesReader.get_data = counted
    try:
        yield counter
    finally:
        DicomSeriesReader.get_data = original


def one_pass(loader) -> int:
    """Iterate ``loader`` once without computing anything; returns the number of visit volumes delivered."""
    return sum(int(batch["length"].sum()) for batch in loader)


def measure_data_path(cohort: Cohort, runs: int = 3, cached_passes: int = 3) -> Row:
    """``runs`` fresh workflows; in each, epoch 1 = building ``train#volumes`` + one pass, then ``cached_passes`` passes."""
    first, cached, decodes_first, decodes_cached = [], [], [], []
    for _ in range(runs):
        workflow = bundle_workflow("PretrainedResNet2D", datalist=str(cohort.datalist))
        with counting_decodes() as decodes:
            start = time.perf_counter()
            loader = workflow.parser.get_parsed_content("train#dataloader")
            workers = loader.num_workers
            volumes_delivered = one_pass(loader)
            first.append(time.perf_counter() - start)
            decodes_first.append(decodes.value)
            cached += [timed(one_pass, loader)[0] for _ in range(cached_passes)]
            decodes_cached.append(decodes.value - decodes_first[-1])
        distinct = len(workflow.parser.get_parsed_content("train#volumes"))
    ratio = median(first) / median(cached)
    exact = all(d == distinct for d in decodes_first) and not any(decodes_cached)
    return Row(
        number="2",
        measurement="data path: epoch 1 vs cached epoch 2 (demo cohort, training split)",
        figure=f"epoch 2 {median(cached):.2f} s; decodes {decodes_first[0]} then {sum(decodes_cached)}",
        baseline=f"epoch 1 {median(first):.1f} s; {distinct} distinct visits",
        ratio=ratio,
        ratio_label="epoch 1 / epoch 2",
        target=">= 20x, each distinct visit decoded once",
        met=ratio >= 20 and exact,
        runs=f"median of {runs} runs (epoch 2: {runs} x {cached_passes} passes)",
        notes=(f"The PretrainedResNet2D bundle's train#dataloader (all three bundles share the data config): "
               f"{volumes_delivered} visit volumes per epoch in batches of 4, num_workers {workers} (the bundle's "
               "default here), in-memory float16 cache (MONAI CacheDataset, 2 threads). Epoch 1 = instantiating "
               "train#volumes (decodes) + one DataLoader pass; "
               "epoch 2 = a further pass. No network computation. Decodes = calls of DicomSeriesReader.get_data, "
               "counted across processes."),
        values={"epoch1_s": first, "epoch2_s": cached, "decodes_epoch1": decodes_first,
                "decodes_later": decodes_cached, "distinct_visits": distinct, "volumes_per_epoch": volumes_delivered},
    )


CACHE_STUDIES = 40


def measure_cache_fill(work: Path, runs: int) -> Row:
    """Filling a bundle's in-memory visit cache (``VisitVolumes``) from 512^2 series: 1 worker process vs every core."""
    from bench.scanner_series import write_scanner_export
    from msmonai.engine import VisitVolumes
    from msmonai.parallel import available_cores
    from msmonai.transforms import preprocessing_transforms

    scratch = Path(tempfile.mkdtemp(dir=work))
    try:
        series = write_scanner_export(scratch, 512, CACHE_STUDIES, seed=2)
        items = [{"visits": [{"image": files}]} for files in series]
        cores = available_cores()
        walls: dict[int, list[float]] = {1: [], cores: []}
        for _ in range(runs):
            for workers in walls:
                walls[workers].append(timed(VisitVolumes, items, preprocessing_transforms(), num_workers=workers,
                                            progress=False)[0])
    finally:
        shutil.rmtree(scratch)
    one, many = median(walls[1]), median(walls[cores])
    return Row(
        number="2",
        measurement=f"visit cache of a bundle, {CACHE_STUDIES} series of 40 x 512^2: 1 worker vs {cores}",
        figure=f"{many:.1f} s with {cores} workers", baseline=f"{one:.1f} s with 1 worker", ratio=many / one,
        ratio_label=f"{cores} workers / 1 worker (ideal {1 / cores:.2f})", target=f"close to 1/{cores}",
        met=many / one <= 1.2 / cores, runs=f"median of {runs} runs",
        notes=("msmonai.engine.VisitVolumes (what train#volumes and validate#volumes build) filling its in-memory "
               "float16 cache: each distinct series decoded and preprocessed once to [1, 50, 128, 128]. 1 worker: this "
               "process, with torch's default intra-op threads (the resize already uses every core); N workers: N "
               "forked processes of one intra-op thread each. Phantom heads from bench/scanner_series.py, "
               "explicit VR little endian."),
        values={"wall_s": {str(k): v for k, v in walls.items()}, "cores": cores, "series": CACHE_STUDIES},
    )
