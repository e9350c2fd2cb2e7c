"""MONAI image reader for ONE DICOM series -> ``[D, H, W]`` float32 volume with a RAS affine.

MONAI's own readers do not fit: ``ITKReader(reverse_indexing=True)`` does not update the affine for the reversed
axes, and ``PydicomReader`` reads a list of files as separate images (and sorts a folder by InstanceNumber).
Each file is read once; only the elements checking, sorting and decoding need are parsed from it
(:func:`msmonai.io.headers.placement_from_dataset`, :mod:`msmonai.io.pixels`).

Use::

    LoadImaged(keys="image", reader=DicomSeriesReader(), image_only=True, ensure_channel_first=True)

on ``{"image": [paths of one series]}`` (or a folder holding exactly one series) to get a MetaTensor
``[1, D, H, W]``: D slices sorted by ImagePositionPatient along the slice normal, H rows, W columns,
RescaleSlope/Intercept applied, ``meta["affine"]`` mapping (d, h, w) to RAS mm. The metadata carries no
patient identifiers.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np
import pydicom
from monai.data import ImageReader
from monai.data.utils import affine_to_spacing
from monai.utils import MetaKeys, SpaceKeys, ensure_tuple
from pydicom.dataset import Dataset

from msmonai.errors import UserError
from msmonai.io.geometry import StackError, ras_affine, stack_order
from msmonai.io.headers import SlicePlacement, UnusableFile, open_dataset, placement_from_dataset
from msmonai.io.pixels import decode_slice


class DicomSeriesReader(ImageReader):
    """Read one DICOM series (a list of its files, or a folder holding only it) as a 3D volume.

    ``read`` only records the paths and every check happens in ``get_data``: when ``read`` raises,
    MONAI's ``LoadImage`` silently falls back to its other readers (ITK would load the files as separate
    images), so the user would never see our one-line reason.
    """

    def verify_suffix(self, filename: Sequence[str | os.PathLike] | str | os.PathLike) -> bool:
        """True when every entry is a folder or a DICOM file (DICOM files need no suffix)."""
        return all(Path(f).is_dir() or pydicom.misc.is_dicom(f) for f in ensure_tuple(filename))

    def read(self, data: Sequence[str | os.PathLike] | str | os.PathLike, **kwargs) -> list[Path]:
        """The paths to read: the files of one series, or one folder holding exactly one series."""
        return [Path(p) for p in ensure_tuple(data)]

    def get_data(self, img: list[Path]) -> tuple[np.ndarray, dict]:
        """Read, check and sort the slices, decode them into ``[D, H, W]`` float32 and build the metadata.

        Raises:
            UserError: naming the file (unreadable, not a usable MR slice, no decoder for its transfer syntax)
                or the series (several series, fewer than 2 slices, mixed orientations, duplicate positions...).
        """
        datasets, slices = _read_sorted(_series_paths(img))
        volume = np.empty((len(slices), *slices[0].shape), np.float32)
        for ds, placement, out in zip(datasets, slices, volume):
            decode_slice(ds, placement.path, out)
        affine = ras_affine(slices)
        meta = {
            MetaKeys.AFFINE: affine,
            MetaKeys.ORIGINAL_AFFINE: affine.copy(),
            MetaKeys.SPATIAL_SHAPE: np.asarray(volume.shape),
            MetaKeys.SPACE: SpaceKeys.RAS,
            MetaKeys.ORIGINAL_CHANNEL_DIM: "no_channel",
            "spacing": affine_to_spacing(affine, r=3),
            "series_uid": slices[0].series_uid,
        }
        return volume, meta


def _read_sorted(paths: list[Path]) -> tuple[list[Dataset], list[SlicePlacement]]:
    """Datasets and placements of one series' files, sorted along the slice normal (UserError if not one volume)."""
    datasets, slices = [], []
    for path in paths:
        try:
            ds = open_dataset(path, headers_only=False)
            slices.append(placement_from_dataset(ds, path))
        except UnusableFile as err:
            raise UserError(f"{path}: {err}") from None
        datasets.append(ds)
    series_uids = sorted({s.series_uid for s in slices})
    if len(series_uids) > 1:
        raise UserError(f"{paths[0].parent}: files of {len(series_uids)} series given, expected one series")
    try:
        order = stack_order(slices)
    except StackError as err:
        raise UserError(f"{paths[0].parent}: series {series_uids[0]}: {err}") from None
    return [datasets[i] for i in order], [slices[i] for i in order]


def _series_paths(paths: list[Path]) -> list[Path]:
    """The files to read: the given ones, or the regular files of a single given folder."""
    if len(paths) == 1 and paths[0].is_dir():
        paths = sorted(p for p in paths[0].iterdir() if p.is_file())
    if not paths:
        raise UserError("no files to read (an empty folder or list)")
    folders = [p for p in paths if p.is_dir()]
    if folders:
        raise UserError(f"{folders[0]}: a folder among the files; give the files of one series or a single folder")
    return paths

