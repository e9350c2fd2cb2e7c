"""The ``msmonai`` command: a thin dispatcher over one module per command family, the only layer that knows flags.

Each module of this package exposes ``register(subparsers)``; heavy imports (torch, MONAI) happen inside the
handlers so ``msmonai --help`` stays fast. No package below imports this one.
Errors that a user can fix are raised as :class:`msmonai.errors.UserError` and printed as one line.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from msmonai import __version__
from msmonai.container import check_container, in_container
from msmonai.errors import UserError, root_cause

COMMAND_MODULES = (
    "msmonai.cli.ingestion",
    "msmonai.cli.cohort",
    "msmonai.cli.compare",
    "msmonai.cli.bundles",
    "msmonai.cli.federated",
    "msmonai.cli.pacs",
)


def build_parser() -> argparse.ArgumentParser:
    """Parser with one subcommand per registered command module."""
    parser = argparse.ArgumentParser(
        prog="msmonai",
        description="Predict one-year multiple-sclerosis disease activity from longitudinal T1 MRI + EDSS.",
    )
    parser.add_argument("--version", action="version", version=f"msmonai {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details (default: progress of long commands only)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    for name in ("msmonai.bundle_tools", "msmonai.pacs"):  # progress of cv, predict and the PACS, step by step
        logging.getLogger(name).setLevel(logging.INFO)
    try:
        if in_container():  # the Docker image: not root, /data mounted, every path under it (msmonai/container.py)
            check_container(sys.argv[1:] if argv is None else argv)
        return int(args.func(args) or 0)
    except Exception as err:  # a UserError wrapped by MONAI's config instantiation is still the user's one line
        cause = root_cause(err)
        if not isinstance(err, UserError) and not isinstance(cause, UserError):
            raise
        print(f"msmonai {args.command}: error: {cause if isinstance(cause, UserError) else err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"msmonai {args.command}: interrupted", file=sys.stderr)
        return 130
