"""Running a bundle workflow exactly as users do: ``python -m monai.bundle run`` in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Mapping, Sequence

from msmonai.bundle_tools.layout import LOGGING_CONFIG, METADATA, bundle_folder, config_files
from msmonai.errors import UserError


def bundle_command(bundle_dir: str | os.PathLike, workflow: str, overrides: Mapping[str, object],
                   overlays: Sequence[str] = ()) -> list[str]:
    """The ``python -m monai.bundle run`` command line of ``workflow`` with ``overrides`` (id -> value).

    ``overlays``: config files (paths relative to the bundle, e.g. ``configs/paper_recipe.json``) read right after
    ``train.json``, so that they change training and every workflow built on it alike.
    """
    bundle = bundle_folder(bundle_dir)
    configs = config_files(bundle, workflow, overlays)
    cmd = [
        sys.executable, "-m", "monai.bundle", "run",
        "--config_file", json.dumps(configs),
        "--meta_file", str(bundle / METADATA),
        "--logging_file", str(bundle / LOGGING_CONFIG),
        "--bundle_root", str(bundle),
    ]
    for key, value in overrides.items():
        # Python literal syntax, which MONAI's command line (Python Fire) parses back to the value: in JSON's syntax
        # false, true and null stayed the strings "false", "true", "null", and the string "false" is truthy
        cmd += [f"--{key}", value if isinstance(value, str) else repr(value)]
    return cmd


def run_bundle(
    bundle_dir: str | os.PathLike, workflow: str, overrides: Mapping[str, object], log_file: str | os.PathLike | None = None,
    overlays: Sequence[str] = (),
) -> None:
    """Run ``workflow`` of the bundle in the bundle folder, as Model Zoo commands run (``inference.json``'s macros
    need it); its output goes to ``log_file`` (or the terminal). Relative paths in ``overrides`` are relative to the
    bundle folder. Raises on failure."""
    cmd = bundle_command(bundle_dir, workflow, overrides, overlays)
    cwd = bundle_folder(bundle_dir)
    if log_file is None:
        result = subprocess.run(cmd, cwd=cwd, check=False)
    else:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        with open(log_file, "w", encoding="utf-8") as log:
            result = subprocess.run(cmd, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, check=False)
    if result.returncode != 0:
        # the bundle's own last line says what is wrong (its one-line error); the log keeps the rest
        reason = _last_line(log_file) if log_file else ""
        where = f" (full log: {log_file})" if log_file else ""
        raise UserError(f"bundle {Path(bundle_dir).name}: {workflow} failed"
                        f"{': ' + reason if reason else f' with exit code {result.returncode}'}{where}")


def _last_line(log_file: str | os.PathLike, tail_bytes: int = 8192) -> str:
    """The last non-empty line of ``log_file`` (read from its last ``tail_bytes``), stripped; "" if none."""
    with open(log_file, "rb") as log:
        log.seek(max(log.seek(0, os.SEEK_END) - tail_bytes, 0))
        lines = log.read().decode("utf-8", errors="replace").splitlines()
    return next((line.strip() for line in reversed(lines) if line.strip()), "")


def override_args(pairs: Sequence[str]) -> dict[str, object]:
    """Parse ``KEY=VALUE`` overrides; a VALUE that is JSON (``3``, ``[6,32,32]``, ``true``) becomes that value,
    anything else (paths, ``$`` expressions) stays a string for MONAI's config parser. A relative path that names an
    existing file or folder becomes absolute: the user meant it from here, and workflows run in the bundle folder."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UserError(f"override {pair!r} is not KEY=VALUE")
        try:
            out[key.lstrip("-")] = json.loads(value)
        except json.JSONDecodeError:
            out[key.lstrip("-")] = os.path.abspath(value) if value and os.path.exists(value) else value
    return out
