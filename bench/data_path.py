"""Row 2: the bundles' data path across epochs -- epoch 1 (every distinct visit decoded into the in-memory cache,
then one pass of the training DataLoader) against epoch 2 (a pass served from the cache), with decodes counted."""

from __future__ import annotations

import contextlib
import multiprocessing
import time
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
