"""Where training crops are cut: more often where the frames move.

In a whole frame of real footage most pixels are still background that every model already
gets right; a uniformly placed crop of a large frame often holds nothing to learn. When a
clip has only a few triplets (adapting to it), MotionWeightedCrops cuts a share of the crops
where the frame average misses the truth most: where things move, appear or disappear.
"""

from __future__ import annotations

import numpy as np

GRID = 8  # crop corners lie on a lattice of this step (pixels), the last row and column too


class MotionWeightedCrops:
    """pick(i, rng) -> (y, x), the top-left corner of a crop of triplet i. With probability
    `share` the corner is drawn in proportion to the frame average's mean absolute error
    over the crop (|truth - (frame0 + frame2) / 2|, the triplet's own motion); otherwise
    uniformly, as sample_batch does without a picker."""

    def __init__(self, frames: np.ndarray, crop: int, share: float = 0.5) -> None:
        """frames: (N, 3, H, W, 3) uint8 triplets (frame 0, truth, frame 2)."""
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"share must be within [0, 1], got {share}")
        self.crop, self.share = crop, share
        self.height, self.width = frames.shape[2:4]
        self._corners: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        for first, truth, last in frames:
            average = (first.astype(np.float32) + last) / 2
            error = np.abs(truth - average).mean(axis=2)
            self._corners.append(self._corner_table(error))

    def _corner_table(self, error: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The lattice of corners and the cumulative share of the error each crop holds."""
        crop = self.crop
        ys = _lattice(self.height - crop)
        xs = _lattice(self.width - crop)
        integral = np.pad(error.astype(np.float64).cumsum(0).cumsum(1), ((1, 0), (1, 0)))
        sums = (
            integral[ys[:, None] + crop, xs[None, :] + crop]
            - integral[ys[:, None], xs[None, :] + crop]
            - integral[ys[:, None] + crop, xs[None, :]]
            + integral[ys[:, None], xs[None, :]]
        ).ravel()
        sums += 1e-6 * max(float(sums.max()), 1.0)  # a still triplet: uniform over the lattice
        return ys, xs, np.cumsum(sums) / sums.sum()

    def pick(self, index: int, rng: np.random.Generator) -> tuple[int, int]:
        if rng.random() >= self.share:
            y, x = rng.integers(0, [self.height - self.crop + 1, self.width - self.crop + 1])
            return int(y), int(x)
        ys, xs, cumulative = self._corners[index]
        cell = min(
            int(np.searchsorted(cumulative, rng.random(), side="right")), len(cumulative) - 1
        )
        return int(ys[cell // len(xs)]), int(xs[cell % len(xs)])


def _lattice(last: int) -> np.ndarray:
    """0, GRID, 2·GRID, … up to and including last (>= 0)."""
    points = np.arange(0, last + 1, GRID)
    return points if points[-1] == last else np.append(points, last)
