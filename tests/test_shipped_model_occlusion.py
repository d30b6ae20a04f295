"""The shipped model has learned occlusion: where an object uncovers background, the frame that
shows the background weighs more (its taps' total weight Σ v·h·m, and its mask). Two files
before it weighed both frames 0.5 everywhere (masks flat at 0.50 ± 0.01)."""

from __future__ import annotations

import cv2
import numpy as np

from dsepconv_gui.interpolation.intermediates import term_total_weight
from dsepconv_gui.interpolation.interpolator import Interpolator
from dsepconv_gui.model.device import resolve_device
from dsepconv_gui.model.weights import DEFAULT_MODEL_NAME, MODELS_DIR, resolve_model

SHIPPED = MODELS_DIR / DEFAULT_MODEL_NAME  # the file itself, whatever $DSEPCONV_MODEL says
H, W, SIDE, MOTION, LEFT = 96, 160, 32, 16, 48


def uncovering_pair(seed: int = 0, motion: int = MOTION) -> tuple[np.ndarray, np.ndarray]:
    """Frames 1 and 2: a textured square at x = LEFT, then LEFT + motion (moving right), over a
    static textured background; both textures drawn from `seed`. experiments/occlusion_probe.py
    measures models on these pairs for other seeds, motions and directions."""
    rng = np.random.default_rng(seed)
    background = cv2.resize(
        rng.integers(0, 140, (H // 4, W // 4, 3), dtype=np.uint8),
        (W, H),
        interpolation=cv2.INTER_CUBIC,
    )
    square = cv2.resize(
        rng.integers(150, 256, (SIDE // 4, SIDE // 4, 3), dtype=np.uint8),
        (SIDE, SIDE),
        interpolation=cv2.INTER_NEAREST,
    )
    top = (H - SIDE) // 2
    frames = []
    for x in (LEFT, LEFT + motion):
        frame = background.copy()
        frame[top : top + SIDE, x : x + SIDE] = square
        frames.append(frame)
    return frames[0], frames[1]


def test_the_frame_that_shows_an_uncovered_region_weighs_more():
    loaded, _ = resolve_model(str(SHIPPED), "cpu")
    result = Interpolator(loaded, resolve_device("cpu")).interpolate(
        *uncovering_pair(), with_terms=True
    )
    term1, term2 = result.terms
    weight1, weight2 = term_total_weight(term1), term_total_weight(term2)
    top = (H - SIDE) // 2
    rows = slice(top + 4, top + SIDE - 4)
    # Halfway, the square has left [LEFT, LEFT + MOTION/2): background that frame 1 hid and
    # frame 2 shows.
    uncovered = (rows, slice(LEFT + 2, LEFT + MOTION // 2 - 2))
    # Issue 13's goal: +0.3. Measured with the shipped file: +0.33 (its masks +0.31); the file
    # before it, without the visibility loss on synthetic occlusions, +0.19 (models/README.md).
    assert float((weight2 - weight1)[uncovered].mean()) >= 0.3
    assert float(term2.mask[:, uncovered[0], uncovered[1]].mean()) > float(
        term1.mask[:, uncovered[0], uncovered[1]].mean()
    )
    # Where both frames show the background the weights stay balanced.
    clear = (slice(0, 16), slice(0, W))
    assert abs(float((weight2 - weight1)[clear].mean())) < 0.1
