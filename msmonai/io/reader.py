"""MONAI image reader for ONE DICOM series -> ``[D, H, W]`` float32 volume with a RAS affine.

MONAI's own readers do not fit: ``ITKReader(reverse_indexing=True)`` leaves the affine in (x, y, z) order,
and ``PydicomReader`` reads a list of files as separate images (and sorts a folder by InstanceNumber).
Decoding is pydicom's (pylibjpeg plugins for JPEG / JPEG 2000, native RLE).

Use::

    LoadImaged(keys="image", reader=DicomSeriesReader(), image_only=True, ensure_channel_first=True)

on ``{"image": [paths of one series]}`` (or a folder holding exactly one series) to get a MetaTensor
``[1, D, H, W]``: D slices sorted by ImagePositionPatient along the slice normal, H rows, W columns,
RescaleSlope/Intercept applied, ``meta["affine"]`` mapping (d, h, w) to RAS mm. The metadata carries no
patient identifiers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pydicom
from monai.data import ImageReader
from monai.data.utils import affine_to_spacing
from monai.utils import MetaKeys, SpaceKeys, ensure_tuple
from pydicom.dataset import Dataset
from pydicom.pixels import apply_modality_lut

from msmonai.errors import UserError
from msmonai.io.geometry import StackError, ras_affine, stack_order
from msmonai.io.headers import SliceHeader, UnusableFile, header_from_dataset, open_dataset


@dataclass
class DicomSeries:
    """The datasets of one series, sorted along the slice normal, with their headers."""

    datasets: list[Dataset]
    headers: list[SliceHeader]


class DicomSeriesReader(ImageReader):
    """Read one DICOM series (a list of its files, or a folder holding only it) as a 3D volume."""

    def verify_suffix(self, filename: Sequence[str | os.PathLike] | str | os.PathLike) -> bool:
        """True when every entry is a folder or a DICOM file (DICOM files need no suffix)."""
        return all(Path(f).is_dir() or pydicom.misc.is_dicom(f) for f in ensure_tuple(filename))

    def read(self, data: Sequence[str | os.PathLike] | str | os.PathLike, **kwargs) -> DicomSeries:
        """Read and check every file of the series and sort the slices along their normal.

        Raises:
            UserError: naming the file (unreadable, not a usable MR slice, no decoder for its transfer syntax)
                or the series (several series, fewer than 2 slices, mixed orientations, duplicate positions...).
        """
        paths = _series_paths(data)
        datasets, headers = [], []
        for path in paths:
            try:
                ds = open_dataset(path, headers_only=False)
                headers.append(header_from_dataset(ds, path))
            except UnusableFile as err:
                raise UserError(f"{path}: {err}") from None
            datasets.append(ds)
        series_uids = sorted({h.series_uid for h in headers})
        if len(series_uids) > 1:
            raise UserError(f"{paths[0].parent}: files of {len(series_uids)} series given, expected one series")
        try:
            order = stack_order(
                [h.iop for h in headers], [h.ipp for h in headers], [h.shape for h in headers], [h.pixel_spacing for h in headers]
            )
        except StackError as err:
            raise UserError(f"{paths[0].parent}: series {series_uids[0]}: {err}") from None
        return DicomSeries([datasets[i] for i in order], [headers[i] for i in order])

    def get_data(self, img: DicomSeries) -> tuple[np.ndarray, dict]:
        """Decode the slices into ``[D, H, W]`` float32 (modality LUT / rescale applied) and build the metadata."""
        volume = np.stack([_decode(ds, header.path) for ds, header in zip(img.datasets, img.headers)])
        first, last = img.headers[0], img.headers[-1]
        affine = ras_affine(first.iop, first.ipp, last.ipp, len(img.headers), first.pixel_spacing)
        meta = {
            MetaKeys.AFFINE: affine,
            MetaKeys.ORIGINAL_AFFINE: affine.copy(),
            MetaKeys.SPATIAL_SHAPE: np.asarray(volume.shape),
            MetaKeys.SPACE: SpaceKeys.RAS,
            MetaKeys.ORIGINAL_CHANNEL_DIM: "no_channel",
            "spacing": affine_to_spacing(affine, r=3),
            "series_uid": first.series_uid,
        }
        return volume, meta


def _series_paths(data: Sequence[str | os.PathLike] | str | os.PathLike) -> list[Path]:
    """The files to read: the given ones, or the regular files of a single given folder."""
    paths = [Path(p) for p in ensure_tuple(data)]
    if len(paths) == 1 and paths[0].is_dir():
        paths = sorted(p for p in paths[0].iterdir() if p.is_file())
    if not paths:
        raise UserError(f"{data}: no files to read")
    folders = [p for p in paths if p.is_dir()]
    if folders:
        raise UserError(f"{folders[0]}: expected the files of one series or a single folder, got a folder among them")
    return paths


def _decode(ds: Dataset, path: Path) -> np.ndarray:
    """Pixel values ``[H, W]`` float32 after the modality LUT (RescaleSlope / RescaleIntercept)."""
    try:
        stored = ds.pixel_array
    except Exception as err:  # pydicom/pylibjpeg raise many types for corrupt or short pixel data
        syntax = ds.file_meta.get("TransferSyntaxUID")
        detail = " ".join(str(err).split())
        raise UserError(f"{path}: cannot decode pixel data ({getattr(syntax, 'name', syntax)}): {detail}") from None
    return np.asarray(apply_modality_lut(stored, ds), dtype=np.float32)
