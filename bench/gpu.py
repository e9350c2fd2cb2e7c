"""GPU path: wall time of each bundle's full training schedule on the demo cohort (120 epochs; ResNeXt3D: 23, as in
its train.json) with the GPU utilisation sampled meanwhile.

Run from the repository root after ``make``'s install, on a machine with a CUDA device::

    .venv/bin/python bench/gpu.py [--epochs N] [--out FILE] [--work DIR]

Each bundle trains as users run it (``python -m monai.bundle run``, train.json), so with CUDA present its AMP (bf16),
``channels_last``, cuDNN autotuning and pinned-memory loaders are on. Utilisation comes from ``nvidia-smi`` sampled
every 0.5 s (or ``torch.cuda.utilization`` every 0.5 s when nvidia-smi is absent). The wall time includes the process
start and the first epoch's decoding of every visit into the in-memory cache. Without a CUDA device the script says
so and exits 0.
"""

from __future__ import annotations

import argparse
import datetime
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: make the bench package importable

from bench.workspace import BUNDLES, REPO, demo_cohort  # noqa: E402


class UtilisationSampler:
    """Samples GPU ``device``'s utilisation (%) and used memory (MiB) every ``interval`` seconds in the background."""

    def __init__(self, device: int = 0, interval: float = 0.5) -> None:
        self.device = device
        self.interval = interval
        self.samples: list[tuple[float, float | None]] = []
        self.source = "nvidia-smi" if shutil.which("nvidia-smi") else "torch.cuda.utilization"
        self._stop = threading.Event()
        self._process: subprocess.Popen | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "UtilisationSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._process is not None:
            self._process.terminate()
        self._thread.join()

    def _run(self) -> None:
        if self.source == "nvidia-smi":
            self._process = subprocess.Popen(
                ["nvidia-smi", "-i", str(self.device), "--query-gpu=utilization.gpu,memory.used",
                 "--format=csv,noheader,nounits", "-lms", str(int(self.interval * 1000))],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            for line in self._process.stdout:
                try:
                    utilisation, memory = (float(field) for field in line.split(","))
                except ValueError:  # "[N/A]" (e.g. MIG instances) or a partial line
                    continue
                self.samples.append((utilisation, memory))
            return
        import torch

        while not self._stop.wait(self.interval):
            try:
                self.samples.append((float(torch.cuda.utilization(self.device)), None))
            except Exception as err:  # pynvml missing or no NVML: leave utilisation unmeasured, say why
                self.source = f"unavailable ({type(err).__name__}: {err})"
                return

    def summary(self) -> dict:
        """Mean and median utilisation, share of samples at >= 90 %, peak memory (MiB, nvidia-smi only)."""
        utilisation = [u for u, _ in self.samples]
        memory = [m for _, m in self.samples if m is not None]
        if not utilisation:
            return {"source": self.source, "samples": 0}
        return {
            "source": self.source,
            "samples": len(utilisation),
            "mean_percent": statistics.fmean(utilisation),
            "median_percent": statistics.median(utilisation),
            "share_at_least_90_percent": sum(u >= 90 for u in utilisation) / len(utilisation),
            "peak_memory_mib": max(memory) if memory else None,
        }


def bundle_epochs(architecture: str) -> int:
    """``num_epochs`` of the bundle's train.json (the paper's schedule)."""
    return int(json.loads((BUNDLES[architecture] / "configs" / "train.json").read_text())["num_epochs"])


def train_on_gpu(architecture: str, datalist: Path, out: Path, epochs: int) -> dict:
    """Train the bundle for ``epochs`` in a child process while sampling the GPU; wall time and utilisation."""
    from msmonai.bundle_tools.contract import run_outputs
    from msmonai.bundle_tools.runner import run_bundle

    overrides = {"datalist": str(datalist), **run_outputs(out), "num_epochs": epochs}
    with UtilisationSampler() as sampler:
        start = time.perf_counter()
        run_bundle(BUNDLES[architecture], "train", overrides, log_file=out / "train.log")
        wall = time.perf_counter() - start
    return {"architecture": architecture, "epochs": epochs, "wall_s": wall, "s_per_epoch": wall / epochs,
            "utilisation": sampler.summary(), "log": str(out / "train.log")}


def table(rows: list[dict]) -> str:
    """Markdown table of the runs."""
    lines = ["| network | epochs | wall time | s/epoch | GPU util. mean / median | time at >= 90 % | peak GPU memory |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        u = r["utilisation"]
        busy = f"{u['mean_percent']:.0f} % / {u['median_percent']:.0f} %" if u["samples"] else "n/a"
        share = f"{100 * u['share_at_least_90_percent']:.0f} %" if u["samples"] else "n/a"
        memory = f"{u['peak_memory_mib'] / 1024:.1f} GiB" if u.get("peak_memory_mib") else "n/a"
        lines.append(f"| {r['architecture']} | {r['epochs']} | {r['wall_s'] / 60:.1f} min | {r['s_per_epoch']:.1f} | "
                     f"{busy} | {share} | {memory} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, help="epochs for every network (default: each bundle's num_epochs)")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "gpu.json", help="results JSON")
    parser.add_argument("--work", type=Path, help="working folder, kept (default: a temporary folder, removed)")
    parser.add_argument("--patients", type=int, default=28, help="demo cohort size (default 28, as make demo)")
    args = parser.parse_args(argv)

    import torch

    if not torch.cuda.is_available():
        print("bench/gpu.py: no CUDA device (torch.cuda.is_available() is False); nothing to measure on this machine.")
        return 0
    from msmonai.fileio import write_json

    work = (args.work or Path(tempfile.mkdtemp(prefix="msmonai_gpu_bench_"))).resolve()  # bundles run in their folder
    cohort = demo_cohort(work, args.patients)
    rows = []
    for architecture in BUNDLES:
        epochs = args.epochs or bundle_epochs(architecture)
        print(f"training {architecture} for {epochs} epochs on {torch.cuda.get_device_name(0)}...", flush=True)
        rows.append(train_on_gpu(architecture, cohort.datalist, work / architecture, epochs))
    context = {"finished": datetime.datetime.now().isoformat(timespec="seconds"), "gpu": torch.cuda.get_device_name(0),
               "torch": torch.__version__, "cuda": torch.version.cuda, "patients": args.patients}
    write_json(args.out, {"context": context, "rows": rows})
    print(table(rows))
    print(f"wrote {args.out}")
    if args.work is None:
        shutil.rmtree(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
