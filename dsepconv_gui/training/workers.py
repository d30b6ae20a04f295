"""Preparing training data on every core: one process per job, each single-threaded.

OpenCV's DIS flow and the patch search run on one core each; a machine with many cores (the
GPU machines have 16) prepares a triplet bank that many times faster when every core takes
its own sources or triplets. Jobs read large arrays (a bank's frames and flows) through
`shared`, which forked workers inherit instead of receiving it pickled.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

_shared: Any = None  # what a forked worker's job reads besides its item


def default_workers() -> int:
    return os.cpu_count() or 1


def parallel_map(
    job: Callable[[Any, Item], Result], items: Iterable[Item], workers: int, shared: Any = None
) -> Iterator[Result]:
    """job(shared, item) for every item, in order, in `workers` forked processes (in this
    process when workers <= 1, or off Linux, where forking a process that runs OpenCV or torch
    is not safe). Results are yielded as they are ready, in the items' order."""
    items = list(items)
    if workers <= 1 or len(items) <= 1 or not sys.platform.startswith("linux"):
        for item in items:
            yield job(shared, item)
        return
    import cv2

    global _shared
    _shared = shared
    # OpenCV single-threaded before forking: a child forked while the parent's OpenCV thread
    # pool exists hangs when it touches that pool (seen in the test suite, at setNumThreads in
    # the child; torch.set_num_threads hangs likewise). Each child works on one core anyway.
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    # Garbage collected here, not in a child: a PyAV container left in a reference cycle (by
    # a decode that was not closed) frees its codec's threads when collected, which in a
    # forked child, where those threads do not exist, waits forever (seen in the test suite,
    # a child collecting inside numba's compiler).
    gc.collect()
    try:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(min(workers, len(items)), mp_context=context) as pool:
            yield from pool.map(_run, [job] * len(items), items)
    finally:
        _shared = None
        cv2.setNumThreads(threads)


def _run(job: Callable[[Any, Item], Result], item: Item) -> Result:
    return job(_shared, item)
