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
    """The distinct visit volumes of some observations, each preprocessed once, by several processes at a time.

    Args:
        items: observations (datalist items with absolute image paths, see ``load_datalist``).
        transform: the preprocessing preset (``{"image": files} -> {"image": [1, D, H, W]}``); its output is
            stored as ``CACHE_DTYPE``.
        cache_dir: on-disk cache folder; None keeps volumes in memory.
        num_workers: processes that decode and preprocess the volumes up front, one core each (0: every core
            this process may use). The on-disk cache is filled up front too, so that the training's data loader
            only reads it.
        progress: show a progress bar while one process fills the in-memory cache.
    """

    def __init__(
        self,
        items: Sequence[dict],
        transform: Callable,
        cache_dir: str | None = None,
        num_workers: int = 0,
        progress: bool = True,
    ) -> None:
        self.index: dict[tuple[str, ...], int] = {}
        records = []
        for item in items:
            for visit in item["visits"]:
                key = tuple(visit["image"])
                if key not in self.index:
                    self.index[key] = len(records)
                    records.append({"image": list(key), "source": source_digest(key)})
        self.records = records
        # flat, since MONAI caches only up to the first Randomizable transform, and a nested Compose is one
        transform = Compose([transform, CastToTyped(keys="image", dtype=CACHE_DTYPE)]).flatten()
        workers = min(num_workers or available_cores(), len(records))
        if cache_dir:
            self.dataset: Dataset | list[dict] = PersistentDataset(
                records, transform=transform, cache_dir=cache_dir, hash_transform=pickle_hashing
            )
            if workers > 1:
                parallel_map(self._fill_disk_cache, range(len(records)), workers)
        elif workers > 1:
            volumes = parallel_map(functools.partial(_preprocessed_array, transform), records, workers)
            self.dataset = [{"image": torch.from_numpy(volume)} for volume in volumes]
        else:
            self.dataset = CacheDataset(records, transform=transform, num_workers=1, progress=progress)

    def _fill_disk_cache(self, position: int) -> None:
        self.volume(self.records[position]["image"])

    def __len__(self) -> int:
        return len(self.records)

    def volume(self, image: Sequence[str]) -> torch.Tensor:
        """Preprocessed ``[1, D, H, W]`` ``CACHE_DTYPE`` volume of the visit whose series files are ``image``."""
        position = self.index[tuple(image)]
        try:
            return self.dataset[position]["image"].as_subclass(torch.Tensor)
        except RuntimeError as err:
            raise _cannot_preprocess(image, err) from err


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

    Each item: ``image`` ``[T, 1, D, H, W]``, ``edss`` ``[T, 8]``, ``length`` T, ``label`` (0/1, -1 if unknown),
    ``patient`` (pseudonym) and ``last_visit_date``.

    Args:
        items: observations; volumes: their visit volumes.
        transform: applied to each observation's ``image`` (training augmentation, e.g.
            ``msmonai.transforms.VisitAugmentation``); None leaves the cached volumes as they are.
    """

    def __init__(self, items: Sequence[dict], volumes: VisitVolumes, transform: Callable | None = None) -> None:
        self.items = list(items)
        self.volumes = volumes
        self.transform = transform

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict:
        item = self.items[index]
        visits = item["visits"]
        image = torch.stack([self.volumes.volume(v["image"]) for v in visits])
        return {
            "image": self.transform(image) if self.transform is not None else image,
            "edss": torch.tensor([v["edss"] for v in visits], dtype=torch.float32),
            "length": len(visits),
            "label": int(item.get("label", -1)),
            "patient": item["patient"],
            "last_visit_date": visits[-1]["date"],
        }


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
