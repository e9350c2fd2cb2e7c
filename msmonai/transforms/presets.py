"""The one preprocessing preset every bundle, the ``preprocess`` command and prediction use, and the preset of the
difference between consecutive visits (the optional second input channel).

DICOM series (list of files) -> ``[1, D, H, W]`` float32 in [0, 255]: read and sort slices
(:class:`msmonai.io.DicomSeriesReader`), reject NaN/Inf, resize each slice to H x W (2D, anti-aliased), scale each
scan to [0, 255], standardise the slice count to D (symmetric zero padding, or area-averaging resize along the slices).
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from typing import Iterator, Sequence

import torch
from monai.transforms import Compose, DeleteItemsd, EnsureTyped, LoadImaged, ScaleIntensityd

from msmonai.constants import DEFAULT_SPATIAL_SIZE, INTENSITY_RANGE
from msmonai.transforms.dictionary import EnsureFinited, ResizeSlicesd, StandardizeDepthd
from msmonai.transforms.registration import PreviousVisitDifferenced


def preprocessing_transforms(
    spatial_size: Sequence[int] = DEFAULT_SPATIAL_SIZE, keys: Sequence[str] = ("image",), load: bool = True
) -> Compose:
    """The paper's preprocessing as a MONAI ``Compose`` over ``keys``.

    Args:
        spatial_size: (D, H, W) of the output volume.
        keys: dictionary keys holding one DICOM series each (a list of file paths, or a directory).
        load: False when the items already hold ``[1, n, h, w]`` arrays (tests, synthetic volumes).

    Returns:
        Compose mapping ``{key: series}`` to ``{key: MetaTensor [1, D, H, W] float32}``.
    """
    depth, height, width = (int(s) for s in spatial_size)
    keys = list(keys)
    steps = []
    if load:
        from msmonai.io import DicomSeriesReader

        with _without_gpu_decoder_notices():
            steps.append(LoadImaged(keys, reader=DicomSeriesReader(), image_only=True, ensure_channel_first=True))
    # resizing first: the scaling then runs on 128^2 slices instead of 512^2 (it is affine and the resize's weights sum
    # to 1, so only the minimum and maximum it scales by come from the resized slices); zero slices pad after scaling
    steps += [
        EnsureFinited(keys),
        ResizeSlicesd(keys, size=(height, width)),
        ScaleIntensityd(keys, minv=INTENSITY_RANGE[0], maxv=INTENSITY_RANGE[1]),
        StandardizeDepthd(keys, depth=depth),
        EnsureTyped(keys, dtype=torch.float32),
    ]
    return Compose(steps)


def difference_transforms(spatial_size: Sequence[int] = DEFAULT_SPATIAL_SIZE, on_failure: str = "raise") -> Compose:
    """``{"image": series, "previous": series of the visit before}`` -> ``{"image": [1, D, H, W]}``: the current visit
    minus the previous one rigidly aligned to it (ITK, ``msmonai.transforms.registration``), both preprocessed as by
    :func:`preprocessing_transforms`, corrected for their differing bias fields, in units of its noise inside the
    previous visit's white matter and 0 elsewhere (:mod:`msmonai.transforms.change`); new dark lesions are negative.

    ``on_failure``: ``"raise"`` ends with one line naming the series whose registration failed; ``"unaligned"`` logs
    that line as a warning and subtracts the previous visit unaligned.
    """
    return Compose([
        preprocessing_transforms(spatial_size, keys=("image", "previous")),
        PreviousVisitDifferenced(keys="image", previous_keys="previous", out_keys="image", on_failure=on_failure,
                                 white_matter=True),
        DeleteItemsd(keys="previous"),
    ])


@contextlib.contextmanager
def _without_gpu_decoder_notices() -> Iterator[None]:
    """Silence what MONAI (1.6) says on every ``LoadImage`` without a GPU image codec: it builds all its default readers
    as fallbacks, and its nvImageCodec DICOM reader warns twice that the codec is missing. Our reader never falls back
    to them (:class:`msmonai.io.DicomSeriesReader`), so the notices only cluttered every command's output."""
    plugin_log = logging.getLogger("monai.data.nvimgcodec_pydicom_plugin")
    level = plugin_log.level
    plugin_log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="NvImgCodecPydicomReader", category=UserWarning)
            yield
    finally:
        plugin_log.setLevel(level)
