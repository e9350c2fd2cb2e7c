"""Atomic file writes: a crash never leaves a half-written file where a complete one is expected.

Every file msmonai writes goes through :func:`atomic_path` (or the helpers built on it): the content is
written to a temporary sibling in the same directory and renamed over the target with ``os.replace``,
which is atomic on POSIX file systems.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike, mode: int | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; on success it replaces ``target`` atomically.

    Args:
        target: final file path; its parent directory is created if missing.
        mode: permission bits for the final file (e.g. ``0o600`` for secrets); default: ``0o666`` less the umask,
            as ``open`` would create it (``mkstemp`` alone would leave it owner-only).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, _default_mode() if mode is None else mode)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def _default_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def write_bytes(target: str | os.PathLike, data: bytes, mode: int | None = None) -> Path:
    """Atomically write ``data`` to ``target`` and return the path."""
    with atomic_path(target, mode=mode) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    return Path(target)


def write_text(target: str | os.PathLike, text: str, mode: int | None = None) -> Path:
    """Atomically write UTF-8 ``text`` to ``target`` and return the path."""
    return write_bytes(target, text.encode("utf-8"), mode=mode)


def write_json(target: str | os.PathLike, obj: Any, mode: int | None = None) -> Path:
    """Atomically write ``obj`` as indented JSON to ``target`` and return the path."""
    return write_text(target, json.dumps(obj, indent=2, sort_keys=False) + "\n", mode=mode)


def sha256_of(path: str | os.PathLike) -> str:
    """The SHA-256 of a file's bytes, in hex."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()
