"""Property-based checks of the preprocessing preset over arbitrary shapes, dtypes and intensities."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from msmonai.errors import root_cause
from msmonai.transforms import preprocessing_transforms

DTYPES = [np.uint8, np.int16, np.uint16, np.int32, np.float32, np.float64]
TARGET = (12, 16, 16)
PRESET = preprocessing_transforms(TARGET, load=False)


@st.composite
def volumes(draw):
    depth = draw(st.integers(1, 300))
    height = draw(st.integers(1, 24))
    width = draw(st.integers(1, 24))
    dtype = draw(st.sampled_from(DTYPES))
    info = np.iinfo(dtype) if np.issubdtype(dtype, np.integer) else None
    low = float(info.min) if info else -1e30
    high = float(info.max) if info else 1e30
    a = draw(st.floats(low, high, allow_nan=False))
    b = draw(st.floats(low, high, allow_nan=False))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    data = rng.uniform(min(a, b), max(a, b), size=(1, depth, height, width))
    if draw(st.booleans()):
        data[:] = a  # constant scan
    return data.astype(dtype)


@settings(max_examples=60, deadline=None)
@given(volumes())
def test_output_is_always_channel_first_target_size_finite_and_in_range(vol):
    out = PRESET({"image": vol})["image"]
    assert tuple(out.shape) == (1, *TARGET)
    assert out.dtype == torch.float32
    assert torch.isfinite(out).all()
    assert float(out.min()) >= 0.0 and float(out.max()) <= 255.0


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_and_inf_are_rejected(bad):
    vol = np.ones((1, 5, 6, 6), dtype=np.float32)
    vol[0, 2, 3, 3] = bad
    with pytest.raises(RuntimeError) as raised:  # MONAI's Compose wraps the transform's error
        PRESET({"image": vol})
    cause = root_cause(raised.value)
    assert isinstance(cause, ValueError) and "NaN or Inf" in str(cause)
