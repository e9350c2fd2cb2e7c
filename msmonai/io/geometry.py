"""Slice geometry: orientation names, stacking slices along their normal, and the voxel-to-RAS affine.

DICOM patient coordinates are LPS in mm. ImageOrientationPatient (IOP) holds the direction of increasing
column index (``row`` cosines, first three values) and of increasing row index (``column`` cosines);
PixelSpacing is (distance between rows, distance between columns).
"""

from __future__ import annotations

import math
from typing import Protocol, Sequence

import numpy as np

# A slice plane tilted by at most this angle from the nearest anatomical plane is named after it.
MAX_TILT_DEGREES = 30.0
# Slices closer than this along the normal share one position; directions/spacings differing less are equal.
POSITION_TOLERANCE_MM = 0.01
DIRECTION_TOLERANCE = 1e-3
# Slice gaps may differ from their median by this fraction before the spacing counts as uneven.
SPACING_TOLERANCE = 0.1

_PLANE_OF_NORMAL_AXIS = ("sagittal", "coronal", "axial")  # normal along L-R, A-P, S-I


class StackError(ValueError):
    """The slices do not form one regular volume; the message is the one-line reason."""


def slice_normal(iop: Sequence[float]) -> np.ndarray:
    """Unit normal ``[3]`` of the slice plane (row cosines x column cosines), in LPS."""
    normal = np.cross(np.asarray(iop[:3], dtype=float), np.asarray(iop[3:6], dtype=float))
    return normal / np.linalg.norm(normal)


def orientation_name(iop: Sequence[float]) -> str:
    """``"axial"``, ``"coronal"``, ``"sagittal"`` or ``"oblique"`` (tilted more than MAX_TILT_DEGREES)."""
    normal = np.abs(slice_normal(iop))
    axis = int(np.argmax(normal))
    return _PLANE_OF_NORMAL_AXIS[axis] if normal[axis] >= math.cos(math.radians(MAX_TILT_DEGREES)) else "oblique"


class SliceGeometry(Protocol):
    """What stacking needs of a slice (e.g. :class:`msmonai.io.headers.SliceHeader`)."""

    iop: Sequence[float]  # ImageOrientationPatient, 6 values
    ipp: Sequence[float]  # ImagePositionPatient, 3 values (mm)
    shape: tuple[int, int]  # (Rows, Columns)
    pixel_spacing: Sequence[float]  # PixelSpacing, 2 values (mm)


def stack_order(slices: Sequence[SliceGeometry]) -> list[int]:
    """Indices that sort the slices along the normal, after checking they form one regular volume.

    Raises:
        StackError: fewer than 2 slices, different sizes or pixel spacings, mixed orientations,
            duplicate positions or uneven slice spacing.
    """
    iops = [s.iop for s in slices]
    shapes = [s.shape for s in slices]
    pixel_spacings = [s.pixel_spacing for s in slices]
    n = len(iops)
    if n < 2:
        raise StackError(f"only {n} slice(s); a volume needs at least 2")
    if len(set(shapes)) > 1:
        raise StackError("slices of different sizes (" + ", ".join(f"{r}x{c}" for r, c in sorted(set(shapes))) + ")")
    if not np.allclose(pixel_spacings, pixel_spacings[0], atol=DIRECTION_TOLERANCE):
        raise StackError("slices with different pixel spacings")
    if not np.allclose(iops, iops[0], atol=DIRECTION_TOLERANCE):
        names = sorted({orientation_name(iop) for iop in iops})
        raise StackError(f"mixed orientations ({', '.join(names)}) within one series")
    along_normal = np.asarray([s.ipp for s in slices], dtype=float) @ slice_normal(iops[0])
    order = np.argsort(along_normal, kind="stable")
    gaps = np.diff(along_normal[order])
    duplicates = int(np.sum(gaps < POSITION_TOLERANCE_MM))
    if duplicates:
        raise StackError(f"duplicate slice positions ({duplicates} slice(s) share a position with another)")
    median = float(np.median(gaps))
    if np.max(np.abs(gaps - median)) > SPACING_TOLERANCE * median:
        raise StackError(
            f"uneven slice spacing ({gaps.min():.2f} to {gaps.max():.2f} mm between neighbours; missing slices?)"
        )
    return [int(i) for i in order]


def ras_affine(slices: Sequence[SliceGeometry]) -> np.ndarray:
    """4x4 affine mapping voxel indices (slice d, row h, column w) of a stack to RAS mm.

    Args:
        slices: two or more slices in the order of :func:`stack_order`; the slice step is taken from the
            first and last ImagePositionPatient, the in-plane axes from ImageOrientationPatient and PixelSpacing.
    """
    from monai.data.utils import orientation_ras_lps  # MONAI loads slowly; scanning does not need it

    first, last = slices[0], slices[-1]
    first_position = np.asarray(first.ipp, dtype=float)
    lps = np.eye(4)
    lps[:3, 0] = (np.asarray(last.ipp, dtype=float) - first_position) / (len(slices) - 1)
    lps[:3, 1] = np.asarray(first.iop[3:6], dtype=float) * float(first.pixel_spacing[0])  # down a column
    lps[:3, 2] = np.asarray(first.iop[:3], dtype=float) * float(first.pixel_spacing[1])  # along a row
    lps[:3, 3] = first_position
    return orientation_ras_lps(lps)
