"""How a video says to show its picture: the display matrix (phones record sideways or upside
down and say so there) or, in files from old tools, a `rotate` tag. Frames are turned upright
when they are decoded, so the app, exports and everything downstream see the picture as a
player shows it, and the exported file needs no rotation of its own. Still images' EXIF
orientations are the same eight turns (images.EXIF_ORIENTATIONS).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Orientation:
    """Turn a decoded frame by `quarter_turns` × 90° counter-clockwise (np.rot90), then mirror
    it left to right if `mirrored`: what ffmpeg's autorotate does."""

    quarter_turns: int = 0
    mirrored: bool = False

    @property
    def is_upright(self) -> bool:
        return self.quarter_turns == 0 and not self.mirrored

    def describe(self) -> str:
        turn = {
            0: "",
            1: "turned 90° counter-clockwise",
            2: "turned 180°",
            3: "turned 90° clockwise",
        }[self.quarter_turns]
        return " and ".join(filter(None, [turn, "mirrored" if self.mirrored else ""]))


UPRIGHT = Orientation()

# The display matrix's 2×2 part (a, b, c, d, in FFmpeg's order) for each of the eight ways a
# frame can lie, checked against ffmpeg's autorotate.
_MATRICES = {
    (1, 0, 0, 1): Orientation(0, False),
    (-1, 0, 0, 1): Orientation(0, True),
    (-1, 0, 0, -1): Orientation(2, False),
    (1, 0, 0, -1): Orientation(2, True),
    (0, -1, 1, 0): Orientation(1, False),
    (0, -1, -1, 0): Orientation(1, True),
    (0, 1, -1, 0): Orientation(3, False),
    (0, 1, 1, 0): Orientation(3, True),
}


def from_display_matrix(data: bytes) -> Orientation:
    """The orientation of a display matrix (nine 16.16 fixed-point int32); an angle between
    quarter turns goes to the nearest one."""
    matrix = np.frombuffer(data[:36], dtype=np.int32).astype(np.float64)
    if matrix.size < 9:
        return UPRIGHT
    part = matrix[[0, 1, 3, 4]]
    if not np.any(part):
        return UPRIGHT
    nearest = max(_MATRICES, key=lambda key: float(np.dot(key, part)))
    return _MATRICES[nearest]


def from_rotate_tag(value: str) -> Orientation:
    """A `rotate` tag (old FFmpeg, clockwise degrees), to the nearest quarter turn; a tag that
    is not a finite number is passed over."""
    try:
        degrees = float(value)
    except ValueError:
        return UPRIGHT
    if not math.isfinite(degrees):
        return UPRIGHT
    return Orientation(round(-degrees / 90) % 4)


def video_orientation(frame, stream) -> Orientation:
    """The orientation of a decoded PyAV frame of `stream`: its display matrix, else the
    stream's `rotate` tag."""
    for side_data in frame.side_data:
        if side_data.type.name == "DISPLAYMATRIX":
            return from_display_matrix(bytes(side_data))
    tags = {key.lower(): value for key, value in (stream.metadata or {}).items()}
    return from_rotate_tag(tags["rotate"]) if "rotate" in tags else UPRIGHT


def upright(image: np.ndarray, orientation: Orientation) -> np.ndarray:
    """The image as it is meant to be seen (contiguous: torch cannot take negative strides)."""
    if orientation.is_upright:
        return image
    turned = np.rot90(image, orientation.quarter_turns)
    return np.ascontiguousarray(turned[:, ::-1] if orientation.mirrored else turned)
