"""``msmonai inspect`` (what is in a DICOM archive) and ``msmonai preprocess`` (T1 -> NIfTI)."""

from __future__ import annotations

import argparse
import functools
import sys

from msmonai.parallel import available_cores


def register(subparsers) -> None:
    """Add this package's subcommands to the ``msmonai`` parser."""
    p = subparsers.add_parser(
        "inspect",
        help="list the patients, studies and series of a DICOM folder, the chosen T1 and every problem",
        description="Scan ROOT recursively (headers only) and list every patient / study / series with its "
        "weighting, slice count and orientation, mark the T1 series chosen per study, and give one line per "
        "file or study that cannot be used. Exit status 1 when no study has a usable T1 series.",
    )
    p.add_argument("root", metavar="ROOT", help="folder holding the DICOM export (any layout, any file names)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run_inspect)

    p = subparsers.add_parser(
        "preprocess",
        help="write the chosen T1 series of every study as a preprocessed NIfTI volume plus index.csv",
        description="Scan ROOT, run the preprocessing preset on the chosen T1 series of each study and write "
        "<pseudonym>_<date>.nii.gz files and index.csv (patient_key, study_date, series_uid, file, "
        "original_slices) to --out. No patient identifier is written. Problems are printed to stderr; exit "
        "status 1 when no volume was written.",
    )
    p.add_argument("root", metavar="ROOT", help="folder holding the DICOM export")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (created)")
    p.add_argument(
        "--spatial-size", nargs=3, type=int, metavar=("D", "H", "W"), help="output size (default: the preset's)"
    )
    p.add_argument(
        "--secret-file", metavar="F", help="site secret for pseudonyms (created if missing; $MSMONAI_SITE_SECRET "
        "overrides it; default ~/.config/msmonai/site_secret.key)"
    )
    p.add_argument(
        "--workers", type=int, default=available_cores(), metavar="N",
        help="studies preprocessed at once, one process and core each (default: the cores available, %(default)s)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run_preprocess)


def run_inspect(args: argparse.Namespace) -> int:
    """Print the scan of ``args.root`` as a table or JSON; 1 when nothing usable was found."""
    import json

    from msmonai.io.inspection import inspection_json, inspection_table
    from msmonai.io.scan import scan_dicom

    result = scan_dicom(args.root, progress=not args.quiet)
    print(json.dumps(inspection_json(result), indent=2) if args.json else inspection_table(result))
    if not any(study.t1 for study in result.studies):
        print(f"msmonai inspect: no usable T1 series under {args.root}", file=sys.stderr)
        return 1
    return 0


def run_preprocess(args: argparse.Namespace) -> int:
    """Preprocess each study's T1 series to ``args.out``; 1 when no volume was written.

    The workers' imports start first, in the process they will fork from, while this process and as many forked
    helpers (pydicom only) scan the headers.
    """
    from msmonai.constants import DEFAULT_SPATIAL_SIZE
    from msmonai.errors import UserError
    from msmonai.io.export import StudyExporter

    if args.workers < 1:
        raise UserError(f"--workers must be at least 1, got {args.workers}")
    preset = functools.partial(_preset, tuple(args.spatial_size or DEFAULT_SPATIAL_SIZE))
    with StudyExporter(preset, args.workers, preload=WORKER_IMPORTS) as exporter:
        from tqdm import tqdm

        from msmonai.data.pseudonym import load_or_create_secret, pseudonym
        from msmonai.io.export import plan_exports, write_index
        from msmonai.io.scan import scan_dicom
        from msmonai.parallel import forked_pool

        secret = load_or_create_secret(args.secret_file)
        with forked_pool(args.workers) as helpers:
            result = scan_dicom(args.root, progress=not args.quiet, helpers=helpers)
        for problem in result.problems:
            print(f"msmonai preprocess: {problem.path}: {problem.reason}", file=sys.stderr)
        studies = [(study, pseudonym(study.patient_id, secret)) for study in result.studies if study.t1 is not None]
        jobs = plan_exports(studies, args.out)
        rows: list[dict] = []
        show = not args.quiet and sys.stderr.isatty()
        for job, error in tqdm(exporter.run(jobs), total=len(jobs), desc="preprocessing", unit="study", leave=False,
                               disable=not show):
            if error is None:
                rows.append(job.row)
            else:
                print(f"msmonai preprocess: {error}", file=sys.stderr)
    index = write_index(rows, args.out)
    print(f"wrote {len(rows)} of {len(jobs)} T1 volumes; index: {index}")
    return 0 if rows else 1


# what the process the workers fork from imports, in this order (msmonai.lean_monai before MONAI)
WORKER_IMPORTS = ("msmonai.lean_monai", "msmonai.transforms", "msmonai.io.nifti")


def _preset(spatial_size: tuple[int, int, int]):
    """The preprocessing preset at ``spatial_size``, built in each worker of ``preprocess`` (picklable by name)."""
    import msmonai.lean_monai  # noqa: F401  (imported already, unless the worker is a new interpreter)
    from msmonai.transforms import preprocessing_transforms

    return preprocessing_transforms(spatial_size=spatial_size)
