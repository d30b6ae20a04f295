"""Turning fields into pictures: the optical-flow colour wheel, heat maps and tile montages.

Everything here is numpy in, RGB uint8 out, so the command line and the app show the same
colours.
"""

from __future__ import annotations

import cv2
import numpy as np


def color_wheel() -> np.ndarray:
    """The Middlebury flow colour wheel (Baker et al. 2011): (55, 3) float RGB in [0, 1],
    hues from red through yellow, green, cyan, blue and magenta back to red."""
    # Number of steps between each pair of primary/secondary colours, as in the benchmark.
    segments = [
        (15, (1, 0, 0), (1, 1, 0)),
        (6, (1, 1, 0), (0, 1, 0)),
        (4, (0, 1, 0), (0, 1, 1)),
        (11, (0, 1, 1), (0, 0, 1)),
        (13, (0, 0, 1), (1, 0, 1)),
        (6, (1, 0, 1), (1, 0, 0)),
    ]
    rows = []
    for steps, start, end in segments:
        t = np.arange(steps)[:, None] / steps
        rows.append(np.array(start) * (1 - t) + np.array(end) * t)
    return np.concatenate(rows, axis=0)


def flow_to_color(dy: np.ndarray, dx: np.ndarray, max_magnitude: float | None = None) -> np.ndarray:
    """Colour-code a displacement field (H, W) pair as RGB uint8 (H, W, 3).

    Hue is the direction (right red, down yellow, left cyan, up violet: the Middlebury
    wheel), saturation the length relative to max_magnitude (the largest length if None).
    White is no motion.
    """
    dy = np.nan_to_num(np.asarray(dy, dtype=np.float64))
    dx = np.nan_to_num(np.asarray(dx, dtype=np.float64))
    magnitude = np.hypot(dx, dy)
    scale = max_magnitude if max_magnitude is not None else float(magnitude.max(initial=0.0))
    radius = np.clip(magnitude / scale, 0.0, 1.0) if scale > 0 else np.zeros_like(magnitude)
    wheel = color_wheel()
    count = len(wheel)
    angle = np.arctan2(-dy, -dx) / np.pi  # -1..1
    position = (angle + 1) / 2 * (count - 1)
    k0 = np.floor(position).astype(int)
    k1 = (k0 + 1) % count
    f = (position - k0)[..., None]
    color = wheel[k0] * (1 - f) + wheel[k1] * f
    color = 1 - radius[..., None] * (1 - color)
    return np.clip(color * 255 + 0.5, 0, 255).astype(np.uint8)


def color_wheel_legend(size: int = 128) -> np.ndarray:
    """A disc showing the colour of each direction at full length: the key to flow_to_color."""
    r = (size - 1) / 2
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    dy, dx = (yy - r) / r, (xx - r) / r
    image = flow_to_color(dy, dx, max_magnitude=1.0)
    image[np.hypot(dx, dy) > 1.0] = 255
    return image


def heatmap(values: np.ndarray, vmin: float, vmax: float) -> np.ndarray:
    """Map a (H, W) array to RGB uint8 with the viridis colour map between vmin and vmax."""
    span = vmax - vmin if vmax > vmin else 1.0
    scaled = np.clip((np.nan_to_num(np.asarray(values, dtype=np.float64)) - vmin) / span, 0, 1)
    bgr = cv2.applyColorMap((scaled * 255 + 0.5).astype(np.uint8), cv2.COLORMAP_VIRIDIS)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def montage(tiles: list[np.ndarray], columns: int, gap: int = 2) -> np.ndarray:
    """Arrange equally sized RGB tiles in a grid, row by row, separated by white gaps."""
    if not tiles:
        raise ValueError("montage of no tiles")
    h, w = tiles[0].shape[:2]
    rows = -(-len(tiles) // columns)
    canvas = np.full(
        (rows * h + (rows - 1) * gap, columns * w + (columns - 1) * gap, 3), 255, np.uint8
    )
    for index, tile in enumerate(tiles):
        r, c = divmod(index, columns)
        canvas[r * (h + gap) : r * (h + gap) + h, c * (w + gap) : c * (w + gap) + w] = tile
    return canvas
