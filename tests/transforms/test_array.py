"""Exact behaviour of the paper's preprocessing steps on small arrays."""

import numpy as np
import pytest
import torch
from monai.data import MetaTensor

from msmonai.transforms import (
    EnsureFinite,
    StandardizeDepth,
    StandardizeDepthd,
    preprocessing_transforms,
)


def slice_ids(n: int) -> torch.Tensor:
    """Volume [1, n, 2, 2] whose slice k holds the value k + 1 (so padding zeros are recognisable)."""
    return torch.arange(1, n + 1, dtype=torch.float32).view(1, n, 1, 1).expand(1, n, 2, 2).clone()


@pytest.mark.parametrize(
    "n, depth, expected",
    [
        (3, 7, [0, 0, 1, 2, 3, 0, 0]),  # even deficit 4: two zeros at each end
        (4, 7, [0, 1, 2, 3, 4, 0, 0]),  # odd deficit 3: one before, two after
        (5, 5, [1, 2, 3, 4, 5]),
        (1, 4, [0, 1, 0, 0]),
    ],
)
def test_padding_is_symmetric_with_zero_slices(n, depth, expected):
    out = StandardizeDepth(depth)(slice_ids(n))
    assert out.shape == (1, depth, 2, 2)
    assert out[0, :, 0, 0].tolist() == expected


def test_more_slices_are_averaged_not_dropped_and_the_affine_stretches():
    img = MetaTensor(slice_ids(9), affine=torch.diag(torch.tensor([3.0, 1.0, 1.0, 1.0], dtype=torch.float64)))
    out = StandardizeDepth(3)(img)
    assert out[0, :, 0, 0].tolist() == [2, 5, 8]  # means of slices 1-3, 4-6, 7-9
    assert float(out.affine[0, 0]) == pytest.approx(9.0)  # slice spacing 3 mm x 9 / 3


def test_a_lesion_in_one_of_sixty_slices_survives_resizing_to_25():
    img = torch.full((1, 60, 4, 4), 200.0)
    for k in range(60):  # a dark spot in each slice alone: wherever it lies, some output slice shows it
        one = img.clone()
        one[0, k, 1, 1] = 50.0
        out = StandardizeDepth(25)(one)
        assert out.shape == (1, 25, 4, 4)
        assert float(out[0, :, 1, 1].min()) <= 200.0 - 150.0 / 4 + 1e-3  # averaged over at most 4 slices
        assert float(out[0, :, 0, 0].min()) == 200.0  # and nowhere else


def test_padding_moves_the_origin_back_by_the_added_slices():
    img = MetaTensor(slice_ids(3), affine=torch.diag(torch.tensor([2.0, 1.0, 1.0, 1.0], dtype=torch.float64)))
    out = StandardizeDepth(7)(img)
    assert float(out.affine[0, 3]) == pytest.approx(-4.0)  # two slices of 2 mm before the first real one


def test_dictionary_version_matches_array_version():
    img = slice_ids(4)
    assert torch.equal(StandardizeDepthd("image", depth=6)({"image": img})["image"], StandardizeDepth(6)(img))


def test_preset_scales_each_scan_to_0_255_and_resizes():
    rng = np.random.default_rng(0)
    raw = torch.as_tensor(rng.uniform(-200, 3500, size=(1, 12, 40, 30)), dtype=torch.float32)
    out = preprocessing_transforms((8, 16, 16), load=False)({"image": raw})["image"]
    assert out.shape == (1, 8, 16, 16)
    assert out.dtype == torch.float32
    assert float(out.min()) >= 0.0 and float(out.max()) <= 255.0
    # a plain min-max scaling of the raw scan is what the network sees before resampling
    scaled = preprocessing_transforms((12, 40, 30), load=False)({"image": raw})["image"]
    expected = (raw - raw.min()) / (raw.max() - raw.min()) * 255.0
    assert torch.allclose(scaled, expected, atol=1e-3)


def test_constant_scan_does_not_divide_by_zero():
    out = preprocessing_transforms((4, 8, 8), load=False)({"image": torch.full((1, 4, 8, 8), 1234.0)})["image"]
    assert torch.isfinite(out).all() and float(out.abs().max()) == 0.0


def test_non_finite_volume_is_rejected_naming_its_source():
    img = MetaTensor(torch.ones(1, 3, 4, 4), meta={"filename_or_obj": "/data/series_7"})
    img[0, 1, 2, 2] = float("nan")
    with pytest.raises(ValueError, match=r"/data/series_7: 1 voxel\(s\) are NaN or Inf"):
        EnsureFinite()(img)
