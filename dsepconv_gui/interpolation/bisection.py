"""Frames between two frames by repeated midpoint interpolation (bisection): the one rule
that export, the slow-motion preview and ×2/×4/×8 share. A midpoint model reaches a dyadic
time k/2^d (k odd) as the midpoint of (k-1)/2^d and (k+1)/2^d."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from fractions import Fraction

import numpy as np

from dsepconv_gui.base.errors import InputError

Midpoint = Callable[[np.ndarray, np.ndarray], np.ndarray]


def takes_time(midpoint: Midpoint) -> bool:
    """Whether a midpoint function also makes any time in one pass: an Interpolator whose
    model takes the time has `takes_time` True and `at_time(a, b, t)`."""
    return bool(getattr(midpoint, "takes_time", False))


SUPPORTED_FACTORS = (2, 4, 8, 16)


def factor_label(factor: int) -> str:
    """How a factor is shown: "×4"."""
    return f"×{factor}"


def parse_factor_label(text: str) -> int:
    """The factor of a label made by factor_label."""
    factor = int(text.lstrip("×"))
    check_factor(factor)
    return factor


def check_factor(factor: int) -> int:
    """The bisection depth of a power-of-two factor (2 → 1, 4 → 2, 8 → 3)."""
    if factor not in SUPPORTED_FACTORS:
        raise InputError(f"slow-motion factor must be one of {SUPPORTED_FACTORS}, got {factor}")
    return factor.bit_length() - 1


def frame_at(
    position: Fraction, a: np.ndarray, b: np.ndarray, midpoint: Midpoint, made: dict
) -> np.ndarray:
    """The frame at a dyadic position between a (0) and b (1). `made` maps positions to frames
    already made between this a and b, and is filled in: each is made once."""
    if position == 0:
        return a
    if position == 1:
        return b
    if position not in made:
        k, d = position.numerator, position.denominator
        left = frame_at(Fraction(k - 1, d), a, b, midpoint, made)
        right = frame_at(Fraction(k + 1, d), a, b, midpoint, made)
        made[position] = midpoint(left, right)
    return made[position]


def intermediate_frames(
    midpoint: Midpoint, frame_a: np.ndarray, frame_b: np.ndarray, factor: int
) -> Iterator[np.ndarray]:
    """The factor - 1 frames strictly between a and b at t = 1/factor, 2/factor, ..., in order:
    each in one pass at its time when `midpoint` takes the time (Interpolator.takes_time),
    else by bisection (×4 makes t = 1/2 first, then 1/4 and 3/4 from it)."""
    check_factor(factor)
    made: dict[Fraction, np.ndarray] = {}
    for k in range(1, factor):
        if takes_time(midpoint):
            yield midpoint.at_time(frame_a, frame_b, k / factor)
        else:
            yield frame_at(Fraction(k, factor), frame_a, frame_b, midpoint, made)
