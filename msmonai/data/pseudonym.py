"""Pseudonymous patient keys: a keyed hash (HMAC-SHA256) of the PatientID with a site secret.

The secret comes from an explicit file, the ``MSMONAI_SITE_SECRET`` environment variable, or a key
file generated on first use with owner-only permissions. The same secret always gives the same key;
different sites (secrets) give unrelated keys. The secret itself is never logged or written elsewhere.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import os
import secrets
from pathlib import Path

from msmonai.errors import UserError
from msmonai.fileio import write_text

SECRET_ENV = "MSMONAI_SITE_SECRET"
KEY_PREFIX = "P-"


def load_or_create_secret(key_file: str | os.PathLike | None) -> bytes:
    """Return the site secret: ``$MSMONAI_SITE_SECRET`` if set, else the key file (created if missing)."""
    env = os.environ.get(SECRET_ENV)
    if env:
        return env.encode("utf-8")
    if key_file is None:
        raise UserError(f"no site secret: set {SECRET_ENV} or pass a key file (--secret-file)")
    path = Path(key_file)
    if path.exists():
        secret = path.read_bytes().strip()
        if len(secret) < 16:
            raise UserError(f"{path}: site secret is shorter than 16 bytes")
        return secret
    write_text(path, secrets.token_hex(32) + "\n", mode=0o600)
    return path.read_bytes().strip()


def pseudonym(patient_id: str, secret: bytes) -> str:
    """Stable pseudonymous key ``P-<16 hex>`` for ``patient_id`` under ``secret``."""
    digest = hmac.new(secret, str(patient_id).strip().encode("utf-8"), hashlib.sha256).hexdigest()
    return KEY_PREFIX + digest[:16]


def write_pseudonym_map(path: str | os.PathLike, mapping: dict[str, str]) -> Path:
    """Write the pseudonym -> patient_id table (kept next to the secret, never inside a manifest)."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["pseudonym", "patient_id"])
    for key in sorted(mapping):
        writer.writerow([key, mapping[key]])
    return write_text(path, buf.getvalue(), mode=0o600)
