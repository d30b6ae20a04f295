"""OpenCV DIS estimators kept between calls, within a memory budget.

A fresh estimator allocates its pyramids and buffers on its first frame, a tenth to a quarter
of its time: a 640×480 pair at flow_scale 1.5, both directions at once, 377 ms with fresh
estimators against 346 ms with kept ones; a 960×720 frame alone 201 against 164 ms; a 1080p
pair, one direction after the other, 1,405–1,549 ms fresh against 1,103–1,176 ms kept, and
993–1,059 ms kept with both directions at once (this 2-core machine, 2026-11-28, runs of the
same pair minutes apart; the machine is noisy). A reused one gives the same flow bit for bit,
whatever it computed before (tests/test_dis_estimators.py). What kept estimators hold, and what
two directions at once take (flow/prior.py), is bounded by memory_budget: a 1080p pair's two
fit (2 × 425 MB), a 4K frame's one does not (1.7 GB). An estimator is not safe to share
between threads: each call borrows one for itself. Kept ones hold their buffers for the size
they last ran at (DIS_BYTES_PER_PIXEL of the frame). A forked process starts with none of its
parent's.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import cv2

from dsepconv_gui.base.system_memory import available_bytes

# DIS's own memory per pixel of the frame it runs on: 205 bytes measured at 1080p and at 4K
# (OpenCV 4.x, medium preset, finest scale 0, refinement: peak resident memory less the
# frames').
DIS_BYTES_PER_PIXEL = 205
# memory_budget: at most DIS_MEMORY_CAP, and DIS_MEMORY_SHARE of the memory available (what
# kept estimators hold counted as available); DIS_MEMORY_FALLBACK where the system does not
# say. The cap holds the two estimators of a 1080p pair (2 × 425 MB).
DIS_MEMORY_CAP = 1.0e9
DIS_MEMORY_SHARE = 0.15
DIS_MEMORY_FALLBACK = 0.4e9
# No estimator of a larger frame is kept, whatever the budget (1080p's, padded to 1088 rows).
KEPT_MAX_PIXELS = 1920 * 1088

_lock = threading.Lock()
_kept: list[tuple[cv2.DISOpticalFlow, int]] = []  # (estimator, pixels it last ran at)


def _forget_in_child() -> None:
    """A forked child keeps none of its parent's estimators, and a lock of its own (the
    parent's may have been held by another thread at the fork)."""
    global _lock
    _lock = threading.Lock()
    _kept.clear()


os.register_at_fork(after_in_child=_forget_in_child)


def new_estimator() -> cv2.DISOpticalFlow:
    """DIS with the medium preset at finest scale 0 (full resolution) and variational
    refinement, the strongest of OpenCV's DIS settings on the benchmarks."""
    estimator = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    estimator.setFinestScale(0)
    return estimator


def memory_budget() -> float:
    """Bytes that DIS estimators may hold at once: kept ones, or the two directions of a pair
    computed at once (DIS_MEMORY_CAP, DIS_MEMORY_SHARE)."""
    available = available_bytes()
    if available is None:
        return DIS_MEMORY_FALLBACK
    return min(DIS_MEMORY_CAP, DIS_MEMORY_SHARE * (available + kept_bytes()))


@contextmanager
def borrowed_estimator(pixels: int) -> Iterator[cv2.DISOpticalFlow]:
    """An estimator for a frame of `pixels` pixels, kept for the next call afterwards if the
    kept ones then fit memory_budget and the frame KEPT_MAX_PIXELS (one that last ran at the
    same size first: its buffers are ready). A frame too large to keep gets a fresh one, freed
    after, and the kept ones stay."""
    estimator = None
    budget = memory_budget()
    keeps = pixels <= KEPT_MAX_PIXELS and DIS_BYTES_PER_PIXEL * pixels <= budget
    with _lock:
        if _kept and keeps:
            same_size = [n for n, (_, kept_pixels) in enumerate(_kept) if kept_pixels == pixels]
            estimator = _kept.pop(same_size[0] if same_size else -1)[0]
    if estimator is None:
        estimator = new_estimator()
    yield estimator
    with _lock:
        held = sum(DIS_BYTES_PER_PIXEL * kept_pixels for _, kept_pixels in _kept)
        if keeps and held + DIS_BYTES_PER_PIXEL * pixels <= budget:
            _kept.append((estimator, pixels))


def kept_bytes() -> int:
    """The memory the kept estimators hold (DIS_BYTES_PER_PIXEL of each one's last frame)."""
    with _lock:
        return sum(DIS_BYTES_PER_PIXEL * pixels for _, pixels in _kept)


def release_kept() -> None:
    """Free every kept estimator (their memory goes back when nothing else holds them)."""
    with _lock:
        _kept.clear()
