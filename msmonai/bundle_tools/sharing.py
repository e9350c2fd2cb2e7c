"""Sharing a trained bundle between hospitals: export to a zip with SHA-256 sums, and verification on receipt.

The zip holds one folder named after the bundle with ``configs/``, ``docs/``, ``LICENSE``, ``large_files.yml``
(if any), ``models/model.pt`` (weights only), ``models/model.ts`` (TorchScript from MONAI's ``ckpt_export``),
``models/model.pt2`` and ``models/model.onnx`` (:mod:`msmonai.bundle_tools.portable_export`), ``meta_schema.json``
(so metadata is checked offline), ``SHA256SUMS`` in ``sha256sum`` format (a receiver can also run
``sha256sum -c SHA256SUMS`` in the extracted folder) and, when signed, ``model.sig``, an OpenSSF model signature
of every file (:mod:`msmonai.bundle_tools.signing`). Verification checks the signature against keys the receiver
trusts, the sums, the metadata, the weights and the configs (:mod:`msmonai.bundle_tools.audit`) before anything
runs. ``model.pt2`` is trusted through the signature only: ``torch.export.load`` may unpickle its constants.
Nothing else of the bundle folder is shared: ``eval/``, ``logs/``, caches and datalists may hold patient-derived
data.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path, PurePosixPath
from typing import Iterator, Sequence

from msmonai.bundle_tools import contract
from msmonai.bundle_tools.audit import Finding, audit_configs
from msmonai.bundle_tools.layout import (EXPORTED_PROGRAM, METADATA, MODEL, ONNX_MODEL, SHARED_DIRS, SHARED_FILES,
                                         TORCHSCRIPT, TRAIN_CONFIG, bundle_folder, bundle_identity,
                                         shareable_files)
from msmonai.bundle_tools.signing import SIGNATURE_FILE, check_signature, sign_folder
from msmonai.errors import UserError
from msmonai.fileio import atomic_path, sha256_of

SUMS_FILE = "SHA256SUMS"
SCHEMA_FILE = "meta_schema.json"
MODEL_FILES = (MODEL, TORCHSCRIPT, EXPORTED_PROGRAM, ONNX_MODEL)
CODE_SUFFIXES = (".py", ".pyc", ".pyd", ".so", ".dll", ".dylib", ".pth", ".pkl", ".pickle", ".sh")
_SUMS_LINE = re.compile(r"^([0-9a-f]{64}) [ *](.+)$")
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed member dates: the same bundle gives the same zip


def export_bundle(
    bundle_dir: str | os.PathLike,
    out_zip: str | os.PathLike,
    spatial_size: Sequence[int] | None = None,
    sign_key: str | os.PathLike | None = None,
    model: str | os.PathLike | None = None,
) -> Path:
    """Write the shareable zip of a trained bundle to ``out_zip`` (atomically) and return its path.

    The zip's ``models/model.ts`` is built from the weights with ``monai.bundle.ckpt_export`` and the bundle's
    ``configs/train.json``, overriding ``pretrained`` to False so no ImageNet file is needed, and ``models/model.pt2``
    and ``models/model.onnx`` from the same network, each checked against it; the bundle folder itself is not
    changed. The metadata must validate against the schema shipped in the package (:func:`metadata_schema`); the
    bundle folder may lie anywhere.

    Args:
        bundle_dir: the bundle folder (``configs/metadata.json`` inside).
        out_zip: the zip to write.
        spatial_size: the ``spatial_size`` the weights were trained with, when not the config's default.
        sign_key: PEM private key (``msmonai keygen``) that signs every file into ``model.sig``.
        model: the weights to share (a training run with ``--bundle_root`` elsewhere writes them there); default
            the bundle's ``models/model.pt``.
    """
    import torch

    from msmonai.engine.checkpoints import load_checkpoint

    bundle = bundle_folder(bundle_dir)
    model_pt = Path(model).resolve() if model is not None else bundle / MODEL
    if not model_pt.is_file():
        raise UserError(f"{model_pt}: missing; train first (python -m monai.bundle run --config_file "
                        "configs/train.json ...) so that the best weights are saved there, or give the path of the weights")
    state = load_checkpoint(model_pt)
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise UserError(f"{model_pt}: not a plain state_dict of network_def (the resumable last.pt cannot be shared)")
    schema = metadata_schema()
    _verify_metadata(bundle / METADATA, schema)
    with tempfile.TemporaryDirectory(prefix="msmonai-export-") as scratch:
        torchscript = Path(scratch, "model.ts")
        _export_torchscript(bundle, model_pt, torchscript, spatial_size)
        pt2, onnx_file = _export_portable(bundle, model_pt, state, Path(scratch), spatial_size)
        files = {rel: bundle / rel for rel in shareable_files(bundle)}
        code = [rel for rel in files if not _shareable(rel)]
        if code:
            raise UserError(f"{bundle / code[0]}: a code file in a shared folder; receivers refuse bundles with code "
                            "files, move it out of the bundle")
        files.update({MODEL: model_pt, TORCHSCRIPT: torchscript, EXPORTED_PROGRAM: pt2, ONNX_MODEL: onnx_file,
                      SCHEMA_FILE: schema})
        name = bundle_identity(bundle)["bundle"]  # a training run's folder travels under its bundle's name
        shared = Path(scratch, "shared", name)  # the folder as the receiver will extract it
        for rel, source in files.items():
            (shared / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, shared / rel)
        (shared / SUMS_FILE).write_text("".join(f"{sha256_of(files[rel])}  {rel}\n" for rel in sorted(files)),
                                        encoding="utf-8")
        if sign_key is not None:
            sign_folder(shared, sign_key)
        with atomic_path(out_zip) as tmp, zipfile.ZipFile(tmp, "w") as zf:
            for rel in sorted(_regular_files(shared, shared)):
                zf.writestr(_zip_info(f"{name}/{rel}"), (shared / rel).read_bytes())
    return Path(out_zip)


@dataclass(frozen=True)
class Verification:
    """What ``verify_bundle`` established: the files checked, the signer (None: authenticity not checked) and the
    config audit's findings (refused ones only when ``allow_code`` let them through)."""

    files: list[str]
    signer: str | None
    findings: list[Finding]


def verify_bundle(
    path: str | os.PathLike, trusted_keys: Sequence[str | os.PathLike] = (), allow_code: bool = False
) -> Verification:
    """Check an exported bundle (its zip or extracted folder) before anything of it runs.

    Refuses, naming the first offending file: unsafe zip member names (absolute or ``..``), symbolic links; with
    ``trusted_keys``, a missing, unreadable, untrusted or non-matching ``model.sig``; files missing from or not
    listed in ``SHA256SUMS``, files whose SHA-256 differs, ``configs/metadata.json`` failing
    ``monai.bundle verify_metadata`` against this package's schema, a ``models/model.pt`` that does
    not load with ``torch.load(weights_only=True)``, and (unless ``allow_code``) any config component or
    expression the audit of :mod:`msmonai.bundle_tools.audit` refuses.
    """
    path = Path(path)
    if path.is_dir():
        return _verify_folder(path, path, trusted_keys, allow_code)
    with tempfile.TemporaryDirectory(prefix="msmonai-verify-") as tmp:
        return unpack_verified(path, tmp, trusted_keys, allow_code)[1]


def unpack_verified(
    zip_path: str | os.PathLike, into: str | os.PathLike, trusted_keys: Sequence[str | os.PathLike] = (),
    allow_code: bool = False,
) -> tuple[Path, Verification]:
    """Extract a received bundle zip into the folder ``into`` and verify the extracted files themselves (what runs is
    what was checked); returns the bundle folder and the :class:`Verification`. Raises as :func:`verify_bundle`."""
    zip_path, into = Path(zip_path), Path(into)
    if not zipfile.is_zipfile(zip_path):
        raise UserError(f"{zip_path}: neither a bundle folder nor a zip file")
    with zipfile.ZipFile(zip_path) as zf:
        folder, members = _safe_members(zip_path, zf)
        if (into / folder).exists():
            raise UserError(f"{into / folder}: already exists; unpack a received bundle into an empty folder")
        zf.extractall(into, members=members)
    root = into / folder
    return root, _verify_folder(root, zip_path, trusted_keys, allow_code)


@contextlib.contextmanager
def received_bundle(
    path: str | os.PathLike, trusted_keys: Sequence[str | os.PathLike] = (), allow_code: bool = False
) -> Iterator[tuple[Path, Verification | None]]:
    """The bundle folder to run for ``path``: a bundle zip is unpacked into a temporary folder and verified there
    first (:func:`unpack_verified`; refused bundles never run), a folder is this site's own and used as it is
    (``trusted_keys`` then make no sense and are refused). Yields the folder and the verification (None: a folder)."""
    path = Path(path)
    if path.is_dir():
        if trusted_keys:
            raise UserError(f"{path}: a bundle folder is this site's own; trusted keys check received bundle zips")
        yield path, None
        return
    with tempfile.TemporaryDirectory(prefix="msmonai-bundle-") as tmp:
        yield unpack_verified(path, tmp, trusted_keys, allow_code)


def _verify_folder(root: Path, path: Path, trusted_keys: Sequence[str | os.PathLike], allow_code: bool) -> Verification:
    """:func:`verify_bundle` on the folder ``root`` of the bundle the user knows as ``path``."""
    from msmonai.engine.checkpoints import load_checkpoint

    sums_file = root / SUMS_FILE
    if not sums_file.is_file():
        raise UserError(f"{path}: {SUMS_FILE} missing; not a bundle written by `msmonai export-bundle`")
    present = _regular_files(root, path)
    signer = check_signature(root, trusted_keys, str(path)) if trusted_keys else None
    listed = _read_sums(sums_file, path)
    present -= {SUMS_FILE, SIGNATURE_FILE}
    for rel in sorted(listed.keys() | present):
        if rel not in present:
            raise UserError(f"{path}: {rel} is listed in {SUMS_FILE} but missing")
        if rel not in listed:
            raise UserError(f"{path}: {rel} is not listed in {SUMS_FILE} (extra file)")
        if sha256_of(root / rel) != listed[rel]:
            raise UserError(f"{path}: {rel} does not match its SHA-256 in {SUMS_FILE} (tampered or corrupted)")
    for rel in sorted(present):
        if not _shareable(rel):
            raise UserError(f"{path}: refused, {rel} is not part of a shared bundle (only configs/, docs/, "
                            f"{', '.join(SHARED_FILES + MODEL_FILES)} and {SCHEMA_FILE}, never code files)")
    for required in (METADATA, SCHEMA_FILE, MODEL):
        if required not in present:
            raise UserError(f"{path}: {required} missing from the bundle")
    try:
        _verify_metadata(root / METADATA, metadata_schema())  # this site's schema, not the sender's
        load_checkpoint(root / MODEL)
    except UserError as err:  # name the file as the user knows it, not inside the extraction folder
        raise UserError(str(err).replace(f"{root}{os.sep}", f"{path}: ")) from err
    findings = audit_configs(root / "configs")
    refused = [f for f in findings if f.problem]
    if refused and not allow_code:
        first = refused[0]
        raise UserError(f"{path}: refused, {first.file} id {first.id!r}: {first.problem} ({first.text[:120]!r}); "
                        f"{len(refused)} refused in all (verify-bundle lists them; --allow-code runs them anyway)")
    return Verification(sorted(present), signer, findings)


def _shareable(rel: str) -> bool:
    """Whether a bundle-relative path belongs to what ``export_bundle`` shares. Python files, libraries and pickles
    are refused anywhere: run from the bundle folder, a ``msmonai/`` or ``torch/`` folder there would shadow the
    installed package that the configs import."""
    if PurePosixPath(rel).suffix in CODE_SUFFIXES:
        return False
    return rel.split("/", 1)[0] in SHARED_DIRS or rel in (*SHARED_FILES, *MODEL_FILES, SCHEMA_FILE)


def metadata_schema() -> Path:
    """The bundle metadata schema shipped inside the package (its one copy; the zip carries it as ``meta_schema.json``
    for receivers without msmonai): MONAI's meta_schema_20240725 requirements plus this project's."""
    return Path(str(files("msmonai").joinpath("schemas", "bundle_metadata.schema.json")))


def _network_overrides(bundle: Path, spatial_size: Sequence[int] | None) -> dict:
    """Config overrides that build the bundle's ``network_def`` as trained, without the ImageNet file."""
    overrides = {contract.BUNDLE_ROOT: str(bundle), contract.PRETRAINED: False}  # read by the 2D bundle only
    if spatial_size is not None:
        overrides[contract.SPATIAL_SIZE] = list(spatial_size)
    return overrides


def _export_torchscript(bundle: Path, model_pt: Path, target: Path, spatial_size: Sequence[int] | None) -> None:
    """Write ``target``: TorchScript of the bundle's ``network_def`` with the weights of ``model_pt``."""
    from monai.bundle import ckpt_export

    from msmonai.engine.checkpoints import weights_that_fit

    with weights_that_fit(model_pt):
        ckpt_export(net_id=contract.NETWORK_DEF, filepath=str(target), ckpt_file=str(model_pt),
                    meta_file=str(bundle / METADATA), config_file=str(bundle / TRAIN_CONFIG),
                    **_network_overrides(bundle, spatial_size))


def _export_portable(bundle: Path, model_pt: Path, state: dict, scratch: Path,
                     spatial_size: Sequence[int] | None) -> tuple[Path, Path]:
    """Write ``model.pt2`` and ``model.onnx`` of the bundle's ``network_def`` with ``state`` into ``scratch``."""
    from msmonai.bundle_tools.portable_export import export_portable
    from msmonai.engine.checkpoints import weights_that_fit

    parser = contract.read_config(bundle, contract.TRAIN, overrides=_network_overrides(bundle, spatial_size))
    network = parser.get_parsed_content(contract.NETWORK_DEF)
    with weights_that_fit(model_pt):
        network.load_state_dict(state)
    pt2, onnx_file = scratch / "model.pt2", scratch / "model.onnx"
    export_portable(network, pt2, onnx_file)
    return pt2, onnx_file


def _verify_metadata(metadata: Path, schema: Path) -> None:
    """``monai.bundle.verify_metadata`` against a local schema file (no download), as a one-line UserError."""
    from monai.bundle import verify_metadata

    try:  # the schema's own hash is given so MONAI accepts the local copy without a download warning
        verify_metadata(meta_file=str(metadata), filepath=str(schema), hash_val=sha256_of(schema), hash_type="sha256")
    except ValueError as err:
        raise UserError(f"{metadata}: invalid bundle metadata: {' '.join(str(err).split())}") from err


def _safe_members(zip_path: Path, zf: zipfile.ZipFile) -> tuple[str, list[zipfile.ZipInfo]]:
    """The zip's single top folder and its file members; refuses absolute, ``..`` and duplicated names."""
    members = [m for m in zf.infolist() if not m.is_dir()]
    seen: set[str] = set()
    for member in members:
        name = member.filename
        parts = PurePosixPath(name).parts
        if name.startswith("/") or "\\" in name or ".." in parts or ":" in parts[0]:
            raise UserError(f"{zip_path}: refused, unsafe member name {name!r} (absolute or '..')")
        if name in seen:
            raise UserError(f"{zip_path}: refused, member {name!r} appears twice")
        seen.add(name)
    tops = {PurePosixPath(name).parts[0] for name in seen}
    if len(tops) != 1 or any(len(PurePosixPath(name).parts) < 2 for name in seen):
        raise UserError(f"{zip_path}: must hold exactly one bundle folder, found {sorted(tops)}")
    return tops.pop(), members


def _regular_files(root: Path, shown: Path) -> set[str]:
    """Root-relative POSIX paths of all files under ``root``; a symbolic link is refused (named via ``shown``)."""
    found = set()
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            entry = Path(dirpath, name)
            rel = entry.relative_to(root).as_posix()
            if entry.is_symlink():
                raise UserError(f"{shown}: refused, {rel} is a symbolic link")
            if name in filenames:
                found.add(rel)
    return found


def _read_sums(sums_file: Path, shown: Path) -> dict[str, str]:
    """``{path: sha256}`` from a ``sha256sum``-format file; malformed or repeated lines are refused."""
    listed: dict[str, str] = {}
    for number, line in enumerate(sums_file.read_text(encoding="utf-8").splitlines(), start=1):
        match = _SUMS_LINE.match(line)
        if match is None or match.group(2) in listed:
            raise UserError(f"{shown}: {SUMS_FILE} line {number} is malformed or repeated: {line[:120]!r}")
        listed[match.group(2)] = match.group(1)
    return listed


def _zip_info(name: str) -> zipfile.ZipInfo:
    """A member with a fixed date; weights are stored as they are (float bytes barely deflate, and slowly)."""
    info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
    info.compress_type = zipfile.ZIP_STORED if "/models/" in name else zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info

