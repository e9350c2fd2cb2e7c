"""Dictionary versions of :mod:`msmonai.transforms.array` (MONAI ``...d`` convention)."""

from __future__ import annotations

from typing import Callable, Hashable, Mapping, Sequence

from monai.config import KeysCollection
from monai.transforms import MapTransform

from msmonai.transforms.array import EnsureFinite, ResizeSlices, StandardizeDepth


class _KeysApplying(MapTransform):
    """A MapTransform that applies one array transform, ``self.transform``, to the value of each key."""

    def __init__(self, keys: KeysCollection, transform: Callable, allow_missing_keys: bool = False) -> None:
        super().__init__(keys, allow_missing_keys)
        self.transform = transform

    def __call__(self, data: Mapping[Hashable, object]) -> dict:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = self.transform(d[key])
        return d


class StandardizeDepthd(_KeysApplying):
    """Dictionary version of :class:`StandardizeDepth`."""

    def __init__(self, keys: KeysCollection, depth: int, allow_missing_keys: bool = False) -> None:
        super().__init__(keys, StandardizeDepth(depth), allow_missing_keys)


class EnsureFinited(_KeysApplying):
    """Dictionary version of :class:`EnsureFinite`."""

    def __init__(self, keys: KeysCollection, allow_missing_keys: bool = False) -> None:
        super().__init__(keys, EnsureFinite(), allow_missing_keys)


class ResizeSlicesd(_KeysApplying):
    """Dictionary version of :class:`ResizeSlices`."""

    def __init__(self, keys: KeysCollection, size: Sequence[int], allow_missing_keys: bool = False) -> None:
        super().__init__(keys, ResizeSlices(size), allow_missing_keys)
