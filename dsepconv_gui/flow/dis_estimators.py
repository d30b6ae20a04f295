"""OpenCV DIS estimators kept between calls, within a memory budget.

A fresh estimator allocates its pyramids and buffers on its first frame, a tenth to a quarter
of its time: a 640×480 pair at flow_scale 1.5, both directions at once, 377 ms with fresh
estimators against 346 ms with kept ones; a 960×720 frame alone 201 against 164 ms (this
2-core machine, 2026-11-28). A reused one gives the same flow bit for bit, whatever it computed
before (tests/test_dis_estimators.py). On 2 million pixels (1080p, one direction after the
other) keeping one gained nothing (1,125 ms fresh, 1,191 ms kept) and raised a 1080p frame's
peak from 1,339 to 1,710 MB, so KEPT_BUDGET keeps the two of frames up to 854×480 at
flow_scale 1.5, one of 720p's million pixels (its directions run one after the other: 664
against 687 ms for the pair) and none larger. Measured again (2026-11-28, a 1080p pair, kept
estimators with both directions at once against these budgets, interleaved in one process):
DIS alone 0.97 against 1.18 s (median of 6), but the whole frame was no faster (3.88 against
3.65 s, median of 8; minimum 3.31 against 3.32) and peaked 900 MB higher: not taken.
An estimator is not safe to share between threads: each call borrows one for itself. Kept
ones hold their buffers for the size they last ran at (DIS_BYTES_PER_PIXEL of the frame). A
forked process starts with none of its parent's.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import cv2

# DIS's own memory per pixel of the frame it runs on: 205 bytes measured at 1080p and at 4K
# (OpenCV 4.x, medium preset, finest scale 0, refinement: peak resident memory less the
# frames').
DIS_BYTES_PER_PIXEL = 205
# The two of a 854×480 pair at flow_scale 1.5 (2 × 189 MB), and no estimator of a frame
# larger than KEPT_MAX_PIXELS (720p's at flow_scale 1.5; not DIS on 1920×1080, 425 MB).
KEPT_BUDGET = 0.4e9
KEPT_MAX_PIXELS = 1_000_000

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


@contextmanager
def borrowed_estimator(pixels: int) -> Iterator[cv2.DISOpticalFlow]:
    """An estimator for a frame of `pixels` pixels, kept for the next call afterwards if the
    kept ones then fit KEPT_BUDGET and the frame KEPT_MAX_PIXELS (one that last ran at the same
    size first: its buffers are ready). A frame too large to keep gets a fresh one, freed
    after, and the kept ones stay."""
    estimator = None
    keeps = pixels <= KEPT_MAX_PIXELS and DIS_BYTES_PER_PIXEL * pixels <= KEPT_BUDGET
    with _lock:
        if _kept and keeps:
            same_size = [n for n, (_, kept_pixels) in enumerate(_kept) if kept_pixels == pixels]
            estimator = _kept.pop(same_size[0] if same_size else -1)[0]
    if estimator is None:
        estimator = new_estimator()
    yield estimator
    with _lock:
        held = sum(DIS_BYTES_PER_PIXEL * kept_pixels for _, kept_pixels in _kept)
        if keeps and held + DIS_BYTES_PER_PIXEL * pixels <= KEPT_BUDGET:
            _kept.append((estimator, pixels))


def kept_bytes() -> int:
    """The memory the kept estimators hold (DIS_BYTES_PER_PIXEL of each one's last frame)."""
    with _lock:
        return sum(DIS_BYTES_PER_PIXEL * pixels for _, pixels in _kept)


def release_kept() -> None:
    """Free every kept estimator (their memory goes back when nothing else holds them)."""
    with _lock:
        _kept.clear()
