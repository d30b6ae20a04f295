"""Where each pixel of the middle frame comes from: the flows read at the pixel itself, with
the objects the patch search found (flow_search.py) carried forward to where they are halfway.

Reading the flows at the middle pixel itself (the "linear" estimate: d = (flow21 - flow12)/4
at p) misses anything that moves farther than its own size: at the position a ball passes
through halfway, both outer frames show sky with zero flow. Projection carries a pixel q of
frame 1 moving by f to q + f/2 (and a pixel of frame 2 moving back by f likewise), to the
four nearest pixels, and puts its motion there.

Only the search's finds are projected, over the linear estimate. Projecting every pixel
(with the motion that differs most from the frame's median in front) scored 0.07 dB below
the linear estimate on the training-footage selection set: where DIS is right, reading at
the pixel is the better estimate.
"""

from __future__ import annotations

import numpy as np


def linear_middle(flow12: np.ndarray, flow21: np.ndarray) -> np.ndarray:
    """(2, H, W): the displacement from the middle frame to frame 1 read off both flows at p;
    frame 2 is read at the mirrored displacement."""
    return 0.25 * (flow21 - flow12)


def middle_displacement(flow12: np.ndarray, flow21: np.ndarray, found12: np.ndarray, found21: np.ndarray
                        ) -> np.ndarray:
    """(2, H, W) float32 (dy, dx): middle pixel p reads frame 1 at p + d(p) and frame 2 at
    p - d(p). flow12, flow21: (2, H, W) (dy, dx) in pixels; found12, found21: (H, W) bool,
    the pixels of each frame whose motion the search found (projected over the rest)."""
    h, w = flow12.shape[1:]
    out = linear_middle(flow12, flow21).astype(np.float32)
    # A pixel of frame 1 moving by f reads frame 1 at d = -f/2 halfway; a pixel of frame 2
    # moving (back in time) by f reads frame 1 at d = +f/2.
    for flow, found, sign in ((flow12, found12, -1.0), (flow21, found21, 1.0)):
        ys, xs = np.nonzero(found)
        motion = flow[:, ys, xs]
        land_y, land_x = ys + 0.5 * motion[0], xs + 0.5 * motion[1]
        for oy in (0, 1):
            for ox in (0, 1):
                ty = np.floor(land_y).astype(np.int64) + oy
                tx = np.floor(land_x).astype(np.int64) + ox
                inside = (ty >= 0) & (ty < h) & (tx >= 0) & (tx < w)
                out[:, ty[inside], tx[inside]] = sign * 0.5 * motion[:, inside]
    return out
