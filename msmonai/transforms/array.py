"""Array transforms of the paper's preprocessing (section 2.3) that MONAI does not already provide.

All take and return channel-first volumes ``[C, D, H, W]`` (D = slices along the slice normal).
"""

from __future__ import annotations

from typing import Sequence

import torch
from monai.data import MetaTensor
from monai.transforms import Resize, SpatialPad, Transform
from monai.transforms.utils import scale_affine
from monai.utils.type_conversion import convert_to_tensor


class StandardizeDepth(Transform):
    """Bring the slice axis to exactly ``depth`` slices, as in the paper.

    Fewer slices: zero slices added symmetrically, ``(depth - n) // 2`` before and the rest after.
    More slices: resized along the slice axis by area averaging (MONAI ``Resize``, mode ``"area"``): each output slice
    is the mean of the input slices it covers, so a lesion in one slice is diluted, never dropped (the earlier
    regular subsampling dropped 35 of 60 slices at depth 25, and with them most small lesions: docs/training.md).
    A :class:`~monai.data.MetaTensor` keeps a consistent affine: padding shifts the origin (MONAI ``SpatialPad``),
    resizing stretches the slice spacing by ``n / depth``.

    Args:
        depth: target number of slices D.
    """

    def __init__(self, depth: int) -> None:
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth}")
        self.depth = depth

    def __call__(self, img: torch.Tensor) -> torch.Tensor:
        """``img`` ``[C, n, H, W]`` -> ``[C, depth, H, W]``."""
        img = convert_to_tensor(img, track_meta=isinstance(img, MetaTensor))
        n_slices = img.shape[1]
        if n_slices < self.depth:
            return SpatialPad(spatial_size=(self.depth, -1, -1), method="symmetric", mode="constant")(img)
        if n_slices == self.depth:
            return img
        return Resize(spatial_size=(self.depth, -1, -1), mode="area")(img)


class EnsureFinite(Transform):
    """Reject a volume holding NaN or Inf with a clear error naming its source (scaling would spread them)."""

    def __call__(self, img: torch.Tensor) -> torch.Tensor:
        """``img`` any shape; returned unchanged when every value is finite."""
        values = torch.as_tensor(img).as_subclass(torch.Tensor)
        # one reduction first: a sum is finite unless a value is NaN or Inf (or the sum overflows, checked in full)
        if values.is_floating_point() and not torch.isfinite(values.sum()) and not torch.isfinite(values).all():
            source = img.meta.get("filename_or_obj", "volume") if isinstance(img, MetaTensor) else "volume"
            if isinstance(source, (list, tuple)):
                source = source[0] if source else "volume"
            n_bad = int((~torch.isfinite(values)).sum())
            raise ValueError(f"{source}: {n_bad} voxel(s) are NaN or Inf; refusing to scale a corrupt volume")
        return img


class ResizeSlices(Transform):
    """Resize every slice to ``(H, W)`` in 2D, with anti-aliasing when shrinking; the slice count stays.

    Bilinear interpolation whose triangle filter widens with the reduction factor (``torch.nn.functional.interpolate``
    with ``antialias=True``, the filter of PIL and torchvision), run per slice in C++. MONAI's ``Resize`` with
    ``anti_aliasing`` does the same job with a Gaussian run as a 3D convolution over the whole volume, which cost
    0.84 s of a 512^2 series against 24 ms to decode it (docs/performance.md). Upsampling is plain bilinear.
    A :class:`~monai.data.MetaTensor` keeps a consistent affine (MONAI's ``scale_affine``: pixel centres, the field of
    view unchanged).

    Args:
        size: (H, W) of every output slice.
    """

    # slices resized per call, so that the filter's intermediate (rows filtered, columns not yet) stays in the CPU's
    # cache: on one core a 40 x 512^2 series took 10 ms in calls of 4 slices against 16 ms in one call (1.4 ms less
    # within the whole preset), with identical values
    SLICES_PER_CALL = 4

    def __init__(self, size: Sequence[int]) -> None:
        height, width = (int(s) for s in size)
        if height < 1 or width < 1:
            raise ValueError(f"size must be two positive integers (H, W), got {size}")
        self.size = (height, width)

    def __call__(self, img: torch.Tensor) -> torch.Tensor:
        """``img`` ``[C, D, h, w]`` -> ``[C, D, H, W]`` float32."""
        img = convert_to_tensor(img, track_meta=isinstance(img, MetaTensor))
        channels, depth, height, width = img.shape
        if (height, width) == self.size:
            return img.float()
        slices = torch.as_tensor(img, dtype=torch.float32).reshape(channels * depth, 1, height, width)
        resized = torch.empty((channels * depth, 1, *self.size), dtype=torch.float32, device=slices.device)
        for start in range(0, channels * depth, self.SLICES_PER_CALL):
            chunk = slice(start, start + self.SLICES_PER_CALL)
            resized[chunk] = torch.nn.functional.interpolate(slices[chunk], size=self.size, mode="bilinear",
                                                             antialias=True, align_corners=False)
        out = resized.reshape(channels, depth, *self.size)
        if not isinstance(img, MetaTensor):
            return out
        scale = torch.as_tensor(scale_affine((depth, height, width), (depth, *self.size)), dtype=torch.float64)
        result = MetaTensor(out).copy_meta_from(img)
        result.affine = img.affine.to(torch.float64) @ scale
        return result
