"""`msmonai federated job` and the command line of `federated` (the `.[federated]` extra)."""

import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile

import pytest

pytest.importorskip("nvflare")

from msmonai.cli import main  # noqa: E402
from tests.bundles.conftest import REPO  # noqa: E402

BUNDLE = REPO / "bundles" / "ms_activity_resnext3d"


def test_the_job_folder_carries_the_bundle_configs_and_the_site_script_but_no_weights_or_site_paths(
        tmp_path, capsys, monkeypatch):
    monkeypatch.syspath_prepend(tempfile.gettempdir())  # as when a script in /tmp runs: the stage lies inside sys.path
    bundle = tmp_path / "bundle"
    shutil.copytree(BUNDLE / "configs", bundle / "configs")
    (bundle / "models").mkdir()
    (bundle / "models" / "model.pt").write_bytes(b"weights trained on this site's patients")
    job = tmp_path / "ms_fedavg"
    assert main(["federated", "job", "--bundle", str(bundle), "--out", str(job), "--rounds", "7",
                 "--local-epochs", "2", "--min-clients", "3", "--set", "spatial_size=[25,64,64]",
                 "--privacy-percentile", "20"]) == 0
    assert capsys.readouterr().out.strip() == str(job)
    meta = json.loads((job / "meta.json").read_text())
    assert meta["min_clients"] == 3
    custom = job / "app" / "custom"
    assert sorted(p.name for p in custom.iterdir()) == ["bundle.zip", "client.py"]
    with zipfile.ZipFile(custom / "bundle.zip") as zf:  # zipped: NVFlare rewrites the JSON files of a job
        shipped = zf.namelist()
        assert zf.read("configs/train.json") == (bundle / "configs" / "train.json").read_bytes()
    assert "configs/evaluate.json" in shipped and not [n for n in shipped if n.startswith("models/")]
    assert not list(job.rglob("model.pt"))
    client = json.loads((job / "app" / "config" / "config_fed_client.json").read_text())
    command = client["executors"][0]["executor"]["args"]["command"]
    assert command[:5] == ["python3", "-u", "custom/client.py", "--bundle", "bundle.zip"]  # each site's own python
    assert "--datalist" not in command and command[command.index("--local-epochs") + 1] == "2"
    (privacy,) = [f for group in client["task_result_filters"] for f in group["filters"]]
    assert privacy["path"].endswith("PercentilePrivacy") and privacy["args"]["percentile"] == 20
    server = json.loads((job / "app" / "config" / "config_fed_server.json").read_text())
    workflow = server["workflows"][0]["args"]
    assert workflow.get("num_rounds") == 7 and workflow["exclude_vars"] == "num_batches_tracked"
    persistor = next(c for c in server["components"] if c["id"] == "persistor")["args"]["model"]
    assert persistor["path"] == "msmonai.networks.ResNeXt3D" and persistor["args"]["spatial_size"] == [25, 64, 64]
    assert str(tmp_path) not in (job / "app" / "config" / "config_fed_client.json").read_text()


def test_bad_arguments_end_in_one_line_naming_the_problem(tmp_path, capsys):
    assert main(["federated", "simulate", "--bundle", str(BUNDLE), "--sites", str(tmp_path / "a.json"),
                 str(tmp_path / "b.json"), "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err.strip().endswith("a.json: site datalist not found")
    assert main(["federated", "job", "--bundle", str(BUNDLE), "--out", str(tmp_path / "job"), "--rounds", "0"]) == 2
    assert capsys.readouterr().err.strip() == "msmonai federated: error: --rounds must be at least 1, got 0"
    assert main(["federated", "job", "--bundle", str(BUNDLE), "--out", str(tmp_path / "job"),
                 "--privacy-percentile", "100"]) == 2
    assert capsys.readouterr().err.strip().endswith("--privacy-percentile must lie in [0, 100), got 100.0")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("")
    assert main(["federated", "job", "--bundle", str(BUNDLE), "--out", str(tmp_path / "full")]) == 2
    assert "job folder exists and is not empty" in capsys.readouterr().err


def test_a_site_with_a_bad_datalist_ends_the_simulation_with_that_sites_one_line(tmp_path, capsys):
    from tests.cohort import write_tiny_cohort
    from msmonai.federated.sites import split_sites

    sites = split_sites(write_tiny_cohort(tmp_path / "cohort", n_patients=16), 2, tmp_path / "sites", n_folds=3)
    content = json.loads(sites[1].read_text())
    del content["training"][2]["label"]
    sites[1].write_text(json.dumps(content))
    assert main(["federated", "simulate", "--bundle", str(REPO / "bundles" / "ms_activity_resnet3d"), "--sites",
                 *map(str, sites), "--rounds", "1", "--out", str(tmp_path / "out"), "--set", "spatial_size=[6,32,32]",
                 "--set", "num_workers=0"]) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith(f"msmonai federated: error: site site-2: {sites[1]}: ") and "label" in last


def test_a_site_killed_mid_run_is_left_out_of_the_later_rounds_and_named(tmp_path):
    """Three sites, the third one's trainer process killed (SIGKILL) once the first round is averaged: the others
    finish every round, and the command names the site and the rounds it missed."""
    import psutil

    from tests.cohort import write_tiny_cohort
    from msmonai.federated.sites import split_sites

    sites = split_sites(write_tiny_cohort(tmp_path / "cohort", n_patients=18), 3, tmp_path / "sites", n_folds=2)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "msmonai.cli", "federated", "simulate", "--bundle",
               str(REPO / "bundles" / "ms_activity_resnet3d"), "--sites", *map(str, sites), "--rounds", "3",
               "--out", str(out), "--set", "spatial_size=[6,32,32]", "--set", "channels=[4,8,8,16]"]
    run = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline, killed = time.time() + 300, []
    while not killed and time.time() < deadline and run.poll() is None:
        time.sleep(1)
        metrics = list(out.glob("workspace/*/server/simulate_job/metrics/round_metrics.jsonl"))
        if metrics and metrics[0].read_text().count("\n") >= 1:
            for process in psutil.process_iter(["cmdline"]):
                cmdline = " ".join(process.info["cmdline"] or [])
                if "client.py" in cmdline and str(sites[2]) in cmdline:
                    process.kill()
                    killed.append(process.pid)
    stdout, stderr = run.communicate(timeout=300)
    assert killed, "the third site's trainer was never seen running"
    assert run.returncode == 0, stderr[-2000:]
    rounds = [line.split(",")[:2] for line in (out / "rounds.csv").read_text().splitlines()[1:]]
    assert {(r, s) for r, s in rounds if s != "site-3"} == {(str(r), f"site-{i}") for r in range(3) for i in (1, 2)}
    assert ["2", "site-3"] not in rounds
    assert re.search(r"site site-3 sent no result for round\(s\) [0-9, ]*2: left out of their averages", stderr)
    assert stdout.strip().splitlines()[-1].startswith("global model: ")


def test_one_round_with_an_on_disk_cache_at_each_site(tmp_path, caplog):
    """A single round leaves NVFlare without a best global model: the last one stands in, said so. A relative
    cache_dir lands in each site's own run folder, where the evaluate workflow reads what training decoded."""
    from tests.cohort import write_tiny_cohort
    from msmonai.federated.sites import split_sites

    sites = split_sites(write_tiny_cohort(tmp_path / "cohort", n_patients=16), 2, tmp_path / "sites", n_folds=3)
    out = tmp_path / "out"
    assert main(["federated", "simulate", "--bundle", str(REPO / "bundles" / "ms_activity_resnet3d"), "--sites",
                 *map(str, sites), "--rounds", "1", "--out", str(out), "--set", "spatial_size=[6,32,32]",
                 "--set", "channels=[4,8,8,16]", "--set", "cache_dir=msmonai/cache"]) == 0
    assert "the server chose no best global model" in caplog.text
    import torch

    best, final = (torch.load(out / "models" / name, weights_only=True) for name in ("model.pt", "model_final.pt"))
    assert all(torch.equal(best[k], final[k]) for k in final)
    for site in ("site-1", "site-2"):
        cached = list(out.glob(f"workspace/*/{site}/simulate_job/app_{site}/msmonai/cache/*.pt"))
        assert len(cached) == 12  # 4 patients x 3 visits of the site, each decoded once
