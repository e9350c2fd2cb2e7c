"""Offline signatures of shared bundles in the OpenSSF Model Signing format (PyPI ``model-signing``, pinned).

The sender's elliptic-curve key (P-256, ``msmonai keygen``) signs the manifest of every file of the bundle folder;
the signature travels in the folder as ``model.sig`` (a Sigstore bundle with a DSSE envelope, no certificate, no
transparency log: nothing goes online). The library's unsafe defaults are overridden: ``.git*`` paths are hashed like
any other file, and verification refuses files the signature does not cover. The signer is named by the SHA-256 of
its PEM public key, the hint the format stores next to the signature. Nothing here implements cryptography.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
from pathlib import Path
from typing import Sequence

from msmonai.errors import UserError
from msmonai.fileio import write_bytes

SIGNATURE_FILE = "model.sig"
LEGACY_SIGNATURE_FILE = "SHA256SUMS.sig"  # msmonai's Ed25519 format before bundles 0.5.0
PRIVATE_KEY_FILE = "signing-key.pem"
PUBLIC_KEY_FILE = "signing-key.pub.pem"


def generate_keys(out_dir: str | os.PathLike) -> tuple[Path, Path]:
    """Write a new P-256 key pair into ``out_dir`` (private PKCS#8, mode 0600; public SubjectPublicKeyInfo);
    refuses to overwrite an existing key."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    out = Path(out_dir)
    private_path, public_path = out / PRIVATE_KEY_FILE, out / PUBLIC_KEY_FILE
    for path in (private_path, public_path):
        if path.exists():
            raise UserError(f"{path}: exists; refusing to overwrite a signing key (choose another folder)")
    key = ec.generate_private_key(ec.SECP256R1())
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    write_bytes(private_path, private, mode=0o600)
    write_bytes(public_path, _public_pem(key.public_key()))
    return private_path, public_path


def sign_folder(folder: str | os.PathLike, private_key_file: str | os.PathLike) -> Path:
    """Sign every file of ``folder`` with the PEM private key; writes and returns ``folder/model.sig``."""
    from model_signing import signing

    folder, key_file = Path(folder), Path(private_key_file)
    _check_private(key_file)
    signature = folder / SIGNATURE_FILE
    signing.Config().use_elliptic_key_signer(private_key=key_file).set_hashing_config(_hashing()).sign(
        folder, signature)
    return signature


def check_signature(folder: Path, trusted_key_files: Sequence[str | os.PathLike], shown: str) -> str:
    """Verify ``folder`` against its ``model.sig`` with the trusted public key that signed it; returns the signer's
    key id.

    Raises:
        UserError: unsigned (or signed in the earlier format), unreadable signature, signed by a key that is not
            trusted, or files that do not match the signature (changed, added or removed after signing).
    """
    from model_signing import verifying

    trusted = {key_id(Path(f)): Path(f) for f in trusted_key_files}
    signature = folder / SIGNATURE_FILE
    if not signature.is_file():
        if (folder / LEGACY_SIGNATURE_FILE).is_file():
            raise UserError(f"{shown}: refused, signed in msmonai's earlier format ({LEGACY_SIGNATURE_FILE}); ask the "
                            "sender to export it again with `msmonai export-bundle --sign-key`")
        raise UserError(f"{shown}: refused, {SIGNATURE_FILE} missing: the bundle is unsigned")
    try:
        signer = json.loads(signature.read_text(encoding="utf-8"))["verificationMaterial"]["publicKey"]["hint"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise UserError(f"{shown}: refused, {SIGNATURE_FILE} is not an OpenSSF model signature with a key hint "
                        f"({type(err).__name__}: {err})") from None
    if signer not in trusted:
        raise UserError(f"{shown}: refused, signed by key {signer}, which is not among the trusted keys")
    verifier = (verifying.Config().use_elliptic_key_verifier(public_key=trusted[signer])
                .set_hashing_config(_hashing()).set_ignore_unsigned_files(False))
    try:
        verifier.verify(folder, signature)
    except Exception as err:  # model_signing reports a mismatch as ValueError, a bad signature as cryptography's
        raise UserError(f"{shown}: refused, the bundle does not match its signature (altered after signing: "
                        f"{_mismatch(err)})") from None
    return signer


def _mismatch(err: Exception) -> str:
    """model_signing's ``Signature mismatch: [differences]`` as one line: ``difference; difference``."""
    detail = str(err).removeprefix("Signature mismatch: ")
    try:
        return "; ".join(ast.literal_eval(detail))
    except (ValueError, SyntaxError, TypeError):
        return detail or type(err).__name__


def key_id(public_key_file: Path) -> str:
    """SHA-256 (hex) of the PEM public key: the hint OpenSSF model signatures carry."""
    from cryptography.hazmat.primitives import serialization

    try:
        key = serialization.load_pem_public_key(public_key_file.read_bytes())
    except (OSError, ValueError) as err:
        raise UserError(f"{public_key_file}: not a readable PEM public key ({err})") from None
    _check_curve(key, public_key_file)
    return hashlib.sha256(_public_pem(key)).hexdigest()


def _hashing():
    """The hashing of the bundle folder: every file but the signature, ``.git*`` paths included."""
    from model_signing import hashing

    return hashing.Config().set_ignored_paths(paths=[SIGNATURE_FILE], ignore_git_paths=False)


def _public_pem(public_key) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def _check_private(path: Path) -> None:
    from cryptography.hazmat.primitives import serialization

    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as err:
        raise UserError(f"{path}: not a readable, unencrypted PEM private key ({err})") from None
    _check_curve(key, path)


def _check_curve(key, path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    if not isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)) or key.curve.name not in (
            "secp256r1", "secp384r1", "secp521r1"):
        raise UserError(f"{path}: not a NIST P-256/384/521 elliptic-curve key (make one with `msmonai keygen`; "
                        "Ed25519 keys of msmonai before bundles 0.5.0 no longer sign)")
