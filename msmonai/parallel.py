"""Work spread over processes, one core each: the cores available, a map over forked worker processes, and a pool of
forked helpers."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from typing import Callable, Iterable, Iterator, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")
_TASK: Callable | None = None  # the function of the running parallel_map, inherited by its forked workers


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity where the system has one, as in containers)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def parallel_map(task: Callable[[Item], Result], items: Iterable[Item], workers: int) -> list[Result]:
    """``list(map(task, items))`` in ``workers`` forked processes, results in order.

    The workers inherit ``task`` (and whatever it holds, e.g. a transform chain) from this process, so only the items
    and results cross between processes. Each worker runs one torch intra-op thread, so ``workers`` processes use
    ``workers`` cores. A task's exception is raised here. Where ``fork`` is unavailable, it runs in this process.
    """
    global _TASK
    if workers <= 1:
        return list(map(task, items))
    _TASK = task
    try:
        with forked_pool(workers, initializer=_one_thread) as pool:
            return list(map(task, items)) if pool is None else list(pool.map(_run, items))
    finally:
        _TASK = None


@contextlib.contextmanager
def forked_pool(workers: int, initializer: Callable[[], None] | None = None) -> Iterator[ProcessPoolExecutor | None]:
    """``workers`` processes forked from this one (each running ``initializer`` first), which start in milliseconds
    since they have everything this process imported; None where ``fork`` is unavailable. Shut down (waiting for
    their tasks) on leaving."""
    if "fork" not in multiprocessing.get_all_start_methods():
        yield None
        return
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"), initializer=initializer) as pool:
        yield pool


def _one_thread() -> None:
    import torch

    torch.set_num_threads(1)


def _run(item):
    return _TASK(item)
