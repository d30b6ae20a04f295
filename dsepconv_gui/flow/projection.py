"""Where each pixel of the middle frame comes from: the flows read at the pixel itself, with
the objects the patch search found (flow/search.py), and where the two frames agree on it
better every consistently moving pixel, carried forward to where they are halfway (or, for a
frame at time t between the two, to where they are at t).

Reading the flows at the middle pixel itself (the "linear" estimate: d = (flow21 - flow12)/4
at p; away from the middle, each flow weighed by how near its frame is in time) misses
anything that moves farther than its own size: at the position a ball passes through halfway,
both outer frames show sky with zero flow. Projection carries a pixel q of frame 1 moving by
f to q + f/2 (and a pixel of frame 2 moving back by f likewise), to the pixels at the floor
and ceiling of that position, and puts its motion there.

Two candidates, and each pixel keeps the one its two frames agree on (agreeing_middle):
- the linear estimate with only the search's finds projected over it;
- the same with every moving pixel projected too (carried_pixels: moving CARRIED_MOTION
  pixels or more over the interval, and the flows agree both ways, so the pixel is seen in
  both frames).
Projecting every pixel unconditionally (with the motion that differs most from the frame's
median in front) scored 0.07 dB below the linear estimate on the training-footage selection
set, and the moving pixels alone, without the choice, 0.1 to 0.2 dB below the first
candidate on ucf101-dvf21 (where several land, their motions are averaged, which blurs
occlusion edges); chosen per pixel by agreement, +0.16 dB on middlebury-other, +0.17 dB on
the held-out real footage, ucf101-dvf21 unchanged (`dsepconv eval`, models/README.md,
"Evaluation"; on the time windows experiments/time_prior_probe.py).
"""

from __future__ import annotations

import numba
import numpy as np

from dsepconv_gui.flow.search import patch_cost, round_trip_agrees
from dsepconv_gui.flow.warp import warp

CARRIED_MOTION = 2.0  # pixels over the whole interval
AGREEMENT_WINDOW = 5  # pixels: the box over which the two frames' agreement is averaged
# A later candidate replaces an earlier one only where its reads differ by this much less
# (summed over R, G and B, in levels of 255): in flat regions every candidate agrees, and
# rounding must not pick one.
AGREEMENT_MARGIN = 3.0


def linear_middle(flow12, flow21, time=0.5):
    """The displacement d read off both flows at p (numpy (2, H, W) or torch (B, 2, H, W)
    arrays; `time` a number or broadcastable): the frame at `time` reads frame 1 at
    p + 2·time·d and frame 2 at p - 2·(1 - time)·d. Each flow is trusted by how near in time
    its frame is: flow12(p) is the motion of the pixel of frame 1 at p, which at time t has
    moved t of the way, and flow21(p) that of frame 2's, 1 - t of the way from p, so
    d = (t·flow21 - (1 - t)·flow12)/2 (Super SloMo's "approximate intermediate flow"). At the
    middle it is the plain average (flow21 - flow12)/4, whatever the time model's training."""
    return 0.5 * (time * flow21 - (1 - time) * flow12)


def middle_displacement(
    flow12: np.ndarray,
    flow21: np.ndarray,
    found12: np.ndarray,
    found21: np.ndarray,
    time: float = 0.5,
) -> np.ndarray:
    """(2, H, W) float32 (dy, dx), d: pixel p of the frame at `time` reads frame 1 at
    p + 2·time·d(p) and frame 2 at p - 2·(1 - time)·d(p); at the middle (time 1/2), frame 1 at
    p + d and frame 2 at p - d. d is half the motion over the interval, read at p (flow.layout's
    MIDDLE). flow12, flow21: (2, H, W) (dy, dx) in pixels; found12, found21: (H, W) bool, the
    pixels of each frame to project over the linear estimate (the search's finds, or
    carried_pixels)."""
    time = float(time)  # a numpy float64 would make float64 landings
    h, w = flow12.shape[1:]
    out = linear_middle(flow12, flow21, time).astype(np.float32)
    if not (found12.any() or found21.any()):
        return out
    sums, counts = np.zeros((2, h, w)), np.zeros((h, w), np.int32)
    # A pixel of frame 1 moving by f is at q + time·f at `time` and reads frame 1 at
    # d = -f/2; a pixel of frame 2 moving (back in time) by f is at q + (1 - time)·f and reads
    # frame 1 at d = +f/2.
    flow12, flow21 = (np.ascontiguousarray(f, np.float32) for f in (flow12, flow21))
    _land(flow12, found12, -1.0, np.float32(time), sums, counts)
    _land(flow21, found21, 1.0, np.float32(1.0 - time), sums, counts)
    # Where several finds land (of either frame), their average: the same whichever frame
    # comes first in time.
    _average_where_landed(out, sums, counts)
    return out


@numba.njit(nogil=True, cache=True)
def _land(flow, found, sign, travelled, sums, counts):
    """Adds sign·f/2 of every found pixel q (motion f) to the pixels at the floor and ceiling
    of q + travelled·f (one pixel per axis where that is whole), inside the frame; travelled
    is a float32, as numpy multiplies a float32 flow by a Python float."""
    h, w = found.shape
    for y in range(h):
        for x in range(w):
            if not found[y, x]:
                continue
            fy, fx = flow[0, y, x], flow[1, y, x]
            land_y, land_x = y + travelled * fy, x + travelled * fx
            y0, x0 = int(np.floor(land_y)), int(np.floor(land_x))
            for ty in range(y0, y0 + (1 if land_y == y0 else 2)):
                if ty < 0 or ty >= h:
                    continue
                for tx in range(x0, x0 + (1 if land_x == x0 else 2)):
                    if tx < 0 or tx >= w:
                        continue
                    sums[0, ty, tx] += sign * 0.5 * fy
                    sums[1, ty, tx] += sign * 0.5 * fx
                    counts[ty, tx] += 1


@numba.njit(nogil=True, cache=True)
def _average_where_landed(out, sums, counts):
    for y in range(counts.shape[0]):
        for x in range(counts.shape[1]):
            if counts[y, x]:
                out[0, y, x] = sums[0, y, x] / counts[y, x]
                out[1, y, x] = sums[1, y, x] / counts[y, x]


def carried_pixels(there: np.ndarray, back: np.ndarray, found: np.ndarray) -> np.ndarray:
    """(H, W) bool: the pixels of a frame whose motion `there` (2, H, W) is projected in the
    second candidate: the search's finds, and every pixel moving CARRIED_MOTION pixels or more
    whose motion the other frame's flow `back` undoes (flow.search.round_trip_agrees)."""
    moving = np.hypot(there[0], there[1]) >= CARRIED_MOTION
    return found | (moving & round_trip_agrees(there, back))


def agreeing_middle(
    frame1: np.ndarray, frame2: np.ndarray, candidates: list[np.ndarray], time: float = 0.5
) -> np.ndarray:
    """(2, H, W) float32: at each pixel the candidate displacement (each (2, H, W), as
    middle_displacement's) whose reads of frame1 and frame2 ((H, W, 3) uint8) differ least,
    averaged over an AGREEMENT_WINDOW box: the first, replaced where a later one's difference
    is below the best so far by more than AGREEMENT_MARGIN."""
    if frame1.dtype != np.uint8 or frame2.dtype != np.uint8:
        raise TypeError("agreeing_middle reads uint8 frames (AGREEMENT_MARGIN is in levels)")
    time = float(time)
    best, best_cost = candidates[0], None
    for candidate in candidates:
        one = warp(frame1, 2 * time * candidate[0], 2 * time * candidate[1])
        two = warp(frame2, -2 * (1 - time) * candidate[0], -2 * (1 - time) * candidate[1])
        cost = patch_cost(one, two, AGREEMENT_WINDOW)
        if best_cost is None:
            best, best_cost = candidate.copy(), cost
            continue
        better = cost + AGREEMENT_MARGIN < best_cost
        best[:, better] = candidate[:, better]
        best_cost[better] = cost[better]
    return best
