"""One flag style for every command: words joined by hyphens (``--num-epochs``). The spellings of earlier releases
(``--num_epochs``, and ``cv --threshold``, now ``--threshold-rule`` since ``predict --threshold`` takes a number) still
parse but are not shown, so that scripts written for them keep working."""

from __future__ import annotations

import argparse
from typing import Sequence


def add_flag(parser: argparse.ArgumentParser, name: str, *, aliases: Sequence[str] = (), **kwargs) -> None:
    """Add the option ``name`` (``--words-with-hyphens``) and, hidden, its underscore spelling and ``aliases``."""
    dest = kwargs.pop("dest", name[2:].replace("-", "_"))
    parser.add_argument(name, dest=dest, **kwargs)
    hidden = {k: v for k, v in kwargs.items() if k not in ("help", "default", "required")}
    for alias in dict.fromkeys(("--" + name[2:].replace("-", "_"), *aliases)):
        if alias != name:
            parser.add_argument(alias, dest=dest, help=argparse.SUPPRESS, default=argparse.SUPPRESS, **hidden)
