"""FedAvg of a real bundle in NVFlare's simulator on a tiny cohort split into two sites (the `.[federated]` extra)."""

import json
import sys
from pathlib import Path

import pytest
import torch

pytest.importorskip("nvflare")

from msmonai.bundle_tools.runner import run_bundle  # noqa: E402
from msmonai.data.datalist import load_datalist  # noqa: E402
from msmonai.engine.checkpoints import load_checkpoint  # noqa: E402
from msmonai.federated.job import EXCLUDED_FROM_AVERAGE, network_spec, simulate  # noqa: E402
from msmonai.federated.rounds import COLUMNS  # noqa: E402
from msmonai.federated.sites import split_sites  # noqa: E402
from msmonai.networks import ResNet3D  # noqa: E402
from tests.bundles.conftest import REPO, TINY_SPATIAL_SIZE, tiny_overrides  # noqa: E402
from tests.cohort import write_tiny_cohort  # noqa: E402

pytestmark = pytest.mark.slow
BUNDLE = REPO / "bundles" / "ms_activity_resnet3d"
OVERRIDES = {"spatial_size": TINY_SPATIAL_SIZE, "channels": [4, 8, 8, 16], "num_workers": 0, "batch_size": 4}
ROUNDS = 2


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("federated")
    cohort = write_tiny_cohort(root / "cohort", n_patients=16)
    sites = split_sites(cohort, 2, root / "sites", n_folds=3)
    out = simulate(BUNDLE, sites, ROUNDS, 1, root / "out", overrides=OVERRIDES)
    return cohort, sites, out


def _site_run(out: Path, site: str) -> Path:
    return next((out / "workspace").glob(f"*/{site}/simulate_job/app_{site}/msmonai"))


def test_the_global_model_is_the_weighted_mean_of_the_sites_last_local_models(run):
    """Weight differences travel (no double subtraction): after the last round the server's model equals the mean
    of the sites' locally trained weights, weighted by their training observations."""
    _, sites, out = run
    final = torch.load(out / "models" / "model_final.pt", weights_only=True)
    locals_, weights = [], []
    for path in sites:
        local = load_checkpoint(_site_run(out, path.stem) / "models" / "last.pt")["model"]
        locals_.append(local)
        weights.append(sum(1 for it in load_datalist(path) if it["fold"] != 0))
    for name, value in final.items():
        if name.endswith(EXCLUDED_FROM_AVERAGE):
            continue
        expected = sum(w * local[name].double() for w, local in zip(weights, locals_)) / sum(weights)
        torch.testing.assert_close(value.double(), expected, rtol=1e-5, atol=1e-6, msg=name)


def test_rounds_csv_has_one_row_per_round_and_site_with_the_validation_metric_and_count(run):
    _, sites, out = run
    import pandas as pd

    rounds = pd.read_csv(out / "rounds.csv")
    assert list(rounds.columns) == COLUMNS
    assert sorted(zip(rounds["round"], rounds["site"])) == sorted((r, p.stem) for r in range(ROUNDS) for p in sites)
    assert rounds["val_auc"].between(0, 1).all() and rounds["local_val_auc"].between(0, 1).all()
    for path in sites:
        expected = sum(1 for it in load_datalist(path) if it["fold"] != 0)
        assert set(rounds.loc[rounds["site"] == path.stem, "train_observations"]) == {expected}
    assert (out / "rounds.png").stat().st_size > 1000


def test_the_global_model_is_the_bundles_network_and_its_evaluate_workflow_runs_it(run, tmp_path):
    cohort, _, out = run
    spec = network_spec(BUNDLE, [], OVERRIDES)
    assert spec["class_path"] == json.loads((BUNDLE / "configs" / "train.json").read_text())["network_def"]["_target_"]
    network = ResNet3D(**spec["args"])
    network.load_state_dict(torch.load(out / "models" / "model.pt", weights_only=True))  # strict: every key fits
    overrides = {**tiny_overrides(cohort, tmp_path), **OVERRIDES, "ckpt_path": str(out / "models" / "model.pt")}
    run_bundle(BUNDLE, "evaluate", overrides, log_file=tmp_path / "evaluate.log")
    predictions = (tmp_path / "eval" / "predictions.csv").read_text().splitlines()
    assert len(predictions) - 1 == len(load_datalist(cohort, "testing"))


def test_nothing_patient_derived_reaches_the_server_side(run):
    """What the server wrote (its workspace, logs, models) and the run's outputs hold no pseudonym, visit date,
    image or datalist path: only weights and aggregate metrics."""
    cohort, sites, out = run
    items = load_datalist(cohort, "all")
    secrets = {it["patient"] for it in items} | {v["date"] for it in items for v in it["visits"]}
    secrets |= {str(cohort.parent), "dicom/"} | {str(p) for p in sites} | {v["series_uid"] for it in items
                                                                             for v in it["visits"]}
    shapes = {k: v.shape for k, v in ResNet3D(**network_spec(BUNDLE, [], OVERRIDES)["args"]).state_dict().items()}
    server_side = [p for p in (out / "workspace").glob("*/server/**/*") if p.is_file()]
    server_side += [out / "rounds.csv", out / "models" / "model.pt", out / "models" / "model_final.pt"]
    assert len(server_side) > 5
    for path in server_side:
        text = path.read_bytes().decode("latin-1")
        found = [s for s in secrets if s in text]
        assert not found, f"{path} holds {found[:3]}"
        if path.suffix == ".pt":  # the network's weights and nothing else
            saved = torch.load(path, weights_only=True)
            state = saved.get("model", saved)  # the server's files: {"model": state_dict, "train_conf": ...}
            assert {k: v.shape for k, v in state.items()} == shapes
