"""The synthetic head phantom: tissue contrast, lesion geometry, grids, head pose, acquisition noise."""

import numpy as np
import pytest

from msmonai.demo.phantom import (SIGNAL, Anatomy, Lesion, Pose, acquire, axial_grid, random_lesion, render, render_posed,
                                  sagittal_grid)

ANATOMY = Anatomy(head_radii=(72.0, 92.0, 85.0), ventricle_scale=1.0, folding=(0.3, 1.1, 8.0, 6.0))
GRID = axial_grid((24, 64, 64), (6.0, 3.6, 3.6))


@pytest.mark.parametrize("contrast", ["T1", "T2"])
def test_every_tissue_appears_with_its_signal(contrast):
    volume = render(ANATOMY, [], *GRID, contrast=contrast)
    values = set(np.unique(volume).tolist())
    table = SIGNAL[contrast]
    for tissue in ("air", "scalp", "skull", "csf", "grey", "white", "deep_grey"):
        assert table[tissue] in values, tissue
    assert volume.shape == (24, 64, 64) and volume.dtype == np.float32


def test_t1_contrast_order_and_lesions_hypointense_on_t1_hyperintense_on_t2():
    t1 = SIGNAL["T1"]
    assert t1["white"] > t1["grey"] > t1["csf"] and t1["lesion"] < t1["white"]
    assert SIGNAL["T2"]["lesion"] > SIGNAL["T2"]["white"]


def test_lesion_core_matches_its_ellipsoid_and_stays_in_white_matter():
    lesion = Lesion(centre=(20.0, 10.0, 20.0), radii=(9.0, 12.0, 7.0))
    x, y, z = axial_grid((40, 96, 96), (2.0, 1.5, 1.5))
    before = render(ANATOMY, [], x, y, z)
    after = render(ANATOMY, [lesion], x, y, z)
    distance = np.sqrt(((x - 20) / 9) ** 2 + ((y - 10) / 12) ** 2 + ((z - 20) / 7) ** 2)
    white = before == SIGNAL["T1"]["white"]
    core = (distance <= 0.6) & white  # weight (1 - d) * 2.5 reaches 1 at d = 0.6
    assert core.sum() > 50
    np.testing.assert_array_equal(after[core], SIGNAL["T1"]["lesion"])
    changed = after != before
    assert not (changed & (distance >= 1.0)).any()  # nothing outside the ellipsoid
    assert not (changed & ~white).any()  # grey matter, CSF, ventricles untouched


def test_t1_contrast_grades_the_hypointensity_and_t2_shows_every_lesion_fully():
    x, y, z = axial_grid((40, 96, 96), (2.0, 1.5, 1.5))
    index = (25, 54, 61)  # z 21, y 9.75, x 20.25 mm: deep white matter
    centre = (float(x[0, 0, index[2]]), float(y[0, index[1], 0]), float(z[index[0], 0, 0]))
    faint, dark = Lesion(centre, (8.0, 8.0, 8.0), contrast=0.2), Lesion(centre, (8.0, 8.0, 8.0), contrast=1.0)
    t1, t2 = SIGNAL["T1"], SIGNAL["T2"]
    assert render(ANATOMY, [], x, y, z, "T1")[index] == t1["white"]
    assert render(ANATOMY, [dark], x, y, z, "T1")[index] == t1["lesion"]
    assert render(ANATOMY, [faint], x, y, z, "T1")[index] == pytest.approx(t1["white"] + 0.2 * (t1["lesion"] - t1["white"]))
    assert render(ANATOMY, [faint], x, y, z, "T2")[index] == render(ANATOMY, [dark], x, y, z, "T2")[index] == t2["lesion"]


def test_random_lesion_has_the_volume_of_a_sphere_of_the_requested_radius():
    rng = np.random.default_rng(0)
    for radius in (1.5, 3.0, 5.0):
        lesion = random_lesion(ANATOMY, rng, radius)
        assert np.prod(lesion.radii) == pytest.approx(radius**3)
        assert 0.6 * radius < min(lesion.radii) <= max(lesion.radii) < 1.5 * radius


def test_growing_a_lesion_enlarges_its_footprint():
    lesion = Lesion(centre=(-15.0, 5.0, 25.0), radii=(4.0, 4.0, 4.0))
    base = render(ANATOMY, [], *GRID)
    small = (render(ANATOMY, [lesion], *GRID) != base).sum()
    large = (render(ANATOMY, [lesion.grown(1.5)], *GRID) != base).sum()
    assert 0 < small < large


def test_sagittal_grid_samples_the_same_head():
    """A sagittal slice through x = 0 equals the axial volume's column through x = 0 (same points, same values)."""
    axial_x, axial_y, axial_z = axial_grid((5, 8, 9), (10.0, 20.0, 20.0))  # 9 columns: the middle one is x = 0
    sagittal_x, sagittal_y, sagittal_z = sagittal_grid((3, 5, 8), (20.0, 10.0, 20.0))  # the middle slice is x = 0
    axial = render(ANATOMY, [], axial_x, axial_y, axial_z)[:, :, 4]  # [z, y]
    sagittal = render(ANATOMY, [], sagittal_x, sagittal_y, sagittal_z)[1]  # [rows: z descending, columns: y]
    assert axial_x[0, 0, 4] == 0 and sagittal_x[1, 0, 0] == 0
    np.testing.assert_array_equal(sagittal[::-1], axial)


def test_acquisition_is_deterministic_positive_and_noisy_around_the_signal():
    signal = np.full((4, 32, 32), 500.0, dtype=np.float32)
    first = acquire(signal, np.random.default_rng(3), noise=10.0, bias=0.0)
    np.testing.assert_array_equal(first, acquire(signal, np.random.default_rng(3), noise=10.0, bias=0.0))
    assert (first >= 0).all() and first.dtype == np.float32
    assert abs(first.mean() - 500) < 2 and 8 < first.std() < 12
    air = acquire(np.zeros((4, 32, 32), np.float32), np.random.default_rng(3), noise=10.0)
    assert air.min() >= 0 and 10 < air.mean() < 15  # Rician background: sigma * sqrt(pi / 2) = 12.5


WHOLE_HEAD = axial_grid((48, 96, 96), (5.0, 2.4, 2.4))  # 240 x 230 x 230 mm: the whole head, anisotropic voxels


def centre_of_mass_mm(volume: np.ndarray, grid) -> np.ndarray:
    """Signal-weighted centre (mm, x y z) of ``volume`` on the sparse ``grid``."""
    return np.array([(volume * coordinate).sum() / volume.sum() for coordinate in grid])


def test_posed_render_in_the_phantom_frame_is_the_plain_render():
    lesion = Lesion(centre=(20.0, 10.0, 20.0), radii=(6.0, 8.0, 5.0))
    np.testing.assert_array_equal(render_posed(ANATOMY, [lesion], *GRID, pose=Pose()), render(ANATOMY, [lesion], *GRID))


def test_translation_moves_the_head_by_the_requested_millimetres():
    shift = (3.0, -2.0, 1.5)
    still = centre_of_mass_mm(render(ANATOMY, [], *WHOLE_HEAD), WHOLE_HEAD)
    moved = centre_of_mass_mm(render_posed(ANATOMY, [], *WHOLE_HEAD, pose=Pose(translation_mm=shift)), WHOLE_HEAD)
    np.testing.assert_allclose(moved - still, shift, atol=0.05)


def test_a_small_rotation_changes_the_image_but_not_the_head():
    still = render(ANATOMY, [], *WHOLE_HEAD)
    rotated = render_posed(ANATOMY, [], *WHOLE_HEAD, pose=Pose(rotation_deg=(3.0, 0.0, 0.0)))
    assert np.abs(rotated - still).mean() > 0.05 * np.abs(still).mean()  # edges and folds moved
    assert rotated.sum() == pytest.approx(still.sum(), rel=0.01)  # the same head, turned
    np.testing.assert_allclose(centre_of_mass_mm(rotated, WHOLE_HEAD), centre_of_mass_mm(still, WHOLE_HEAD), atol=0.6)


@pytest.mark.parametrize("rotation_deg, seen_at", [((0.0, 0.0, 90.0), (0.0, 30.0, 20.0)), ((90.0, 0.0, 0.0), (30.0, -20.0, 0.0))])
def test_a_head_point_q_is_seen_at_rotation_times_q_plus_translation(rotation_deg, seen_at):
    """A lesion at q = (30, 0, 20) mm, the head turned 90 degrees about z (about x), then moved by t: the lesion's
    footprint on anisotropic voxels lies at R q + t."""
    lesion, shift = Lesion(centre=(30.0, 0.0, 20.0), radii=(7.0, 7.0, 7.0)), np.array([2.0, -1.0, 3.0])
    pose = Pose(rotation_deg=rotation_deg, translation_mm=tuple(shift))
    footprint = render_posed(ANATOMY, [], *WHOLE_HEAD, pose=pose) - render_posed(ANATOMY, [lesion], *WHOLE_HEAD, pose=pose)
    assert footprint.max() > 0
    np.testing.assert_allclose(centre_of_mass_mm(footprint, WHOLE_HEAD), np.array(seen_at) + shift, atol=0.5)


def test_posed_render_works_on_the_sagittal_localizer_grid():
    x, y, z = sagittal_grid((3, 64, 64), (12.0, 4.0, 4.0))
    pose = Pose(rotation_deg=(2.0, -3.0, 1.0), translation_mm=(1.0, 2.0, -3.0))
    still, moved = render(ANATOMY, [], x, y, z), render_posed(ANATOMY, [], x, y, z, pose=pose)
    assert moved.shape == still.shape == (3, 64, 64) and moved.dtype == np.float32
    assert not np.array_equal(moved, still)
