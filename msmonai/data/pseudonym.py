"""Pseudonymous patient keys: a keyed hash (HMAC-SHA256) of the PatientID with a site secret.

One rule for every command (:func:`load_or_create_secret`): the secret is ``$MSMONAI_SITE_SECRET`` if set, else
the key file given (``--secret-file``), else the site's key file :func:`default_secret_file`
(``~/.config/msmonai/site_secret.key``), outside every folder a command writes. A missing key file is generated on
first use with owner-only permissions, and a notice says where. The same secret always gives the same key;
different sites (secrets) give unrelated keys. The secret itself is never logged or written elsewhere.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import logging
import os
import secrets
from pathlib import Path

from msmonai.errors import UserError
from msmonai.fileio import write_text

SECRET_ENV = "MSMONAI_SITE_SECRET"
KEY_PREFIX = "P-"


logger = logging.getLogger(__name__)


def default_secret_file() -> Path:
    """The site's key file when none is given: ``$XDG_CONFIG_HOME/msmonai/site_secret.key`` (``~/.config`` unset)."""
    config = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(config) / "msmonai" / "site_secret.key"


def load_or_create_secret(key_file: str | os.PathLike | None = None) -> bytes:
    """Return the site secret: ``$MSMONAI_SITE_SECRET`` if set, else ``key_file`` or :func:`default_secret_file`,
    created (mode 0600, with a notice) if missing."""
    env = os.environ.get(SECRET_ENV)
    if env:
        return env.encode("utf-8")
    path = secret_file_location(key_file)
    if path.exists():
        try:
            secret = path.read_bytes().strip()
        except OSError as err:
            raise UserError(f"{path}: cannot read the site secret ({err.strerror})") from None
        if len(secret) < 16:
            raise UserError(f"{path}: site secret is shorter than 16 bytes")
        return secret
    write_text(path, secrets.token_hex(32) + "\n", mode=0o600)
    logger.warning("msmonai: created a new site secret in %s (readable by you only). Back it up and use it for "
                   "every later run: pseudonyms made with another secret never match these.", path)
    return path.read_bytes().strip()


def secret_file_location(key_file: str | os.PathLike | None = None) -> Path:
    """The key file the rule of :func:`load_or_create_secret` reads (the pseudonym map is kept next to it)."""
    return Path(key_file) if key_file else default_secret_file()


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
