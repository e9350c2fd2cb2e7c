"""List every regular file under a root: any names, nested folders, symlinks followed but never into a loop."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from msmonai.errors import UserError
from msmonai.io.model import Problem


def relative_name(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` as a POSIX string ("." for the root itself), else the path unchanged."""
    try:
        return path.relative_to(root).as_posix() or "."
    except ValueError:
        return str(path)


def list_files(root: Path) -> tuple[list[Path], list[Problem]]:
    """Regular files under ``root`` (depth first, in name order) and a problem for each entry not listed.

    Symlinks are followed; a folder reached a second time (a symlink loop, or two links to one folder) is
    reported instead of entered. Broken links, unreadable folders and special files (FIFOs, sockets,
    devices: never opened) are reported too.
    """
    if not root.exists():
        raise UserError(f"{root}: no such file or folder")
    if not root.is_dir():
        return [root], []
    files: list[Path] = []
    problems: list[Problem] = []
    root_stat = root.stat()
    entered = {(root_stat.st_dev, root_stat.st_ino): "."}
    pending = [root]
    while pending:
        folder = pending.pop()
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as err:
            problems.append(Problem(relative_name(folder, root), f"folder not scanned: {err.strerror or err}"))
            continue
        subfolders = []
        for entry in entries:
            path = Path(entry.path)
            name = relative_name(path, root)
            try:
                info = entry.stat()  # follows symlinks
            except OSError as err:
                problems.append(Problem(name, _stat_failure(entry, err)))
                continue
            if stat.S_ISDIR(info.st_mode):
                key = (info.st_dev, info.st_ino)
                if key in entered:
                    problems.append(Problem(name, _revisit_reason(name, entered[key])))
                else:
                    entered[key] = name
                    subfolders.append(path)
            elif stat.S_ISREG(info.st_mode):
                files.append(path)
            else:
                problems.append(Problem(name, "not a regular file (device, FIFO or socket): not opened"))
        pending.extend(reversed(subfolders))
    return files, problems


def _stat_failure(entry: os.DirEntry, err: OSError) -> str:
    if err.errno == errno.ELOOP:
        return "symlink loop: not followed"
    if err.errno == errno.ENOENT and entry.is_symlink():
        return f"broken symlink to {os.readlink(entry.path)}"
    return f"unreadable: {err.strerror or err}"


def _revisit_reason(name: str, first_seen: str) -> str:
    if first_seen == "." or name.startswith(first_seen + "/"):
        return f"symlink loop: points back to {first_seen!r}, not followed"
    return f"links to folder {first_seen!r}, already scanned: not followed"
