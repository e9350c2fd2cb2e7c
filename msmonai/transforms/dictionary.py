"""Dictionary versions of :mod:`msmonai.transforms.array` (MONAI ``...d`` convention)."""

from __future__ import annotations

from typing import Hashable, Mapping, Sequence

from monai.config import KeysCollection
from monai.transforms import MapTransform

from msmonai.transforms.array import EnsureFinite, ResizeSlices, StandardizeDepth


class StandardizeDepthd(MapTransform):
    """Dictionary version of :class:`StandardizeDepth`."""

    def __init__(self, keys: KeysCollection, depth: int, allow_missing_keys: bool = False) -> None:
        super().__init__(keys, allow_missing_keys)
        self.transform = StandardizeDepth(depth)

    def __call__(self, data: Mapping[Hashable, object]) -> dict:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = self.transform(d[key])
        return d


class EnsureFinited(MapTransform):
    """Dictionary version of :class:`EnsureFinite`."""

    def __init__(self, keys: KeysCollection, allow_missing_keys: bool = False) -> None:
        super().__init__(keys, allow_missing_keys)
        self.transform = EnsureFinite()

    def __call__(self, data: Mapping[Hashable, object]) -> dict:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = self.transform(d[key])
        return d


class ResizeSlicesd(MapTransform):
    """Dictionary version of :class:`ResizeSlices`."""

    def __init__(self, keys: KeysCollection, size: Sequence[int], allow_missing_keys: bool = False) -> None:
        super().__init__(keys, allow_missing_keys)
        self.transform = ResizeSlices(size)

    def __call__(self, data: Mapping[Hashable, object]) -> dict:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = self.transform(d[key])
        return d
