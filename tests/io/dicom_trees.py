"""Builders of DICOM archives for the ingestion tests: good series, and every kind of messy input.

Imported as ``tests.io.dicom_trees`` (like ``tests.cohort``): a conftest.py name is ambiguous across test folders.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import zipfile
from pathlib import Path
from typing import Callable

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.pixels import get_decoder
from pydicom.uid import (
    JPEG2000MC,
    MPEG2MPML,
    BasicTextSRStorage,
    CTImageStorage,
    EnhancedMRImageStorage,
    ExplicitVRLittleEndian,
    GrayscaleSoftcopyPresentationStateStorage,
    JPEG2000MCLossless,
    MediaStorageDirectoryStorage,
    RTPlanStorage,
    SecondaryCaptureImageStorage,
    generate_uid,
)

from msmonai.demo.dicom_writer import write_series
from msmonai.io import ScanResult, scan_dicom

IDENTITY = dict(
    patient_id="PAT-0001", patient_name="Testperson^Anna", study_uid="1.2.826.0.1.3680043.10.1234.1",
    study_date="20210315",
)
UNPRIVILEGED_UID = 65534  # "nobody": root reads any file, so permission tests drop to this user


def volume(n_slices: int, size: int = 8, seed: int = 0, high: int = 4000) -> np.ndarray:
    """Random stored values ``[n_slices, size, size]`` uint16 in [0, high)."""
    return np.random.default_rng(seed).integers(0, high, (n_slices, size, size)).astype(np.uint16)


def write(root: Path, folder: str, n_slices: int = 4, **kwargs) -> list[Path]:
    """A series of ``n_slices`` random 8x8 slices in ``root/folder`` (T1 SE of IDENTITY unless overridden)."""
    size = kwargs.pop("size", 8)
    arguments = {**IDENTITY, "series_description": "T1 SE", **kwargs}
    return write_series(volume(n_slices, size, seed=n_slices), root / folder, **arguments)


def set_attributes(path: Path, **attributes) -> None:
    """Rewrite a DICOM file with some attributes changed (None deletes)."""
    ds = pydicom.dcmread(path)
    for keyword, value in attributes.items():
        if value is None:
            delattr(ds, keyword)
        else:
            setattr(ds, keyword, value)
    ds.save_as(path, enforce_file_format=True)


def renew_sop_uids(paths: list[Path]) -> None:
    """Give each file a new SOPInstanceUID (a different instance, not a copy)."""
    for path in paths:
        set_attributes(path, SOPInstanceUID=generate_uid())


def save_dataset(path: Path, ds: Dataset, sop_class: str) -> Path:
    """Save a hand-built dataset as a DICOM Part 10 file."""
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    path.parent.mkdir(parents=True, exist_ok=True)
    pydicom.dcmwrite(path, ds, enforce_file_format=True)
    return path


def non_image(path: Path, sop_class: str, modality: str) -> Path:
    """A DICOM object of the patient without pixel data (SR, RT plan, presentation state)."""
    ds = Dataset()
    ds.Modality = modality
    ds.PatientID = IDENTITY["patient_id"]
    ds.StudyInstanceUID = IDENTITY["study_uid"]
    ds.SeriesInstanceUID = generate_uid()
    return save_dataset(path, ds, sop_class)


def rgb_secondary_capture(path: Path) -> Path:
    """A colour screenshot stored as Secondary Capture, modality OT."""
    ds = Dataset()
    ds.Modality = "OT"
    ds.PatientID = IDENTITY["patient_id"]
    ds.StudyInstanceUID = IDENTITY["study_uid"]
    ds.SeriesInstanceUID = generate_uid()
    ds.set_pixel_data(np.zeros((8, 8, 3), np.uint8), "RGB", 8)
    return save_dataset(path, ds, SecondaryCaptureImageStorage)


def enhanced_multiframe_mr(path: Path) -> Path:
    """An Enhanced MR object: four frames in one file."""
    ds = Dataset()
    ds.Modality = "MR"
    ds.PatientID = IDENTITY["patient_id"]
    ds.StudyInstanceUID = IDENTITY["study_uid"]
    ds.SeriesInstanceUID = generate_uid()
    ds.set_pixel_data(volume(4), "MONOCHROME2", 16)
    return save_dataset(path, ds, EnhancedMRImageStorage)


def undecodable_syntax() -> pydicom.uid.UID:
    """A transfer syntax that no installed pydicom plugin can decode."""
    for syntax in (JPEG2000MCLossless, JPEG2000MC, MPEG2MPML):
        try:
            if not get_decoder(syntax).is_available:
                return syntax
        except NotImplementedError:
            return syntax
    pytest.skip("every candidate transfer syntax has a decoder here")


def recode_without_decoder(path: Path) -> pydicom.uid.UID:
    """Re-label a slice's pixel data as encapsulated in a syntax without decoder; return the syntax."""
    syntax = undecodable_syntax()
    ds = pydicom.dcmread(path)
    ds.PixelData = encapsulate([b"\xff\x4f\xff\x51" + bytes(60)])
    ds.file_meta.TransferSyntaxUID = syntax
    ds.SOPInstanceUID = generate_uid()
    ds.save_as(path, enforce_file_format=True)
    return syntax


def truncate(path: Path, keep: int | None = None) -> Path:
    """Cut the file to ``keep`` bytes (default: half of it)."""
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2 if keep is None else keep])
    return path


def copy_as_new_instance(source: Path, target: Path) -> Path:
    """A copy of ``source`` under a new SOPInstanceUID (so it is not a duplicate of the original)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(source, target)
    renew_sop_uids([target])
    return target


# Each builder adds one kind of bad input next to the good T1 series in root/"good" and returns
# [(path relative to root, fragment of the expected reason), ...] for every file it made unusable.
def _zero_byte(root: Path):
    (root / "junk").mkdir()
    (root / "junk" / "empty.dcm").touch()
    return [("junk/empty.dcm", "empty file")]


def _truncated(root: Path):
    native = write(root, "cut", 2, size=64, series_description="T1 big", series_number=8)
    truncate(native[0])
    rle = write(root, "rle", 2, series_description="T1 RLE", transfer_syntax="rle", series_number=9)
    truncate(rle[0], keep=len(rle[0].read_bytes()) - 40)
    header = truncate(copy_as_new_instance(native[1], root / "cut" / "header.dcm"), keep=140)
    return [
        (native[0].relative_to(root).as_posix(), "truncated file: pixel data needs 8192 bytes, only"),
        (native[1].relative_to(root).as_posix(), "only 1 slice"),
        (rle[0].relative_to(root).as_posix(), "truncated file: no complete pixel data (MR Image Storage)"),
        (rle[1].relative_to(root).as_posix(), "only 1 slice"),
        (header.relative_to(root).as_posix(), "truncated file: no SOP class"),
    ]


def _non_dicom(root: Path):
    import matplotlib.pyplot as plt

    (root / "other").mkdir()
    (root / "other" / "README.txt").write_text("exported by PACS\n")
    plt.imsave(root / "other" / "screenshot.png", np.zeros((4, 4)))
    with zipfile.ZipFile(root / "other" / "archive.zip", "w") as archive:
        archive.writestr("a.txt", "x")
    return [(f"other/{name}", "not a DICOM file") for name in ("README.txt", "screenshot.png", "archive.zip")]


def _no_pixel_data(root: Path):
    non_image(root / "sr" / "report", BasicTextSRStorage, "SR")
    non_image(root / "sr" / "plan.dcm", RTPlanStorage, "RTPLAN")
    non_image(root / "sr" / "ps.dcm", GrayscaleSoftcopyPresentationStateStorage, "PR")
    return [
        ("sr/report", "no pixel data (Basic Text SR Storage)"),
        ("sr/plan.dcm", "no pixel data (RT Plan Storage)"),
        ("sr/ps.dcm", "no pixel data (Grayscale Softcopy Presentation State Storage)"),
    ]


def _ct(root: Path):
    paths = write(root, "ct", 3, series_description="CT head", extra={"Modality": "CT", "SOPClassUID": CTImageStorage})
    return [(p.relative_to(root).as_posix(), "not an MR image: modality CT") for p in paths]


def _rgb_secondary_capture(root: Path):
    rgb_secondary_capture(root / "sc" / "shot.dcm")
    return [("sc/shot.dcm", "not an MR image: modality OT (Secondary Capture Image Storage, RGB)")]


def _single_slice(root: Path):
    paths = write(root, "single", 1, series_description="T1 one slice", series_number=7)
    return [(paths[0].relative_to(root).as_posix(), "only 1 slice")]


def _mixed_orientations(root: Path):
    axial = write(root, "mixed", 2, series_description="T1 mixed", series_uid="1.2.3.999.1")
    sagittal = write(root, "mixed2", 2, series_description="T1 mixed", series_uid="1.2.3.999.1", orientation="sagittal")
    renew_sop_uids(sagittal)
    return [(p.relative_to(root).as_posix(), "mixed orientations (axial, sagittal)") for p in axial + sagittal]


def _duplicate_positions(root: Path):
    first = write(root, "echo1", 3, series_description="T1 echoes", series_uid="1.2.3.999.2")
    second = write(root, "echo2", 3, series_description="T1 echoes", series_uid="1.2.3.999.2")
    renew_sop_uids(second)
    return [(p.relative_to(root).as_posix(), "duplicate slice positions") for p in first + second]


def _duplicated_file(root: Path):
    good = sorted((root / "good").iterdir())[0]
    (root / "zz copy").mkdir()
    shutil.copy(good, root / "zz copy" / good.name)
    return [(f"zz copy/{good.name}", f"duplicate of good/{good.name} (same SOPInstanceUID)")]


def _missing_decoder(root: Path):
    good = sorted((root / "good").iterdir())[0]
    target = root / "j2kmc" / "slice.dcm"
    target.parent.mkdir()
    shutil.copy(good, target)
    syntax = recode_without_decoder(target)
    return [("j2kmc/slice.dcm", f"cannot decode transfer syntax {syntax.name} ({syntax})")]


def _enhanced_mr(root: Path):
    enhanced_multiframe_mr(root / "enh" / "multiframe.dcm")
    return [("enh/multiframe.dcm", "enhanced multi-frame MR (4 frames, Enhanced MR Image Storage) is not supported")]


def _invalid_number_of_frames(root: Path):
    paths = write(root, "frames", 2, series_description="T1 odd export", series_uid="1.2.3.999.4")
    for path, value in zip(paths, (b"abc ", b"1\\2 ")):  # not a number; two values
        set_attributes(path, NumberOfFrames="1")
        ds = pydicom.dcmread(path)  # its raw element, whose bytes are then replaced
        ds[0x00280008] = ds.get_item(0x00280008)._replace(value=value, length=len(value))
        ds.save_as(path, enforce_file_format=True)
    return [(paths[0].relative_to(root).as_posix(), "invalid NumberOfFrames 'abc'"),
            (paths[1].relative_to(root).as_posix(), "invalid NumberOfFrames '1\\2'")]


def _invalid_unsigned_values(root: Path):
    paths = write(root, "counts", 2, series_description="T1 odd export", series_uid="1.2.3.999.5")
    for path, tag in zip(paths, (0x00280010, 0x00280002)):  # Rows, SamplesPerPixel: two values in 4 bytes
        ds = pydicom.dcmread(path)
        ds[tag] = ds.get_item(tag)._replace(value=b"\x02\x00\x03\x00", length=4)
        ds.save_as(path, enforce_file_format=True)
    return [(paths[0].relative_to(root).as_posix(), "invalid Rows: Rows holds 4 bytes"),
            (paths[1].relative_to(root).as_posix(), "invalid SamplesPerPixel: SamplesPerPixel holds 4 bytes")]


def _study_without_t1(root: Path):
    write(root, "visit2", 3, series_description="T2 TSE", weighting="T2", study_uid="1.2.3.999.3")
    return [("visit2", "study 1.2.3.999.3: no T1 series (found T2 'T2 TSE')")]


def _symlinks(root: Path):
    (root / "links").mkdir()
    os.symlink("..", root / "links" / "up")  # loop back to the root
    os.symlink("self", root / "links" / "self")  # a link to itself
    os.symlink("nowhere.dcm", root / "links" / "dangling")
    return [
        ("links/up", "symlink loop: points back to '.', not followed"),
        ("links/self", "symlink loop"),
        ("links/dangling", "broken symlink to nowhere.dcm"),
    ]


def _fifo(root: Path):
    os.mkfifo(root / "pipe")
    return [("pipe", "not a regular file")]


def _dicomdir(root: Path):
    ds = Dataset()
    ds.FileSetID = "EXPORT"
    ds.DirectoryRecordSequence = []
    save_dataset(root / "DICOMDIR", ds, MediaStorageDirectoryStorage)
    return [("DICOMDIR", "DICOMDIR index, not an image")]


BAD_INPUTS: dict[str, Callable[[Path], list[tuple[str, str]]]] = {
    "zero_byte": _zero_byte,
    "truncated": _truncated,
    "non_dicom": _non_dicom,
    "no_pixel_data": _no_pixel_data,
    "ct": _ct,
    "rgb_secondary_capture": _rgb_secondary_capture,
    "single_slice": _single_slice,
    "mixed_orientations": _mixed_orientations,
    "duplicate_positions": _duplicate_positions,
    "duplicated_file": _duplicated_file,
    "missing_decoder": _missing_decoder,
    "enhanced_multiframe_mr": _enhanced_mr,
    "invalid_number_of_frames": _invalid_number_of_frames,
    "invalid_unsigned_values": _invalid_unsigned_values,
    "study_without_t1": _study_without_t1,
    "symlinks": _symlinks,
    "fifo": _fifo,
    "dicomdir": _dicomdir,
}


def scan_unprivileged(root: Path) -> ScanResult:
    """``scan_dicom(root)`` as an ordinary user: in a child process that drops root privileges if needed."""
    if os.geteuid() != 0:
        return scan_dicom(root)
    context = multiprocessing.get_context("fork")
    parent, child = context.Pipe(duplex=False)
    process = context.Process(target=_scan_as_nobody, args=(root, child))
    process.start()
    result = parent.recv()
    process.join()
    if isinstance(result, BaseException):
        raise result
    return result


def _scan_as_nobody(root: Path, connection) -> None:
    try:
        os.setgid(UNPRIVILEGED_UID)
        os.setuid(UNPRIVILEGED_UID)
        connection.send(scan_dicom(root))
    except BaseException as err:  # handed to the parent, which raises it
        connection.send(err)
