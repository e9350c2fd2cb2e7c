"""``msmonai cv``, ``train``, ``evaluate``, ``predict``, ``export-bundle``, ``verify-bundle``, ``keygen``: commands that
run or ship bundles."""

from __future__ import annotations

import argparse
import sys

from msmonai.cli.flags import add_flag
from msmonai.constants import DEFAULT_MC_SAMPLES


def register(subparsers) -> None:
    """Add this package's subcommands to the ``msmonai`` parser."""
    p = subparsers.add_parser(
        "cv",
        help="patient-grouped cross-validation of a bundle with 95%% bootstrap intervals",
        description="For each fold: train the bundle on the other folds, choose the threshold on its validation fold, "
        "predict the held-out fold. Writes oof_predictions.csv, metrics.json (pooled + intervals + per fold), run.json.",
    )
    _add_recipe_flags(p, out_help="output directory")
    p.add_argument("--folds", type=int, default=None, help="evaluate only the first K folds (default: all)")
    add_flag(p, "--threshold-rule", aliases=("--threshold",), choices=("model", "fixed", "f1", "fbeta"), default="model",
             help="decision threshold: the one each fold's model stored when it was selected (default), 0.5, "
             "or maximise F1/Fbeta on each fold's validation predictions")
    add_flag(p, "--mc-samples", type=int, default=DEFAULT_MC_SAMPLES, help="Monte-Carlo dropout passes per prediction (0: none)")
    add_flag(p, "--n-boot", type=int, default=2000, help="bootstrap replicates for the intervals")
    p.set_defaults(func=run_cv)

    p = subparsers.add_parser(
        "train",
        help="train the model to deploy into a run folder (a bundle of its own, with how it was made)",
        description="Trains the bundle on the datalist's training observations (its val_fold, 0 unless --set "
        "val_fold=K, validates for epoch and threshold selection) into RUN: configs/ as trained (overlays and "
        "overrides folded in), models/model.pt, run.json (how it was made), patients.json (training and validation "
        "keys; never shared). export-bundle, predict and evaluate take RUN. With --cv the cross-validation of the same "
        "recipe becomes the model's validated performance (metadata eval_metrics, model card, reports).",
    )
    _add_recipe_flags(p, out_help="run folder to create", out_metavar="RUN")
    p.add_argument("--cv", metavar="CVDIR", help="output of `msmonai cv` of the same bundle, version, overlays and "
                   "overrides: its pooled figures become the model's validated performance")
    p.set_defaults(func=run_train)

    p = subparsers.add_parser(
        "evaluate",
        help="evaluate a trained model on patients it has never seen (metrics with patient-level intervals)",
        description="Runs the model's evaluate workflow on one split of a datalist and writes predictions.csv, "
        "metrics.json (with 95%% patient-bootstrap intervals), confusion_matrix.png and roc.png. Refuses a split that "
        "shares patients with the model's training or validation data.",
    )
    p.add_argument("run", metavar="RUN", help="run folder of `msmonai train` (or a bundle folder with models/model.pt)")
    p.add_argument("--datalist", required=True, help="datalist JSON from `msmonai manifest`")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--split", choices=("testing", "training"), default="testing", help="which observations of the "
                   "datalist (default: testing)")
    add_flag(p, "--mc-samples", type=int, default=DEFAULT_MC_SAMPLES,
             help="Monte-Carlo dropout passes per prediction (0: none)")
    add_flag(p, "--n-boot", type=int, default=2000, help="bootstrap replicates for the intervals")
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap")
    p.set_defaults(func=run_evaluate)

    p = subparsers.add_parser(
        "predict",
        help="predict one-year activity for new patients and write report.json + report.html",
        description="Ingests every patient in --dicom (same ingestion and preprocessing as training), links the visits of "
        "--clinical, runs the bundle's inference workflow and writes a report per patient (pseudonymous key only).",
    )
    p.add_argument("--bundle", required=True, help="trained model: a run folder of `msmonai train` or this site's "
                   "bundle folder (models/model.pt), or a "
                   "received .zip from `msmonai export-bundle`, verified as verify-bundle does before anything runs")
    p.add_argument("--trusted-key", action="append", default=[], metavar="PEM",
                   help="with a bundle .zip: public key of a sender you trust (repeatable); without one, "
                   "authenticity is not checked")
    p.add_argument("--allow-code", action="store_true",
                   help="with a bundle .zip: run configs the audit refuses (they execute Python on this machine)")
    p.add_argument("--dicom", required=True, help="DICOM folder of the patient(s)")
    p.add_argument("--clinical", required=True, help="clinical visits CSV (data_manifests/README.md)")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--secret-file", default=None, help="site secret for pseudonymous keys (created if missing; "
                   "$MSMONAI_SITE_SECRET overrides it; default ~/.config/msmonai/site_secret.key)")
    add_flag(p, "--mc-samples", type=int, default=DEFAULT_MC_SAMPLES, help="Monte-Carlo dropout passes (0: no uncertainty)")
    p.add_argument("--threshold", type=float, default=None,
                   help="probability at or above which activity is predicted (default: the threshold stored with the model)")
    p.add_argument("--no-explain", dest="explain", action="store_false", help="skip saliency and ablation")
    p.add_argument("--show-identity", action="store_true", help="also write the raw patient ID into report.json")
    p.add_argument("--dicom-sr", action="store_true", help="also write report.dcm, a DICOM Comprehensive SR for the "
                   "patient's record; it carries the patient's identifiers from the source studies (keep it where "
                   "the images are: the PACS)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--set", dest="overrides", metavar="ID=VALUE", action="append", default=[],
                   help="bundle override, e.g. --set spatial_size=[50,128,128] (repeatable)")
    p.set_defaults(func=run_predict)

    p = subparsers.add_parser("export-bundle", help="zip a trained bundle with TorchScript export and SHA-256 manifest")
    p.add_argument("bundle", help="run folder of `msmonai train`, or a bundle directory with models/model.pt")
    p.add_argument("--out", required=True, help="output .zip")
    add_flag(p, "--spatial-size", type=int, nargs=3, metavar=("D", "H", "W"), default=None,
             help="the spatial_size the bundle was trained with, when not its default")
    p.add_argument("--sign-key", metavar="PEM", help="private key from `msmonai keygen`: sign the bundle")
    p.add_argument("--model", metavar="PT", help="the weights to share (default: the bundle's models/model.pt); e.g. "
                   "the models/model.pt of a training run with --bundle_root elsewhere")
    p.set_defaults(func=run_export)

    p = subparsers.add_parser(
        "verify-bundle", help="check a shared bundle's signature, hashes, metadata, weights and configs before running it",
        description="Refuses a bundle that was altered, is unsigned or signed by a key you do not trust (with "
        "--trusted-key), or whose configs use code outside monai, torch, ignite, msmonai and numpy. Lists every "
        "_target_ and $ expression of its configs with the audit's verdict.",
    )
    p.add_argument("bundle", help="bundle .zip or directory")
    p.add_argument("--trusted-key", action="append", default=[], metavar="PEM",
                   help="public key of a sender you trust (repeatable); without one, authenticity is not checked")
    p.add_argument("--allow-code", action="store_true",
                   help="accept configs the audit refuses (they execute Python on this machine): a warning, not a refusal")
    p.set_defaults(func=run_verify)

    p = subparsers.add_parser("keygen", help="make a P-256 key pair for signing bundles (OpenSSF model signing)")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for signing-key.pem (private, 0600) and "
                   "signing-key.pub.pem (hand it to your partners)")
    p.set_defaults(func=run_keygen)


def _add_recipe_flags(p: argparse.ArgumentParser, out_help: str, out_metavar: str | None = None) -> None:
    """The flags that name a recipe, shared by ``cv`` and ``train`` so that ``train --cv`` compares like with like:
    bundle, datalist, output, epochs, seed, overrides and overlays."""
    p.add_argument("--bundle", required=True, help="bundle directory")
    p.add_argument("--datalist", required=True, help="datalist JSON from `msmonai manifest`")
    p.add_argument("--out", required=True, metavar=out_metavar, help=out_help)
    add_flag(p, "--num-epochs", type=int, default=None, help="override the bundle's num_epochs")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--set", dest="overrides", metavar="ID=VALUE", action="append", default=[],
                   help="any other bundle override, e.g. --set spatial_size=[50,128,128] (repeatable)")
    p.add_argument("--overlay", dest="overlays", metavar="CONFIG", action="append", default=[],
                   help="bundle config file read after train.json, relative to the bundle, e.g. configs/paper_recipe.json "
                   "(repeatable)")


def _recipe_overrides(args: argparse.Namespace) -> dict[str, object]:
    """The bundle overrides of :func:`_add_recipe_flags`' ``--set`` and ``--num-epochs``."""
    from msmonai.bundle_tools.runner import override_args

    overrides = override_args(args.overrides)
    if args.num_epochs is not None:
        overrides["num_epochs"] = args.num_epochs
    return overrides


def run_cv(args: argparse.Namespace) -> int:
    from msmonai.bundle_tools.cross_validation import cross_validate

    metrics = cross_validate(args.bundle, args.datalist, args.out, folds=args.folds, overrides=_recipe_overrides(args),
                             threshold=args.threshold_rule, mc_samples=args.mc_samples, n_boot=args.n_boot, seed=args.seed,
                             overlays=args.overlays)
    pooled, ci = metrics["pooled"], metrics["intervals"]
    print(f"{metrics['n']} out-of-fold predictions, {metrics['n_patients']} patients; 95 % intervals by patient bootstrap")
    for key in ("accuracy", "precision", "recall", "f1", "fbeta", "roc_auc", "pr_auc"):
        if pooled.get(key) is not None:
            print(f"  {key:9s} {pooled[key]:.3f}  [{ci[key]['low']:.3f}, {ci[key]['high']:.3f}]")
    for name, baseline in metrics.get("baselines", {}).items():
        auc = baseline["intervals"]["roc_auc"]
        if auc.get("value") is not None:
            print(f"  baseline {name}: roc_auc {auc['value']:.3f}  [{auc['low']:.3f}, {auc['high']:.3f}]")
    return 0


def run_train(args: argparse.Namespace) -> int:
    from msmonai.bundle_tools.training_run import train_model

    record = train_model(args.bundle, args.datalist, args.out, overlays=args.overlays,
                         overrides={"seed": args.seed, **_recipe_overrides(args)}, cv_dir=args.cv)
    data = record["datalist"]
    print(f"{args.out}: {record['model']} trained on {data['training_observations']} observations of "
          f"{data['training_patients']} patients, fold {data['val_fold']} validating ({data['validation_patients']} "
          "patients)")
    performance = record["validated_performance"]
    if performance:
        print(f"  validated performance (cross-validation {record['cv']}): ROC AUC {performance['roc_auc']:.3f} "
              f"[{performance['roc_auc_low']:.3f}, {performance['roc_auc_high']:.3f}]")
    else:
        print("  no validated performance (train with --cv CVDIR to attach the cross-validation of this recipe)")
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    from msmonai.bundle_tools.training_run import evaluate_model

    metrics = evaluate_model(args.run, args.datalist, args.out, split=args.split, mc_samples=args.mc_samples,
                             n_boot=args.n_boot, seed=args.seed)
    print(f"{metrics['n']} predictions, {metrics['n_patients']} patients; 95 % intervals by patient bootstrap")
    for key in ("accuracy", "precision", "recall", "f1", "roc_auc", "pr_auc"):
        interval = metrics["intervals"].get(key) or {}
        if metrics.get(key) is not None and interval.get("low") is not None:
            print(f"  {key:9s} {metrics[key]:.3f}  [{interval['low']:.3f}, {interval['high']:.3f}]")
    return 0


def run_predict(args: argparse.Namespace) -> int:
    from msmonai.bundle_tools.prediction import predict
    from msmonai.bundle_tools.runner import override_args
    from msmonai.bundle_tools.sharing import received_bundle

    with received_bundle(args.bundle, args.trusted_key, args.allow_code) as (bundle, verification):
        if verification is not None:
            print_verification(args.bundle, verification, "predict")
        reports = predict(bundle, args.dicom, args.clinical, args.out, secret_file=args.secret_file,
                          overrides=override_args(args.overrides), mc_samples=args.mc_samples,
                          threshold=args.threshold, explain=args.explain, show_identity=args.show_identity,
                          quiet=args.quiet, dicom_sr=args.dicom_sr)
    for path in reports:
        print(path.with_name("report.html"))
    return 0


def run_export(args: argparse.Namespace) -> int:
    from msmonai.bundle_tools.sharing import export_bundle

    print(export_bundle(args.bundle, args.out, spatial_size=args.spatial_size, sign_key=args.sign_key,
                        model=args.model))
    return 0


def run_verify(args: argparse.Namespace) -> int:
    from msmonai.bundle_tools.sharing import verify_bundle

    result = verify_bundle(args.bundle, trusted_keys=args.trusted_key, allow_code=args.allow_code)
    for finding in result.findings:
        print(finding.line())
    print_verification(args.bundle, result, "verify-bundle")
    return 0


def print_verification(bundle: str, result, command: str) -> None:
    """What a verification established, and a warning for each thing it let through."""
    refused = [f for f in result.findings if f.problem]
    if refused:
        print(f"msmonai {command}: warning: --allow-code: {len(refused)} config entries the audit refuses will "
              "execute on this machine", file=sys.stderr)
    if result.signer is None:
        print(f"{bundle}: integrity of {len(result.files)} files verified; authenticity NOT checked (no "
              "--trusted-key given)")
    else:
        print(f"{bundle}: verified {len(result.files)} files, signed by trusted key {result.signer}")


def run_keygen(args: argparse.Namespace) -> int:
    from msmonai.bundle_tools.signing import generate_keys

    private, public = generate_keys(args.out)
    print(f"private key {private} (keep it, mode 0600); public key {public} (hand it to the sites that receive "
          "your bundles)")
    return 0
