"""Raw element values: the same as pydicom's converted values, for raw and already converted elements alike."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from pydicom.uid import ExplicitVRBigEndian

from msmonai.io.elements import numbers, text, unsigned
from tests.io.dicom_trees import set_attributes, write

STRINGS = ("SOPClassUID", "SeriesInstanceUID", "Modality", "PhotometricInterpretation", "PatientID", "StudyDate")
NUMBERS = ("ImageOrientationPatient", "ImagePositionPatient", "PixelSpacing", "RescaleSlope")
UNSIGNED = ("Rows", "Columns", "BitsAllocated", "BitsStored", "PixelRepresentation", "SamplesPerPixel")


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
    for keyword in STRINGS + NUMBERS + UNSIGNED:
        converted[keyword]  # convert the element, so that the second reading goes through its value
    for keyword in STRINGS:
        assert text(raw, keyword) == text(converted, keyword) == str(converted[keyword].value)
    for keyword in NUMBERS:
        value = converted[keyword].value
        expected = tuple(float(v) for v in (value if isinstance(value, pydicom.multival.MultiValue) else [value]))
        assert numbers(raw, keyword) == numbers(converted, keyword) == expected
    for keyword in UNSIGNED:
        assert unsigned(raw, keyword) == unsigned(converted, keyword) == converted[keyword].value


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
