"""Training triplets with an occlusion whose answer is exact: a patch that moves over real footage.

Real footage holds few clean occlusions, and where it has them the truth is compressed and
the flows are ambiguous, so the masks learn little from it (models/README.md: the shipped
file's occlusion lead was +0.02 averaged over experiments/occlusion_probe.py's pairs). Here a
patch cut from another triplet moves in a straight line across a real triplet: at
p, p + v/2 and p + v in frames 0, 1 (the truth) and 2. Halfway, the background the patch has
left is visible in frame 2 only, and the background it is about to cover in frame 0 only: the
loss there rewards reading the frame that shows it. The idea is SelFlow's (Liu et al., CVPR
2019), which hallucinates occlusions to teach a flow network what it cannot see.
"""

from __future__ import annotations

import numpy as np

MIN_SIDE_FRACTION, MAX_SIDE_FRACTION = 1 / 6, 2 / 5  # of the crop
MIN_HALF_MOTION, MAX_HALF_MOTION = 2, 12  # pixels from frame 0 to the middle (v/2)


def patch_shape(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """A binary (height, width) mask: a rectangle or an ellipse filling the box."""
    if rng.random() < 0.5:
        return np.ones((height, width), dtype=bool)
    y, x = np.mgrid[:height, :width]
    cy, cx = (height - 1) / 2, (width - 1) / 2
    return ((y - cy) / (height / 2)) ** 2 + ((x - cx) / (width / 2)) ** 2 <= 1.0


def add_moving_patch(frames: np.ndarray, donor: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """frames (3, S, S, 3) uint8 (frame 0, truth, frame 2) with a patch of donor (D, D, 3)
    uint8 pasted at p, p + v/2, p + v; v/2 whole pixels, the patch inside the crop in all
    three. Returns a new array; frames is not changed."""
    size = frames.shape[1]
    side_range = (max(int(size * MIN_SIDE_FRACTION), 4), max(int(size * MAX_SIDE_FRACTION), 5))
    height, width = (int(v) for v in rng.integers(*side_range, size=2))
    height, width = min(height, donor.shape[0]), min(width, donor.shape[1])
    # Half the motion: each axis up to MAX_HALF_MOTION, at least MIN_HALF_MOTION in all.
    while True:
        half = rng.integers(-MAX_HALF_MOTION, MAX_HALF_MOTION + 1, size=2)
        if np.abs(half).max() >= MIN_HALF_MOTION:
            break
    span = 2 * np.abs(half)
    if height + span[0] > size or width + span[1] > size:
        return frames.copy()  # too large a move for this crop: left as it is
    y0 = int(rng.integers(0, size - height - span[0] + 1)) + max(-2 * int(half[0]), 0)
    x0 = int(rng.integers(0, size - width - span[1] + 1)) + max(-2 * int(half[1]), 0)
    dy, dx = rng.integers(0, donor.shape[0] - height + 1), rng.integers(0, donor.shape[1] - width + 1)
    texture = donor[dy:dy + height, dx:dx + width]
    shape = patch_shape(height, width, rng)
    out = frames.copy()
    for k in range(3):
        y, x = y0 + k * int(half[0]), x0 + k * int(half[1])
        region = out[k, y:y + height, x:x + width]
        region[shape] = texture[shape]
    return out
