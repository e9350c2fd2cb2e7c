"""The FedAvg job of a bundle (NVFlare's recipe API): run in NVFlare's simulator, or exported for a federation.

The server builds the initial model from the bundle's own ``network_def`` (its class and resolved arguments) and
averages the sites' weight differences, weighted by their numbers of training observations (``num_batches_tracked``
counters excluded: integers, and unused by the recalibrated batch-norm). It keeps the last global model and the
best one, judged by the sites' validation ROC AUC of each global model they received (``client.py``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shlex
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Iterator, Mapping, Sequence

import torch

from msmonai.bundle_tools import contract
from msmonai.bundle_tools.layout import MODEL, bundle_folder, shareable_files
from msmonai.errors import UserError
from msmonai.fileio import atomic_path
from msmonai.federated import client
from msmonai.federated.rounds import read_round_metrics, write_rounds

logger = logging.getLogger(__name__)
CLIENT_SCRIPT = "client.py"  # in the job's custom folder, next to the bundle's configs
EXCLUDED_FROM_AVERAGE = "num_batches_tracked"
FINAL_MODEL = "models/model_final.pt"
ROUNDS = "rounds.csv"
ROUNDS_PLOT = "rounds.png"
ROUND_METRICS = "round_metrics.jsonl"  # written by NVFlare's server
BUNDLE_ARCHIVE = "bundle.zip"  # in the job's custom folder, next to client.py
PRIVACY_GAMMA = 0.01  # PercentilePrivacy: largest change per training observation a site shares
SITE_PYTHON = "python3"  # on the sites of a federation: the environment's own


def network_spec(bundle: Path, overlays: Sequence[str], overrides: Mapping[str, object]) -> dict:
    """``{"class_path", "args"}`` of the bundle's ``network_def`` with its references resolved (what NVFlare's
    server instantiates)."""
    return contract.network_spec(contract.read_config(bundle, contract.TRAIN, overlays, overrides))


def stage_bundle(bundle_dir: str | os.PathLike, stage: Path) -> Path:
    """Write what a site needs to ``stage`` (a folder outside ``sys.path``): ``client.py`` and ``bundle.zip`` with the
    bundle's shareable files (:func:`msmonai.bundle_tools.layout.shareable_files`), never its ``models/`` or
    outputs. The bundle travels zipped because NVFlare
    rewrites the JSON files of a job it deploys (``"validate#items"`` became a nested ``"validate"`` object that
    replaced train.json's), and ``client.py`` is a copy because NVFlare copies a script inside ``sys.path`` (an
    installed msmonai) to a package path of the job while it runs ``custom/client.py`` (see
    :func:`_outside_sys_path`). Returns ``stage``."""
    bundle = bundle_folder(bundle_dir)
    with zipfile.ZipFile(stage / BUNDLE_ARCHIVE, "w") as zf:
        for rel in shareable_files(bundle):
            zf.write(bundle / rel, rel)
    shutil.copy2(client.__file__, stage / CLIENT_SCRIPT)
    return stage


def fedavg_recipe(bundle_dir: str | os.PathLike, stage: Path, rounds: int, local_epochs: int, min_clients: int,
                  overlays: Sequence[str] = (), overrides: Mapping[str, object] | None = None,
                  site_datalists: Mapping[str, str] | None = None, name: str = "msmonai_fedavg",
                  python: str = SITE_PYTHON, privacy_percentile: float | None = None):
    """NVFlare's PyTorch ``FedAvgRecipe`` for a bundle staged by :func:`stage_bundle`: ``client.py`` and
    ``bundle.zip`` travel in the job's ``custom`` folder.

    ``site_datalists`` (site name -> datalist path) gives each simulated site its datalist; without it, each site of
    a real federation reads its own from ``$MSMONAI_DATALIST``. ``python``: the interpreter each site runs
    ``client.py`` with (one where msmonai is installed). ``privacy_percentile``: each site sends only the weight
    changes above this percentile of their magnitude, clipped (NVFlare's ``PercentilePrivacy``, docs/federated.md).
    """
    from nvflare.client.config import ExchangeFormat
    from nvflare.recipe.utils import set_per_site_config

    overrides = dict(overrides or {})
    args = ["--bundle", BUNDLE_ARCHIVE, "--local-epochs", str(local_epochs)]
    for key, value in overrides.items():  # KEY=VALUE as in `msmonai cv --set` (NVFlare reads {...} as its own)
        args += ["--set", f"{key}={value if isinstance(value, str) else json.dumps(value)}"]
    for overlay in overlays:
        args += ["--overlay", overlay]
    recipe = _resilient_recipe_class()(
        name=name, model=network_spec(bundle_folder(bundle_dir), overlays, overrides), min_clients=min_clients,
        num_rounds=rounds, train_script=str(stage / CLIENT_SCRIPT), train_args=shlex.join(args),
        launch_external_process=True, command=shlex.join([python, "-u"]), server_expected_format=ExchangeFormat.PYTORCH,
        key_metric=client.KEY_METRIC, key_metric_mode="max", exclude_vars=EXCLUDED_FROM_AVERAGE,
    )
    if site_datalists:
        set_per_site_config(recipe, {site: {"train_args": shlex.join([*args, "--datalist", str(path)])}
                                     for site, path in site_datalists.items()})
    if privacy_percentile is not None:
        from nvflare.app_common.filters.percentile_privacy import PercentilePrivacy

        recipe.add_client_output_filter(PercentilePrivacy(percentile=privacy_percentile, gamma=PRIVACY_GAMMA),
                                        tasks=["train"])
    recipe.add_client_file(str(stage / BUNDLE_ARCHIVE))
    return recipe


def _resilient_recipe_class():
    """NVFlare's PyTorch ``FedAvgRecipe`` whose controller leaves out of a round's average a site whose result failed
    (a killed or crashed client) instead of stopping the job: FedAvg's ``ignore_result_error=True``, set through the
    recipe's hook for controller arguments."""
    from nvflare.app_opt.pt.recipes.fedavg import FedAvgRecipe

    class ResilientFedAvgRecipe(FedAvgRecipe):
        def _get_controller_kwargs(self) -> dict:
            return {**super()._get_controller_kwargs(), "ignore_result_error": True}

    return ResilientFedAvgRecipe


def simulate(bundle_dir: str | os.PathLike, sites: Sequence[str | os.PathLike], rounds: int, local_epochs: int,
             out: str | os.PathLike, overlays: Sequence[str] = (), overrides: Mapping[str, object] | None = None,
             privacy_percentile: float | None = None) -> Path:
    """Run FedAvg in NVFlare's simulator, one client per site datalist (named after its file stem), and collect
    ``out/models/model.pt`` (best global model), ``out/models/model_final.pt``, ``out/rounds.csv`` and the
    workspace under ``out/workspace``. Returns ``out``."""
    from nvflare.recipe import SimEnv

    out = Path(out).resolve()
    datalists = {Path(s).stem: str(Path(s).resolve()) for s in sites}
    if len(datalists) != len(sites):
        raise UserError("two site datalists have the same file name; each site is named after its datalist's stem")
    for site, path in datalists.items():
        if not Path(path).is_file():
            raise UserError(f"{path}: site datalist not found")
    with tempfile.TemporaryDirectory() as stage:
        recipe = fedavg_recipe(bundle_dir, stage_bundle(bundle_dir, Path(stage)), rounds, local_epochs, len(datalists),
                               overlays, overrides, datalists, python=sys.executable,
                               privacy_percentile=privacy_percentile)
        try:
            with _threads_per_site(len(datalists)), _outside_sys_path(Path(stage)):
                recipe.execute(SimEnv(clients=list(datalists), workspace_root=str(out / "workspace")))
        except RuntimeError as err:
            failed = _site_error(out / "workspace" / recipe.name)
            raise UserError(failed or f"federated simulation failed: {err}") from err
    job = out / "workspace" / recipe.name
    site_error = _site_error(job)
    if site_error:
        raise UserError(site_error)
    _collect_models(job, out)
    server = job / "server" / "simulate_job"
    rounds_done = read_round_metrics(server / "metrics" / ROUND_METRICS)
    write_rounds(rounds_done, out / ROUNDS, out / ROUNDS_PLOT)
    for site in datalists:
        missed = sorted(set(range(rounds)) - set(rounds_done.loc[rounds_done["site"] == site, "round"]))
        if len(missed) == rounds:
            raise UserError(f"site {site} sent no result in any of the {rounds} rounds: "
                            f"{_last_error_line(job / site / 'log.txt')} (full log: {job / site / 'log.txt'})")
        if missed:
            logger.warning("site %s sent no result for round(s) %s: left out of their averages; see %s", site,
                           ", ".join(map(str, missed)), job / site / "log.txt")
    return out


@contextlib.contextmanager
def _outside_sys_path(stage: Path) -> Iterator[None]:
    """Hide the ``sys.path`` entries that contain ``stage`` (``/tmp`` when a script there runs, the working directory
    under ``python -m``) while NVFlare writes the job: it copies a script found inside ``sys.path`` to a package path
    (``custom/tmpXXXX/client.py``) but runs ``custom/client.py``."""
    saved = list(sys.path)
    sys.path[:] = [entry for entry in saved if not stage.resolve().is_relative_to(Path(entry or os.curdir).resolve())]
    try:
        yield
    finally:
        sys.path[:] = saved


@contextlib.contextmanager
def _threads_per_site(n_sites: int) -> Iterator[None]:
    """The simulated sites share this machine's cores: each site's process gets its share of intra-op threads
    (``OMP_NUM_THREADS``, which the client processes inherit), unless the user set it."""
    if "OMP_NUM_THREADS" in os.environ:
        yield
        return
    os.environ["OMP_NUM_THREADS"] = str(max(1, len(os.sched_getaffinity(0)) // n_sites))
    try:
        yield
    finally:
        del os.environ["OMP_NUM_THREADS"]


def _site_error(job: Path) -> str | None:
    """The first site's one-line error (``client.py`` prints it into the site's log), if a site failed."""
    for log in sorted(job.glob("*/log.txt")):
        for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
            if client.ERROR_PREFIX in line:
                return line.split(client.ERROR_PREFIX, 1)[1].strip()
    return None


def _last_error_line(log: Path) -> str:
    """The last line of a site's log that names an error (an exception's last line), stripped."""
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines() if log.is_file() else []
    return next((line.strip() for line in reversed(lines) if "Error" in line or "Exception" in line),
                "its log names no error")


def _collect_models(job: Path, out: Path) -> None:
    """The server's best and last global models, as plain state_dicts the bundle's workflows load. NVFlare writes no
    best model after a single round (the sites have only judged the initial model): the last one stands in, with a
    warning."""
    from nvflare.app_common.app_constant import DefaultCheckpointFileName

    server = job / "server" / "simulate_job" / "app_server"
    final, best = server / DefaultCheckpointFileName.GLOBAL_MODEL, server / DefaultCheckpointFileName.BEST_GLOBAL_MODEL
    if not final.is_file():
        raise UserError(f"{final}: the server wrote no global model; see {job / 'server'} for its log")
    if not best.is_file():
        logger.warning("the server chose no best global model (one round judges only the initial model): %s is "
                       "the last global model", out / MODEL)
    for source, target in ((best if best.is_file() else final, MODEL), (final, FINAL_MODEL)):
        saved = torch.load(source, map_location="cpu", weights_only=True)
        with atomic_path(out / target) as tmp:
            torch.save(saved.get("model", saved), tmp)


def export_job(bundle_dir: str | os.PathLike, out: str | os.PathLike, rounds: int, local_epochs: int,
               min_clients: int, overlays: Sequence[str] = (), overrides: Mapping[str, object] | None = None,
               privacy_percentile: float | None = None) -> Path:
    """Write the NVFlare job folder a federation submits (``nvflare job submit -j OUT``); each site reads its
    datalist from ``$MSMONAI_DATALIST``. Returns the job folder."""
    out = Path(out).resolve()
    if out.exists() and any(out.iterdir()):
        raise UserError(f"{out}: job folder exists and is not empty")
    with tempfile.TemporaryDirectory() as stage:
        recipe = fedavg_recipe(bundle_dir, stage_bundle(bundle_dir, Path(stage)), rounds, local_epochs, min_clients,
                               overlays, overrides, name=out.name, privacy_percentile=privacy_percentile)
        with _outside_sys_path(Path(stage)):
            recipe.export(str(out.parent))
    return out
