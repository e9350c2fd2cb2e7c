"""Rigid alignment of a visit to the patient's previous visit, and the aligned difference (issue 24 section 3).

New and enlarging lesions are what MS activity is; neuroradiologists find them on registered subtraction images.
:func:`rigid_register` moves one volume onto another's grid with ITK (6 degrees of freedom, Mattes mutual
information, three resolutions); :func:`previous_visit_difference` subtracts the previous visit, so aligned, from the
current one. The MONAI transforms below wrap them.

Volumes are ``[1, D, H, W]`` or ``[D, H, W]`` (D = slices); ``spacing`` is ``(sz, sy, sx)`` in mm, the order of the
array axes. Positions are in mm from each volume's centre, along (z, y, x) = (D, H, W). The recovered transform maps a
point ``p`` of the fixed (reference) volume to ``R @ p + t`` in the moving volume (ITK's and scipy's convention).

Accuracy on phantom pairs with known motions (up to 5 degrees and 4 mm, own noise and bias field per scan): at
50 x 128 x 128 (3 mm slices) within 0.3 degrees and 0.25 mm, also between grids 6-8 % apart; at 25 x 64 x 64 (6 mm
slices) within 0.3 degrees and 0.3 mm on one grid, but up to 2.6 degrees (the nod, the least resolved angle) and
0.7 mm between grids 6-8 % apart. About 1 s per pair at 50 x 128 x 128 and 0.45 s at 25 x 64 x 64, on one core.

ITK is imported inside the functions: preprocessing workers import this package with ITK marked as absent
(:mod:`msmonai.lean_monai`). The first registration in a process loads ITK's registration modules: 18-20 s of CPU.
"""

from __future__ import annotations

import logging
import math
from typing import Hashable, Mapping, Sequence

import numpy as np
import torch
from monai.config import KeysCollection
from monai.data import MetaTensor
from monai.transforms import GaussianSmooth, MapTransform, Transform
from monai.utils import ensure_tuple
from monai.utils.type_conversion import convert_to_dst_type

from msmonai.errors import UserError
from msmonai.transforms.change import differential_intensity_field, white_matter_change

logger = logging.getLogger(__name__)

ON_FAILURE = ("raise", "unaligned")
MAX_ROTATION_DEG = 15.0  # between two yearly scans of one head, more is a failed registration ...
MAX_TRANSLATION_MM = 20.0  # ... as is more shift than this (volumes are centred on the head by the acquisition)
RESIDUAL_TOLERANCE = 0.02  # the residual may exceed the unaligned one by this fraction of the head's median intensity
# nats; two scans of one phantom head shared 0.86-1.13, of two different heads 0.68-0.78, a head and noise 0.01-0.08
MIN_MUTUAL_INFORMATION = 0.2
HEAD_FRACTION = 0.05  # voxels above this fraction of a volume's maximum are the head (air is below)
SEED = 24  # of the metric's random sample of voxels: the same pair always gives the same result

# three resolutions (voxels shrunk 4, 2, 1 times, smoothed by 2, 1, 0 voxels), each sampling about this many voxels
# (all, where fewer); without the smoothing, 2 of 6 phantom pairs stopped 0.8-3.7 degrees off; with a fixed fraction
# of the voxels instead of a count, 25 x 64 x 64 pairs had too few samples and ended up to 1 degree off
SHRINK_FACTORS, SMOOTHING_SIGMAS, SAMPLES = (4, 2, 1), (2.0, 1.0, 0.0), (3000, 10000, 16000)
# regular-step gradient descent per level, parameters scaled by the voxel shift they cause; the step shrinks by
# RELAXATION at each reversal of the gradient (0.5 stalled 2 of 6 pairs 1.8-2.8 degrees off)
HISTOGRAM_BINS, MAX_ITERATIONS, MIN_STEP, RELAXATION = 32, 100, 1e-3, 0.8


class RegistrationError(UserError):
    """A registration that raised or gave an implausible result; the message is one line naming the volume."""


def rigid_register(
    moving: np.ndarray | torch.Tensor,
    fixed: np.ndarray | torch.Tensor,
    spacing: Sequence[float] = (1.0, 1.0, 1.0),
    moving_spacing: Sequence[float] | None = None,
    *,
    label: str = "volume",
    on_failure: str = "raise",
) -> tuple[np.ndarray, dict]:
    """Rigidly align ``moving`` to ``fixed`` and resample it onto ``fixed``'s grid.

    Args:
        moving, fixed: ``[1, D, H, W]`` or ``[D, H, W]`` volumes (any intensity scale; the shapes may differ).
        spacing: (sz, sy, sx) mm of ``fixed``; ``moving_spacing`` of ``moving`` (default: the same).
        label: names the volume (e.g. the study) in the one-line error or warning of a failure.
        on_failure: ``"raise"``: a :class:`RegistrationError`; ``"unaligned"``: log a warning and return ``moving``
            resampled onto ``fixed``'s grid without moving it (``info["failure"]`` says why).

    A failure is ITK raising, either volume blank, or a result that cannot be the same head: mutual information below
    ``MIN_MUTUAL_INFORMATION``, a rotation over ``MAX_ROTATION_DEG``, a translation over ``MAX_TRANSLATION_MM``, or a
    residual worse than the unaligned one (by ``RESIDUAL_TOLERANCE`` of the head's median intensity).

    Returns:
        ``(aligned, info)``: ``aligned`` float32 of ``fixed``'s shape, linear interpolation, 0 outside ``moving``.
        ``info``: ``metric`` (final Mattes mutual information, negated: lower is better), ``iterations`` (all
        levels), ``rotation`` (3 x 3, z y x), ``rotation_deg`` (its angle), ``translation_mm`` (z, y, x),
        ``residual_before`` / ``residual_after`` (mean absolute difference from ``fixed`` inside ``fixed``'s head,
        unaligned / aligned), ``failure`` (None, or the reason).
    """
    if on_failure not in ON_FAILURE:
        raise ValueError(f"on_failure must be one of {ON_FAILURE}, got {on_failure!r}")
    moving_array, fixed_array = _volume(moving), _volume(fixed)
    import itk  # noqa: PLC0415  (10 s; see the module's docstring)

    moving_spacing = spacing if moving_spacing is None else moving_spacing
    fixed_image, moving_image = _itk_image(fixed_array, spacing), _itk_image(moving_array, moving_spacing)
    head = fixed_array > HEAD_FRACTION * fixed_array.max()
    same_grid = moving_array.shape == fixed_array.shape and np.allclose(moving_spacing, spacing)
    identity = itk.VersorRigid3DTransform[itk.D].New()
    unaligned = moving_array if same_grid else _resample(moving_image, fixed_image, identity)
    info = {"metric": math.nan, "iterations": 0, "rotation": np.eye(3), "rotation_deg": 0.0,
            "translation_mm": np.zeros(3), "residual_before": _residual(fixed_array, unaligned, head),
            "residual_after": math.nan, "failure": None}
    try:
        if not head.any() or not (moving_array > HEAD_FRACTION * moving_array.max()).any():
            raise _Implausible("a volume is blank (no voxel above zero)")
        transform, info["metric"], info["iterations"] = _register(itk, moving_image, fixed_image)
        # ITK's matrix and offset act on (x, y, z); the reversal permutation brings them to the arrays' (z, y, x)
        matrix = itk.array_from_matrix(transform.GetMatrix())[::-1, ::-1]
        info["rotation"], info["translation_mm"] = matrix, np.array(transform.GetOffset())[::-1]
        info["rotation_deg"] = math.degrees(math.acos(np.clip((np.trace(matrix) - 1) / 2, -1.0, 1.0)))
        aligned = _resample(moving_image, fixed_image, transform)
        info["residual_after"] = _residual(fixed_array, aligned, head)
        _check(info, tolerance=RESIDUAL_TOLERANCE * float(np.median(fixed_array[head])))
    except (RuntimeError, _Implausible) as error:
        reason = _one_line(error)
        info["failure"] = reason
        message = f"{label}: rigid registration failed: {reason}"
        if on_failure == "raise":
            raise RegistrationError(message) from error
        logger.warning("%s; the volume is used unaligned", message)
        aligned = unaligned
    return aligned.reshape(fixed.shape), info


def previous_visit_difference(
    current: np.ndarray | torch.Tensor,
    previous: np.ndarray | torch.Tensor | None,
    spacing: Sequence[float] = (1.0, 1.0, 1.0),
    previous_spacing: Sequence[float] | None = None,
    *,
    mask: bool = True,
    smooth_sigma: float = 0.0,
    white_matter: bool = False,
    label: str = "volume",
    on_failure: str = "raise",
) -> np.ndarray | torch.Tensor:
    """``current`` minus ``previous`` aligned onto it (:func:`rigid_register`): in ``current``'s space and shape.

    New or enlarging T1-hypointense lesions are negative. Before subtracting, the aligned ``previous`` is multiplied by
    :func:`msmonai.transforms.change.differential_intensity_field`: the two scans' gains differ (each is scaled to
    [0, 255] by its own maximum) and so do their bias fields, which left smooth differences of up to +-20 % of white
    matter, larger than a lesion's contrast. The difference is zero outside the voxels where both volumes are head
    (above ``HEAD_FRACTION`` of their maximum); ``smooth_sigma`` (voxels; 0: none) then smooths it with a Gaussian, and
    ``mask`` zeroes what the smoothing spread outside again. ``white_matter``: the difference in units of its noise inside
    the previous visit's white matter and 0 elsewhere (:func:`msmonai.transforms.change.white_matter_change`; its
    noise and most negative value are logged), where MS lesions form and no tissue edge leaves residue.
    ``previous`` None (the first visit): zeros. Returns the type of ``current`` (a MetaTensor keeps its meta), float32.
    """
    current_array = _volume(current)
    if previous is None:
        difference = np.zeros_like(current_array)
    else:
        aligned, info = rigid_register(previous, current_array, spacing, previous_spacing, label=label,
                                       on_failure=on_failure)
        logger.info("%s: previous visit aligned by %.1f degrees and %.1f mm; mean absolute difference in the head "
                    "%.1f unaligned, %.1f aligned", label, info["rotation_deg"], np.linalg.norm(info["translation_mm"]),
                    info["residual_before"], info["residual_after"])
        both = (current_array > HEAD_FRACTION * current_array.max()) & (aligned > HEAD_FRACTION * aligned.max())
        aligned *= differential_intensity_field(current_array, aligned, both, spacing)
        # outside the overlap (a part of the head one scan did not cover) the difference is no change: zeros, which
        # the smoothing must not spread into the overlap either
        difference = np.where(both, current_array - aligned, 0.0).astype(np.float32)
        if smooth_sigma > 0:
            difference = GaussianSmooth(smooth_sigma)(torch.from_numpy(difference)[None]).numpy()[0]
        if mask:
            difference *= both
        if white_matter:
            difference, change = white_matter_change(difference, aligned, both, spacing)
            logger.info("%s: white matter %d voxels, noise %.2f, most negative change %.1f noise standard deviations",
                        label, change["white_matter_voxels"], change["noise"], change["most_negative"])
    difference = difference.reshape(current.shape)
    return convert_to_dst_type(difference, dst=current, dtype=torch.float32)[0]


class AlignToReference(Transform):
    """Rigidly align an image to a reference and resample it onto the reference's grid (:func:`rigid_register`).

    Args:
        spacing: (sz, sy, sx) mm of both volumes; None: each MetaTensor's ``pixdim``, else 1 mm.
        on_failure: ``"raise"`` or ``"unaligned"`` (:func:`rigid_register`).
        name: names the volume in a failure's message; None: the MetaTensor's file, else "volume".
    """

    def __init__(self, spacing: Sequence[float] | None = None, on_failure: str = "raise",
                 name: str | None = None) -> None:
        if on_failure not in ON_FAILURE:
            raise ValueError(f"on_failure must be one of {ON_FAILURE}, got {on_failure!r}")
        self.spacing, self.on_failure, self.name = spacing, on_failure, name

    def __call__(self, img: torch.Tensor, reference: torch.Tensor, name: str | None = None) -> torch.Tensor:
        """``img`` ``[C=1, d, h, w]`` -> ``[1, D, H, W]`` of ``reference``; a MetaTensor keeps its meta, with the
        reference's affine."""
        aligned, _ = rigid_register(img, reference, _spacing(reference, self.spacing), _spacing(img, self.spacing),
                                    label=name or self.name or _source(img), on_failure=self.on_failure)
        out = convert_to_dst_type(aligned, dst=img, dtype=torch.float32)[0]
        if isinstance(out, MetaTensor) and isinstance(reference, MetaTensor):
            out.affine = reference.affine.clone()
        return out


class PreviousVisitDifference(Transform):
    """Array form of :func:`previous_visit_difference`; ``spacing``, ``on_failure``, ``name`` as in
    :class:`AlignToReference`, ``mask``, ``smooth_sigma`` and ``white_matter`` as in the function."""

    def __init__(self, spacing: Sequence[float] | None = None, mask: bool = True, smooth_sigma: float = 0.0,
                 on_failure: str = "raise", name: str | None = None, white_matter: bool = False) -> None:
        self.align = AlignToReference(spacing, on_failure, name)
        self.mask, self.smooth_sigma, self.white_matter = mask, smooth_sigma, white_matter

    def __call__(self, img: torch.Tensor, previous: torch.Tensor | None, name: str | None = None) -> torch.Tensor:
        """``img`` ``[1, D, H, W]`` (the current visit), ``previous`` (None: the first visit) -> ``[1, D, H, W]``."""
        spacing = self.align.spacing
        return previous_visit_difference(
            img, previous, _spacing(img, spacing), None if previous is None else _spacing(previous, spacing),
            mask=self.mask, smooth_sigma=self.smooth_sigma, white_matter=self.white_matter,
            label=name or self.align.name or _source(img), on_failure=self.align.on_failure)


class AlignToReferenced(MapTransform):
    """Dictionary version of :class:`AlignToReference`: each of ``keys`` aligned to ``d[reference_key]``;
    ``name_key``: the key whose value names the study in a failure's message."""

    def __init__(self, keys: KeysCollection, reference_key: str = "image", spacing: Sequence[float] | None = None,
                 on_failure: str = "raise", name_key: str | None = None, allow_missing_keys: bool = False) -> None:
        super().__init__(keys, allow_missing_keys)
        self.transform = AlignToReference(spacing, on_failure)
        self.reference_key, self.name_key = reference_key, name_key

    def __call__(self, data: Mapping[Hashable, object]) -> dict:
        d = dict(data)
        name = str(d[self.name_key]) if self.name_key else None
        for key in self.key_iterator(d):
            if d[key] is not None:
                d[key] = self.transform(d[key], d[self.reference_key], name)
        return d


class PreviousVisitDifferenced(MapTransform):
    """Dictionary version of :class:`PreviousVisitDifference`: ``d[out_key] = d[key] - aligned d[previous_key]``.

    A missing or None previous visit (the first visit) gives zeros. ``keys``, ``previous_keys`` and ``out_keys`` pair
    up one to one; ``name_key`` as in :class:`AlignToReferenced`.
    """

    def __init__(self, keys: KeysCollection = ("image",), previous_keys: KeysCollection = ("previous_image",),
                 out_keys: KeysCollection = ("difference",), spacing: Sequence[float] | None = None,
                 mask: bool = True, smooth_sigma: float = 0.0, on_failure: str = "raise", name_key: str | None = None,
                 allow_missing_keys: bool = False, white_matter: bool = False) -> None:
        super().__init__(keys, allow_missing_keys)
        self.previous_keys, self.out_keys = ensure_tuple(previous_keys), ensure_tuple(out_keys)
        if not len(self.keys) == len(self.previous_keys) == len(self.out_keys):
            raise ValueError(f"keys {self.keys}, previous_keys {self.previous_keys} and out_keys {self.out_keys} "
                             "must pair up one to one")
        self.transform = PreviousVisitDifference(spacing, mask, smooth_sigma, on_failure, white_matter=white_matter)
        self.name_key = name_key

    def __call__(self, data: Mapping[Hashable, object]) -> dict:
        d = dict(data)
        name = str(d[self.name_key]) if self.name_key else None
        for key, previous_key, out_key in self.key_iterator(d, self.previous_keys, self.out_keys):
            d[out_key] = self.transform(d[key], d.get(previous_key), name)
        return d


class _Implausible(Exception):
    """A registration that ran but whose result cannot be right."""


def _register(itk, moving_image, fixed_image):
    """The ITK v4 registration: (VersorRigid3DTransform, final metric value, iterations over all levels)."""
    image_type = type(fixed_image)
    transform_type = itk.VersorRigid3DTransform[itk.D]
    transform = transform_type.New()
    # rotation centre and initial translation from the two heads' centres of mass
    initializer = itk.CenteredTransformInitializer[transform_type, image_type, image_type].New(
        Transform=transform, FixedImage=fixed_image, MovingImage=moving_image)
    initializer.MomentsOn()
    initializer.InitializeTransform()

    metric = itk.MattesMutualInformationImageToImageMetricv4[image_type, image_type].New()
    metric.SetNumberOfHistogramBins(HISTOGRAM_BINS)
    # gradients by central differences at the sampled points: 3-4 times faster than gradient images of the whole
    # volume at each level, and closer to the truth (0.01-0.1 degrees off against 0.2-0.3 on one phantom pair)
    metric.SetUseMovingImageGradientFilter(False)
    metric.SetUseFixedImageGradientFilter(False)
    metric.SetMaximumNumberOfWorkUnits(1)  # one work unit: the sums, hence the result, do not depend on the machine
    scales = itk.RegistrationParameterScalesFromPhysicalShift[type(metric)].New(Metric=metric)
    optimizer = itk.RegularStepGradientDescentOptimizerv4[itk.D].New(
        LearningRate=1.0, MinimumStepLength=MIN_STEP, NumberOfIterations=MAX_ITERATIONS, RelaxationFactor=RELAXATION,
        ScalesEstimator=scales, ReturnBestParametersAndValue=True, NumberOfWorkUnits=1)
    iterations = [0]
    optimizer.AddObserver(itk.IterationEvent(), lambda: iterations.__setitem__(0, iterations[0] + 1))

    registration = itk.ImageRegistrationMethodv4[image_type, image_type].New(
        FixedImage=fixed_image, MovingImage=moving_image, Metric=metric, Optimizer=optimizer,
        InitialTransform=transform, InPlace=True, NumberOfWorkUnits=1)
    registration.SetNumberOfLevels(len(SHRINK_FACTORS))
    registration.SetShrinkFactorsPerLevel(list(SHRINK_FACTORS))
    registration.SetSmoothingSigmasPerLevel(list(SMOOTHING_SIGMAS))
    registration.SetSmoothingSigmasAreSpecifiedInPhysicalUnits(False)
    registration.SetMetricSamplingStrategy(itk.ImageRegistrationMethodv4Enums.MetricSamplingStrategy_RANDOM)
    voxels = [np.prod([math.ceil(n / factor) for n in fixed_image.GetLargestPossibleRegion().GetSize()])
              for factor in SHRINK_FACTORS]
    registration.SetMetricSamplingPercentagePerLevel([min(1.0, count / n) for count, n in zip(SAMPLES, voxels)])
    registration.MetricSamplingReinitializeSeed(SEED)
    registration.Update()
    return transform, float(optimizer.GetValue()), iterations[0]


def _check(info: dict, tolerance: float) -> None:
    """Raise :class:`_Implausible` for a result that cannot be the same head a year later."""
    shift = float(np.linalg.norm(info["translation_mm"]))
    if not abs(info["metric"]) < 1e3:  # ITK's initial "best" value, DBL_MAX: no sample ever fell inside both
        raise _Implausible("the metric found no usable voxel where the volumes overlap")
    if -info["metric"] < MIN_MUTUAL_INFORMATION:
        raise _Implausible(f"the volumes share too little structure (mutual information {-info['metric']:.2f} "
                           f"< {MIN_MUTUAL_INFORMATION})")
    if info["rotation_deg"] > MAX_ROTATION_DEG:
        raise _Implausible(f"rotation {info['rotation_deg']:.1f} degrees > {MAX_ROTATION_DEG}")
    if shift > MAX_TRANSLATION_MM:
        raise _Implausible(f"translation {shift:.1f} mm > {MAX_TRANSLATION_MM}")
    if info["residual_after"] > info["residual_before"] + tolerance:
        raise _Implausible(f"the aligned volume differs more ({info['residual_after']:.1f}) than the unaligned one "
                           f"({info['residual_before']:.1f})")


def _volume(volume) -> np.ndarray:
    """A ``[1, D, H, W]`` or ``[D, H, W]`` volume as a float32 ``[D, H, W]`` numpy array (a copy)."""
    array = volume.detach().cpu().numpy() if isinstance(volume, torch.Tensor) else np.asarray(volume)
    array = array.astype(np.float32, copy=True)
    if array.ndim == 4 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 3:
        raise ValueError(f"expected a [1, D, H, W] or [D, H, W] volume, got shape {tuple(volume.shape)}")
    return array


def _itk_image(array: np.ndarray, spacing: Sequence[float]):
    """An ITK image of ``array`` [D, H, W] with ``spacing`` (sz, sy, sx), its centre at the physical origin."""
    import itk  # noqa: PLC0415

    image = itk.image_from_array(np.ascontiguousarray(array))
    xyz = [float(s) for s in reversed(tuple(spacing))]
    if len(xyz) != 3 or min(xyz) <= 0:
        raise ValueError(f"spacing must be three positive mm (sz, sy, sx), got {spacing}")
    image.SetSpacing(xyz)
    image.SetOrigin([-(n - 1) / 2 * s for n, s in zip(reversed(array.shape), xyz)])
    return image


def _resample(moving_image, fixed_image, transform) -> np.ndarray:
    """``moving_image`` through ``transform`` on ``fixed_image``'s grid, linear, 0 outside: float32 [D, H, W]."""
    import itk  # noqa: PLC0415

    resampled = itk.resample_image_filter(moving_image, transform=transform, use_reference_image=True,
                                          reference_image=fixed_image, default_pixel_value=0.0)
    return itk.array_from_image(resampled).astype(np.float32, copy=True)


def _residual(fixed: np.ndarray, other: np.ndarray, head: np.ndarray) -> float:
    """Mean absolute difference of two [D, H, W] volumes inside ``head``; NaN for an empty head."""
    return float(np.abs(fixed[head] - other[head]).mean()) if head.any() else math.nan


def _spacing(img, spacing: Sequence[float] | None) -> tuple[float, ...]:
    """``spacing``, else a MetaTensor's ``pixdim`` (array-axis order), else 1 mm."""
    if spacing is not None:
        return tuple(float(s) for s in spacing)
    if isinstance(img, MetaTensor):
        return tuple(float(s) for s in img.pixdim)
    return (1.0, 1.0, 1.0)


def _source(img) -> str:
    """The file a MetaTensor was read from, to name it in messages; else "volume"."""
    source = img.meta.get("filename_or_obj", "volume") if isinstance(img, MetaTensor) else "volume"
    if isinstance(source, (list, tuple)):
        source = source[0] if source else "volume"
    return str(source)


def _one_line(error: BaseException) -> str:
    """The gist of an exception in one line (ITK's messages span several, behind a file:line and an object id)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    for line in lines:
        if line.startswith("ITK ERROR:"):
            return "ITK: " + line.removeprefix("ITK ERROR:").split("): ", 1)[-1].strip()
    return lines[-1] if lines else type(error).__name__
