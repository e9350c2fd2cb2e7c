"""The checks the Docker image makes before anything runs: not root, the data folder mounted at ``/data``, every
path a command names inside ``/data`` (or ``/tmp``, or the image's own bundles), and its output folders writable.

The image sets ``MSMONAI_CONTAINER=1``; its entrypoint (``python -m msmonai.container``, which then runs
``python -m monai.bundle`` with the same arguments) and the ``msmonai`` command (``--entrypoint msmonai``) both call
:func:`check_container`, so a container started wrongly ends with one line naming the problem instead of a
traceback, or outputs lost in the container's own file system.
"""

from __future__ import annotations

import os
import sys
from pathlib import PurePosixPath
from typing import Sequence

from msmonai.errors import UserError

CONTAINER_ENV = "MSMONAI_CONTAINER"
DATA = PurePosixPath("/data")
ALLOWED_ROOTS = (DATA, PurePosixPath("/tmp"), PurePosixPath("/opt/msmonai"))
"""Where the paths a command names may lie: the mounted data, scratch space, the image's bundles."""
OUTPUT_FLAGS = ("--out", "--bundle_root", "--output_dir", "--ckpt_path", "--log_dir", "--cache_dir")
"""Flags of ``msmonai`` and of ``monai.bundle run`` whose value is written to."""


def in_container() -> bool:
    """Whether this process runs in the msmonai image."""
    return os.environ.get(CONTAINER_ENV) == "1"


def check_container(argv: Sequence[str]) -> None:
    """Raise a one-line UserError when the container cannot run ``argv`` safely (see the module docstring)."""
    if os.getuid() == 0:
        raise UserError("refusing to run as root (uid 0) in the container: start it as the image's user (drop "
                        "--user 0 / --user root) or as --user UID:GID of the owner of the data folder")
    if not _mounted(DATA):
        raise UserError(f"{DATA} is not mounted: start the container with -v /your/data/folder:{DATA}; everything "
                        f"it reads and writes lives there")
    for flag, path in _paths(argv):
        if not any(path == root or root in path.parents for root in ALLOWED_ROOTS):
            raise UserError(f"{flag or 'argument'} {path}: outside {DATA}; the container sees only the folder mounted "
                            f"at {DATA} (and /tmp): give the path as it lies under {DATA}")
        if flag in OUTPUT_FLAGS and not _writable(path):
            raise UserError(f"{flag} {path}: not writable by uid {os.getuid()} (is {DATA} mounted read-only, or owned "
                            "by another user? mount it read-write and give it to this user)")


def _mounted(path: PurePosixPath) -> bool:
    """Whether a file system or a bind mount lies at ``path`` (``/proc/self/mountinfo``: ``os.path.ismount`` misses a
    bind mount of a folder from the same file system, the usual ``-v /srv/ms:/data``)."""
    try:
        with open("/proc/self/mountinfo", encoding="utf-8") as mounts:
            return any(line.split()[4] == str(path) for line in mounts if len(line.split()) > 4)
    except OSError:
        return os.path.ismount(path)


def _paths(argv: Sequence[str]) -> list[tuple[str | None, PurePosixPath]]:
    """``(flag, path)`` for every absolute path among the arguments (``--flag PATH``, ``--flag=PATH``, ``ID=PATH``)."""
    found, flag = [], None
    for arg in argv:
        name, sep, value = arg.partition("=")
        if arg.startswith("--") and sep:
            found += [(name, PurePosixPath(os.path.normpath(value)))] if value.startswith("/") else []
            flag = None
        elif arg.startswith("-"):
            flag = arg
        else:
            value = value if sep and not arg.startswith("/") else arg
            if value.startswith("/"):
                found.append((flag, PurePosixPath(os.path.normpath(value))))
            flag = None
    return found


def _writable(path: PurePosixPath) -> bool:
    """Whether ``path`` (or, not yet there, its nearest existing ancestor) may be written by this user."""
    existing = next(p for p in (path, *path.parents) if os.path.exists(p))
    return os.access(existing, os.W_OK | (os.X_OK if os.path.isdir(existing) else 0))


def main(argv: Sequence[str] | None = None) -> None:
    """The image's entrypoint: the checks, then ``python -m monai.bundle`` with the same arguments."""
    args = list(sys.argv[1:] if argv is None else argv)
    if in_container():
        try:
            check_container(args)
        except UserError as err:
            print(f"msmonai container: error: {err}", file=sys.stderr)
            raise SystemExit(2) from None
    os.execv(sys.executable, [sys.executable, "-m", "monai.bundle", *args])


if __name__ == "__main__":
    main()
