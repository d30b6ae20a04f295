"""The flow input's channel layout: what each channel of a flow-prior network's `flows` holds.

Every channel pair is a displacement (dy, dx) in pixels at full resolution:
- FLOW12: flow from frame 1 to frame 2 (pixel p of frame 1 is at p + flow12(p) in frame 2);
- FLOW21: flow from frame 2 to frame 1;
- MIDDLE (prior_motion "searched" only): the middle frame's displacement to frame 1 (frame 2
  is read at minus it). For a frame at time t it is half the pixel's motion over the interval:
  frame 1 is read at 2t times it, frame 2 at -2(1 - t) times it (flow/projection.py).

Numpy arrays are (C, H, W) and torch tensors (N, C, H, W): index the channel axis with these
slices (`flows[FLOW12]`, `flows[:, FLOW12]`).
"""

from __future__ import annotations

import numpy as np

PRIOR_MOTIONS = ("linear", "searched")
FLOW12 = slice(0, 2)
FLOW21 = slice(2, 4)
MIDDLE = slice(4, 6)
BIDIRECTIONAL = slice(0, 4)  # both flows, without the middle displacement


def flow_channels(prior_motion: str) -> int:
    """Channels of the flow input for a prior_motion: 4 ("linear") or 6 ("searched")."""
    if prior_motion not in PRIOR_MOTIONS:
        raise ValueError(f"prior motion must be one of {PRIOR_MOTIONS}, got {prior_motion!r}")
    return 6 if prior_motion == "searched" else 4


# The flow input under the augmentations and the temporal-flip loss, for 4 or 6 channels.
# Mirroring negates one component of every pair; reversing time swaps the two flows and
# negates the middle displacement (frame 2 was read at -d).
def mirror_signs(channels: int, axis: str) -> np.ndarray:
    """(channels,) float32 to multiply the flow channels by after mirroring along "x" or "y"."""
    signs = np.ones(channels, np.float32)
    signs[1 if axis == "x" else 0 :: 2] = -1
    return signs


def time_reversal(channels: int) -> tuple[list[int], np.ndarray]:
    """(channel order, signs) that turn the flow input of (frame1, frame2) into that of
    (frame2, frame1); a frame at time t of the first is at 1 - t of the second."""
    order = [2, 3, 0, 1] + list(range(4, channels))
    signs = np.ones(channels, np.float32)
    signs[MIDDLE] = -1
    return order, signs
