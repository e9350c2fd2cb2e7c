"""Offline signatures of shared bundles: Ed25519 (``cryptography``) over the bundle's ``SHA256SUMS``.

``SHA256SUMS`` lists the SHA-256 of every shared file, so one signature over it covers the whole bundle: a changed,
added or removed file no longer matches the signed list, and a recomputed list no longer matches the signature.
The signature travels as ``SHA256SUMS.sig`` (JSON: algorithm, the signer's key id = SHA-256 of its raw public key,
base64 signature). Keys are PEM files: the private key PKCS#8 (mode 0600), the public key SubjectPublicKeyInfo.
Nothing here implements cryptography; it only calls the ``cryptography`` package.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import Sequence

from msmonai.errors import UserError
from msmonai.fileio import write_bytes

SIGNATURE_FILE = "SHA256SUMS.sig"
PRIVATE_KEY_FILE = "signing-key.pem"
PUBLIC_KEY_FILE = "signing-key.pub.pem"
_FORMAT = "msmonai-bundle-signature/1"


def generate_keys(out_dir: str | os.PathLike) -> tuple[Path, Path]:
    """Write a new Ed25519 key pair into ``out_dir``; refuses to overwrite an existing key."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    out = Path(out_dir)
    private_path, public_path = out / PRIVATE_KEY_FILE, out / PUBLIC_KEY_FILE
    for path in (private_path, public_path):
        if path.exists():
            raise UserError(f"{path}: exists; refusing to overwrite a signing key (choose another folder)")
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    write_bytes(private_path, private, mode=0o600)
    write_bytes(public_path, public)
    return private_path, public_path


def sign(sums: bytes, private_key_file: str | os.PathLike) -> str:
    """The ``SHA256SUMS.sig`` text for the bytes of ``SHA256SUMS`` signed with the PEM private key file."""
    key = _load_private(Path(private_key_file))
    signature = key.sign(sums)
    return json.dumps({"format": _FORMAT, "algorithm": "Ed25519", "signed_file": "SHA256SUMS",
                       "key_id": key_id(key.public_key()), "signature": base64.b64encode(signature).decode()},
                      indent=2) + "\n"


def check_signature(sums: bytes, signature_text: str | None, trusted_key_files: Sequence[str | os.PathLike],
                    shown: str) -> str:
    """Verify ``SHA256SUMS`` against its signature with one of the trusted public keys; returns the signer's key id.

    Raises:
        UserError: unsigned, unreadable signature, signed by a key that is not trusted, or not matching.
    """
    from cryptography.exceptions import InvalidSignature

    trusted = {key_id(key): key for key in (_load_public(Path(f)) for f in trusted_key_files)}
    if signature_text is None:
        raise UserError(f"{shown}: refused, {SIGNATURE_FILE} missing: the bundle is unsigned")
    try:
        record = json.loads(signature_text)
        signer, signature = record["key_id"], base64.b64decode(record["signature"], validate=True)
        if record.get("format") != _FORMAT or record.get("algorithm") != "Ed25519":
            raise ValueError("unknown format")
    except (ValueError, KeyError, TypeError) as err:
        raise UserError(f"{shown}: refused, {SIGNATURE_FILE} is not a signature this version reads ({err})") from None
    if signer not in trusted:
        raise UserError(f"{shown}: refused, signed by key {signer}, which is not among the trusted keys")
    try:
        trusted[signer].verify(signature, sums)
    except InvalidSignature:
        raise UserError(f"{shown}: refused, SHA256SUMS does not match its signature (altered after signing)") from None
    return signer


def key_id(public_key) -> str:
    """SHA-256 (hex) of the raw 32-byte Ed25519 public key."""
    from cryptography.hazmat.primitives import serialization

    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def _load_private(path: Path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as err:
        raise UserError(f"{path}: not a readable, unencrypted PEM private key ({err})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise UserError(f"{path}: not an Ed25519 key (make one with `msmonai keygen`)")
    return key


def _load_public(path: Path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except (OSError, ValueError) as err:
        raise UserError(f"{path}: not a readable PEM public key ({err})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise UserError(f"{path}: not an Ed25519 public key")
    return key
