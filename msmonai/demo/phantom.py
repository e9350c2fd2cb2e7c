"""A synthetic head phantom with T1-hypointense multiple-sclerosis-like lesions.

SYNTHETIC: an analytic drawing (scalp, skull, CSF, cortical grey matter, white matter, ventricles, deep grey
matter, ellipsoidal white-matter lesions) made to demonstrate and test the pipeline, never for clinical claims.

Coordinates are millimetres in the patient frame (DICOM LPS): x to the patient's left, y posterior,
z superior, origin at the head centre. Volumes are rendered on any grid of coordinate arrays, so the
same patient can be drawn with different slice counts, matrices and orientations, and with the head in
another :class:`Pose` in a scanner frame that stays put (:func:`render_posed`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

import numpy as np
from scipy.ndimage import affine_transform
from scipy.spatial.transform import Rotation

# Relative signal of each tissue per contrast (T1: white > grey > CSF, lesions hypointense "black holes";
# T2: CSF bright, lesions hyperintense). Layer depths below the scalp surface are in millimetres.
SIGNAL = {
    "T1": {"air": 0.0, "scalp": 820.0, "skull": 110.0, "csf": 200.0, "grey": 540.0, "white": 780.0, "deep_grey": 620.0, "lesion": 330.0},
    "T2": {"air": 0.0, "scalp": 480.0, "skull": 90.0, "csf": 1000.0, "grey": 620.0, "white": 430.0, "deep_grey": 560.0, "lesion": 860.0},
}
SCALP_MM, SKULL_MM, CSF_MM, CORTEX_MM = 5.0, 6.0, 3.0, 4.0


@dataclass(frozen=True)
class Lesion:
    """One white-matter lesion: an ellipsoid with ``radii`` (mm, x y z) at ``centre`` (mm, x y z).

    ``contrast`` is the fraction of the full T1 hypointensity it shows (1 = a dark "black hole"; lesions that recover
    sit between white matter and the full lesion signal, near 0 = T1-isointense). On T2 every lesion is fully
    hyperintense: the T2 lesion persists while the T1 hypointensity recovers.
    """

    centre: tuple[float, float, float]
    radii: tuple[float, float, float]
    contrast: float = 1.0

    def grown(self, factor: float) -> Lesion:
        """The same lesion with every radius multiplied by ``factor``."""
        return replace(self, radii=tuple(r * factor for r in self.radii))

    def faded(self, factor: float, floor: float) -> Lesion:
        """The same lesion with its contrast multiplied by ``factor``, not below ``floor`` (partial recovery)."""
        return replace(self, contrast=max(self.contrast * factor, min(floor, self.contrast)))


@dataclass(frozen=True)
class Anatomy:
    """A patient's head geometry.

    Attributes:
        head_radii: scalp surface semi-axes (mm, x y z).
        ventricle_scale: lateral ventricle size relative to a typical adult (atrophy enlarges it).
        folding: (phase_a, phase_b, frequency_a, frequency_b) of the cortical folding pattern.
    """

    head_radii: tuple[float, float, float]
    ventricle_scale: float
    folding: tuple[float, float, float, float]


@dataclass(frozen=True)
class Pose:
    """Where the head lies in the scanner: its point ``q`` (phantom frame, mm) is at ``R q + t``, with ``R`` the rotation
    by ``rotation_deg`` about the x, then the y, then the z axis through the head centre (degrees) and ``t`` =
    ``translation_mm`` (mm, x y z). The default is the phantom's own frame."""

    rotation_deg: tuple[float, float, float] = (0.0, 0.0, 0.0)
    translation_mm: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def rotation(self) -> np.ndarray:
        """``R``, ``[3, 3]``."""
        return Rotation.from_euler("xyz", self.rotation_deg, degrees=True).as_matrix()


def random_anatomy(rng: np.random.Generator) -> Anatomy:
    """A plausible adult head: semi-axes about 72 x 92 x 85 mm, varying by a few millimetres."""
    return Anatomy(
        head_radii=(float(rng.uniform(68, 76)), float(rng.uniform(88, 97)), float(rng.uniform(80, 90))),
        ventricle_scale=float(rng.uniform(0.85, 1.2)),
        folding=(float(rng.uniform(0, 2 * np.pi)), float(rng.uniform(0, 2 * np.pi)), float(rng.integers(7, 11)), float(rng.integers(5, 9))),
    )


def random_lesion(anatomy: Anatomy, rng: np.random.Generator, radius_mm: float, contrast: float = 1.0) -> Lesion:
    """A lesion in the deep white matter, preferring the periventricular region: an ellipsoid of the volume of a
    sphere of ``radius_mm`` (its semi-axes differ by up to about +-30 %)."""
    rx, ry, rz = anatomy.head_radii
    while True:
        # Directions biased to the ventricles' height; depth between the ventricles and the cortex.
        u = rng.normal(size=3) * (0.45, 0.55, 0.35) + (0.0, 0.0, 0.15)
        if np.sqrt((u**2).sum()) < 0.62:
            break
    centre = (float(u[0] * rx), float(u[1] * ry), float(u[2] * rz))
    shape = rng.uniform(0.7, 1.3, size=3)
    radii = tuple(float(radius_mm * s) for s in shape / np.cbrt(shape.prod()))
    return Lesion(centre, radii, float(contrast))


def render(
    anatomy: Anatomy,
    lesions: tuple[Lesion, ...] | list[Lesion],
    x: np.ndarray,
    y: np.ndarray,
    z: np.ndarray,
    contrast: str = "T1",
) -> np.ndarray:
    """Noise-free signal of the phantom, float32 of the broadcast shape of (x, y, z).

    Args:
        x, y, z: sparse coordinate grids in mm, each varying along at most one axis (as from
            :func:`axial_grid` or ``np.meshgrid(..., sparse=True)``).
        contrast: ``"T1"`` or ``"T2"`` (keys of :data:`SIGNAL`).
    """
    table = SIGNAL[contrast]
    rx, ry, rz = anatomy.head_radii
    depth = (1.0 - np.sqrt((x / rx) ** 2 + (y / ry) ** 2 + (z / rz) ** 2)) * ((rx + ry + rz) / 3.0)  # mm below the scalp
    phase_a, phase_b, freq_a, freq_b = anatomy.folding
    elevation = np.arcsin(np.clip(z / rz, -1.0, 1.0))
    folds = np.sin(freq_a * np.arctan2(y, x) + phase_a) * np.cos(freq_b * elevation + phase_b)
    cortex_start = SCALP_MM + SKULL_MM + CSF_MM + np.maximum(folds, 0) * 3.0  # sulci: CSF reaches deeper
    cortex_end = cortex_start + CORTEX_MM + np.abs(folds) * 2.0

    out = np.full(depth.shape, table["white"], dtype=np.float32)
    out[depth < cortex_end] = table["grey"]
    out[depth < cortex_start] = table["csf"]
    out[depth < SCALP_MM + SKULL_MM] = table["skull"]
    out[depth < SCALP_MM] = table["scalp"]
    out[depth < 0] = table["air"]

    s = anatomy.ventricle_scale
    for side in (-1.0, 1.0):
        _paint(out, (x, y, z), (side * 13.0, 2.0, 2.0), (8.0, 11.0, 9.0), table["deep_grey"])
        _paint(out, (x, y, z), (side * 7.0 * s, -2.0, 14.0), (5.0 * s, 24.0 * s, 9.0 * s), table["csf"])
    for lesion in lesions:
        shown = lesion.contrast if contrast == "T1" else 1.0
        value = table["white"] + shown * (table["lesion"] - table["white"])
        _paint(out, (x, y, z), lesion.centre, lesion.radii, value, only=table["white"])
    return out


def render_posed(
    anatomy: Anatomy,
    lesions: tuple[Lesion, ...] | list[Lesion],
    x: np.ndarray,
    y: np.ndarray,
    z: np.ndarray,
    contrast: str = "T1",
    pose: Pose = Pose(),
) -> np.ndarray:
    """:func:`render` with the head in ``pose``: a patient who moved, seen by a scanner whose grid stays put.

    Within the grid's box around the moved head (outside it is air), the phantom is rendered in its own frame on the
    grid's spacing, over every point the box sees, then resampled onto the grid with linear interpolation. The grid
    (x, y, z) is :func:`render`'s, with at least 2 points along each axis. Float32 of the grid's shape.
    """
    step, start = _grid_geometry((x, y, z))
    shape = np.broadcast_shapes(x.shape, y.shape, z.shape)
    rotation, translation = pose.rotation(), np.asarray(pose.translation_mm)
    half_extent = np.linalg.norm(rotation * np.asarray(anatomy.head_radii), axis=1)  # of the moved scalp, mm, x y z
    box_mm = np.stack([translation - half_extent, translation + half_extent], axis=1)  # [3 coordinates, 2 ends]
    ends = np.linalg.solve(step, box_mm - start[:, None])  # [3 array axes, 2 ends], grid indices
    first = np.clip(np.floor(ends.min(axis=1)), 0, np.array(shape) - 1).astype(int)
    last = np.clip(np.ceil(ends.max(axis=1)), 0, np.array(shape) - 1).astype(int)
    # Grid index i sees the unmoved head at index to_head @ i + offset of the same grid, extended.
    to_head = np.linalg.solve(step, rotation.T @ step)
    offset = np.linalg.solve(step, rotation.T @ (start - translation) - start)
    corners = np.array(list(itertools.product(*zip(first, last)))).T  # [3, 8]
    seen = to_head @ corners + offset[:, None]
    low, high = np.floor(seen.min(axis=1)).astype(int), np.ceil(seen.max(axis=1)).astype(int)
    source = []
    for coordinate, values in enumerate((x, y, z)):
        axis = int(np.argmax(values.shape))
        line = start[coordinate] + step[coordinate, axis] * np.arange(low[axis], high[axis] + 1)
        source.append(line.reshape([-1 if i == axis else 1 for i in range(3)]))
    unmoved = render(anatomy, lesions, *source, contrast=contrast)
    out = np.full(shape, SIGNAL[contrast]["air"], dtype=np.float32)
    out[tuple(slice(a, b + 1) for a, b in zip(first, last))] = affine_transform(
        unmoved, to_head, offset + to_head @ first - low, output_shape=tuple(last - first + 1), order=1
    )
    return out


def axial_grid(shape: tuple[int, int, int], spacing: tuple[float, float, float], centre_z: float = 10.0):
    """Coordinates (x ``[1,1,W]``, y ``[1,H,1]``, z ``[D,1,1]``, mm) of an axial volume ``[D, H, W]`` centred on the
    head (shifted ``centre_z`` mm superior to cover the brain), with ``spacing`` = (slice, row, column) mm."""
    depth, rows, cols = shape
    dz, dy, dx = spacing
    z = (np.arange(depth) - (depth - 1) / 2) * dz + centre_z
    y = (np.arange(rows) - (rows - 1) / 2) * dy
    x = (np.arange(cols) - (cols - 1) / 2) * dx
    return x[None, None, :], y[None, :, None], z[:, None, None]


def sagittal_grid(shape: tuple[int, int, int], spacing: tuple[float, float, float], centre_z: float = 10.0):
    """Coordinates (x ``[D,1,1]``, y ``[1,1,W]``, z ``[1,H,1]``, mm) of a sagittal volume ``[D, H, W]`` in the DICOM
    "sagittal" orientation (slices towards the patient's right, rows downwards, columns posterior), centred on the
    head; ``spacing`` = (slice, row, column) mm."""
    depth, rows, cols = shape
    dx, dz, dy = spacing
    x = ((depth - 1) / 2 - np.arange(depth)) * dx
    z = ((rows - 1) / 2 - np.arange(rows)) * dz + centre_z
    y = (np.arange(cols) - (cols - 1) / 2) * dy
    return x[:, None, None], y[None, None, :], z[None, :, None]


def acquire(signal: np.ndarray, rng: np.random.Generator, noise: float = 12.0, bias: float = 0.08) -> np.ndarray:
    """A scanner's view of ``signal`` (any shape): smooth multiplicative bias field plus Rician noise, float32."""
    grids = np.meshgrid(*(np.linspace(-1, 1, n) for n in signal.shape), indexing="ij", sparse=True)
    field = 1.0 + sum(bias * rng.uniform(-1, 1) * g for g in grids)
    clean = signal * field
    real = clean + noise * rng.standard_normal(signal.shape, dtype=np.float32)
    imaginary = noise * rng.standard_normal(signal.shape, dtype=np.float32)
    return np.hypot(real, imaginary).astype(np.float32)


def _grid_geometry(coords) -> tuple[np.ndarray, np.ndarray]:
    """``(step [3, 3], start [3])`` of a sparse grid (x, y, z), each coordinate varying along one array axis: the point
    at array index ``i`` (3 ints) lies at ``step @ i + start`` mm."""
    step, start = np.zeros((3, 3)), np.zeros(3)
    for coordinate, values in enumerate(coords):
        axis = int(np.argmax(values.shape))
        line = values.ravel()
        step[coordinate, axis], start[coordinate] = line[1] - line[0], line[0]
    return step, start


def _paint(out, coords, centre, radii, value, only=None) -> None:
    """Draw an ellipsoid of ``value`` into ``out`` in place, with a soft edge; restricted to voxels equal to ``only``
    when given. Works on the ellipsoid's bounding box of the sparse grid ``coords`` only."""
    box = [slice(None)] * out.ndim
    for axis in range(out.ndim):
        for coord, c, r in zip(coords, centre, radii):
            if coord.shape[axis] > 1:
                inside = np.nonzero(np.abs(coord.ravel() - c) < r)[0]
                if inside.size == 0:
                    return
                box[axis] = slice(inside[0], inside[-1] + 1)
    sub = [coord[tuple(b if coord.shape[i] > 1 else slice(None) for i, b in enumerate(box))] for coord in coords]
    distance = np.sqrt(sum(((a - c) / r) ** 2 for a, c, r in zip(sub, centre, radii)))
    weight = np.clip((1.0 - distance) * 2.5, 0.0, 1.0)
    region = out[tuple(box)]
    if only is not None:
        weight = np.where(region == only, weight, 0.0)
    region[...] = (1 - weight) * region + weight * value
