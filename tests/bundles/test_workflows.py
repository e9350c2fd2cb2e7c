"""Each bundle's train, evaluate and inference workflows, run as users run them (``python -m monai.bundle run``)."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, fbeta_score, precision_score, recall_score

from msmonai.bundle_tools.runner import run_bundle
from msmonai.networks import ResNet3D
from tests.bundles.conftest import BUNDLES, REPO, tiny_overrides

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("bundle", BUNDLES)
def test_train_evaluate_infer(bundle, tiny_datalist, tmp_path):
    overrides = tiny_overrides(tiny_datalist, tmp_path)
    run_bundle(REPO / "bundles" / bundle, "train", overrides, log_file=tmp_path / "train.log")
    assert (tmp_path / "models" / "model.pt").is_file() and (tmp_path / "models" / "last.pt").is_file()
    assert any((tmp_path / "logs").glob("events.out.tfevents.*")), "TensorBoard logs missing"
    state = torch.load(tmp_path / "models" / "model.pt", weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in state.values()), "model.pt must be a plain state_dict"

    run_bundle(REPO / "bundles" / bundle, "evaluate", {**overrides, "output_dir": str(tmp_path / "eval")},
               log_file=tmp_path / "evaluate.log")
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    predictions = pd.read_csv(tmp_path / "eval" / "predictions.csv")
    testing = json.loads(tiny_datalist.read_text())["testing"]
    assert len(predictions) == metrics["n"] == len(testing)
    y, p = predictions["label"].to_numpy(), predictions["prediction"].to_numpy()
    # the threshold chosen on the validation fold at selection travels in the checkpoint and is the one applied
    assert metrics["threshold"] == pytest.approx(float(state["head.decision_threshold"]))
    assert np.array_equal(p, (predictions["probability_active"] >= metrics["threshold"]).astype(int))
    assert metrics["accuracy"] == pytest.approx(accuracy_score(y, p))
    assert metrics["precision"] == pytest.approx(precision_score(y, p, zero_division=0))
    assert metrics["recall"] == pytest.approx(recall_score(y, p, zero_division=0))
    assert metrics["f1"] == pytest.approx(f1_score(y, p, zero_division=0))
    assert metrics["fbeta"] == pytest.approx(fbeta_score(y, p, beta=0.5, zero_division=0))
    tn, fp, fn, tp = confusion_matrix(y, p, labels=[0, 1]).ravel()
    assert metrics["confusion_matrix"]["counts"] == {"tp": tp, "fp": fp, "fn": fn, "tn": tn}
    assert sum(metrics["confusion_matrix"]["fractions"].values()) == pytest.approx(1.0)
    assert (tmp_path / "eval" / "confusion_matrix.png").stat().st_size > 1000

    run_bundle(REPO / "bundles" / bundle, "inference",
               {**overrides, "output_dir": str(tmp_path / "infer"), "infer_split": "all", "mc_samples": 3},
               log_file=tmp_path / "inference.log")
    inferred = pd.read_csv(tmp_path / "infer" / "predictions.csv")
    everything = json.loads(tiny_datalist.read_text())
    assert len(inferred) == len(everything["training"]) + len(everything["testing"])
    assert inferred["probability_active"].between(0, 1).all()
    assert (inferred["uncertainty"] >= 0).all()
    assert list(inferred.columns[:3]) == ["patient", "fold", "last_visit_date"]

    # As a receiving site has it: the bundle folder copied anywhere, inference.json alone, run from that folder
    copy = shutil.copytree(REPO / "bundles" / bundle, tmp_path / "elsewhere" / bundle)
    shutil.copytree(tmp_path / "models", copy / "models")
    tiny = ["--spatial_size", json.dumps(overrides["spatial_size"]), "--num_workers", "0"]
    subprocess.run([sys.executable, "-m", "monai.bundle", "run", "--config_file", "configs/inference.json",
                    "--datalist", str(tiny_datalist), "--infer_split", "all", "--mc_samples", "0", *tiny],
                   cwd=copy, check=True, capture_output=True)
    standalone = pd.read_csv(copy / "eval" / "predictions.csv")
    assert np.allclose(standalone["probability_active"], inferred["probability_active"], atol=1e-6)
    subprocess.run([sys.executable, "-m", "monai.bundle", "ckpt_export", "network_def", "--filepath", "models/model.ts",
                    "--ckpt_file", "models/model.pt", "--meta_file", "configs/metadata.json",
                    "--config_file", "configs/inference.json", *tiny], cwd=copy, check=True, capture_output=True)
    scripted = torch.jit.load(str(copy / "models" / "model.ts"))
    assert torch.equal(scripted.state_dict()["head.fc.weight"], state["head.fc.weight"])


def test_resume_after_sigkill_ends_like_an_uninterrupted_run(tiny_datalist, tmp_path):
    """Kill training with SIGKILL during epoch 2, resume, and compare every weight with an uninterrupted run."""
    import signal
    import subprocess
    import time

    from msmonai.bundle_tools.runner import bundle_command

    bundle = REPO / "bundles" / "ms_activity_resnet3d"
    whole = tiny_overrides(tiny_datalist, tmp_path / "whole", num_epochs=3)
    run_bundle(bundle, "train", whole, log_file=tmp_path / "whole.log")

    broken = tiny_overrides(tiny_datalist, tmp_path / "broken", num_epochs=3)
    last = tmp_path / "broken" / "models" / "last.pt"
    with open(tmp_path / "killed.log", "w") as log:
        proc = subprocess.Popen(bundle_command(bundle, "train", broken), stdout=log, stderr=subprocess.STDOUT)
        deadline = time.time() + 300
        while not last.exists() and proc.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, "training ended before it could be interrupted"
    assert torch.load(last, weights_only=True)["trainer"]["epoch"] == 1
    run_bundle(bundle, "train", {**broken, "resume": True}, log_file=tmp_path / "resumed.log")
    assert "resumed from" in (tmp_path / "resumed.log").read_text()

    for name in ("last.pt", "model.pt"):
        a = torch.load(tmp_path / "whole" / "models" / name, weights_only=True)
        b = torch.load(tmp_path / "broken" / "models" / name, weights_only=True)
        weights_a, weights_b = (a.get("model", a), b.get("model", b))
        assert weights_a.keys() == weights_b.keys()
        for key in weights_a:
            assert torch.equal(weights_a[key], weights_b[key]), f"{name}: {key} differs after resume"


def ddp_command(launcher_args: list, datalist, out, bundle: str = "ms_activity_pretrained_resnet2d") -> list:
    """torchrun with ``launcher_args`` running ``bundle``'s train + multi_gpu_train configs for one tiny epoch."""
    import sys

    bundle = REPO / "bundles" / bundle
    configs = json.dumps([str(bundle / "configs" / "train.json"), str(bundle / "configs" / "multi_gpu_train.json")])
    cmd = [sys.executable, "-m", "torch.distributed.run", *launcher_args,
           "-m", "monai.bundle", "run", "--config_file", configs,
           "--meta_file", str(bundle / "configs" / "metadata.json"),
           "--logging_file", str(bundle / "configs" / "logging.conf"), "--bundle_root", str(bundle)]
    for key, value in tiny_overrides(datalist, out, num_epochs=1).items():
        cmd += [f"--{key}", value if isinstance(value, str) else json.dumps(value)]
    return cmd


def test_every_rank_runs_the_handlers_that_keep_the_ranks_in_step(tmp_path):
    """Ranks other than 0 keep seeding, recalibration, validation, early stopping and the last checkpoint (whose
    resume every rank must load) wherever they stand in the list, and drop everything that only writes logs."""
    from ignite.handlers import ProgressBar
    from monai.handlers import StatsHandler, TensorBoardStatsHandler

    from msmonai.engine import EpochSeeder, every_rank_handlers

    seeder = EpochSeeder(seed=0)
    handlers = [StatsHandler(), seeder, TensorBoardStatsHandler(log_dir=str(tmp_path)), ProgressBar()]
    assert every_rank_handlers(handlers) == [seeder]
    for bundle in BUNDLES:
        expression = json.loads((REPO / "bundles" / bundle / "configs" / "multi_gpu_train.json").read_text())
        assert "every_rank_handlers(@train#handlers)" in expression["train#trainer#train_handlers"]


@pytest.mark.parametrize("bundle", BUNDLES)
def test_two_process_ddp_training_on_cpu(bundle, tiny_datalist, tmp_path):
    """The multi-GPU config with torchrun, 2 processes, gloo backend on the CPU (the 3D bundles with their CPU
    activation checkpointing inside DistributedDataParallel)."""
    import subprocess

    cmd = ddp_command(["--standalone", "--nnodes=1", "--nproc_per_node=2"], tiny_datalist, tmp_path, bundle)
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert (tmp_path / "models" / "model.pt").is_file()


def test_two_node_launch_with_c10d_rendezvous_on_cpu(tiny_datalist, tmp_path):
    """docs/deployment.md's multi-node arguments: two "nodes" of 1 process each meet at a c10d rendezvous (gloo)."""
    import socket
    import subprocess

    with socket.socket() as probe:  # a free port for the rendezvous
        probe.bind(("localhost", 0))
        port = probe.getsockname()[1]
    launcher = ["--nnodes=2", "--nproc_per_node=1", "--rdzv_backend=c10d", f"--rdzv_endpoint=localhost:{port}",
                "--rdzv_id=msmonai-test"]
    nodes = [subprocess.Popen(ddp_command(launcher, tiny_datalist, tmp_path), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    outputs = [node.communicate(timeout=600)[0] for node in nodes]
    for node, output in zip(nodes, outputs):
        assert node.returncode == 0, output[-3000:]
    assert (tmp_path / "models" / "model.pt").is_file() and (tmp_path / "models" / "last.pt").is_file()
    saved = [output for output in outputs if "saved" in output and "model.pt" in output]
    assert len(saved) == 1, "exactly one node (global rank 0) saves the checkpoint"


def test_a_datalist_without_the_split_ends_with_the_projects_one_line(tiny_datalist, tmp_path):
    """Under ``python -m monai.bundle run`` itself, MONAI's RuntimeError traceback is followed by our message."""
    import subprocess

    from msmonai.bundle_tools.runner import bundle_command

    training_only = tmp_path / "datalist.json"
    training_only.write_text(json.dumps({"training": json.loads(tiny_datalist.read_text())["training"]}))
    overrides = {**tiny_overrides(training_only, tmp_path), "datalist": str(training_only)}
    cmd = bundle_command(REPO / "bundles" / "ms_activity_resnet3d", "evaluate", overrides)
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("msmonai: error: ") and str(training_only) in last and "testing" in last, last


@pytest.mark.parametrize("case", ["no testing list", "no checkpoint", "not a datalist", "weights of another width"])
def test_bad_input_to_standalone_inference_ends_with_the_projects_one_line(case, tiny_datalist, tmp_path):
    """Under plain `python -m monai.bundle run --config_file configs/inference.json`, as a receiving site runs it."""
    copy = shutil.copytree(REPO / "bundles" / "ms_activity_resnet3d", tmp_path / "bundle")
    (copy / "models").mkdir()
    datalist, size = tiny_datalist.parent / f"{case.replace(' ', '_')}.json", [6, 32, 32]  # next to the images
    content = json.loads(tiny_datalist.read_text())
    if case == "no testing list":
        content.pop("testing")
    if case == "not a datalist":
        del content["testing"][0]["visits"]
    datalist.write_text(json.dumps(content))
    if case != "no checkpoint":
        widths = (8, 16, 32, 64) if case == "weights of another width" else (32, 64, 128, 256)
        torch.save(ResNet3D(spatial_size=size, channels=widths).state_dict(), copy / "models" / "model.pt")
    result = subprocess.run([sys.executable, "-m", "monai.bundle", "run", "--config_file", "configs/inference.json",
                             "--datalist", str(datalist), "--spatial_size", json.dumps(size), "--num_workers", "0"],
                            cwd=copy, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    expected = {"no testing list": (str(datalist), "no 'testing' list"),
                "no checkpoint": ("model.pt", "cannot read checkpoint"),
                "not a datalist": (str(datalist), "testing[0]: 'visits' is a required property"),
                "weights of another width": ("model.pt", "do not fit the bundle's network_def")}[case]
    assert last.startswith("msmonai: error: ") and all(part in last for part in expected), last


def test_a_failed_registration_of_the_difference_channel_ends_with_one_line_naming_the_series(tiny_datalist, tmp_path):
    """The tiny cohort's volumes are noise, so no registration can succeed: the run ends with one line naming the
    series (the fallback ``registration_on_failure=unaligned`` is tested with the registration itself)."""
    from msmonai.bundle_tools.runner import bundle_command

    overrides = {**tiny_overrides(tiny_datalist, tmp_path), "difference": True}
    cmd = bundle_command(REPO / "bundles" / "ms_activity_resnet3d", "train", overrides)
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("msmonai: error: ") and ".dcm: cannot preprocess this series (the volumes share" in last, last
