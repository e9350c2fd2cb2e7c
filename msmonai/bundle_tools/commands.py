"""Subcommands of this package."""


def register(subparsers) -> None:
    """Add this package's subcommands to the ``msmonai`` parser."""
