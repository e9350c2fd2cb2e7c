"""``msmonai federated split``, ``simulate``, ``job``: training a bundle across sites with NVIDIA FLARE
(``pip install -e '.[federated]'``; docs/federated.md)."""

from __future__ import annotations

import argparse

from msmonai.constants import DEFAULT_FOLDS
from msmonai.errors import UserError


def register(subparsers) -> None:
    """Add ``federated`` and its subcommands to the ``msmonai`` parser."""
    parent = subparsers.add_parser(
        "federated", help="train a bundle across sites with NVIDIA FLARE (FedAvg); no patient data leaves a site",
        description="Federated training of a bundle's own train workflow with NVIDIA FLARE: rehearse it with "
        "NVFlare's simulator on per-site datalists, or write the job a provisioned federation runs.")
    commands = parent.add_subparsers(dest="federated_command", metavar="SUBCOMMAND", required=True)

    p = commands.add_parser("split", help="split one datalist by patient into per-site datalists (rehearsal data)")
    p.add_argument("datalist", help="datalist JSON from `msmonai manifest` (its training list is split)")
    p.add_argument("--sites", type=int, required=True, help="number of sites")
    p.add_argument("--out", required=True, help="folder for site-1.json ... site-N.json")
    p.add_argument("--folds", type=int, default=DEFAULT_FOLDS, help="folds drawn within each site (fold 0 validates)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run_split)

    p = commands.add_parser("simulate", help="FedAvg in NVFlare's simulator, one client per site datalist")
    _job_flags(p)
    p.add_argument("--sites", nargs="+", required=True, metavar="DATALIST",
                   help="one datalist per site; each site is named after its file stem")
    p.add_argument("--out", required=True, help="output folder: models/model.pt, rounds.csv, rounds.png, workspace/")
    p.set_defaults(func=run_simulate)

    p = commands.add_parser("job", help="write the NVFlare job folder a provisioned federation submits")
    _job_flags(p)
    p.add_argument("--out", required=True, help="job folder to write (submit with `nvflare job submit -j OUT`)")
    p.add_argument("--min-clients", type=int, default=2, help="sites that must be connected to start, and that each "
                   "round trains (NVFlare FedAvg's num_clients; give the number of sites to train all of them)")
    p.set_defaults(func=run_job)


def _job_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--bundle", required=True, help="bundle directory")
    p.add_argument("--rounds", type=int, default=10, help="federated rounds")
    p.add_argument("--local-epochs", type=int, default=1, help="epochs each site trains per round")
    p.add_argument("--set", dest="overrides", metavar="ID=VALUE", action="append", default=[],
                   help="bundle override, as in `msmonai cv` (repeatable)")
    p.add_argument("--overlay", dest="overlays", metavar="CONFIG", action="append", default=[],
                   help="bundle config file read after train.json, relative to the bundle (repeatable)")
    p.add_argument("--privacy-percentile", type=float, default=None, metavar="P",
                   help="each site shares only weight changes above the P-th percentile of their magnitude, clipped "
                   "(NVFlare's PercentilePrivacy filter). It also clips batch-norm statistics: with these bundles the "
                   "model stops working (docs/federated.md: ROC AUC 0.97 -> 0.60 at P=50)")


def _check(args: argparse.Namespace, *positive: str) -> None:
    for name in positive:
        if getattr(args, name) < 1:
            raise UserError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    if args.privacy_percentile is not None and not 0 <= args.privacy_percentile < 100:
        raise UserError(f"--privacy-percentile must lie in [0, 100), got {args.privacy_percentile}")


def _federated():
    try:
        from msmonai.federated import job
    except ImportError as err:
        raise UserError(f"federated training needs NVIDIA FLARE: pip install -e '.[federated]' ({err})") from err
    return job


def run_split(args: argparse.Namespace) -> int:
    from msmonai.federated.sites import split_sites

    for path in split_sites(args.datalist, args.sites, args.out, args.folds, args.seed):
        print(path)
    return 0


def run_simulate(args: argparse.Namespace) -> int:
    from msmonai.bundle_tools.runner import override_args

    _check(args, "rounds", "local_epochs")
    out = _federated().simulate(args.bundle, args.sites, args.rounds, args.local_epochs, args.out, args.overlays,
                                override_args(args.overrides), args.privacy_percentile)
    print(f"global model: {out / 'models' / 'model.pt'}; rounds: {out / 'rounds.csv'}")
    return 0


def run_job(args: argparse.Namespace) -> int:
    from msmonai.bundle_tools.runner import override_args

    _check(args, "rounds", "local_epochs", "min_clients")
    print(_federated().export_job(args.bundle, args.out, args.rounds, args.local_epochs, args.min_clients,
                                  args.overlays, override_args(args.overrides), args.privacy_percentile))
    return 0
