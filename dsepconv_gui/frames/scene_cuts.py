"""Shot-cut detection between consecutive frames: a fast image-difference measure and a
threshold. Used to keep interpolation (and training triplets) from blending two shots."""

from __future__ import annotations

import cv2
import numpy as np

# Mean absolute difference (0..255) of blurred 64-pixel-wide grey thumbnails above which two
# consecutive frames are taken to belong to different shots. Fast motion within a shot stays
# well below it (the blur and the small size forgive displacement); a cut between different
# scenes lands far above it.
DEFAULT_CUT_THRESHOLD = 30.0


def thumbnail(frame: np.ndarray) -> np.ndarray:
    """A blurred 64-pixel-wide grey float32 thumbnail of an RGB uint8 frame."""
    grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    small = cv2.resize(
        grey,
        (64, max(1, round(64 * frame.shape[0] / frame.shape[1]))),
        interpolation=cv2.INTER_AREA,
    )
    return cv2.GaussianBlur(small, (0, 0), 2.0).astype(np.float32)


def thumbnail_difference(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference of the two frames' thumbnails: large across a shot cut,
    small for motion within a shot."""
    return thumbnails_difference(thumbnail(a), thumbnail(b))


def thumbnails_difference(a: np.ndarray, b: np.ndarray) -> float:
    """thumbnail_difference of two thumbnails already made (a stream makes each once)."""
    return float(np.abs(a - b).mean())
