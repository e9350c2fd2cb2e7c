"""Shared checks for the evaluation tests."""

from pathlib import Path

import matplotlib.image
import numpy as np
import pytest


@pytest.fixture
def assert_png():
    """Check that a file is a readable, non-empty PNG with visible content, and nothing temporary is left beside it."""

    def check(path, min_colours: int = 20) -> np.ndarray:
        path = Path(path)
        assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
        pixels = matplotlib.image.imread(path)
        assert pixels.ndim == 3 and pixels.shape[0] > 100 and pixels.shape[1] > 100
        colours = np.unique(pixels.reshape(-1, pixels.shape[2]), axis=0)
        assert len(colours) >= min_colours, f"{path.name}: only {len(colours)} distinct colours"
        assert not list(path.parent.glob(".*.tmp")), "a temporary file was left behind"
        return pixels

    return check
