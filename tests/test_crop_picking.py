"""Crops cut where the frames move (training.crop_picking), as adapting to a clip uses them."""

from __future__ import annotations

import numpy as np
import pytest

from dsepconv_gui.training.crop_picking import MotionWeightedCrops
from dsepconv_gui.training.trainer import sample_batch
from dsepconv_gui.training.triplet_bank import TripletBank

HEIGHT, WIDTH, CROP = 96, 160, 32
SQUARE = (slice(8, 24), slice(120, 136))  # where the truth differs from the frame average


def still_background_with_a_change() -> np.ndarray:
    """(2, 3, H, W, 3) uint8: triplet 0 changes in SQUARE only, triplet 1 not at all."""
    rng = np.random.default_rng(0)
    background = rng.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    triplets = np.stack([np.stack([background] * 3)] * 2)
    triplets[0, 1][SQUARE] = 255 - triplets[0, 1][SQUARE]
    return triplets


def covers_the_square(y: int, x: int) -> bool:
    rows, columns = SQUARE
    return y < rows.stop and y + CROP > rows.start and x < columns.stop and x + CROP > columns.start


def test_motion_crops_go_where_the_frames_change():
    crops = MotionWeightedCrops(still_background_with_a_change(), CROP, share=1.0)
    rng = np.random.default_rng(1)
    corners = [crops.pick(0, rng) for _ in range(200)]
    assert all(covers_the_square(y, x) for y, x in corners)
    assert len(set(corners)) > 3  # spread over the crops that hold the change, not one
    # a still triplet: anywhere, the last row and column of corners included
    still = [crops.pick(1, rng) for _ in range(400)]
    assert all(0 <= y <= HEIGHT - CROP and 0 <= x <= WIDTH - CROP for y, x in still)
    assert max(y for y, _ in still) == HEIGHT - CROP and max(x for _, x in still) == WIDTH - CROP


def test_the_share_of_motion_crops_is_kept_and_zero_is_uniform():
    frames = still_background_with_a_change()
    rng = np.random.default_rng(2)
    half = MotionWeightedCrops(frames, CROP, share=0.5)
    uniform = MotionWeightedCrops(frames, CROP, share=0.0)
    covered_half = np.mean([covers_the_square(*half.pick(0, rng)) for _ in range(2000)])
    covered_uniform = np.mean([covers_the_square(*uniform.pick(0, rng)) for _ in range(2000)])
    # uniform: the share of corners whose crop overlaps the square (about 0.12 here)
    assert covered_uniform < 0.2
    assert covered_half == pytest.approx(0.5 + 0.5 * covered_uniform, abs=0.05)
    with pytest.raises(ValueError, match="share"):
        MotionWeightedCrops(frames, CROP, share=1.5)


def test_sample_batch_cuts_its_crops_where_the_picker_says():
    frames = still_background_with_a_change()
    bank = TripletBank(frames=frames, flows=None, source=np.zeros(2, np.int32), manifest={})
    crops = MotionWeightedCrops(frames, CROP, share=1.0)
    batch = sample_batch(bank, np.array([0]), 8, CROP, np.random.default_rng(3), False, crops=crops)
    changed = (batch.truth - (batch.frame0 + batch.frame2) / 2).abs().amax(dim=(1, 2, 3))
    assert bool((changed > 0.1).all())  # every crop holds part of the change
