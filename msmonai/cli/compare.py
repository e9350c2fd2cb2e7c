"""``msmonai compare``: cross-validation runs side by side in the Table 7 layout."""

from __future__ import annotations

from pathlib import Path


def register(subparsers) -> None:
    """Add this package's subcommands to the ``msmonai`` parser."""
    p = subparsers.add_parser(
        "compare",
        help="compare cross-validation runs in the paper's Table 7 layout, with 95 %% intervals",
        description="Read the output directories of `msmonai cv` and write comparison.md and comparison.csv "
        "(Architecture, Accuracy, Precision, Recall, F1-score, Fb-score, each with its bootstrap interval) and "
        "comparison.png (bars with interval whiskers, ROC curves overlaid) to --out.",
    )
    p.add_argument("dirs", nargs="+", metavar="DIR", help="output directory of `msmonai cv`")
    p.add_argument("--out", required=True, metavar="DIR", help="directory for the comparison files")
    p.add_argument("--names", nargs="+", metavar="NAME", help="display name per DIR (default: the model name in run.json)")
    p.set_defaults(func=run_compare)


def run_compare(args) -> int:
    """Handler of ``msmonai compare``."""
    from msmonai.evaluation.compare import COMPARISON_FILES, compare_runs

    compare_runs(args.dirs, args.out, args.names)
    for name in COMPARISON_FILES:
        print(Path(args.out) / name)
    return 0
