"""MONAI transforms of the paper's preprocessing (array + dictionary forms) and the shared preset."""

from msmonai.transforms.array import EnsureFinite, ResizeSlices, StandardizeDepth
from msmonai.transforms.augmentation import VisitAugmentation
from msmonai.transforms.dictionary import EnsureFinited, ResizeSlicesd, StandardizeDepthd
from msmonai.transforms.presets import (
    DEFAULT_SPATIAL_SIZE,
    INTENSITY_RANGE,
    difference_transforms,
    preprocessing_transforms,
)
from msmonai.transforms.registration import (
    AlignToReference,
    AlignToReferenced,
    PreviousVisitDifference,
    PreviousVisitDifferenced,
    RegistrationError,
    previous_visit_difference,
    rigid_register,
)

__all__ = [
    "AlignToReference",
    "AlignToReferenced",
    "DEFAULT_SPATIAL_SIZE",
    "EnsureFinite",
    "INTENSITY_RANGE",
    "EnsureFinited",
    "ResizeSlices",
    "ResizeSlicesd",
    "StandardizeDepth",
    "StandardizeDepthd",
    "PreviousVisitDifference",
    "PreviousVisitDifferenced",
    "RegistrationError",
    "difference_transforms",
    "preprocessing_transforms",
    "previous_visit_difference",
    "rigid_register",
    "VisitAugmentation",
]
