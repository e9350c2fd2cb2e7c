"""Training augmentation of an observation's visit volumes with MONAI's random transforms.

The visits of one observation are stacked as channels, so that one draw moves, flips and re-scans all of them alike:
the change between visits, which is what activity is, survives augmentation, while the network stops recognising
a patient by pose, side, intensity scale or coil shading.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from monai.transforms import Compose, RandAffine, RandBiasField, RandFlip, RandScaleIntensity, Transform

ROTATION_DEG = 5.0  # head pose between scans differs by a few degrees
TRANSLATION_FRACTION = 0.04  # of each axis: about 5 mm of a 128-pixel, 230 mm field of view
INTENSITY_SCALE = 0.1
BIAS_FIELD = (0.0, 0.1)  # coefficients of MONAI's polynomial field (log domain): mild coil shading


class VisitAugmentation(Transform):
    """``[T, C, D, H, W]`` -> same shape: one random rigid move, left-right flip, intensity scale and bias field for all
    T visits of an observation (axial volumes: W runs from right to left).

    Args:
        spatial_size: (D, H, W) of the volumes, for the translation range in voxels.
        prob: probability of each of the four transforms.

    Each call seeds the transforms from torch's generator, which the bundles seed per epoch (``EpochSeeder``) and the
    data loader per worker: a resumed run augments as an uninterrupted one, and workers do not repeat each other.
    """

    def __init__(self, spatial_size: Sequence[int], prob: float = 0.5) -> None:
        rotation = math.radians(ROTATION_DEG)
        shift = [TRANSLATION_FRACTION * int(s) for s in spatial_size]
        self.transform = Compose([
            RandAffine(prob=prob, rotate_range=(rotation, rotation, rotation), translate_range=shift,
                       padding_mode="zeros", mode="bilinear"),
            RandFlip(prob=prob, spatial_axis=2),
            RandScaleIntensity(prob=prob, factors=INTENSITY_SCALE),
            RandBiasField(prob=prob, coeff_range=BIAS_FIELD),
        ])

    def __call__(self, visits: torch.Tensor) -> torch.Tensor:
        self.transform.set_random_state(int(torch.randint(2**31 - 1, ())))
        stacked = visits.flatten(0, 1).float()  # [T * C, D, H, W]
        out = torch.as_tensor(self.transform(stacked)).as_subclass(torch.Tensor)
        return out.reshape(visits.shape).to(visits.dtype)
