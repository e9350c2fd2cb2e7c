"""The script each site runs in a federated job: MONAI's ``MonaiAlgo`` trains the bundle's own ``train.json``
workflow on the site's datalist, NVFlare's Client API carries the weights.

Each round: receive the global weights; evaluate them on the site's validation fold with the bundle's evaluate
workflow (``eval_split`` ``"val"``; the metric sent to the server for its choice of the best global model); train
``--local-epochs`` epochs from them; send the weight difference, weighted by the number of training observations.
What leaves the site: that difference, the validation ROC AUC of the global model and of the locally trained one,
and the count. Everything else (checkpoints, logs) stays in ``--workdir``.

Run by NVFlare (``msmonai federated simulate`` / ``job``), not by hand.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import zipfile
from pathlib import Path

import nvflare.client as flare
import torch
from monai.fl.client import MonaiAlgo
from monai.fl.utils.constants import ExtraItems, WeightType
from monai.fl.utils.exchange_object import ExchangeObject
from nvflare.apis.fl_constant import FLMetaKey

from msmonai.bundle_tools import contract
from msmonai.bundle_tools.layout import config_files
from msmonai.bundle_tools.runner import override_args
from msmonai.errors import UserError, user_error_in

DATALIST_ENV = "MSMONAI_DATALIST"  # where a site of a real federation keeps its datalist
KEY_METRIC = "val_auc"  # the bundles' validation metric (validate#key_metric)
ERROR_PREFIX = "msmonai federated client: error: "


def make_algo(bundle: Path, datalist: str, workdir: Path, local_epochs: int, overlays: list[str],
              overrides: dict) -> MonaiAlgo:
    """``MonaiAlgo`` over the bundle's train workflow (with ``overlays``) and its evaluate workflow on the
    validation fold, without the handlers that load or write the bundle's own model files."""
    train = {**overrides, contract.DATALIST: datalist, **contract.run_outputs(workdir)}
    evaluate = {**train, contract.EVAL_SPLIT: "val",
                contract.VALIDATION_HANDLERS: [{"_target_": "StatsHandler", "iteration_log": False}]}
    return MonaiAlgo(
        bundle_root=str(bundle), local_epochs=local_epochs, send_weight_diff=True,
        config_train_filename=config_files(bundle, "train", overlays),
        config_evaluate_filename=config_files(bundle, "evaluate", overlays), eval_workflow_name="eval",
        train_kwargs=train, eval_kwargs=evaluate, best_model_filepath=None, final_model_filepath=None,
    )


def unpack_bundle(archive: Path, into: Path) -> Path:
    """The job's ``bundle.zip`` extracted into ``into`` (replaced). The bundle travels zipped: NVFlare rewrites the
    JSON files of a job it deploys."""
    if into.exists():
        shutil.rmtree(into)
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(into)
    return into


def run(args: argparse.Namespace) -> None:
    flare.init()
    site = flare.get_site_name()
    try:
        train_rounds(site, args)
    except Exception as err:  # the site's one line, which `simulate` finds in the site's log
        found = user_error_in(err)
        if found is None:
            raise
        print(f"{ERROR_PREFIX}site {site}: {found}", file=sys.stderr, flush=True)
        raise SystemExit(2) from err


def train_rounds(site: str, args: argparse.Namespace) -> None:
    """Join the rounds until the server ends the job."""
    datalist = args.datalist or os.environ.get(DATALIST_ENV)
    if not datalist:
        raise UserError(f"no datalist; set {DATALIST_ENV} to the site's datalist")
    workdir = Path(args.workdir or Path.cwd() / "msmonai").resolve()
    bundle = Path(args.bundle) if os.path.isabs(args.bundle) else Path(__file__).resolve().parent / args.bundle
    if bundle.is_file():
        bundle = unpack_bundle(bundle, workdir / "bundle")
    algo = make_algo(bundle, datalist, workdir, args.local_epochs, args.overlay, override_args(args.set))
    algo.initialize(extra={ExtraItems.CLIENT_NAME: site, ExtraItems.APP_ROOT: ""})
    parser = algo.train_workflow.parser
    train_observations = len(parser.get_parsed_content(contract.TRAIN_ITEMS))
    validator = parser.get_parsed_content(contract.EVALUATOR)
    while flare.is_running():
        received = flare.receive()
        if received is None:
            break
        exchange = ExchangeObject(weights={k: torch.as_tensor(v) for k, v in received.params.items()},
                                  weight_type=WeightType.WEIGHTS)
        metrics = {KEY_METRIC: float(algo.evaluate(exchange).metrics[KEY_METRIC])}
        if flare.is_evaluate():
            flare.send(flare.FLModel(metrics=metrics))
            continue
        algo.train(exchange)
        update = algo.get_weights()
        metrics["local_val_auc"] = float(validator.state.metrics[KEY_METRIC])
        flare.send(flare.FLModel(params=update.weights, params_type=flare.ParamsType.DIFF, metrics=metrics,
                                 meta={FLMetaKey.NUM_STEPS_CURRENT_ROUND: train_observations}))
    algo.finalize()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", required=True,
                        help="bundle folder or the job's bundle.zip (relative: to this script's folder)")
    parser.add_argument("--datalist", help=f"the site's datalist (default: ${DATALIST_ENV})")
    parser.add_argument("--local-epochs", type=int, default=1)
    parser.add_argument("--overlay", action="append", default=[], help="bundle-relative config read after train.json")
    parser.add_argument("--set", action="append", default=[], metavar="ID=VALUE", help="a bundle override")
    parser.add_argument("--workdir", help="where the site's checkpoints and logs go (default: ./msmonai)")
    run(parser.parse_args(argv))


if __name__ == "__main__":
    main()
