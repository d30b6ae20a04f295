"""Frames made smaller for previews, thumbnails and training: area averaging (OpenCV
INTER_AREA), which does not alias when shrinking."""

from __future__ import annotations

import cv2
import numpy as np


def resized(frame: np.ndarray, scale: float) -> np.ndarray:
    """frame (H, W, C) scaled by `scale` (each side at least 1 pixel); the same array at 1."""
    if scale == 1.0:
        return frame
    h, w = frame.shape[:2]
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)


def thumbnail(frame: np.ndarray, width: int) -> np.ndarray:
    """frame scaled to `width` pixels wide, keeping its aspect ratio."""
    h, w = frame.shape[:2]
    height = max(1, round(h * width / max(w, 1)))
    return cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)
