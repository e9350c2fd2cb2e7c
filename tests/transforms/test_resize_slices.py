"""The in-plane resize of the preset: agrees with MONAI's anti-aliased Resize (the preset's step before) and with an
independent ITK resampler on a 512^2 head, suppresses aliasing, keeps the passband, and keeps the affine true."""

import itk
import numpy as np
import pytest
import torch
from monai.data import MetaTensor
from monai.transforms import Resize

from msmonai.demo.phantom import acquire, axial_grid, random_anatomy, random_lesion, render
from msmonai.transforms import ResizeSlices, ResizeSlicesd

SCANNER = 512
OUT = 128


@pytest.fixture(scope="module")
def head_512() -> torch.Tensor:
    """``[1, 4, 512, 512]`` noisy T1 phantom slices with lesions, 0.47 mm pixels, scaled to [0, 255]."""
    rng = np.random.default_rng(0)
    anatomy = random_anatomy(rng)
    lesions = [random_lesion(anatomy, rng, 3.0) for _ in range(15)]
    x, y, z = axial_grid((4, SCANNER, SCANNER), (6.0, 0.47, 0.47))
    volume = acquire(render(anatomy, lesions, x, y, z), rng)
    volume = (volume - volume.min()) / (volume.max() - volume.min()) * 255.0
    return torch.as_tensor(volume[None], dtype=torch.float32)


def itk_reference(image: np.ndarray, size: int) -> np.ndarray:
    """ITK, slice by slice: Gaussian anti-aliasing (scikit-image's sigma, (factor - 1) / 2 pixels), then linear
    resampling at pixel centres over the same field of view."""
    out = []
    for plane in image:
        factor = plane.shape[0] / size
        smooth = itk.discrete_gaussian_image_filter(
            itk.image_from_array(plane.astype(np.float32)), variance=((factor - 1) / 2) ** 2,
            use_image_spacing=False, maximum_kernel_width=64,
        )
        resampled = itk.resample_image_filter(
            smooth, size=[size, size], output_spacing=[factor, factor], output_origin=[(factor - 1) / 2] * 2,
            interpolator=itk.LinearInterpolateImageFunction.New(smooth),
        )
        out.append(itk.array_from_image(resampled))
    return np.stack(out)


def agreement(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    """(correlation, max |a - b|, mean |a - b|) of two equally shaped arrays."""
    a, b = a.ravel().astype(np.float64), b.ravel().astype(np.float64)
    return float(np.corrcoef(a, b)[0, 1]), float(np.abs(a - b).max()), float(np.abs(a - b).mean())


def test_agrees_with_monai_resize_and_itk_on_a_512_head(head_512):
    new = ResizeSlices((OUT, OUT))(head_512).numpy()[0]
    before = Resize((-1, OUT, OUT), mode="trilinear", anti_aliasing=True)(head_512).numpy()[0]
    reference = itk_reference(head_512.numpy()[0], OUT)
    assert new.shape == before.shape == reference.shape == (4, OUT, OUT)
    for other in (before, reference):
        correlation, max_diff, mean_diff = agreement(new, other)
        # 255 is the range; edges of skull and lesions differ by a few grey levels between filters
        assert correlation > 0.9995 and max_diff < 12.0 and mean_diff < 0.5, (correlation, max_diff, mean_diff)


def stripes(cycles: float) -> torch.Tensor:
    """``[1, 2, 512, 512]``: 100 + 50 sin(2 pi cycles x) across the columns, constant down the rows."""
    x = (torch.arange(SCANNER, dtype=torch.float64) + 0.5) / SCANNER
    row = 100 + 50 * torch.sin(2 * torch.pi * cycles * x)
    return row.expand(1, 2, SCANNER, SCANNER).float().clone()


def amplitude(image: torch.Tensor) -> float:
    """Half the peak-to-peak of one row, away from the borders."""
    row = image[0, 0, OUT // 2, 8:-8]
    return float(row.max() - row.min()) / 2


@pytest.mark.parametrize("cycles", [100, 150, 200])  # 1.6x to 3x the output's Nyquist frequency (64 cycles)
def test_frequencies_above_the_output_nyquist_do_not_alias(cycles):
    plain = torch.nn.functional.interpolate(stripes(cycles)[0][:, None], size=(OUT, OUT), mode="bilinear")
    assert amplitude(plain.transpose(0, 1)) > 15  # what an unfiltered resize lets through
    assert amplitude(ResizeSlices((OUT, OUT))(stripes(cycles))) < 5  # 10 % of the input's 50


def test_low_frequencies_pass():
    assert amplitude(ResizeSlices((OUT, OUT))(stripes(8))) == pytest.approx(50, rel=0.05)


def test_slice_count_and_constant_volumes_are_kept():
    image = torch.full((1, 7, 300, 200), 42.0)
    out = ResizeSlices((OUT, 96))(image)
    assert out.shape == (1, 7, OUT, 96) and out.dtype == torch.float32
    assert torch.allclose(out, torch.full_like(out, 42.0))
    up = ResizeSlices((OUT, OUT))(torch.full((1, 3, 64, 64), 7.0))  # upsampling: plain bilinear
    assert torch.allclose(up, torch.full_like(up, 7.0))


def test_resizing_a_few_slices_per_call_changes_no_value():
    """Several channels and a slice count that is not a multiple of the chunk: equal to one call over all slices."""
    image = torch.rand(2, ResizeSlices.SLICES_PER_CALL * 2 + 3, 300, 200) * 1000
    out = ResizeSlices((OUT, 96))(image)
    whole = torch.nn.functional.interpolate(image.reshape(-1, 1, 300, 200), size=(OUT, 96), mode="bilinear",
                                            antialias=True, align_corners=False).reshape(2, -1, OUT, 96)
    assert torch.equal(out, whole)


def test_affine_keeps_the_field_of_view():
    affine = torch.tensor([[0.47, 0, 0, -120.0], [0, 0.47, 0, -100.0], [0, 0, 3.0, 10.0], [0, 0, 0, 1]],
                          dtype=torch.float64)
    image = MetaTensor(torch.zeros(1, 5, SCANNER, SCANNER), affine=affine)
    out = ResizeSlicesd("image", size=(OUT, OUT))({"image": image})["image"]
    assert isinstance(out, MetaTensor)
    spacing = torch.linalg.norm(out.affine[:3, :3], dim=0)
    # the matrix columns belong to the array axes (D, H, W): only H and W are 4x coarser
    assert torch.allclose(spacing, torch.tensor([0.47, 0.47 * 4, 3.0 * 4], dtype=torch.float64))

    def corner(a: torch.Tensor, size: tuple[int, int, int]) -> torch.Tensor:
        """World position of the outer edge of voxel (0, 0, 0) and of the far edge (field of view corners)."""
        low = a @ torch.tensor([-0.5, -0.5, -0.5, 1.0], dtype=torch.float64)
        high = a @ torch.tensor([size[0] - 0.5, size[1] - 0.5, size[2] - 0.5, 1.0], dtype=torch.float64)
        return torch.stack([low, high])

    assert torch.allclose(corner(out.affine, (5, OUT, OUT)), corner(affine, (5, SCANNER, SCANNER)))


def test_rejects_a_non_positive_size():
    with pytest.raises(ValueError, match="two positive integers"):
        ResizeSlices((0, OUT))
