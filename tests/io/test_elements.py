"""Raw element values: the same as pydicom's converted values, for raw and already converted elements alike."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from pydicom.uid import ExplicitVRBigEndian

from msmonai.io.elements import codes, numbers, optional_integer, optional_number, text, unsigned
from tests.io.dicom_trees import set_attributes, write

STRINGS = ("SOPClassUID", "SeriesInstanceUID", "Modality", "PhotometricInterpretation", "PatientID", "StudyDate")
NUMBERS = ("ImageOrientationPatient", "ImagePositionPatient", "PixelSpacing", "RescaleSlope")
UNSIGNED = ("Rows", "Columns", "BitsAllocated", "BitsStored", "PixelRepresentation", "SamplesPerPixel")
CODES = ("ImageType", "ScanningSequence", "SequenceVariant")
TIMES = ("RepetitionTime", "EchoTime", "InversionTime")  # InversionTime absent from the T1 slices written here


def _big_endian(path):
    ds = pydicom.dcmread(path)
    ds.file_meta.TransferSyntaxUID = ExplicitVRBigEndian
    pydicom.dcmwrite(path, ds, implicit_vr=False, little_endian=False, force_encoding=True)


@pytest.mark.parametrize("encoding", ["explicit", "implicit", "big_endian"])
def test_raw_values_equal_pydicoms_conversion(tmp_path, encoding):
    path = write(tmp_path, "s", 2, size=12, transfer_syntax="implicit" if encoding == "implicit" else "explicit",
                 orientation=(0.9848078, 0.1736482, 0.0, -0.1227878, 0.6963642, 0.7071068))[0]
    if encoding == "big_endian":
        _big_endian(path)
    raw, converted = pydicom.dcmread(path), pydicom.dcmread(path)
    for keyword in STRINGS + NUMBERS + UNSIGNED + CODES + TIMES + ("SeriesNumber",):
        converted.get(keyword)  # convert the element, so that the second reading goes through its value
    for keyword in STRINGS:
        assert text(raw, keyword) == text(converted, keyword) == str(converted[keyword].value)
    for keyword in NUMBERS:
        value = converted[keyword].value
        expected = tuple(float(v) for v in (value if isinstance(value, pydicom.multival.MultiValue) else [value]))
        assert numbers(raw, keyword) == numbers(converted, keyword) == expected
    for keyword in UNSIGNED:
        assert unsigned(raw, keyword) == unsigned(converted, keyword) == converted[keyword].value
    for keyword in CODES:
        value = converted[keyword].value
        expected = tuple(v.strip() for v in ([value] if isinstance(value, str) else value))
        assert codes(raw, keyword) == codes(converted, keyword) == expected and expected
    for keyword in TIMES:
        value = converted.get(keyword)
        expected = None if value is None else float(value)
        assert optional_number(raw, keyword) == optional_number(converted, keyword) == expected
    assert optional_number(raw, "RepetitionTime") is not None and optional_number(raw, "InversionTime") is None
    assert optional_integer(raw, "SeriesNumber") == optional_integer(converted, "SeriesNumber") == int(
        converted.SeriesNumber)


def test_absent_empty_and_invalid_values(tmp_path):
    path = write(tmp_path, "s", 2)[0]
    set_attributes(path, PatientID="", Modality=None)
    ds = pydicom.dcmread(path)
    assert text(ds, "PatientID") == text(ds, "Modality") == "" and unsigned(ds, "NumberOfFrames") is None
    ds.add_new(0x00280010, "US", [2, 3])  # Rows with two values
    ds.add_new(0x00280030, "DS", None)  # PixelSpacing, empty
    with pytest.raises(TypeError):
        unsigned(ds, "Rows")
    with pytest.raises(ValueError):
        numbers(ds, "PixelSpacing")
    raw = pydicom.dcmread(path)
    raw_rows = raw.get_item(0x00280010)
    raw[0x00280010] = raw_rows._replace(value=b"\x02\x00\x03\x00", length=4)
    with pytest.raises(ValueError, match="Rows holds 4 bytes"):
        unsigned(raw, "Rows")
    assert np.isnan(numbers(_with_raw_text(raw, 0x00281053, b"NaN "), "RescaleSlope")[0])


def _with_raw_text(ds, tag, value):
    element = ds.get_item(tag)
    ds[tag] = element._replace(value=value, length=len(value))
    return ds


def test_codes_and_optional_numbers_of_odd_values(tmp_path):
    raw = pydicom.dcmread(write(tmp_path, "s", 2)[0])
    image_type = _with_raw_text(raw, 0x00080008, b"ORIGINAL\\ PRIMARY \\\\M ")
    assert codes(image_type, "ImageType") == ("ORIGINAL", "PRIMARY", "M")
    assert optional_number(_with_raw_text(raw, 0x00180081, b"2.5\\5.0 "), "EchoTime") is None  # two echoes
    assert optional_number(_with_raw_text(raw, 0x00180080, b"n/a "), "RepetitionTime") is None
    assert optional_integer(_with_raw_text(raw, 0x00200011, b"7.0 "), "SeriesNumber") == 7
    assert optional_integer(_with_raw_text(raw, 0x00200011, b"7.5 "), "SeriesNumber") is None
    assert codes(raw, "ScanOptions") == () and optional_number(raw, "InversionTime") is None
