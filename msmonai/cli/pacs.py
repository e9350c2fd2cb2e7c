"""``msmonai pacs predict``: a patient's studies from a PACS (DICOMweb or DIMSE) -> the prediction report, stored
back as a DICOM SR on request (docs/deployment.md, "Predicting from the PACS")."""

from __future__ import annotations

import argparse

from msmonai.cli.flags import add_flag
from msmonai.constants import DEFAULT_MC_SAMPLES
from msmonai.errors import UserError


def register(subparsers) -> None:
    """Add ``pacs`` and its subcommands to the ``msmonai`` parser."""
    parent = subparsers.add_parser(
        "pacs", help="predict from a PACS's studies and store the result back as a DICOM SR",
        description="Works with an archive that speaks DICOMweb (QIDO-RS, WADO-RS, STOW-RS), e.g. Orthanc, dcm4chee.")
    commands = parent.add_subparsers(dest="pacs_command", metavar="SUBCOMMAND", required=True)
    p = commands.add_parser(
        "predict", help="find the patient's MR studies, retrieve the T1 series, predict, write (and --store) the SR",
        description="Finds the patient's MR studies, reads the headers of every MR series, retrieves the pixel data of "
        "only the T1 series the visits of --clinical use (into a private temporary folder removed afterwards), runs "
        "the same ingestion and prediction as `msmonai predict` and writes DIR/report.json, report.html and "
        "report.dcm (a DICOM Comprehensive SR carrying the patient's identifiers). --store stores the SR into a new "
        "series of the patient's latest study used, once the report is complete.")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--url", help="DICOMweb root of the PACS, e.g. https://pacs.example:8042/dicom-web")
    where.add_argument("--dimse", metavar="HOST:PORT:AET", help="or the PACS's DIMSE service (C-FIND, C-GET, C-STORE; "
                       "no TLS or user identity: the PACS must know --calling-aet at this node's address)")
    p.add_argument("--calling-aet", default="MSMONAI", metavar="AET", help="this node's AE title with --dimse "
                   "(default MSMONAI)")
    p.add_argument("--patient-id", required=True, help="the patient's exact PatientID in the PACS")
    p.add_argument("--clinical", required=True, help="clinical visits CSV holding the patient's rows "
                   "(data_manifests/README.md)")
    p.add_argument("--bundle", required=True, help="trained model, as for `msmonai predict`: a run folder, a bundle "
                   "folder, or a received .zip (verified before anything runs)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--username", help="user name for the PACS (HTTP basic authentication)")
    p.add_argument("--password-file", metavar="FILE", help="file whose first line is the password of --username "
                   "(passwords are never taken on the command line)")
    p.add_argument("--ca-bundle", metavar="PEM", help="CA certificate(s) to verify the PACS's TLS certificate "
                   "(default: the system's)")
    p.add_argument("--trusted-key", action="append", default=[], metavar="PEM",
                   help="with a bundle .zip: public key of a sender you trust (repeatable)")
    p.add_argument("--allow-code", action="store_true",
                   help="with a bundle .zip: run configs the audit refuses (they execute Python on this machine)")
    p.add_argument("--store", action="store_true", help="store report.dcm into the PACS (new series of the latest "
                   "study used)")
    p.add_argument("--skip-visits-without-t1", action="store_true", help="predict from the other visits when the MR "
                   "study of a visit has no T1 series (default: refuse, naming the visit)")
    p.add_argument("--secret-file", default=None, help="site secret for pseudonymous keys (as for `msmonai predict`)")
    add_flag(p, "--mc-samples", type=int, default=DEFAULT_MC_SAMPLES, help="Monte-Carlo dropout passes (0: no "
             "uncertainty)")
    p.add_argument("--threshold", type=float, default=None,
                   help="probability at or above which activity is predicted (default: the model's own)")
    p.add_argument("--no-explain", dest="explain", action="store_false", help="skip saliency and ablation")
    p.add_argument("--timeout", type=float, default=60, metavar="S", help="seconds the PACS may take to answer one "
                   "request (default 60)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--set", dest="overrides", metavar="ID=VALUE", action="append", default=[],
                   help="bundle override, e.g. --set spatial_size=[50,128,128] (repeatable)")
    p.set_defaults(func=run_pacs_predict)


def run_pacs_predict(args: argparse.Namespace) -> int:
    from msmonai.bundle_tools.runner import override_args
    from msmonai.bundle_tools.sharing import received_bundle
    from msmonai.cli.bundles import print_verification
    from msmonai.pacs.prediction import pacs_predict

    archive = _archive(args)
    with received_bundle(args.bundle, args.trusted_key, args.allow_code) as (bundle, verification):
        if verification is not None:
            print_verification(args.bundle, verification, "pacs predict")
        report, retrieval, stored = pacs_predict(
            archive, args.patient_id, args.clinical, bundle, args.out, store=args.store,
            skip_visits_without_t1=args.skip_visits_without_t1, secret_file=args.secret_file,
            overrides=override_args(args.overrides), mc_samples=args.mc_samples, threshold=args.threshold,
            explain=args.explain, quiet=args.quiet)
    print(f"{retrieval.studies} MR studies: headers of {retrieval.header_series} series ({retrieval.header_instances} "
          f"instances) read, pixel data of {retrieval.retrieved_series} T1 series ({retrieval.retrieved_instances} "
          "instances) retrieved; nothing retrieved is kept")
    for name in ("report.html", "report.dcm"):
        print(report.with_name(name))
    if stored:
        print(f"{archive.where}: stored report.dcm as a new series of the patient's latest study used, and found it "
              "there")
    return 0


def _archive(args: argparse.Namespace):
    """The PACS the flags name: DICOMweb (--url) or DIMSE (--dimse)."""
    if args.url:
        from msmonai.pacs.dicomweb import DicomWebArchive

        return DicomWebArchive(args.url, args.username, args.password_file, args.ca_bundle, args.timeout)
    from msmonai.pacs.dimse import DimseArchive

    if args.username or args.password_file or args.ca_bundle:
        raise UserError("--username, --password-file and --ca-bundle apply to --url (DICOMweb); a DIMSE PACS "
                        "identifies this node by --calling-aet and its address")
    return DimseArchive(args.dimse, args.calling_aet, args.timeout)
