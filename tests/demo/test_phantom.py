"""The synthetic head phantom: tissue contrast, lesion geometry, grids, acquisition noise."""

import numpy as np
import pytest

from msmonai.demo.phantom import SIGNAL, Anatomy, Lesion, acquire, axial_grid, render, sagittal_grid

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
