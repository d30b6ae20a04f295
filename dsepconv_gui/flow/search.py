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

from concurrent.futures import ThreadPoolExecutor

import cv2
import numba
import numpy as np

from dsepconv_gui.flow.warp import warp

SEARCH_RADIUS = 20  # pixels, each way: 41 × 41 displacements per searched pixel
PATCH = 7  # _search_region_kernel writes its sums out for 7 × 7 patches
# Mean absolute difference over a PATCH × PATCH patch, summed over R, G and B (0..765).
FAILURE_COST = 120.0
REPLACE_RATIO = 0.25
TILE = 64
# Searched tiles per frame and direction at most (about 6 ms each on this 2-core CPU, 35 ms
# with the OpenCV reference): a small object fails a few tiles (median 2 on the benchmarks,
# at most 16 of 80; 6 and 41 of 60 on the training-footage selection set); failures
# everywhere are not what this is for.
MAX_TILES = 24
# Cost added per pixel of displacement: among equally good matches, the shortest wins.
LENGTH_PENALTY = 0.05

CONSISTENCY = 1.0  # pixels

_SUM_RGB = np.ones((1, 3), np.float32)


def patch_cost(a: np.ndarray, b: np.ndarray, size: int = PATCH) -> np.ndarray:
    """(H, W) float32: mean |a - b| over each size × size patch, summed over channels."""
    box = cv2.boxFilter(
        cv2.absdiff(a, b), cv2.CV_32F, (size, size), borderType=cv2.BORDER_REPLICATE
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
    flow (2, h, w) float32 (dy, dx) and its patch cost (h, w). Displacements are tried row by
    row (dy, then dx, from -radius); the first of equal costs wins. A numba kernel
    (_search_region_kernel, a fifth of the time of search_flow_reference, which computes the
    same with OpenCV calls per displacement) that lets other threads run meanwhile."""
    a, window, inner = _search_region(source, target, rows, cols, radius)
    found = _search_region_kernel(a, window, radius, inner, np.float32(LENGTH_PENALTY))
    return found[:2], found[2]


def search_flow_reference(
    source: np.ndarray, target: np.ndarray, rows: slice, cols: slice, radius: int = SEARCH_RADIUS
) -> tuple[np.ndarray, np.ndarray]:
    """search_flow with OpenCV's box filter, one displacement at a time: the reference that
    tests hold the kernel to."""
    a, window, (iy0, iy1, ix0, ix1) = _search_region(source, target, rows, cols, radius)
    height, width = a.shape[:2]
    best = np.full(a.shape[:2], np.inf, np.float32)
    flow_y, flow_x = np.zeros_like(best), np.zeros_like(best)
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            b = window[radius + dy : radius + dy + height, radius + dx : radius + dx + width]
            cost = patch_cost(a, b)
            cost += LENGTH_PENALTY * float(np.hypot(dy, dx))
            better = cost < best
            np.copyto(best, cost, where=better)
            np.copyto(flow_y, dy, where=better)
            np.copyto(flow_x, dx, where=better)
    inner = (slice(iy0, iy1), slice(ix0, ix1))
    return np.stack([flow_y[inner], flow_x[inner]]), best[inner]


def _search_region(
    source: np.ndarray, target: np.ndarray, rows: slice, cols: slice, radius: int
) -> tuple[np.ndarray, np.ndarray, tuple[int, int, int, int]]:
    """The source region with the patches' margins (within the frame), the target around
    it `radius` beyond (its frame edges replicated), and where rows × cols lie in the region
    (y0, y1, x0, x1)."""
    height, width = source.shape[:2]
    m = PATCH // 2  # the patches of the region's edge pixels reach m beyond it
    y0, y1 = max(rows.start - m, 0), min(rows.stop + m, height)
    x0, x1 = max(cols.start - m, 0), min(cols.stop + m, width)
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
    inner = (rows.start - y0, rows.stop - y0, cols.start - x0, cols.stop - x0)
    return np.ascontiguousarray(source[y0:y1, x0:x1]), window, inner


@numba.njit(nogil=True, cache=True)
def _search_region_kernel(a, window, radius, inner, penalty):
    """search_flow's result as (3, h, w) float32: dy, dx and cost. The patch cost is
    patch_cost's: the mean over the 7 × 7 patch (PATCH, its sums written out below), its
    border replicated at the region's edges, of |a - b| summed over the channels. Whole
    numbers in float32 (exact below 2^24) and plain loops along x, which the compiler
    vectorises."""
    m = 3  # PATCH // 2
    height, width = a.shape[0], a.shape[1]
    iy0, iy1, ix0, ix1 = inner
    h, w = iy1 - iy0, ix1 - ix0
    source = np.empty((3, height, width), np.float32)
    target = np.empty((3, window.shape[0], window.shape[1]), np.float32)
    for c in range(3):
        source[c] = a[:, :, c]
        target[c] = window[:, :, c]
    area = np.float32((2 * m + 1) * (2 * m + 1))
    # the channels' summed |a - b| with m replicated rows and columns around it
    difference = np.empty((height + 2 * m, width + 2 * m), np.float32)
    column_sums = np.empty((h, width + 2 * m), np.float32)
    patch_sums = np.empty((h, w), np.float32)
    out = np.zeros((3, h, w), np.float32)
    out[2] = np.inf
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            ty, tx = radius + dy, radius + dx
            for y in range(height):
                for x in range(width):
                    difference[y + m, x + m] = (
                        abs(source[0, y, x] - target[0, ty + y, tx + x])
                        + abs(source[1, y, x] - target[1, ty + y, tx + x])
                        + abs(source[2, y, x] - target[2, ty + y, tx + x])
                    )
                for x in range(m):
                    difference[y + m, x] = difference[y + m, m]
                    difference[y + m, width + m + x] = difference[y + m, width + m - 1]
            for y in range(m):
                difference[y] = difference[m]
                difference[height + m + y] = difference[height + m - 1]
            # sums over the patch's rows, slid down the inner rows, then over its columns
            for x in range(width + 2 * m):
                column_sums[0, x] = difference[iy0, x]
            for i in range(1, 2 * m + 1):
                for x in range(width + 2 * m):
                    column_sums[0, x] += difference[iy0 + i, x]
            for y in range(1, h):
                for x in range(width + 2 * m):
                    column_sums[y, x] = column_sums[y - 1, x] + (
                        difference[iy0 + y + 2 * m, x] - difference[iy0 + y - 1, x]
                    )
            for y in range(h):
                sums = column_sums[y, ix0:]
                line = patch_sums[y]
                for x in range(w):
                    line[x] = (
                        sums[x] + sums[x + 1] + sums[x + 2] + sums[x + 3]
                        + sums[x + 4] + sums[x + 5] + sums[x + 6]
                    )  # fmt: skip
            length = penalty * np.float32(np.sqrt(np.float32(dy * dy + dx * dx)))
            for y in range(h):
                for x in range(w):
                    cost = patch_sums[y, x] / area + length
                    previous = out[2, y, x]
                    better = cost < previous
                    out[0, y, x] = dy if better else out[0, y, x]
                    out[1, y, x] = dx if better else out[1, y, x]
                    out[2, y, x] = min(cost, previous)
    return out


def repaired_flow(source: np.ndarray, target: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """flow (2, H, W) from source to target with its plain failures replaced by the patch
    search (see the module docstring). A new array; flow is not modified."""
    cost = warp_cost(source, target, flow)
    failed = cost > FAILURE_COST
    out = flow.copy()
    tiles = _tiles_to_search(failed)
    # as many threads as OpenCV's (one in forked training workers: training/workers.py)
    with ThreadPoolExecutor(max(1, min(cv2.getNumThreads(), len(tiles)))) as pool:
        searched = pool.map(lambda tile: search_flow(source, target, *tile), tiles)
        for (rows, cols), (found, found_cost) in zip(tiles, searched, strict=True):
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
    found12 = _changed(flow12, repaired12) & round_trip_agrees(repaired12, repaired21)
    found21 = _changed(flow21, repaired21) & round_trip_agrees(repaired21, repaired12)
    return (
        np.where(found12[None], repaired12, flow12),
        np.where(found21[None], repaired21, flow21),
        found12,
        found21,
    )


def _changed(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    return np.any(before != after, axis=0)


def round_trip_agrees(there: np.ndarray, back: np.ndarray) -> np.ndarray:
    """(H, W) bool: |there(p) + back(p + there(p))| <= CONSISTENCY, back read at the nearest
    pixel (the motion `there` is undone by the other frame's `back`). Flows (2, H, W) float32.

    A numba kernel, pixel by pixel: numpy's grid, rounding and gather took 59 ms a call at
    1080p (four calls a pair), the kernel 17 ms; the same booleans (a test holds it to the
    numpy formula)."""
    out = np.empty(there.shape[1:], np.bool_)
    _round_trip_kernel(
        np.ascontiguousarray(there, np.float32),
        np.ascontiguousarray(back, np.float32),
        np.float32(CONSISTENCY),
        out,
    )
    return out


@numba.njit(nogil=True, cache=True)
def _round_trip_kernel(there, back, consistency, out):
    h, w = out.shape
    for y in range(h):
        for x in range(w):
            dy, dx = there[0, y, x], there[1, y, x]
            # numpy's steps: the position in float64, rounded half to even, clamped
            ty = min(max(int(np.rint(y + np.float64(dy))), 0), h - 1)
            tx = min(max(int(np.rint(x + np.float64(dx))), 0), w - 1)
            out[y, x] = np.hypot(dy + back[0, ty, tx], dx + back[1, ty, tx]) <= consistency
