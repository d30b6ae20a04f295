"""Repeated midpoint interpolation: ×2, ×4, ×8 between two frames, streamed in time order."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from dsepconv_gui.base.errors import InputError

Midpoint = Callable[[np.ndarray, np.ndarray], np.ndarray]
SUPPORTED_FACTORS = (2, 4, 8, 16)


def check_factor(factor: int) -> int:
    """The bisection depth of a power-of-two factor (2 → 1, 4 → 2, 8 → 3)."""
    if factor not in SUPPORTED_FACTORS:
        raise InputError(f"slow-motion factor must be one of {SUPPORTED_FACTORS}, got {factor}")
    return factor.bit_length() - 1


def intermediate_frames(
    midpoint: Midpoint, frame_a: np.ndarray, frame_b: np.ndarray, factor: int
) -> Iterator[np.ndarray]:
    """The factor - 1 frames strictly between a and b at t = 1/factor, 2/factor, ..., in order.

    Each is the midpoint of its neighbours at the level above (recursive bisection), so
    ×4 makes t = 1/2 first, then 1/4 and 3/4 from it; only one branch is held in memory.
    """
    depth = check_factor(factor)

    def bisect(a: np.ndarray, b: np.ndarray, level: int) -> Iterator[np.ndarray]:
        if level == 0:
            return
        middle = midpoint(a, b)
        yield from bisect(a, middle, level - 1)
        yield middle
        yield from bisect(middle, b, level - 1)

    yield from bisect(frame_a, frame_b, depth)
