"""Ranges of a clip where the interpolation fails and the export should do something simpler:
repeat the nearer input frame, or blend the two (a cross-fade at the frame's time)."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from dsepconv_gui.base.errors import InputError
from dsepconv_gui.interpolation.classical import frames_blended

# What an overridden in-between frame becomes, and how a summary says it.
FALLBACKS = {"repeat": "repeat the nearer frame", "blend": "blend the two frames"}


@dataclass(frozen=True)
class Override:
    """The in-between frames from input frame `first` to input frame `last` (the pairs k,
    k + 1 with first <= k < last, in the clip's numbering) become `fallback`."""

    first: int
    last: int
    fallback: str

    def __post_init__(self) -> None:
        if self.fallback not in FALLBACKS:
            raise InputError(f"an override is one of {', '.join(FALLBACKS)}, got {self.fallback!r}")
        if self.first < 0 or self.last <= self.first:
            raise InputError(
                f"an override range needs two frames or more, first before last: got "
                f"{self.first}:{self.last}"
            )

    def covers(self, pair: int) -> bool:
        return self.first <= pair < self.last

    def describe(self) -> str:
        return f"{self.first}–{self.last}: {FALLBACKS[self.fallback]}"


def parse_override(text: str) -> Override:
    """'A:B=repeat' or 'A:B=blend' (input frame numbers)."""
    try:
        span, fallback = text.split("=", 1)
        first, last = (int(part) for part in span.split(":", 1))
    except ValueError:
        raise InputError(
            f"--override must be FIRST:LAST=repeat or FIRST:LAST=blend (input frame numbers), "
            f"got {text!r}"
        ) from None
    return Override(first, last, fallback.strip())


def check_overrides(overrides: tuple[Override, ...], first: int, last: int) -> None:
    """InputError for an override outside the exported frames first..last or overlapping
    another."""
    for override in overrides:
        if override.first < first or override.last > last:
            raise InputError(
                f"the override {override.describe()} lies outside the exported frames "
                f"{first}–{last}"
            )
    ordered = sorted(overrides, key=lambda o: o.first)
    for a, b in zip(ordered, ordered[1:], strict=False):
        if b.first < a.last:
            raise InputError(f"the overrides {a.describe()} and {b.describe()} overlap")


def fallback_for(overrides: tuple[Override, ...], pair: int) -> str | None:
    """The fallback of the override covering the pair (pair, pair + 1), or None."""
    for override in overrides:
        if override.covers(pair):
            return override.fallback
    return None


def fallback_frame(
    fallback: str, position: Fraction, previous: np.ndarray, current: np.ndarray
) -> np.ndarray:
    """The frame at `position` (0 < position < 1) between previous and current without the
    network."""
    if fallback == "repeat":
        return previous if position <= Fraction(1, 2) else current
    return frames_blended(previous, current, float(position))


def with_override(overrides: tuple[Override, ...], new: Override) -> tuple[Override, ...]:
    """The list with `new` added, in order; the overrides it overlaps are dropped (the newest
    choice for a range wins)."""
    kept = [o for o in overrides if o.last <= new.first or o.first >= new.last]
    return tuple(sorted([*kept, new], key=lambda o: o.first))


def within(overrides: tuple[Override, ...], first: int, last: int) -> tuple[Override, ...]:
    """The overrides cut to the frames first..last (those left with under two frames
    dropped): what applies to an export of that range."""
    cut = []
    for o in overrides:
        start, end = max(o.first, first), min(o.last, last)
        if end > start:
            cut.append(Override(start, end, o.fallback))
    return tuple(cut)
