"""DicomSeriesReader through MONAI's LoadImaged: slice order, rescale, decoding, geometry, privacy, errors."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
import torch
from monai.transforms import LoadImaged, Orientation

from msmonai.demo.dicom_writer import write_series
from msmonai.errors import UserError, root_cause
from msmonai.io import DicomSeriesReader
from tests.io.dicom_trees import IDENTITY, recode_without_decoder, renew_sop_uids, write

OBLIQUE = (0.9848078, 0.1736482, 0.0, -0.1227878, 0.6963642, 0.7071068)  # 10 deg about z, then 45 deg about x
PLANTED = {
    "PatientID": "ZQX-PID-4711", "PatientName": "Zyzzyva^Quintessa", "PatientBirthDate": "19010203",
    "AccessionNumber": "ACCZQX99", "InstitutionName": "Hospital Zyzzyva",
}


def load(files):
    """MetaTensor [1, D, H, W] as the preprocessing preset loads it."""
    loader = LoadImaged("image", reader=DicomSeriesReader(), image_only=True, ensure_channel_first=True)
    return loader({"image": files})["image"]


def stored(n_slices, size=16, seed=1, low=3000, high=4096):
    return np.random.default_rng(seed).integers(low, high, (n_slices, size, size)).astype(np.uint16)


@pytest.mark.parametrize("n_slices, slope, intercept", [(30, 1.0, 0.0), (60, 2.5, -1024.0)])
def test_slices_sorted_by_position_and_rescaled_exactly(tmp_path, n_slices, slope, intercept):
    values = stored(n_slices)
    paths = write_series(
        values, tmp_path, **IDENTITY, series_description="T1 SE", rescale_slope=slope, rescale_intercept=intercept,
        shuffle_seed=7, misleading_instance_numbers=True, file_names="numbered",
    )
    image = load(sorted(paths))  # file-name order is shuffled, InstanceNumber runs backwards
    assert image.shape == (1, n_slices, 16, 16) and image.dtype == torch.float32
    np.testing.assert_array_equal(image[0].numpy(), values.astype(np.float64) * slope + intercept)


@pytest.mark.parametrize("syntax", ["rle", "jpeg2000"])
def test_compressed_series_decodes_to_the_same_volume(tmp_path, syntax):
    values = stored(6, size=32, low=0, high=65535)
    common = dict(**IDENTITY, series_description="T1 SE", rescale_slope=2.0, rescale_intercept=-100.0)
    plain = write_series(values, tmp_path / "plain", **common)
    packed = write_series(values, tmp_path / syntax, **common, transfer_syntax=syntax)
    assert pydicom.dcmread(packed[0]).file_meta.TransferSyntaxUID.is_compressed
    a, b = load(plain), load(packed)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    np.testing.assert_array_equal(a.affine.numpy(), b.affine.numpy())


@pytest.mark.parametrize(
    "orientation", ["axial", "coronal", "sagittal", OBLIQUE], ids=["axial", "coronal", "sagittal", "oblique"]
)
def test_agrees_with_itk_series_reader(tmp_path, orientation):
    itk = pytest.importorskip("itk")
    values = stored(12, size=20, low=0, high=4000)[:, :, :18]  # rows != columns catches swapped axes
    write_series(
        np.ascontiguousarray(values), tmp_path, **IDENTITY, series_description="T1 SE", orientation=orientation,
        pixel_spacing=(0.8, 0.9), slice_thickness=2.5, origin=(10.0, -20.0, 30.0), rescale_slope=2.0,
        rescale_intercept=-1024.0, shuffle_seed=3, misleading_instance_numbers=True, file_names="no_suffix",
    )
    ours = load(str(tmp_path))
    reference = itk.imread(str(tmp_path))
    np.testing.assert_allclose(ours[0].numpy(), itk.array_view_from_image(reference))  # ITK array is [z, y, x]
    lps = np.eye(4)  # ITK: index (x=column, y=row, z=slice) -> LPS
    lps[:3, :3] = np.asarray(reference.GetDirection()) @ np.diag(reference.GetSpacing())
    lps[:3, 3] = reference.GetOrigin()
    ras_of_dhw = np.diag([-1.0, -1.0, 1.0, 1.0]) @ lps[:, [2, 1, 0, 3]]
    np.testing.assert_allclose(ours.affine.numpy(), ras_of_dhw, atol=1e-4)


def test_affine_follows_the_dicom_pixel_position_formula(tmp_path):
    paths = write_series(stored(5, size=6), tmp_path, **IDENTITY, series_description="T1", orientation=OBLIQUE,
                         pixel_spacing=(0.7, 1.3), slice_thickness=4.0, origin=(5.0, 6.0, -7.0), shuffle_seed=2)
    affine = load(paths).affine.numpy()
    for d, path in enumerate(paths):  # paths come back in slice order
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        row_dir, col_dir = np.asarray(ds.ImageOrientationPatient[:3]), np.asarray(ds.ImageOrientationPatient[3:])
        for h, w in [(0, 0), (5, 0), (0, 5), (3, 4)]:  # PS3.3 C.7.6.2.1.1: P = S + col*dc*X + row*dr*Y
            lps = np.asarray(ds.ImagePositionPatient) + w * ds.PixelSpacing[1] * row_dir
            lps += h * ds.PixelSpacing[0] * col_dir
            np.testing.assert_allclose(affine @ [d, h, w, 1], [-lps[0], -lps[1], lps[2], 1], atol=1e-4)


def test_monai_reorientation_keeps_world_positions(tmp_path):
    image = load(write(tmp_path, "sag", 7, size=10, orientation="sagittal"))
    ras = Orientation(axcodes="RAS", labels=None)(image)
    for voxel in [(0, 0, 0), (6, 9, 2), (3, 4, 5)]:
        world = image.affine.numpy() @ [*voxel, 1]
        target = np.rint(np.linalg.solve(ras.affine.numpy(), world)[:3]).astype(int)
        assert ras[(0, *target)] == image[(0, *voxel)]


def test_metadata_carries_no_patient_identifiers(tmp_path):
    paths = write(tmp_path, "s", 3, extra=PLANTED)
    image = load(paths)
    text = repr(dict(image.meta))
    assert not any(value in text for value in PLANTED.values())
    assert not {"PatientID", "PatientName", "PatientBirthDate", "AccessionNumber", "InstitutionName"} & set(image.meta)


def test_folder_holding_one_series_reads_like_its_file_list(tmp_path):
    paths = write(tmp_path, "series", 4, shuffle_seed=5, file_names="no_suffix")
    (tmp_path / "notes.txt").write_text("not DICOM")
    reader = DicomSeriesReader()
    assert reader.verify_suffix(paths) and reader.verify_suffix(str(tmp_path / "series"))
    assert not reader.verify_suffix([*paths, tmp_path / "notes.txt"])
    np.testing.assert_array_equal(load(str(tmp_path / "series")).numpy(), load(paths).numpy())


def _series_with_extra_slice_at_same_position(tmp_path):
    paths = write(tmp_path, "a", 3)
    copy = write(tmp_path, "b", 3)[:1]
    renew_sop_uids(copy)
    return paths + copy


def _undecodable(tmp_path):
    paths = write(tmp_path, "a", 3)
    recode_without_decoder(paths[1])
    return paths


def _with_text_file(tmp_path):
    (tmp_path / "notes.txt").write_text("not an image")
    return write(tmp_path, "a", 3) + [tmp_path / "notes.txt"]


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda tmp: write(tmp, "a", 3) + write(tmp, "a", 3, series_description="T2"), "files of 2 series given"),
        (lambda tmp: write(tmp, "a", 1), "only 1 slice(s)"),
        (_series_with_extra_slice_at_same_position, "duplicate slice positions"),
        (_undecodable, ".dcm: cannot decode transfer syntax"),
        (_with_text_file, "notes.txt: not a DICOM file"),
    ],
    ids=["two_series", "one_slice", "duplicate_position", "no_decoder", "not_dicom"],
)
def test_unusable_series_raise_one_line_user_errors(tmp_path, build, message):
    """The reason reaches the user; LoadImaged does not fall back to ITK (which would read one slice as 2D)."""
    files = build(tmp_path)
    with pytest.raises(Exception) as caught:
        load(files)
    error = root_cause(caught.value)
    assert isinstance(error, UserError) and message in str(error) and "\n" not in str(error)
