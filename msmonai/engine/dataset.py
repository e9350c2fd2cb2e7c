"""Observation datasets: distinct visit volumes decoded once, sequences assembled per observation.

An observation (one datalist item) is a patient's visits up to t and the label at t + 1. The same visit
appears in several observations, so volumes are cached by visit, not by observation: in memory (filled by worker
processes, or MONAI's ``CacheDataset`` with one), or MONAI's ``PersistentDataset`` on disk when ``cache_dir`` is
given. Cache entries are keyed by a digest of the DICOM files' bytes plus the transform chain, so a changed file or
setting is never served stale, and MONAI rebuilds an entry it cannot read.

Volumes are stored as ``CACHE_DTYPE`` (float16) and batches keep it; ``SequenceBatch`` converts them to float32 on
the training device.
"""

from __future__ import annotations

import functools
import hashlib
from typing import Callable, Sequence

import numpy as np
import torch
from monai.data import CacheDataset, PersistentDataset
from monai.data.utils import pickle_hashing
from monai.transforms import CastToTyped, Compose
from torch.utils.data import Dataset

from msmonai.errors import UserError, root_cause
from msmonai.parallel import available_cores, parallel_map

CACHE_DTYPE = torch.float16
"""Storage type of cached visit volumes. Intensities lie in [0, 255], where float16 is exact to 0.0625 (the
training noise has standard deviation 5); against float32 it halves the cache's memory and every batch copy."""


def source_digest(files: Sequence[str]) -> str:
    """BLAKE2b digest of the bytes of ``files`` (in order): the cache key of one visit's volume."""
    digest = hashlib.blake2b(digest_size=16)
    for name in files:
        try:
            with open(name, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    digest.update(chunk)
        except OSError as err:
            raise UserError(f"{name}: cannot read image file ({err.strerror})") from err
        digest.update(b"\0")
    return digest.hexdigest()


class VisitVolumes:
    """The distinct visit volumes of some observations, each preprocessed once, by several processes at a time; with a
    ``difference_transform``, also each visit's difference from the visit before it.

    Args:
        items: observations (datalist items with absolute image paths, see ``load_datalist``).
        transform: the preprocessing preset (``{"image": files} -> {"image": [1, D, H, W]}``); its output is
            stored as ``CACHE_DTYPE``.
        cache_dir: on-disk cache folder; None keeps volumes in memory.
        num_workers: processes that decode and preprocess the volumes up front, one core each (0: every core
            this process may use). The on-disk cache is filled up front too, so that the training's data loader
            only reads it.
        progress: show a progress bar while one process fills the in-memory cache.
        difference_transform: ``{"image": files, "previous": files of the visit before} -> {"image": [1, D, H, W]}``
            (``msmonai.transforms.difference_transforms``), computed once per consecutive pair of visits and cached
            like the volumes; None: no differences.
    """

    def __init__(
        self,
        items: Sequence[dict],
        transform: Callable,
        cache_dir: str | None = None,
        num_workers: int = 0,
        progress: bool = True,
        difference_transform: Callable | None = None,
    ) -> None:
        self.index: dict[tuple[str, ...], int] = {}
        self.pair_index: dict[tuple[tuple[str, ...], tuple[str, ...]], int] = {}
        records, pairs = [], []
        for item in items:
            previous = None
            for visit in item["visits"]:
                key = tuple(visit["image"])
                if key not in self.index:
                    self.index[key] = len(records)
                    records.append({"image": list(key), "source": source_digest(key)})
                if difference_transform is not None and previous is not None and (previous, key) not in self.pair_index:
                    self.pair_index[(previous, key)] = len(pairs)
                    pairs.append({"image": list(key), "previous": list(previous),
                                  "source": records[self.index[key]]["source"] + records[self.index[previous]]["source"]})
                previous = key
        self.records = records
        self.with_difference = difference_transform is not None
        self.dataset = _cached(records, transform, cache_dir, num_workers, progress)
        self.differences = _cached(pairs, difference_transform, cache_dir, num_workers, progress) if pairs else []

    def __len__(self) -> int:
        return len(self.records)

    def volume(self, image: Sequence[str]) -> torch.Tensor:
        """Preprocessed ``[1, D, H, W]`` ``CACHE_DTYPE`` volume of the visit whose series files are ``image``."""
        return _read(self.dataset, self.index[tuple(image)], image)

    def difference(self, previous: Sequence[str] | None, image: Sequence[str]) -> torch.Tensor:
        """``[1, D, H, W]`` ``CACHE_DTYPE``: the visit ``image`` minus the visit ``previous`` aligned to it (zeros for
        a first visit, ``previous`` None)."""
        if previous is None:
            return torch.zeros_like(self.volume(image))
        return _read(self.differences, self.pair_index[(tuple(previous), tuple(image))], image)


def _cached(records: list[dict], transform: Callable, cache_dir: str | None, num_workers: int,
            progress: bool) -> Dataset | list[dict]:
    """``transform`` of every record, cast to ``CACHE_DTYPE``: on disk (filled up front by ``num_workers``
    processes), or in memory (filled by worker processes, or by MONAI's ``CacheDataset`` in this one)."""
    # flat, since MONAI caches only up to the first Randomizable transform, and a nested Compose is one
    transform = Compose([transform, CastToTyped(keys="image", dtype=CACHE_DTYPE)]).flatten()
    workers = min(num_workers or available_cores(), len(records))
    if cache_dir:
        dataset = PersistentDataset(records, transform=transform, cache_dir=cache_dir, hash_transform=pickle_hashing)
        if workers > 1:
            parallel_map(functools.partial(_read, dataset), range(len(records)), workers)
        return dataset
    if workers > 1:
        volumes = parallel_map(functools.partial(_preprocessed_array, transform), records, workers)
        return [{"image": torch.from_numpy(volume)} for volume in volumes]
    return CacheDataset(records, transform=transform, num_workers=1, progress=progress)


def _read(dataset: Dataset | list[dict], position: int, image: Sequence[str] | None = None) -> torch.Tensor:
    """``dataset[position]["image"]`` as a plain tensor; a failure as a one-line error naming the series."""
    try:
        return dataset[position]["image"].as_subclass(torch.Tensor)
    except RuntimeError as err:
        raise _cannot_preprocess(image or dataset.data[position]["image"], err) from err


def _preprocessed_array(transform: Callable, record: dict) -> np.ndarray:
    """``transform(record)["image"]`` as an array (a tensor would cross processes as a shared-memory handle each), its
    failure as the one-line error ``VisitVolumes.volume`` gives."""
    try:
        return transform(record)["image"].numpy()
    except RuntimeError as err:
        raise _cannot_preprocess(record["image"], err) from err


def _cannot_preprocess(image: Sequence[str], err: BaseException) -> UserError:
    return UserError(f"{image[0]}: cannot preprocess this series ({root_cause(err)})")


class VisitSequenceDataset(Dataset):
    """Observations as tensors for the sequence networks.

    Each item: ``image`` ``[T, C, D, H, W]`` (C = 1, or 2 when ``volumes`` has differences: each visit's volume and its
    difference from the visit before, zeros for the first), ``edss`` ``[T, 8]``, ``length`` T, ``label`` (0/1, -1 if
    unknown), ``patient`` (pseudonym) and ``last_visit_date``.

    Args:
        items: observations; volumes: their visit volumes.
        augmentation: applied to each observation's ``image`` in training (e.g.
            ``msmonai.transforms.VisitAugmentation``); None leaves the cached volumes as they are.
    """

    def __init__(self, items: Sequence[dict], volumes: VisitVolumes, augmentation: Callable | None = None) -> None:
        self.items = list(items)
        self.volumes = volumes
        self.augmentation = augmentation

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict:
        item = self.items[index]
        visits = item["visits"]
        image = torch.stack([self._channels(previous, visit) for previous, visit in zip([None, *visits], visits)])
        return {
            "image": self.augmentation(image) if self.augmentation is not None else image,
            "edss": torch.tensor([v["edss"] for v in visits], dtype=torch.float32),
            "length": len(visits),
            "label": int(item.get("label", -1)),
            "patient": item["patient"],
            "last_visit_date": visits[-1]["date"],
        }


    def _channels(self, previous: dict | None, visit: dict) -> torch.Tensor:
        """``[C, D, H, W]`` of one visit."""
        volume = self.volumes.volume(visit["image"])
        if not self.volumes.with_difference:
            return volume
        return torch.cat([volume, self.volumes.difference(previous and previous["image"], visit["image"])])


def collate_sequences(batch: Sequence[dict]) -> dict:
    """Pad observations to the longest sequence of the batch.

    Returns ``image`` ``[B, T, 1, D, H, W]`` (zeros after each ``length``, the items' dtype), ``edss`` ``[B, T, 8]``,
    ``length`` ``[B]`` int64, ``label`` ``[B]`` int64, and lists ``patient``, ``last_visit_date``.
    """
    longest = max(b["length"] for b in batch)

    def padded(key: str) -> torch.Tensor:
        """One allocation per batch and one copy per item: the copies dominate a cached epoch."""
        first = batch[0][key]
        out = torch.zeros((len(batch), longest, *first.shape[1:]), dtype=first.dtype)
        for row, item in enumerate(batch):
            out[row, : item["length"]] = item[key]
        return out

    return {
        "image": padded("image"),
        "edss": padded("edss"),
        "length": torch.tensor([b["length"] for b in batch], dtype=torch.int64),
        "label": torch.tensor([b["label"] for b in batch], dtype=torch.int64),
        "patient": [b["patient"] for b in batch],
        "last_visit_date": [b["last_visit_date"] for b in batch],
    }
