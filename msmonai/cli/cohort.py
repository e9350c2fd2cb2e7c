"""``msmonai manifest`` (clinical CSV + DICOM -> datalist) and ``msmonai demo-data`` (the synthetic cohort)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from msmonai.constants import DEFAULT_FOLDS, DEMO_PATIENTS, HORIZON_DAYS, LINK_TOLERANCE_DAYS, MAX_VISITS


def register(subparsers) -> None:
    """Add this package's subcommands to the ``msmonai`` parser."""
    p = subparsers.add_parser(
        "manifest",
        help="compile DICOM studies + clinical visits CSV into a MONAI datalist of labelled visit sequences",
        description=(
            "Link each clinical visit to its DICOM study (study_uid, else PatientID + StudyDate within a tolerance), "
            "build one observation per visit with a following visit one horizon later (label: status there, else the "
            "EDSS-worsening rule), assign patient-grouped label-stratified folds, and write FILE.json (MONAI datalist, "
            "pseudonymous patients) plus FILE.exclusions.csv (everything left out, with its reason). "
            "Formats: data_manifests/README.md."
        ),
    )
    p.add_argument("--dicom", required=True, type=Path, metavar="ROOT", help="DICOM archive folder (scanned recursively)")
    p.add_argument("--clinical", required=True, type=Path, metavar="CSV", help="clinical visits table")
    p.add_argument("--out", required=True, type=Path, metavar="FILE.json", help="manifest to write")
    p.add_argument("--folds", type=int, default=DEFAULT_FOLDS, help=f"number of cross-validation folds (default {DEFAULT_FOLDS})")
    p.add_argument("--seed", type=int, default=0, help="seed of the fold assignment (default 0)")
    p.add_argument("--tolerance-days", type=int, default=LINK_TOLERANCE_DAYS,
                   help=f"visit/study date linking and horizon tolerance (default {LINK_TOLERANCE_DAYS})")
    p.add_argument("--horizon-days", type=int, default=HORIZON_DAYS, help=f"distance of the labelling visit (default {HORIZON_DAYS})")
    p.add_argument("--max-visits", type=int, default=MAX_VISITS, help=f"most recent visits per observation (default {MAX_VISITS})")
    p.add_argument(
        "--secret-file",
        type=Path,
        help="site secret for the pseudonyms (created with mode 0600 if missing; $MSMONAI_SITE_SECRET overrides it); "
        "default ~/.config/msmonai/site_secret.key; the pseudonym map is written next to it as pseudonyms.csv",
    )
    p.add_argument("--strict", action="store_true", help="exit non-zero, without writing the manifest, if anything is excluded")
    p.add_argument(
        "--filter-negatives",
        type=int,
        metavar="MAX_PER_PATIENT",
        help="the paper's filtering of excess negatives (off by default): keep at most this many label-0 observations "
        "per patient (the most recent) among the non-testing observations; the rest are listed as exclusions",
    )
    p.add_argument("--test-fold", type=int, metavar="K", help="move fold K's observations into the 'testing' list")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_manifest)

    p = subparsers.add_parser(
        "demo-data",
        help="write the synthetic demo cohort (DICOM + clinical.csv); synthetic, never for clinical claims",
        description=(
            "Generate a deterministic synthetic cohort: per patient 2-5 annual MR studies (T1, T2, localizer) of a head "
            "phantom whose lesions and EDSS subscores evolve, activity preceded by new and enlarging lesions as in "
            "relapsing MS (msmonai/demo/cohort.py cites the sources), the head's pose and the acquisition varying "
            "between studies; DIR/dicom/, DIR/clinical.csv and DIR/README.txt."
        ),
    )
    p.add_argument("--out", required=True, type=Path, metavar="DIR", help="output folder (DIR/dicom must not exist yet)")
    p.add_argument("--patients", type=int, default=DEMO_PATIENTS, help=f"number of patients (default {DEMO_PATIENTS})")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument(
        "--lesion-strength",
        type=float,
        default=1.0,
        metavar="S",
        help="scale of the lesion changes the year before an active phase: 1 = as in relapsing MS (default: 2-8 new "
        "lesions of 3-10 mm), 0 = none (the images carry no label), about 3 = the earlier, easily learnt demo; "
        "new-lesion counts and the share of dark and of enlarging lesions scale with S, sizes with sqrt(S)",
    )
    p.set_defaults(func=_demo_data)


def _manifest(args: argparse.Namespace) -> int:
    from msmonai.data.clinical import load_clinical_visits
    from msmonai.data.exclusions import exclusions_path, write_exclusions
    from msmonai.data.manifest import ManifestOptions, compile_manifest, summarise, update_pseudonym_map
    from msmonai.data.pseudonym import SECRET_ENV, load_or_create_secret, secret_file_location
    from msmonai.errors import UserError
    from msmonai.data.datalist import write_datalist
    from msmonai.io import scan_dicom

    options = ManifestOptions(
        folds=args.folds,
        seed=args.seed,
        tolerance_days=args.tolerance_days,
        horizon_days=args.horizon_days,
        max_visits=args.max_visits,
        filter_negatives=args.filter_negatives,
        test_fold=args.test_fold,
    )
    if not args.dicom.is_dir():
        raise UserError(f"{args.dicom}: not a folder (--dicom)")
    earlier = args.out.parent / "site_secret.key"  # where manifest kept the secret before one rule served all commands
    secret_file = secret_file_location(args.secret_file)
    if args.secret_file is None and not os.environ.get(SECRET_ENV) and earlier.is_file() and not secret_file.exists():
        raise UserError(f"{earlier}: the site secret of an earlier msmonai manifest; pass --secret-file {earlier} to "
                        f"keep its pseudonyms, or move it to {secret_file}")
    secret = load_or_create_secret(secret_file)
    visits, clinical_exclusions = load_clinical_visits(args.clinical)
    scan = scan_dicom(args.dicom, progress=not args.quiet)
    manifest = compile_manifest(scan, visits, clinical_exclusions, args.out.parent, secret, options)
    excluded = write_exclusions(exclusions_path(args.out), manifest.exclusions, manifest.keys.__getitem__)
    update_pseudonym_map(secret_file.parent / "pseudonyms.csv", manifest.keys)
    if args.strict and manifest.exclusions:
        raise UserError(f"--strict: {len(manifest.exclusions)} exclusion(s), manifest not written; reasons in {excluded}")
    if not manifest.datalist["training"] and not manifest.datalist.get("testing"):
        raise UserError(f"no observation could be built, manifest not written; reasons in {excluded}")
    write_datalist(args.out, manifest.datalist)
    print(summarise(manifest))
    print(f"wrote {args.out} and {excluded}")
    return 0


def _demo_data(args: argparse.Namespace) -> int:
    from msmonai.demo.cohort import write_demo_cohort

    summary = write_demo_cohort(args.out, n_patients=args.patients, seed=args.seed, lesion_strength=args.lesion_strength)
    print(summary, file=sys.stdout)
    return 0
