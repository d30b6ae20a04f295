"""Finding what a dense flow plainly misses, by an exhaustive patch search.

DIS works coarse to fine, so an object much smaller than the distance it moves (a ball in
the sky) vanishes at the coarse scales and gets the background's motion. Where warping the
target by the flow leaves a large patch error, every displacement within SEARCH_RADIUS is
tried (whole pixels, 7×7 patches) and the best one is a candidate if it explains the patch
at least 1/REPLACE_RATIO times better. Only 64-pixel tiles holding such a failure are
searched, so frames the flow explains cost next to nothing.

A candidate is kept only if the search from the other frame agrees (forward–backward
within CONSISTENCY pixels): in occlusions, where no true match exists, a search still finds
some look-alike patch, but rarely one that finds its way back. Measured on 135 triplets of
the training footage (experiments/starting_points.py's selection set), unchecked repairs
cost 0.06 dB; checked ones change nothing there.
"""

from __future__ import annotations

import cv2
import numpy as np

from dsepconv_gui.flow.warp import warp

SEARCH_RADIUS = 20  # pixels, each way: 41 × 41 displacements per searched pixel
PATCH = 7
# Mean absolute difference over a PATCH × PATCH patch, summed over R, G and B (0..765).
FAILURE_COST = 120.0
REPLACE_RATIO = 0.25
TILE = 64
# Searched tiles per frame and direction at most (about 35 ms each on this 2-core CPU): a
# small object fails a few tiles (median 2 on the benchmarks, at most 16 of 80; 6 and 41 of
# 60 on the training-footage selection set); failures everywhere are not what this is for.
MAX_TILES = 24
# Cost added per pixel of displacement: among equally good matches, the shortest wins.
LENGTH_PENALTY = 0.05

CONSISTENCY = 1.0  # pixels

_SUM_RGB = np.ones((1, 3), np.float32)


def patch_cost(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(H, W) float32: mean |a - b| over each PATCH × PATCH patch, summed over channels."""
    box = cv2.boxFilter(
        cv2.absdiff(a, b), cv2.CV_32F, (PATCH, PATCH), borderType=cv2.BORDER_REPLICATE
    )
    return cv2.transform(box, _SUM_RGB)


def warp_cost(source: np.ndarray, target: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """How badly flow (2, H, W) (dy, dx) explains source: the patch cost between source and
    target read at p + flow(p) (RGB uint8 frames)."""
    return patch_cost(source, warp(target, flow[0], flow[1]))


def search_flow(
    source: np.ndarray, target: np.ndarray, rows: slice, cols: slice, radius: int = SEARCH_RADIUS
) -> tuple[np.ndarray, np.ndarray]:
    """The best whole-pixel displacement within radius for each pixel of source[rows, cols]:
    flow (2, h, w) float32 (dy, dx) and its patch cost (h, w)."""
    height, width = source.shape[:2]
    m = PATCH // 2  # the patches of the region's edge pixels reach m beyond it
    y0, y1 = max(rows.start - m, 0), min(rows.stop + m, height)
    x0, x1 = max(cols.start - m, 0), min(cols.stop + m, width)
    a = source[y0:y1, x0:x1]
    # The target around the region, radius beyond it, its frame edges replicated.
    ty0, ty1 = max(y0 - radius, 0), min(y1 + radius, height)
    tx0, tx1 = max(x0 - radius, 0), min(x1 + radius, width)
    window = cv2.copyMakeBorder(
        target[ty0:ty1, tx0:tx1],
        ty0 - (y0 - radius),
        (y1 + radius) - ty1,
        tx0 - (x0 - radius),
        (x1 + radius) - tx1,
        cv2.BORDER_REPLICATE,
    )
    best = np.full(a.shape[:2], np.inf, np.float32)
    flow_y, flow_x = np.zeros_like(best), np.zeros_like(best)
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            b = window[radius + dy : radius + dy + (y1 - y0), radius + dx : radius + dx + (x1 - x0)]
            cost = patch_cost(a, b)
            cost += LENGTH_PENALTY * float(np.hypot(dy, dx))
            better = cost < best
            np.copyto(best, cost, where=better)
            np.copyto(flow_y, dy, where=better)
            np.copyto(flow_x, dx, where=better)
    inner = (slice(rows.start - y0, rows.stop - y0), slice(cols.start - x0, cols.stop - x0))
    return np.stack([flow_y[inner], flow_x[inner]]), best[inner]


def repaired_flow(source: np.ndarray, target: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """flow (2, H, W) from source to target with its plain failures replaced by the patch
    search (see the module docstring). A new array; flow is not modified."""
    cost = warp_cost(source, target, flow)
    failed = cost > FAILURE_COST
    out = flow.copy()
    for rows, cols in _tiles_to_search(failed):
        found, found_cost = search_flow(source, target, rows, cols)
        use = failed[rows, cols] & (found_cost < REPLACE_RATIO * cost[rows, cols])
        out[:, rows, cols][:, use] = found[:, use]
    return out


def _tiles_to_search(failed: np.ndarray) -> list[tuple[slice, slice]]:
    """The TILE × TILE tiles holding failures, most failed pixels first, at most MAX_TILES."""
    height, width = failed.shape
    tiles = []
    for y in range(0, height, TILE):
        for x in range(0, width, TILE):
            rows, cols = slice(y, min(y + TILE, height)), slice(x, min(x + TILE, width))
            count = int(failed[rows, cols].sum())
            if count:
                tiles.append((count, rows, cols))
    tiles.sort(key=lambda tile: -tile[0])
    return [(rows, cols) for _, rows, cols in tiles[:MAX_TILES]]


def found_motion(
    frame1: np.ndarray, frame2: np.ndarray, flow12: np.ndarray, flow21: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The two flows (2, H, W) with the search's consistent finds put in, and where those
    are (H, W) bool: flow12, flow21, found12, found21."""
    repaired12, repaired21 = (
        repaired_flow(frame1, frame2, flow12),
        repaired_flow(frame2, frame1, flow21),
    )
    return consistent_repairs(flow12, flow21, repaired12, repaired21)


def consistent_repairs(
    flow12: np.ndarray, flow21: np.ndarray, repaired12: np.ndarray, repaired21: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Keep the repairs that the other direction's repaired flow, read where they point,
    undoes within CONSISTENCY pixels (see found_motion)."""
    found12 = _changed(flow12, repaired12) & _round_trip(repaired12, repaired21)
    found21 = _changed(flow21, repaired21) & _round_trip(repaired21, repaired12)
    return (
        np.where(found12[None], repaired12, flow12),
        np.where(found21[None], repaired21, flow21),
        found12,
        found21,
    )


def _changed(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    return np.any(before != after, axis=0)


def _round_trip(there: np.ndarray, back: np.ndarray) -> np.ndarray:
    """|there(p) + back(p + there(p))| <= CONSISTENCY, back read at the nearest pixel."""
    h, w = there.shape[1:]
    rows, cols = np.mgrid[0:h, 0:w]
    ty = np.clip(np.rint(rows + there[0]).astype(np.int64), 0, h - 1)
    tx = np.clip(np.rint(cols + there[1]).astype(np.int64), 0, w - 1)
    return np.hypot(there[0] + back[0, ty, tx], there[1] + back[1, ty, tx]) <= CONSISTENCY
