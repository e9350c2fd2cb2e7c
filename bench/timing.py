"""Wall-clock timing: repeated runs reduced to their median."""

from __future__ import annotations

import statistics
import time
from typing import Callable, Sequence


def timed(fn: Callable, *args, **kwargs) -> tuple[float, object]:
    """``(seconds, result)`` of one call of ``fn`` (``time.perf_counter``)."""
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - start, result


def median(values: Sequence[float]) -> float:
    """Median of a non-empty sequence of numbers."""
    return float(statistics.median(values))
