"""The test/demo DICOM writer: realistic headers, presets, naming, ordering options."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest

from msmonai.demo.dicom_writer import write_series
from tests.io.dicom_trees import IDENTITY, volume


def headers(paths):
    return [pydicom.dcmread(p, stop_before_pixels=True) for p in paths]


def test_headers_of_a_t1_series(tmp_path):
    paths = write_series(volume(3), tmp_path, **IDENTITY, series_description="T1 SE AX", series_number=3,
                         pixel_spacing=(0.9, 0.8), slice_thickness=5.0, origin=(1.0, 2.0, 3.0),
                         rescale_slope=2.0, rescale_intercept=-10.0, extra={"InstitutionName": "Elsewhere"})
    first = headers(paths)[0]
    assert first.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
    assert (first.Modality, first.SOPClassUID) == ("MR", pydicom.uid.MRImageStorage)
    assert (first.PatientID, str(first.PatientName), first.StudyDate) == ("PAT-0001", "Testperson^Anna", "20210315")
    assert first.PatientBirthDate and first.AccessionNumber and first.InstitutionName == "Elsewhere"
    assert (first.SeriesDescription, first.ProtocolName, first.SeriesNumber) == ("T1 SE AX", "T1 SE AX", 3)
    assert (first.ScanningSequence, float(first.RepetitionTime), float(first.EchoTime)) == ("SE", 500.0, 10.0)
    assert [float(v) for v in first.PixelSpacing] == [0.9, 0.8] and float(first.SliceThickness) == 5.0
    assert [float(v) for v in first.ImageOrientationPatient] == [1, 0, 0, 0, 1, 0]
    assert [[float(v) for v in h.ImagePositionPatient] for h in headers(paths)] == [[1, 2, 3], [1, 2, 8], [1, 2, 13]]
    assert (float(first.RescaleSlope), float(first.RescaleIntercept)) == (2.0, -10.0)
    np.testing.assert_array_equal(pydicom.dcmread(paths[1]).pixel_array, volume(3)[1])


@pytest.mark.parametrize(
    "weighting, expected",
    [
        ("T2", {"RepetitionTime": 4000.0, "EchoTime": 100.0}),
        ("FLAIR", {"RepetitionTime": 9000.0, "EchoTime": 120.0, "InversionTime": 2500.0}),
        ("localizer", {"RepetitionTime": 8.6, "EchoTime": 4.0}),
    ],
)
def test_weighting_presets(tmp_path, weighting, expected):
    (first,) = headers(write_series(volume(1), tmp_path, **IDENTITY, series_description="x", weighting=weighting))
    assert {key: float(first.get(key)) for key in expected} == expected
    assert ("LOCALIZER" in first.ImageType) is (weighting == "localizer")


def test_file_names_shuffling_and_misleading_instance_numbers(tmp_path):
    common = dict(**IDENTITY, series_description="T1", series_uid="1.2.3.4.5")
    numbered = write_series(volume(6), tmp_path / "a", **common, file_names="numbered", shuffle_seed=1,
                            misleading_instance_numbers=True)
    assert sorted(p.name for p in numbered) == [f"IM{n:04d}.dcm" for n in range(1, 7)]
    assert [p.name for p in numbered] != sorted(p.name for p in numbered)  # names do not follow positions
    assert [h.InstanceNumber for h in headers(numbered)] == [6, 5, 4, 3, 2, 1]
    plain = write_series(volume(6), tmp_path / "b", **common, file_names="no_suffix")
    assert [p.name for p in plain] == [f"IM{n:04d}" for n in range(1, 7)]
    by_uid = write_series(volume(6), tmp_path / "c", **common)
    assert [p.name for p in by_uid] == [f"{h.SOPInstanceUID}.dcm" for h in headers(by_uid)]
    assert [h.SOPInstanceUID for h in headers(by_uid)] == [h.SOPInstanceUID for h in headers(plain)]  # reproducible


@pytest.mark.parametrize(
    "syntax, uid",
    [
        ("implicit", pydicom.uid.ImplicitVRLittleEndian),
        ("rle", pydicom.uid.RLELossless),
        ("jpeg2000", pydicom.uid.JPEG2000Lossless),
    ],
)
def test_transfer_syntaxes_round_trip(tmp_path, syntax, uid):
    values = volume(2, size=32, high=65535)
    paths = write_series(values, tmp_path, **IDENTITY, series_description="T1", transfer_syntax=syntax)
    decoded = [pydicom.dcmread(p) for p in paths]
    assert decoded[0].file_meta.TransferSyntaxUID == uid
    np.testing.assert_array_equal(np.stack([ds.pixel_array for ds in decoded]), values)


def test_rejects_unsupported_input(tmp_path):
    with pytest.raises(ValueError, match="uint8/uint16/int16"):
        write_series(np.zeros((2, 4, 4), np.float32), tmp_path, **IDENTITY, series_description="x")
    with pytest.raises(ValueError, match="at least 32x32"):
        write_series(volume(2), tmp_path, **IDENTITY, series_description="x", transfer_syntax="jpeg2000")
    with pytest.raises(ValueError, match="transfer_syntax"):
        write_series(volume(2), tmp_path, **IDENTITY, series_description="x", transfer_syntax="jpegxl")


def test_decimal_strings_fit_the_dicom_limit(tmp_path):
    paths = write_series(volume(3), tmp_path, **IDENTITY, series_description="x", pixel_spacing=(1 / 3, 1 / 3),
                         slice_thickness=150 / 37, origin=(-120.123456789, 1 / 7, 2 / 3), rescale_slope=1 / 3)
    ds = pydicom.dcmread(paths[2], stop_before_pixels=True)
    for keyword in ("PixelSpacing", "SliceThickness", "ImagePositionPatient", "RescaleSlope", "SliceLocation"):
        values = ds[keyword].value if ds[keyword].VM > 1 else [ds[keyword].value]
        assert all(len(str(v)) <= 16 for v in values), (keyword, values)
    assert float(ds.ImagePositionPatient[2]) == pytest.approx(2 / 3 + 2 * 150 / 37, abs=1e-9)
