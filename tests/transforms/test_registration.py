"""Rigid alignment of a visit to the previous one and the aligned difference, on the synthetic head phantom.

A known rigid motion is applied with scipy (cubic interpolation) to a noise-free phantom rendered on the 25 x 64 x 64
grid of the CPU schedule, then each scan gets its own noise and bias field (:func:`msmonai.demo.phantom.acquire`).
"""

import logging

import numpy as np
import pytest
import torch
from monai.data import MetaTensor
from scipy import ndimage

from msmonai.demo.phantom import Lesion, acquire, axial_grid, random_anatomy, render
from msmonai.errors import UserError
from msmonai.transforms import (
    AlignToReference,
    PreviousVisitDifferenced,
    RegistrationError,
    previous_visit_difference,
    rigid_register,
)

SHAPE, SPACING = (25, 64, 64), (6.0, 3.75, 3.75)  # (D, H, W) and (sz, sy, sx) mm
CENTRE_Z = 10.0  # mm: axial_grid's volume centre, superior to the head's
LESION = Lesion(centre=(-22.0, 12.0, 30.0), radii=(8.0, 8.0, 8.0))  # x y z mm, in the deep white matter


def rotation(deg_about_z: float, deg_about_x: float) -> np.ndarray:
    """3 x 3 rotation acting on (z, y, x) vectors: ``deg_about_z`` turns the axial plane, ``deg_about_x`` nods."""
    a, b = np.radians([deg_about_z, deg_about_x])
    about_z = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    about_x = np.array([[np.cos(b), -np.sin(b), 0], [np.sin(b), np.cos(b), 0], [0, 0, 1]])
    return about_z @ about_x


ROTATION, TRANSLATION = rotation(3.0, 2.0), np.array([1.5, -3.0, 2.0])  # (z, y, x) mm


def moved(volume: np.ndarray, matrix: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """``out(p) = volume(matrix @ p + shift)``, p in mm from the volume centre along (z, y, x): the convention of
    :func:`rigid_register`'s ``rotation`` and ``translation_mm`` when ``out`` is fixed and ``volume`` moving."""
    spacing, centre = np.asarray(SPACING), (np.asarray(volume.shape) - 1) / 2
    in_voxels = np.diag(1 / spacing) @ matrix @ np.diag(spacing)
    return ndimage.affine_transform(volume, in_voxels, centre + shift / spacing - in_voxels @ centre, order=3)


def scan(signal: np.ndarray, seed: int) -> np.ndarray:
    """The phantom as the preset leaves it: noise and bias field of its own, scaled to [0, 255], ``[1, D, H, W]``."""
    acquired = acquire(signal, np.random.default_rng(seed))
    return (acquired * (255.0 / acquired.max()))[None].astype(np.float32)


@pytest.fixture(scope="module")
def anatomy():
    return random_anatomy(np.random.default_rng(3))


@pytest.fixture(scope="module")
def head(anatomy):
    """Noise-free T1 signal ``[D, H, W]`` of a head without lesions."""
    return render(anatomy, [], *axial_grid(SHAPE, SPACING, CENTRE_Z))


def angle_deg(matrix: np.ndarray) -> float:
    return float(np.degrees(np.arccos(np.clip((np.trace(matrix) - 1) / 2, -1, 1))))


def test_a_known_rigid_motion_is_recovered(head):
    previous, current = scan(head, 1), scan(moved(head, ROTATION, TRANSLATION), 2)
    aligned, info = rigid_register(previous, current, SPACING)
    assert aligned.shape == current.shape and aligned.dtype == np.float32
    assert angle_deg(info["rotation"] @ ROTATION.T) < 0.5  # 0.25 degrees measured (voxels of 6 x 3.75 x 3.75 mm)
    assert np.abs(info["translation_mm"] - TRANSLATION).max() < 0.5  # 0.08 mm measured
    assert info["rotation_deg"] == pytest.approx(angle_deg(ROTATION), abs=0.5)
    assert info["failure"] is None and info["iterations"] > 0 and info["metric"] < -0.5
    assert info["residual_after"] < 0.8 * info["residual_before"]
    again, info_again = rigid_register(previous, current, SPACING)
    assert np.array_equal(again, aligned) and info_again["metric"] == info["metric"]  # seeded sampling


def test_identical_visits_differ_by_almost_nothing_and_a_first_visit_by_nothing(head):
    visit = torch.from_numpy(scan(head, 1))
    difference = previous_visit_difference(visit, visit.clone(), SPACING)
    assert isinstance(difference, torch.Tensor) and difference.shape == visit.shape
    assert difference.abs().max() < 3.0  # of 255; 1.3 measured: interpolation after a near-identity alignment
    first = previous_visit_difference(visit, None, SPACING)
    assert first.shape == visit.shape and not first.any()


def test_a_new_lesion_is_the_most_negative_spot_of_the_difference(anatomy, head):
    with_lesion = render(anatomy, [LESION], *axial_grid(SHAPE, SPACING, CENTRE_Z))
    previous, current = scan(head, 1), scan(moved(with_lesion, ROTATION, TRANSLATION), 2)
    difference = previous_visit_difference(current, previous, SPACING, smooth_sigma=1.0)
    # the lesion's centre in the current visit: current(p) = with_lesion(R p + t)
    x, y, z = LESION.centre
    centre_mm = ROTATION.T @ (np.array([z - CENTRE_Z, y, x]) - TRANSLATION)
    expected = centre_mm / np.asarray(SPACING) + (np.asarray(SHAPE) - 1) / 2
    found = np.unravel_index(np.argmin(difference[0]), SHAPE)
    assert np.abs(np.asarray(found) - expected).max() <= 1.0  # voxels; 0.2 measured
    assert difference[0][found] < -30  # -48 measured (-127 unsmoothed) for a 330 (lesion) vs 780 (white matter)
    elsewhere = difference[0].copy()
    elsewhere[tuple(slice(max(i - 3, 0), i + 4) for i in found)] = 0
    assert elsewhere.min() > 0.5 * difference[0][found]  # the next most negative spot: -15 measured


def test_metatensors_keep_their_meta_and_take_the_spacing_from_the_affine(anatomy, head):
    reference = MetaTensor(torch.from_numpy(scan(moved(head, ROTATION, TRANSLATION), 2)),
                           affine=torch.diag(torch.tensor([*SPACING, 1.0], dtype=torch.float64)),
                           meta={"filename_or_obj": "current.nii.gz"})
    # the previous visit on a coarser matrix: 32 x 32 voxels of 7.5 mm over the same field of view
    coarse_shape, coarse_spacing = (25, 32, 32), (6.0, 7.5, 7.5)
    affine = torch.diag(torch.tensor([*coarse_spacing, 1.0], dtype=torch.float64))
    affine[:3, 3] = 5.0
    coarse_head = render(anatomy, [], *axial_grid(coarse_shape, coarse_spacing, CENTRE_Z))
    previous = MetaTensor(torch.from_numpy(scan(coarse_head, 1)), affine=affine,
                          meta={"filename_or_obj": "previous.nii.gz"})
    aligned = AlignToReference()(previous, reference)
    assert isinstance(aligned, MetaTensor) and aligned.shape == reference.shape
    assert aligned.meta["filename_or_obj"] == "previous.nii.gz"
    assert torch.equal(aligned.affine, reference.affine)  # it now lies on the reference's grid
    inside = reference > 13
    assert (aligned - reference).abs()[inside].mean() < 50  # 43 measured; 96 with the spacing taken as equal

    transform = PreviousVisitDifferenced(keys="image", previous_keys="previous_image", out_keys="difference")
    out = transform({"image": reference, "previous_image": previous})
    assert isinstance(out["difference"], MetaTensor) and out["difference"].shape == reference.shape
    assert out["difference"].meta["filename_or_obj"] == "current.nii.gz"
    first = transform({"image": reference})
    assert not first["difference"].any() and first["image"] is reference


def test_a_failed_registration_raises_one_line_naming_the_study(head):
    current = scan(head, 2)
    noise = np.random.default_rng(0).uniform(0, 255, current.shape).astype(np.float32)
    transform = PreviousVisitDifferenced(spacing=SPACING, name_key="study")
    with pytest.raises(RegistrationError, match=r"^P0042/2024-03-01: rigid registration failed: .*mutual information"
                       ) as caught:
        transform({"image": current, "previous_image": noise, "study": "P0042/2024-03-01"})
    assert isinstance(caught.value, UserError) and "\n" not in str(caught.value)
    with pytest.raises(RegistrationError, match=r"^study 7: rigid registration failed: a volume is blank"):
        AlignToReference(SPACING, name="study 7")(np.zeros_like(current), current)
    with pytest.raises(RegistrationError, match=r"^tiny: rigid registration failed: ITK: ") as caught:
        rigid_register(np.ones((2, 3, 3)), np.ones((2, 3, 3)), label="tiny")  # ITK's own error, in one line
    assert "\n" not in str(caught.value)


def test_an_implausible_motion_is_a_failure(head):
    current = scan(head, 2)
    previous = scan(moved(head, np.eye(3), np.array([0.0, 30.0, 0.0])), 1)  # the head 30 mm along y
    with pytest.raises(RegistrationError, match=r"^s: rigid registration failed: translation (29|30)\.\d mm > 20"):
        rigid_register(previous, current, SPACING, label="s")


def test_unaligned_on_failure_returns_the_input_with_a_warning(head, caplog):
    current = scan(head, 2)
    noise = np.random.default_rng(0).uniform(0, 255, current.shape).astype(np.float32)
    with caplog.at_level(logging.WARNING, logger="msmonai.transforms.registration"):
        out = AlignToReference(SPACING, on_failure="unaligned", name="P0042")(torch.from_numpy(noise), current)
    assert torch.equal(out, torch.from_numpy(noise))
    assert [r.levelname for r in caplog.records] == ["WARNING"]
    assert caplog.records[0].getMessage().startswith("P0042: rigid registration failed: ")
    aligned, info = rigid_register(noise, current, SPACING, on_failure="unaligned")
    assert np.array_equal(aligned, noise) and "mutual information" in info["failure"]


def test_on_failure_is_checked():
    with pytest.raises(ValueError, match="on_failure"):
        AlignToReference(on_failure="ignore")


def test_differing_bias_fields_do_not_hide_a_small_new_lesion(anatomy):
    """Each scan's bias field (here up to +-12 % per axis, drawn per scan) makes smooth differences larger than a
    lesion's; the differential intensity field removes them. An 8 mm lesion, no motion, 2.5 mm pixels."""
    shape, spacing = (40, 96, 96), (3.75, 2.5, 2.5)
    lesion = Lesion(centre=(-22.0, 12.0, 30.0), radii=(4.0, 4.0, 4.0))
    grid = axial_grid(shape, spacing, CENTRE_Z)
    x, y, z = lesion.centre
    centre = np.round(np.array([z - CENTRE_Z, y, x]) / np.asarray(spacing) + (np.asarray(shape) - 1) / 2).astype(int)
    for seed in (1, 3, 5):
        previous, current = (acquire(signal, np.random.default_rng(seed + k), bias=0.12)[None]
                             for k, signal in enumerate((render(anatomy, [], *grid), render(anatomy, [lesion], *grid))))
        difference = previous_visit_difference(current * (255 / current.max()), previous * (255 / previous.max()),
                                               spacing, smooth_sigma=1.0)[0]
        at_lesion = difference[tuple(centre)]
        difference[tuple(slice(i - 3, i + 4) for i in centre)] = 0
        assert at_lesion < 2.5 * difference.min()  # 3.6-4.7 times measured; one global gain gave 0.25-1.8
