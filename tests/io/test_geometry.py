"""Slice geometry: plane names, the stacking checks, and the voxel-to-RAS affine."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest

from msmonai.io.geometry import StackError, orientation_name, ras_affine, stack_order

AXIAL = (1, 0, 0, 0, 1, 0)


def tilted_axial(degrees: float) -> tuple[float, ...]:
    """Axial plane rotated about the left-right axis (an AC-PC-style tilt)."""
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    return (1, 0, 0, 0, c, s)


@pytest.mark.parametrize(
    "iop, expected",
    [
        (AXIAL, "axial"),
        ((1, 0, 0, 0, 0, -1), "coronal"),
        ((0, 1, 0, 0, 0, -1), "sagittal"),
        (tilted_axial(20), "axial"),
        (tilted_axial(70), "coronal"),
        (tilted_axial(40), "oblique"),
    ],
)
def test_orientation_name(iop, expected):
    assert orientation_name(iop) == expected


@dataclass
class Slice:
    ipp: tuple[float, ...]
    iop: tuple[float, ...] = AXIAL
    shape: tuple[int, int] = (4, 4)
    pixel_spacing: tuple[float, ...] = (1.0, 1.0)


def stack(*z_positions, **kwargs):
    return [Slice((0.0, 0.0, z), **kwargs) for z in z_positions]


def test_stack_order_sorts_along_the_normal():
    assert stack_order(stack(6.0, 0.0, 9.0, 3.0)) == [1, 3, 0, 2]
    # coronal slices: normal = (1, 0, 0) x (0, 0, -1) = (0, 1, 0), posterior in LPS: anterior slices first
    coronal = [Slice((0.0, y, 0.0), iop=(1, 0, 0, 0, 0, -1)) for y in (8.0, 2.0, 5.0)]
    assert stack_order(coronal) == [1, 2, 0]


@pytest.mark.parametrize(
    "slices, message",
    [
        (stack(0.0), "only 1 slice(s)"),
        (stack(0.0, 3.0, 3.0), "duplicate slice positions (1 slice(s)"),
        (stack(0.0, 3.0, 9.0, 12.0), "uneven slice spacing (3.00 to 6.00 mm"),
        (stack(0.0) + stack(3.0, shape=(8, 8)), "slices of different sizes (4x4, 8x8)"),
        (stack(0.0) + stack(3.0, pixel_spacing=(1.0, 2.0)), "different pixel spacings"),
        (stack(0.0) + stack(3.0, iop=(0, 1, 0, 0, 0, -1)), "mixed orientations (axial, sagittal)"),
    ],
)
def test_stack_order_rejects_what_is_not_one_volume(slices, message):
    with pytest.raises(StackError) as caught:
        stack_order(slices)
    assert message in str(caught.value)


def test_ras_affine_of_an_axial_stack():
    slices = [Slice((10.0, 20.0, 30.0 + 3.0 * d), pixel_spacing=(0.5, 0.8)) for d in range(5)]
    affine = ras_affine(slices)
    # voxel (d, h, w): d steps 3 mm superior, h (rows) 0.5 mm posterior, w (columns) 0.8 mm left; LPS -> RAS
    expected = np.array([[0, 0, -0.8, -10.0], [0, -0.5, 0, -20.0], [3.0, 0, 0, 30.0], [0, 0, 0, 1]])
    np.testing.assert_allclose(affine, expected)
