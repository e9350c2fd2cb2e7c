"""One slice's pixel values after the modality LUT (RescaleSlope / RescaleIntercept), as float32.

Uncompressed little-endian pixel data, the usual export, is read straight from the element's bytes: the values
pydicom's decoder gives (same dtype, unused high bits cleared or sign-extended) without its per-slice setup, which
converts about 15 elements and cost as much as reading the file. Anything else (compressed, big endian, 1 or
64 bits, pixel data of unexpected length) goes through pydicom (pylibjpeg plugins for JPEG / JPEG 2000, native RLE).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset
from pydicom.pixels import apply_modality_lut
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from msmonai.errors import UserError
from msmonai.io.elements import numbers, text, unsigned
from msmonai.io.headers import PIXEL_DATA_TAG, one_line

_NATIVE_LITTLE_ENDIAN = {ExplicitVRLittleEndian, ImplicitVRLittleEndian}
_MODALITY_LUT_TAG = 0x00283000  # ModalityLUTSequence


def decode_slice(ds: Dataset, path: Path, out: np.ndarray) -> None:
    """Write the slice's pixel values after the modality LUT into ``out`` (``[Rows, Columns]`` float32).

    The values equal ``apply_modality_lut(ds.pixel_array, ds)`` cast to float32.

    Raises:
        UserError: naming ``path``: pixel data that cannot be decoded (corrupt, short), that does not hold one
            ``out``-sized frame, or an invalid RescaleSlope / RescaleIntercept.
    """
    stored = _native_values(ds)
    if stored is None:
        stored = _decoded_values(ds, path)
    if stored.shape != out.shape:
        raise UserError(f"{path}: pixel data decodes to shape {stored.shape}, expected Rows x Columns {out.shape}")
    if _MODALITY_LUT_TAG in ds:
        out[...] = apply_modality_lut(stored, ds)
        return
    slope, intercept = _rescale(ds, path)
    if slope == 1.0 and intercept == 0.0:
        out[...] = stored  # the same float32 values as stored * 1.0 + 0.0 computed in float64
    else:
        out[...] = stored.astype(np.float64) * slope + intercept  # pydicom's arithmetic, rounded once to float32


def _native_values(ds: Dataset) -> np.ndarray | None:
    """Stored values ``[Rows, Columns]`` of uncompressed little-endian pixel data holding exactly one frame, or None
    when pydicom has to decode them."""
    if ds.file_meta.get("TransferSyntaxUID") not in _NATIVE_LITTLE_ENDIAN:
        return None
    try:
        rows, columns = unsigned(ds, "Rows"), unsigned(ds, "Columns")
        allocated, kept, signed = (unsigned(ds, k) for k in ("BitsAllocated", "BitsStored", "PixelRepresentation"))
        samples = unsigned(ds, "SamplesPerPixel")
    except (ValueError, TypeError):
        return None
    if (
        allocated not in (8, 16, 32) or not kept or kept > allocated or signed not in (0, 1) or samples != 1
        or not rows or not columns or text(ds, "PhotometricInterpretation") not in ("MONOCHROME1", "MONOCHROME2")
    ):
        return None
    data = ds.get_item(PIXEL_DATA_TAG).value or b""
    expected = rows * columns * allocated // 8
    if len(data) not in (expected, expected + expected % 2):  # an odd length is padded to even
        return None
    values = np.frombuffer(data, f"<{'ui'[signed]}{allocated // 8}", count=rows * columns).reshape(rows, columns)
    unused = allocated - kept
    return (values << unused) >> unused if unused else values  # as pydicom: bits above BitsStored do not count


def _decoded_values(ds: Dataset, path: Path) -> np.ndarray:
    """Stored values decoded by pydicom (UserError naming ``path`` when it cannot)."""
    try:
        return ds.pixel_array
    except Exception as err:  # pydicom/pylibjpeg raise many types for corrupt or short pixel data
        syntax = getattr(ds.file_meta.get("TransferSyntaxUID"), "name", "no transfer syntax")
        raise UserError(f"{path}: cannot decode pixel data ({syntax}): {one_line(err)}") from None


def _rescale(ds: Dataset, path: Path) -> tuple[float, float]:
    """(RescaleSlope, RescaleIntercept); (1, 0) unless both are present, as in pydicom's ``apply_modality_lut``."""
    if "RescaleSlope" not in ds or "RescaleIntercept" not in ds:
        return 1.0, 0.0
    try:
        (slope,), (intercept,) = numbers(ds, "RescaleSlope"), numbers(ds, "RescaleIntercept")
    except ValueError as err:
        raise UserError(f"{path}: invalid RescaleSlope / RescaleIntercept: {one_line(err)}") from None
    return slope, intercept
