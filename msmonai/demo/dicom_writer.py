"""Write a volume as a classic single-frame MR DICOM series with realistic headers (tests and the demo cohort).

The series carries the identifying attributes a real export has (PatientName, PatientID, PatientBirthDate,
AccessionNumber, InstitutionName) so that privacy tests can check they never leak. UIDs of slices are derived
from the series UID, so the same arguments give the same files.
"""

from __future__ import annotations

import datetime
import hashlib
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.valuerep import DSfloat
from pydicom.uid import (
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    MRImageStorage,
    RLELossless,
    generate_uid,
)

from msmonai.fileio import atomic_path

# ImageOrientationPatient (row cosines, column cosines) of the standard planes, LPS.
ORIENTATION_COSINES = {
    "axial": (1.0, 0.0, 0.0, 0.0, 1.0, 0.0),
    "coronal": (1.0, 0.0, 0.0, 0.0, 0.0, -1.0),
    "sagittal": (0.0, 1.0, 0.0, 0.0, 0.0, -1.0),
}

# Typical acquisition parameters per weighting (times in ms).
WEIGHTING_PRESETS: dict[str, dict[str, Any]] = {
    "T1": {"ScanningSequence": "SE", "SequenceVariant": "NONE", "RepetitionTime": 500.0, "EchoTime": 10.0},
    "T2": {"ScanningSequence": "SE", "SequenceVariant": "SK", "RepetitionTime": 4000.0, "EchoTime": 100.0},
    "FLAIR": {
        "ScanningSequence": ["SE", "IR"], "SequenceVariant": "SK",
        "RepetitionTime": 9000.0, "EchoTime": 120.0, "InversionTime": 2500.0,
    },
    "PD": {"ScanningSequence": "SE", "SequenceVariant": "SK", "RepetitionTime": 3000.0, "EchoTime": 15.0},
    "localizer": {
        "ScanningSequence": "GR", "SequenceVariant": "SP", "RepetitionTime": 8.6, "EchoTime": 4.0,
        "ImageType": ["ORIGINAL", "PRIMARY", "LOCALIZER"],
    },
}

TRANSFER_SYNTAXES = {
    "explicit": ExplicitVRLittleEndian,
    "implicit": ImplicitVRLittleEndian,
    "rle": RLELossless,  # encoded by pydicom itself
    "jpeg2000": JPEG2000Lossless,  # encoded by pylibjpeg-openjpeg
}

JPEG2000_MIN_SIZE = 32  # openjpeg always encodes 6 wavelet resolutions: 2**5 pixels per side at least
_FILE_NAMES = ("uid", "numbered", "no_suffix")


def write_series(
    volume: np.ndarray,
    out_dir: str | os.PathLike,
    *,
    patient_id: str,
    patient_name: str,
    study_uid: str,
    study_date: datetime.date | str,
    series_description: str,
    weighting: str = "T1",
    series_uid: str | None = None,
    series_number: int = 1,
    orientation: str | Sequence[float] = "axial",
    pixel_spacing: tuple[float, float] = (1.0, 1.0),
    slice_thickness: float = 3.0,
    origin: Sequence[float] = (0.0, 0.0, 0.0),
    rescale_slope: float = 1.0,
    rescale_intercept: float = 0.0,
    shuffle_seed: int | None = None,
    misleading_instance_numbers: bool = False,
    transfer_syntax: str = "explicit",
    file_names: str = "uid",
    extra: dict[str, Any] | None = None,
) -> list[Path]:
    """Write ``volume`` as one MR series, one file per slice, and return the paths in slice order.

    Args:
        volume: stored values ``[D, H, W]`` (uint8, uint16 or int16); slice ``d`` lies at
            ``origin + d * slice_thickness * normal``, row ``h`` and column ``w`` follow the orientation cosines.
        out_dir: folder for the files (created).
        patient_id, patient_name, study_uid, study_date: identity of the visit (date as date or "YYYYMMDD").
        series_description: SeriesDescription and ProtocolName.
        weighting: key of WEIGHTING_PRESETS (ScanningSequence, TR, TE, TI, ImageType).
        series_uid: SeriesInstanceUID; derived from study UID, number and description when None.
        series_number: SeriesNumber.
        orientation: "axial", "coronal", "sagittal" or six ImageOrientationPatient cosines.
        pixel_spacing: (row spacing, column spacing) in mm.
        slice_thickness: SliceThickness and the distance between slice centres, mm.
        origin: ImagePositionPatient of slice 0 (LPS mm).
        rescale_slope, rescale_intercept: RescaleSlope / RescaleIntercept (real value = slope * stored + intercept).
        shuffle_seed: when given, files are numbered in a random order unrelated to their position.
        misleading_instance_numbers: InstanceNumber runs opposite to the slice position.
        transfer_syntax: "explicit", "implicit", "rle" or "jpeg2000" (lossless; slices of 32 x 32 or more).
        file_names: "uid" (<SOPInstanceUID>.dcm), "numbered" (IM0001.dcm) or "no_suffix" (IM0001).
        extra: more attributes, keyword -> value, applied last (None deletes the attribute).
    """
    volume = np.asarray(volume)
    if volume.ndim != 3 or volume.dtype not in (np.uint8, np.uint16, np.int16):
        raise ValueError(f"volume must be [D, H, W] uint8/uint16/int16, got {volume.shape} {volume.dtype}")
    if weighting not in WEIGHTING_PRESETS:
        raise ValueError(f"weighting must be one of {sorted(WEIGHTING_PRESETS)}, got {weighting!r}")
    if transfer_syntax not in TRANSFER_SYNTAXES:
        raise ValueError(f"transfer_syntax must be one of {sorted(TRANSFER_SYNTAXES)}, got {transfer_syntax!r}")
    if transfer_syntax == "jpeg2000" and min(volume.shape[1:]) < JPEG2000_MIN_SIZE:
        minimum = f"{JPEG2000_MIN_SIZE}x{JPEG2000_MIN_SIZE}"
        raise ValueError(f"jpeg2000 needs slices of at least {minimum}, got {volume.shape[1:]}")
    if file_names not in _FILE_NAMES:
        raise ValueError(f"file_names must be one of {_FILE_NAMES}, got {file_names!r}")
    iop = ORIENTATION_COSINES[orientation] if isinstance(orientation, str) else tuple(float(v) for v in orientation)
    normal = np.cross(iop[:3], iop[3:])
    series_uid = series_uid or generate_uid(entropy_srcs=[study_uid, str(series_number), series_description])
    date = study_date.strftime("%Y%m%d") if isinstance(study_date, datetime.date) else str(study_date)
    n_slices = volume.shape[0]
    numbers = np.random.default_rng(shuffle_seed).permutation(n_slices) if shuffle_seed is not None else range(n_slices)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    common = {
        "SOPClassUID": MRImageStorage,
        "Modality": "MR",
        "PatientID": patient_id,
        "PatientName": patient_name,
        "PatientBirthDate": "19700101",
        "PatientSex": "O",
        "AccessionNumber": "A" + hashlib.sha256(study_uid.encode()).hexdigest()[:10].upper(),
        "InstitutionName": "msmonai Synthetic Imaging Centre",
        "Manufacturer": "msmonai synthetic",
        "MagneticFieldStrength": 3.0,
        "StudyInstanceUID": study_uid,
        "StudyDate": date,
        "SeriesDate": date,
        "StudyTime": "090000",
        "StudyID": "1",
        "SeriesInstanceUID": series_uid,
        "SeriesNumber": series_number,
        "SeriesDescription": series_description,
        "ProtocolName": series_description,
        "FrameOfReferenceUID": generate_uid(entropy_srcs=[study_uid, "frame of reference"]),
        "ImageType": ["ORIGINAL", "PRIMARY", "M", "ND"],
        "MRAcquisitionType": "2D",
        "ImageOrientationPatient": [_ds(v) for v in iop],
        "PixelSpacing": [_ds(v) for v in pixel_spacing],
        "SliceThickness": _ds(slice_thickness),
        "SpacingBetweenSlices": _ds(slice_thickness),
        "RescaleSlope": _ds(rescale_slope),
        "RescaleIntercept": _ds(rescale_intercept),
        "RescaleType": "US",
        "AcquisitionNumber": 1,
        **WEIGHTING_PRESETS[weighting],
    }
    paths = []
    for d in range(n_slices):
        position = np.asarray(origin, dtype=float) + d * slice_thickness * normal
        ds = _slice_dataset(volume[d], common, transfer_syntax)
        ds.SOPInstanceUID = generate_uid(entropy_srcs=[series_uid, str(d)])
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.InstanceNumber = n_slices - d if misleading_instance_numbers else d + 1
        ds.ImagePositionPatient = [_ds(v) for v in position]
        ds.SliceLocation = _ds(position @ normal)
        for keyword, value in (extra or {}).items():
            if value is None:
                delattr(ds, keyword)
            else:
                setattr(ds, keyword, value)
        name = f"{ds.SOPInstanceUID}.dcm" if file_names == "uid" else f"IM{numbers[d] + 1:04d}"
        name += ".dcm" if file_names == "numbered" else ""
        with atomic_path(out_dir / name) as tmp:
            pydicom.dcmwrite(tmp, ds, enforce_file_format=True)
        paths.append(out_dir / name)
    return paths


def _ds(value: float) -> DSfloat:
    """A decimal string value within the 16 characters DICOM allows (e.g. 1/3 -> "0.33333333333333")."""
    return DSfloat(float(value), auto_format=True)


def _slice_dataset(pixels: np.ndarray, common: dict[str, Any], transfer_syntax: str) -> Dataset:
    """A dataset with the common attributes and ``pixels`` [H, W], encoded in ``transfer_syntax``."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = MRImageStorage
    for keyword, value in common.items():
        setattr(ds, keyword, value)
    ds.set_pixel_data(np.ascontiguousarray(pixels), "MONOCHROME2", bits_stored=pixels.dtype.itemsize * 8)
    syntax = TRANSFER_SYNTAXES[transfer_syntax]
    if syntax.is_compressed:
        ds.compress(syntax)
    else:
        ds.file_meta.TransferSyntaxUID = syntax
    return ds
