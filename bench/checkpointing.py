"""Row 5 (cost of the 3D bundles' CPU memory setting): one full-size training step of a 16-volume batch with and
without activation checkpointing, each in a fresh process, peak RSS and step time side by side."""

from __future__ import annotations

import json
import subprocess
import sys

from bench.report import Row
from bench.timing import median

# One forward + backward in training mode of a [4, 4, 1, 50, 128, 128] batch; prints peak RSS (bytes) and seconds.
STEP = """
import json, resource, sys, time, torch
import msmonai.networks as networks
name, options = sys.argv[1], json.loads(sys.argv[2])
torch.manual_seed(0)
net = getattr(networks, name)(**options).train()
image, edss = torch.rand(4, 4, 1, 50, 128, 128) * 255, torch.rand(4, 4, 8) * 6
start = time.perf_counter()
net(image, edss, torch.full((4,), 4)).sum().backward()
seconds = time.perf_counter() - start
print(json.dumps([resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, seconds]))
"""

SETTINGS = {"ResNet3D": ("checkpoint_stem", True), "ResNeXt3D": ("encode_chunk", 1)}
# chunked encoding needs an encoder without batch-norm: the paper's self-normalising ResNeXt3D
NETWORK = {"ResNet3D": {}, "ResNeXt3D": {"normalized": False}}


def one_step(architecture: str, options: dict) -> tuple[int, float]:
    """(peak RSS bytes, step seconds) of one training step in a fresh interpreter."""
    result = subprocess.run([sys.executable, "-c", STEP, architecture, json.dumps(options)],
                            capture_output=True, text=True, check=True)
    peak, seconds = json.loads(result.stdout.split("\n")[-2])
    return int(peak), float(seconds)


def measure_checkpointing(architecture: str, runs: int = 2) -> Row:
    """Median over ``runs`` interleaved pairs (checkpointed, plain) of fresh-process training steps."""
    option, value = SETTINGS[architecture]
    on, off = [], []
    for _ in range(runs):
        on.append(one_step(architecture, {**NETWORK[architecture], option: value}))
        off.append(one_step(architecture, NETWORK[architecture]))
    peak_on, peak_off = median([p for p, _ in on]), median([p for p, _ in off])
    time_on, time_off = median([t for _, t in on]), median([t for _, t in off])
    return Row(
        number=f"5 {architecture} checkpointing",
        measurement=f"one training step, 16 volumes, {option}={value} vs off",
        figure=f"{peak_on / 1e9:.2f} GB, {time_on:.1f} s",
        baseline=f"off: {peak_off / 1e9:.2f} GB, {time_off:.1f} s",
        ratio=time_on / time_off,
        ratio_label="step time on / off",
        runs=f"median of {runs} interleaved pairs",
        notes=(f"msmonai.networks.{architecture}({NETWORK[architecture]} + {option}={value}) against without {option}, "
               "random weights, one forward + "
               "backward in training mode of a [4, 4, 1, 50, 128, 128] batch (16 volumes) in a fresh interpreter each "
               "(ru_maxrss includes the ~0.7 GB of the imported libraries), CPU fp32."),
        values={"peak_rss_bytes_on": [p for p, _ in on], "peak_rss_bytes_off": [p for p, _ in off],
                "step_s_on": [t for _, t in on], "step_s_off": [t for _, t in off]},
    )
