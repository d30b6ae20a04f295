"""A small procedural demo clip with real motion, occlusion and texture, so that a first
start shows something without any footage: a panning textured background, a disc moving
diagonally and a square turning in front of it."""

from __future__ import annotations

import cv2
import numpy as np


def _texture(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """Coloured multi-scale noise with some hard edges: float32 RGB in [0, 1]."""
    image = np.zeros((height, width, 3), np.float32)
    for sigma, weight in ((12.0, 0.5), (4.0, 0.3), (1.0, 0.2)):
        noise = rng.standard_normal((height, width, 3)).astype(np.float32)
        noise = cv2.GaussianBlur(noise, (0, 0), sigma)
        noise /= noise.std() + 1e-6
        image += weight * noise
    stripes = (np.sin(np.arange(width) / 5.0)[None, :, None] > 0.6).astype(np.float32)
    image = 0.5 + 0.18 * image + 0.15 * stripes
    return np.clip(image, 0.0, 1.0)


def _shift(image: np.ndarray, dx: float, dy: float, size: tuple[int, int]) -> np.ndarray:
    """Sample `image` translated by (dx, dy) into an output of size (width, height)."""
    matrix = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(
        image, matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
    )


def render_demo_frames(
    count: int = 9, height: int = 240, width: int = 320, seed: int = 7
) -> list[np.ndarray]:
    """`count` consecutive frames (H, W, 3) uint8 RGB of the demo scene."""
    rng = np.random.default_rng(seed)
    background = _texture(height + 64, width + 64, rng)
    yy, xx = np.mgrid[0:96, 0:96]
    rings = (np.sin(np.hypot(yy - 47.5, xx - 47.5) / 2.5) > 0).astype(np.float32)[:, :, None]
    disc_texture = 0.5 * _texture(96, 96, rng) + rings * np.float32([0.5, 0.3, 0.0])
    checks = ((np.arange(80)[:, None] // 10 + np.arange(80)[None, :] // 10) % 2).astype(np.float32)
    square_texture = 0.3 * _texture(80, 80, rng) + checks[:, :, None] * np.float32([0.1, 0.4, 0.7])
    disc_alpha = np.clip(40.0 - np.hypot(yy - 47.5, xx - 47.5), 0.0, 1.0).astype(np.float32)
    square_alpha = np.zeros((80, 80), np.float32)
    square_alpha[8:72, 8:72] = 1.0
    frames = []
    for t in range(count):
        frame = _shift(background, -32 - 1.5 * t, -32 - 0.5 * t, (width, height))
        layers = (
            (disc_texture, disc_alpha, width * 0.15 + 8.0 * t, height * 0.2 + 3.0 * t, 0.0),
            (square_texture, square_alpha, width * 0.55 - 2.5 * t, height * 0.35, 6.0 * t),
        )
        for texture, alpha, x, y, angle in layers:
            h, w = alpha.shape
            matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
            matrix[:, 2] += (x, y)
            colour = cv2.warpAffine(texture, matrix, (width, height), flags=cv2.INTER_LINEAR)
            cover = cv2.warpAffine(alpha, matrix, (width, height), flags=cv2.INTER_LINEAR)[
                :, :, None
            ]
            frame = frame * (1 - cover) + colour * cover
        frames.append(np.clip(frame * 255 + 0.5, 0, 255).astype(np.uint8))
    return frames
