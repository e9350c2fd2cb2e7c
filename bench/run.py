"""``make bench``: every measurement of issue 8 on the demo cohort, printed as one table and written to
``bench/results/bench.json`` and ``bench/results/bench.md``.

Run from the repository root: ``python -m bench.run [--work DIR] [--runs N]``. About 10-15 minutes on 2 CPU cores.
The workflows' own output goes to ``WORK/bench.log``; the terminal shows the progress and the table. What each row
measures is in its notes (bench.md) and in docs/performance.md.
"""

from __future__ import annotations

import argparse
import datetime
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Callable

from bench.report import Row, markdown_table, write_results
from bench.workspace import REPO, demo_cohort, output_to_log

ARCHITECTURES = ("PretrainedResNet2D", "ResNet3D", "ResNeXt3D")
OPT_IN = ("7 ", "8 ", "9 ")  # rows run only when --only names them (make bench-learning, make bench-federated)


def measurements(work: Path, runs: int, plot_dir: Path) -> list[tuple[str, Callable[[], list[Row]]]]:
    """The measurements in the order they run, each a (label, thunk returning rows)."""
    from bench.checkpointing import measure_checkpointing
    from bench.data_path import measure_cache_fill, measure_data_path
    from bench.frozen import measure_frozen
    from bench.inference import measure_latency, measure_predict_command
    from bench.ingestion import measure_ingestion
    from bench.federated import measure_federated
    from bench.learning import measure_detection_limit, measure_learning
    from bench.memory import measure_peak_rss
    from bench.scaling import measure_scaling
    from bench.throughput import measure_throughput
    from msmonai.engine import VisitVolumes, load_datalist, select_fold
    from msmonai.transforms import preprocessing_transforms

    cohort = demo_cohort(work, 28)
    items = load_datalist(cohort.datalist)
    train_items, val_items = select_fold(items, 0, "train"), select_fold(items, 0, "val")
    cache = {}

    def volumes(name: str, chosen: list[dict]) -> VisitVolumes:
        if name not in cache:
            cache[name] = VisitVolumes(chosen, preprocessing_transforms(), num_workers=2, progress=False)
        return cache[name]

    def throughput(architecture: str) -> list[Row]:
        if architecture == "PretrainedResNet2D":
            return [measure_throughput(architecture, train_items, volumes("train", train_items), work, cohort.datalist,
                                       batch_size=4, iterations=12)]
        single = [item for item in train_items if len(item["visits"]) == 1]
        return [measure_throughput(architecture, single, volumes("train", train_items), work, cohort.datalist,
                                   batch_size=1, iterations=3,
                                   note="3D networks: batch 1 of one-visit observations (a full-size 3D step takes "
                                        "seconds on CPU).")]

    def frozen() -> list[Row]:
        prebuilt = {"train#volumes": volumes("train", train_items), "validate#volumes": volumes("val", val_items)}
        test_items = load_datalist(cohort.datalist, "testing")
        return measure_frozen(cohort, work, prebuilt, volumes("test", test_items), runs=runs)

    plan = [
        ("1 ingestion at scanner sizes vs pydicom and dcm2niix", lambda: measure_ingestion(work, runs=runs)),
        ("2 data path epoch 1 vs 2", lambda: [measure_data_path(cohort, runs=runs)]),
        ("2 visit cache workers at 512^2", lambda: [measure_cache_fill(work, runs=runs)]),
    ]
    plan += [(f"3 throughput {a}", lambda a=a: throughput(a)) for a in ARCHITECTURES]
    plan += [(f"4 latency {a}", lambda a=a: [measure_latency(a, cohort, runs=runs)]) for a in ARCHITECTURES]
    plan += [("4 predict command", lambda: [measure_predict_command(cohort, work, runs=runs)])]
    plan += [(f"5 peak RSS {a}", lambda a=a: [measure_peak_rss(a, cohort, work)]) for a in ARCHITECTURES]
    plan += [(f"5 checkpointing {a}", lambda a=a: [measure_checkpointing(a, runs=min(runs, 2))])
             for a in ("ResNet3D", "ResNeXt3D")]
    plan += [("F frozen-backbone fast path", frozen),
             ("6 scaling (50-patient cohort)", lambda: measure_scaling(demo_cohort(work, 50, manifest=False), work, runs=runs))]
    plan += [(f"7 learning {a}", lambda a=a: measure_learning(a, work)) for a in ARCHITECTURES]  # hours: opt-in
    plan += [("8 federated", lambda: measure_federated(work))]  # tens of minutes, needs .[federated]: opt-in
    plan += [("9 detection limit", lambda: measure_detection_limit(work, plot_dir))]  # hours: opt-in
    return plan


def current_commit() -> str:
    """Short hash of the checkout's HEAD, or "unknown"."""
    found = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
    return found.stdout.strip() or "unknown"


def context_of(started: float, load_before: tuple, commit_before: str) -> dict:
    """Conditions of the run, for reading its figures."""
    import torch

    commit = current_commit()
    return {
        "finished": datetime.datetime.now().isoformat(timespec="seconds"),
        # a run spans commits when the checkout moves under it; bundle workflows (own processes) then run the newer tree
        "commit": commit if commit == commit_before else f"{commit_before} at the start, {commit} at the end",
        "cpu cores available": len(os.sched_getaffinity(0)),
        "torch": f"{torch.__version__}, {torch.get_num_threads()} intra-op threads",
        "load average (1 min) before / after": f"{load_before[0]:.1f} / {os.getloadavg()[0]:.1f}",
        "wall time": f"{time.time() - started:.0f} s",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, help="working folder, kept (default: a temporary folder, removed)")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results", help="results folder")
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (medians; default 3)")
    parser.add_argument("--only", nargs="+", metavar="LABEL", help="run only the measurements whose label starts "
                        "so (1 2 3 4 5 6 F, or e.g. '3 throughput ResNet3D'); the results then hold only those rows")
    args = parser.parse_args(argv)

    started, load_before, commit_before = time.time(), os.getloadavg(), current_commit()
    work = (args.work or Path(tempfile.mkdtemp(prefix="msmonai_bench_"))).resolve()  # bundles run in their folder
    work.mkdir(parents=True, exist_ok=True)
    rows: list[Row] = []
    failed = False
    with output_to_log(work / "bench.log") as terminal:
        print(f"msmonai bench: working in {work} (workflow output: {work / 'bench.log'})", file=terminal)
        print(f"[bench {time.time() - started:5.0f} s] demo cohort (28 patients) and its manifest", file=terminal)
        for label, measure in measurements(work, args.runs, args.out):
            if args.only and not any(label.startswith(prefix) for prefix in args.only):
                continue
            if not args.only and label.startswith(OPT_IN):
                print(f"[bench {time.time() - started:5.0f} s] {label}: left out (long; make bench-learning / bench-federated)", file=terminal)
                continue
            print(f"[bench {time.time() - started:5.0f} s] {label}", file=terminal)
            try:
                rows += measure()
            except Exception as err:  # one failed measurement must not lose the others
                traceback.print_exc()
                failed = True
                message = " ".join(str(err).split())[:200]
                rows.append(Row(number=label.split()[0], measurement=label, figure=f"FAILED: {message}", met=False))
    context = context_of(started, load_before, commit_before)
    json_path, md_path = write_results(rows, context, args.out)
    print(markdown_table(rows))
    print(f"\n{context['wall time']} on {context['cpu cores available']} cores; wrote {json_path} and {md_path}")
    if args.work is None and not failed:
        shutil.rmtree(work)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
