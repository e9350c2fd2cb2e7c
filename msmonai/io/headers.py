"""One DICOM file's header -> a :class:`SliceHeader`, or :class:`UnusableFile` with a one-line reason.

Scanning reads headers only: ``pydicom.dcmread(defer_size=...)`` parses every element but leaves large values
(the pixel data) on disk, which also tells where the pixel data ends, so truncated files are caught without
decoding anything. The checks, the geometry, the codes and the times read raw element bytes
(:mod:`msmonai.io.elements`); only the LO strings (patient ID, descriptions) go through pydicom's conversion, for
their character set. The reader, which needs only a :class:`SlicePlacement`, converts nothing else.
"""

from __future__ import annotations

import datetime
import sys
from dataclasses import dataclass
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.pixels import get_decoder
from pydicom.uid import UID

from msmonai.io.classify import Acquisition
from msmonai.io.elements import codes, numbers, optional_integer, optional_number, text, unsigned

HEADER_DEFER_BYTES = 1024  # element values larger than this stay on disk while scanning
PIXEL_DATA_TAG = 0x7FE00010
_UNDEFINED_LENGTH = 0xFFFFFFFF
_DICOMDIR_CLASS = "1.2.840.10008.1.3.10"
_MULTIFRAME_MR_CLASSES = {
    "1.2.840.10008.5.1.4.1.1.4.1",  # Enhanced MR Image Storage
    "1.2.840.10008.5.1.4.1.1.4.3",  # Enhanced MR Color Image Storage
    "1.2.840.10008.5.1.4.1.1.4.4",  # Legacy Converted Enhanced MR Image Storage
}
_REQUIRED_STRINGS = (
    "PatientID", "StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID",
    "ImageOrientationPatient", "ImagePositionPatient", "PixelSpacing",
)
_REQUIRED_NUMBERS = ("Rows", "Columns")


class UnusableFile(Exception):
    """The file cannot be used as an MR slice; the message is the one-line reason (without the path)."""


@dataclass(frozen=True)
class SlicePlacement:
    """Where one single-frame MR slice belongs: its series and what stacking it into a volume needs."""

    path: Path
    series_uid: str
    iop: tuple[float, ...]  # ImageOrientationPatient, 6 values
    ipp: tuple[float, ...]  # ImagePositionPatient, 3 values (mm)
    pixel_spacing: tuple[float, ...]  # (row spacing, column spacing) mm
    shape: tuple[int, int]  # (Rows, Columns)


@dataclass(frozen=True)
class SliceHeader(SlicePlacement):
    """A slice's placement plus what grouping, classification and the T1 choice need."""

    patient_id: str
    study_uid: str
    study_date: datetime.date | None
    series_number: int | None
    sop_uid: str
    acquisition: Acquisition


def read_header(path: Path) -> SliceHeader:
    """Read and check the header of ``path`` without its pixel data.

    Raises:
        UnusableFile: empty, unreadable, not DICOM, truncated, or not a usable MR slice (see ``check_dataset``).
    """
    ds = open_dataset(path, headers_only=True)
    pixels = ds.get_item(PIXEL_DATA_TAG, keep_deferred=True)
    if pixels is not None and pixels.length != _UNDEFINED_LENGTH:
        present = path.stat().st_size - pixels.value_tell
        if present < pixels.length:
            raise UnusableFile(f"truncated file: pixel data needs {pixels.length} bytes, only {present} present")
    return header_from_dataset(ds, path)


def open_dataset(path: Path, headers_only: bool) -> Dataset:
    """``pydicom.dcmread`` with every failure turned into :class:`UnusableFile`.

    Args:
        path: the file.
        headers_only: leave values larger than HEADER_DEFER_BYTES (the pixel data) on disk.
    """
    try:
        if path.stat().st_size == 0:
            raise UnusableFile("empty file (0 bytes)")
        return pydicom.dcmread(path, defer_size=HEADER_DEFER_BYTES if headers_only else None)
    except InvalidDicomError:
        raise UnusableFile("not a DICOM file (no DICM preamble)") from None
    except PermissionError:
        raise UnusableFile("permission denied") from None
    except OSError as err:
        raise UnusableFile(f"unreadable: {err.strerror or err}") from None
    except (ValueError, TypeError, EOFError, KeyError, AttributeError) as err:
        raise UnusableFile(f"corrupt DICOM header: {one_line(err)}") from None


def placement_from_dataset(ds: Dataset, path: Path, pixels_elsewhere: bool = False) -> SlicePlacement:
    """Check that ``ds`` is a decodable single-frame grayscale MR slice and extract its :class:`SlicePlacement`.

    ``pixels_elsewhere``: ``ds`` is header metadata whose pixel data stays in an archive (a DICOMweb
    ``/metadata`` response): the pixel data and transfer syntax checks wait for the retrieved file.

    Raises:
        UnusableFile: DICOMDIR, no pixel data (SR, RT plan, presentation state) or truncated pixel data,
            non-MR modality, enhanced multi-frame MR or an invalid NumberOfFrames, colour image, no decoder for
            the transfer syntax, or missing or invalid identifying/geometry attributes.
    """
    check_dataset(ds, pixels_elsewhere)
    try:
        return SlicePlacement(
            path=path,
            series_uid=sys.intern(text(ds, "SeriesInstanceUID")),
            iop=numbers(ds, "ImageOrientationPatient"),
            ipp=numbers(ds, "ImagePositionPatient"),
            pixel_spacing=numbers(ds, "PixelSpacing"),
            shape=(unsigned(ds, "Rows"), unsigned(ds, "Columns")),
        )
    except (ValueError, TypeError) as err:
        raise UnusableFile(f"invalid geometry attribute: {one_line(err)}") from None


def header_from_dataset(ds: Dataset, path: Path, pixels_elsewhere: bool = False) -> SliceHeader:
    """Check ``ds`` like :func:`placement_from_dataset` and extract its full :class:`SliceHeader`.

    Raises:
        UnusableFile: as :func:`placement_from_dataset`.
    """
    placement = placement_from_dataset(ds, path, pixels_elsewhere)
    return SliceHeader(
        **vars(placement),
        patient_id=sys.intern(str(ds.PatientID).strip()),  # the LO values go through pydicom, for their character set
        study_uid=sys.intern(text(ds, "StudyInstanceUID")),
        study_date=_parse_date(text(ds, "StudyDate")),
        series_number=optional_integer(ds, "SeriesNumber"),
        sop_uid=text(ds, "SOPInstanceUID"),
        acquisition=Acquisition(
            description=str(ds.get("SeriesDescription", "") or ""),
            protocol=str(ds.get("ProtocolName", "") or ""),
            image_type=codes(ds, "ImageType"),
            scanning_sequence=codes(ds, "ScanningSequence"),
            sequence_variant=codes(ds, "SequenceVariant"),
            tr=optional_number(ds, "RepetitionTime"),
            te=optional_number(ds, "EchoTime"),
            ti=optional_number(ds, "InversionTime"),
            contrast_agent=str(ds.get("ContrastBolusAgent", "") or ""),
        ),
    )


def check_dataset(ds: Dataset, pixels_elsewhere: bool = False) -> None:
    """Raise :class:`UnusableFile` unless ``ds`` is a decodable single-frame grayscale MR slice with geometry
    (``pixels_elsewhere``: as in :func:`placement_from_dataset`)."""
    file_meta = getattr(ds, "file_meta", None) or Dataset()
    sop_class = UID(text(ds, "SOPClassUID") or str(file_meta.get("MediaStorageSOPClassUID", "")))
    if sop_class == _DICOMDIR_CLASS:
        raise UnusableFile("DICOMDIR index, not an image (the files it lists are scanned directly)")
    if PIXEL_DATA_TAG not in ds and not pixels_elsewhere:
        if not sop_class:
            raise UnusableFile("truncated file: no SOP class and no pixel data after the file meta header")
        if sop_class.keyword.endswith("ImageStorage"):
            raise UnusableFile(f"truncated file: no complete pixel data ({sop_class.name})")
        raise UnusableFile(f"no pixel data ({sop_class.name}): not an image")
    photometric = text(ds, "PhotometricInterpretation")
    modality = text(ds, "Modality") or "missing"
    if modality != "MR":
        raise UnusableFile(f"not an MR image: modality {modality} ({sop_class.name}, {photometric})")
    frames = text(ds, "NumberOfFrames")
    try:
        multiframe = sop_class in _MULTIFRAME_MR_CLASSES or float(frames or 1) > 1
    except ValueError:
        raise UnusableFile(f"invalid NumberOfFrames '{frames}': not one number") from None
    if multiframe:
        raise UnusableFile(
            f"enhanced multi-frame MR ({frames or '?'} frames, {sop_class.name}) is not supported:"
            " export the series as classic single-frame MR images"
        )
    if _checked_unsigned(ds, "SamplesPerPixel") not in (None, 1) or not photometric.startswith("MONOCHROME"):
        raise UnusableFile(f"colour image ({photometric}), not a grayscale MR slice")
    syntax = file_meta.get("TransferSyntaxUID")
    if syntax is not None and syntax.is_compressed and not pixels_elsewhere:
        missing = _missing_decoder(syntax)
        if missing:
            raise UnusableFile(f"cannot decode transfer syntax {syntax.name} ({syntax}): {missing}")
    absent = [keyword for keyword in _REQUIRED_STRINGS if not text(ds, keyword)]
    absent += [keyword for keyword in _REQUIRED_NUMBERS if _checked_unsigned(ds, keyword) is None]
    if absent:
        raise UnusableFile(f"missing {', '.join(absent)}")


def _checked_unsigned(ds: Dataset, keyword: str) -> int | None:
    """``unsigned(ds, keyword)``, with a malformed value (several values, wrong length) as :class:`UnusableFile`."""
    try:
        return unsigned(ds, keyword)
    except (ValueError, TypeError) as err:
        raise UnusableFile(f"invalid {keyword}: {one_line(err)}") from None


def _missing_decoder(syntax: UID) -> str:
    """Why pixel data in ``syntax`` cannot be decoded here, or "" when a decoder is available."""
    try:
        decoder = get_decoder(syntax)
    except NotImplementedError:
        return "no decoder exists for it in pydicom"
    if decoder.is_available:
        return ""
    return "no decoder installed (" + "; ".join(decoder.missing_dependencies) + ")"


def one_line(err: BaseException) -> str:
    """An exception's message on one line (or its type when it has none)."""
    return " ".join(str(err).split()) or type(err).__name__


def _parse_date(value: str) -> datetime.date | None:
    try:
        return datetime.datetime.strptime(value.strip(), "%Y%m%d").date()
    except ValueError:
        return None
