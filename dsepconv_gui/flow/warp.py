"""Backward warping by a dense displacement field (OpenCV remap)."""

from __future__ import annotations

import cv2
import numpy as np


def warp(frame: np.ndarray, dy: np.ndarray, dx: np.ndarray) -> np.ndarray:
    """frame (H, W[, C]) read at p + (dy, dx)(p) for every pixel p: bilinear, with the border
    replicated. dy, dx: (H, W) float32 in pixels."""
    h, w = dy.shape
    rows, cols = np.indices((h, w), dtype=np.float32)  # no int64 grid in between
    return cv2.remap(frame, cols + dx, rows + dy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
