"""The change map of the difference channel, on the synthetic head phantom: white matter only, in noise units."""

import numpy as np
import pytest

from msmonai.demo.phantom import SIGNAL, Lesion, acquire, axial_grid, random_anatomy, render
from msmonai.transforms import previous_visit_difference
from msmonai.transforms.change import differential_intensity_field, white_matter_change

SHAPE, SPACING = (40, 96, 96), (3.75, 2.5, 2.5)  # (D, H, W) and (sz, sy, sx) mm
LESION = Lesion(centre=(-22.0, 12.0, 30.0), radii=(3.0, 3.0, 3.0))  # a 6 mm black hole in the deep white matter


@pytest.fixture(scope="module")
def pair():
    """(previous, current, lesion centre voxel, noise-free previous signal): scans with their own noise and bias."""
    anatomy = random_anatomy(np.random.default_rng(3))
    grid = axial_grid(SHAPE, SPACING, 10.0)
    before, after = render(anatomy, [], *grid), render(anatomy, [LESION], *grid)
    previous, current = (acquire(signal, np.random.default_rng(seed), bias=0.12) for seed, signal in ((1, before),
                                                                                                       (2, after)))
    x, y, z = LESION.centre
    centre = np.round(np.array([z - 10.0, y, x]) / np.asarray(SPACING) + (np.asarray(SHAPE) - 1) / 2).astype(int)
    return previous * (255 / previous.max()), current * (255 / current.max()), tuple(centre), before


def test_the_change_map_keeps_white_matter_in_noise_units_and_the_lesion_stands_out(pair):
    previous, current, centre, signal = pair
    head = (previous > 0.05 * previous.max()) & (current > 0.05 * current.max())
    corrected = previous * differential_intensity_field(current, previous, head, SPACING)
    change, info = white_matter_change(np.where(head, current - corrected, 0), corrected, head, SPACING)
    inside = change != 0
    # only white matter of the noise-free phantom carries values (a voxel or two of partial volume at most)
    assert (signal[inside] == SIGNAL["T1"]["white"]).mean() > 0.97  # 0.998 measured
    assert info["white_matter_voxels"] == inside.sum() > 10000
    values = change[inside]
    assert 1.4826 * np.median(np.abs(values - np.median(values))) == pytest.approx(1.0, abs=1e-3)  # noise units
    assert change[centre] == change.min() < -10  # -23.8 measured; more than 3 voxels from it down to -4.1
    assert info["most_negative"] == pytest.approx(change.min())


def test_a_blank_scan_gives_no_change_map_rather_than_noise_divided_by_zero():
    blank = np.zeros(SHAPE, dtype=np.float32)
    change, info = white_matter_change(blank, blank, blank > 0, SPACING)
    assert not change.any() and np.isnan(info["noise"]) and info["white_matter_voxels"] == 0


def test_the_difference_channel_preset_carries_the_change_map(pair):
    previous, current, centre, _ = pair
    change = previous_visit_difference(current[None], previous[None], SPACING, white_matter=True)[0]
    assert change[centre] == change.min() < -10
    assert (change == 0).mean() > 0.8  # everything but white matter: 0.90 measured
