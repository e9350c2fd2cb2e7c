"""decode_slice: pydicom's ``apply_modality_lut(pixel_array)`` as float32, without pydicom's decoder for native data."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.pixels import apply_modality_lut
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRBigEndian

from msmonai.demo.dicom_writer import write_series
from msmonai.errors import UserError
from msmonai.io.pixels import decode_slice
from tests.io.dicom_trees import IDENTITY, set_attributes

RNG = np.random.default_rng(5)
FULL_UINT16 = RNG.integers(0, 65536, (2, 8, 8)).astype(np.uint16)  # high bits set: BitsStored 12 must clear them
FULL_INT16 = RNG.integers(-32768, 32768, (2, 8, 8)).astype(np.int16)
TWELVE_BITS = {"BitsStored": 12, "HighBit": 11}

NATIVE = {
    "uint16": dict(volume=RNG.integers(0, 4096, (2, 12, 10)).astype(np.uint16)),
    "int16": dict(volume=RNG.integers(-2000, 2000, (2, 9, 9)).astype(np.int16)),
    "uint8_odd_length": dict(volume=RNG.integers(0, 256, (2, 5, 5)).astype(np.uint8)),
    "unsigned_12_of_16_bits": dict(volume=FULL_UINT16, extra=TWELVE_BITS),
    "signed_12_of_16_bits": dict(volume=FULL_INT16, extra=TWELVE_BITS),
    "implicit_vr": dict(volume=FULL_UINT16, transfer_syntax="implicit"),
    "rescaled": dict(volume=FULL_UINT16, rescale_slope=2.5, rescale_intercept=-1024.0),
}


def slices(tmp_path, volume, **kwargs):
    return write_series(volume, tmp_path, **IDENTITY, series_description="T1 SE", **kwargs)


def reference(path):
    """What the reader gave before its native path: pydicom's decoder and modality LUT, cast to float32."""
    ds = pydicom.dcmread(path)
    return np.asarray(apply_modality_lut(ds.pixel_array, ds), dtype=np.float32)


def decoded(path, shape):
    out = np.full(shape, np.nan, np.float32)
    decode_slice(pydicom.dcmread(path), path, out)
    return out


@pytest.mark.parametrize("case", sorted(NATIVE))
def test_native_pixel_data_is_read_without_pydicoms_decoder(tmp_path, monkeypatch, case):
    paths = slices(tmp_path, **NATIVE[case])
    expected = [reference(p) for p in paths]

    def no_decoder(ds):
        raise AssertionError("pydicom's decoder was used")

    monkeypatch.setattr(Dataset, "pixel_array", property(no_decoder))
    for path, values in zip(paths, expected):
        np.testing.assert_array_equal(decoded(path, values.shape), values)


def _big_endian(paths):
    for path in paths:
        ds = pydicom.dcmread(path)
        ds.file_meta.TransferSyntaxUID = ExplicitVRBigEndian
        pydicom.dcmwrite(path, ds, implicit_vr=False, little_endian=False, force_encoding=True)


def _padded(paths):
    ds = pydicom.dcmread(paths[0])
    ds.PixelData += b"\x00\x00\x00\x00"
    ds.save_as(paths[0], enforce_file_format=True)


def _modality_lut(paths):
    for path in paths:
        ds = pydicom.dcmread(path)
        item = Dataset()
        item.add_new(0x00283002, "US", [4096, 0, 16])  # LUTDescriptor: entries, first value mapped, bits
        item.add_new(0x00283006, "US", [v * 3 % 65536 for v in range(4096)])  # LUTData
        ds.ModalityLUTSequence = Sequence([item])
        ds.save_as(path, enforce_file_format=True)


def _slope_without_intercept(paths):
    set_attributes(paths[0], RescaleSlope="3", RescaleIntercept=None)


OTHERS = {
    "rle": (dict(transfer_syntax="rle", rescale_slope=2.0), None),
    "jpeg2000": (dict(transfer_syntax="jpeg2000"), None),
    "big_endian": (dict(rescale_slope=2.0), _big_endian),
    "excess_padding": ({}, _padded),
    "modality_lut_sequence": ({}, _modality_lut),
    "slope_without_intercept": ({}, _slope_without_intercept),
}


@pytest.mark.parametrize("case", sorted(OTHERS))
def test_other_encodings_and_modality_luts_give_pydicoms_values(tmp_path, case):
    options, change = OTHERS[case]
    paths = slices(tmp_path, RNG.integers(0, 4096, (2, 32, 32)).astype(np.uint16), **options)
    if change:
        change(paths)
    for path in paths:
        values = reference(path)
        np.testing.assert_array_equal(decoded(path, values.shape), values)


def _short(path):
    ds = pydicom.dcmread(path)
    ds.PixelData = ds.PixelData[:-10]
    ds.save_as(path, enforce_file_format=True)


def _two_frames(path):
    ds = pydicom.dcmread(path)
    ds.PixelData *= 2
    ds.save_as(path, enforce_file_format=True)


@pytest.mark.parametrize(
    "change, message",
    [
        (_short, "cannot decode pixel data (Explicit VR Little Endian): The number of bytes of pixel data is less"),
        (_two_frames, "pixel data decodes to shape (2, 8, 8), expected Rows x Columns (8, 8)"),
        (lambda path: set_attributes(path, RescaleSlope=""), "invalid RescaleSlope / RescaleIntercept"),
    ],
    ids=["short_pixel_data", "two_frames_of_pixel_data", "empty_rescale_slope"],
)
def test_undecodable_slices_raise_one_line_user_errors_naming_the_file(tmp_path, change, message):
    path = slices(tmp_path, FULL_UINT16)[0]
    change(path)
    with pytest.raises(UserError) as caught:
        decoded(path, (8, 8))
    assert str(caught.value).startswith(f"{path}: ") and message in str(caught.value)
    assert "\n" not in str(caught.value)
