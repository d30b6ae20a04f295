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

import hashlib
import json
import time
from collections.abc import Callable
from functools import partial

import numpy as np
import torch

from dsepconv_gui.flow.prior import searched_prior_signature
from dsepconv_gui.interpolation.interpolator import flows_for
from dsepconv_gui.model.config import DSepConvConfig
from dsepconv_gui.model.network import prior_displacements
from dsepconv_gui.training.triplet_bank import TripletBank
from dsepconv_gui.training.workers import parallel_map

MIN_SIDE_FRACTION, MAX_SIDE_FRACTION = 1 / 6, 2 / 5  # of the crop
MIN_HALF_MOTION, MAX_HALF_MOTION = 2, 12  # pixels from frame 0 to the middle (v/2)
# What a synthetic triplet's visibility map says of each middle pixel: which outer frame
# alone shows what is there (the background the patch uncovers or is about to cover).
SEEN_IN_BOTH, SEEN_IN_FIRST_ONLY, SEEN_IN_SECOND_ONLY = 0, 1, 2


def patch_shape(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """A binary (height, width) mask: a rectangle or an ellipse filling the box."""
    if rng.random() < 0.5:
        return np.ones((height, width), dtype=bool)
    y, x = np.mgrid[:height, :width]
    cy, cx = (height - 1) / 2, (width - 1) / 2
    return ((y - cy) / (height / 2)) ** 2 + ((x - cx) / (width / 2)) ** 2 <= 1.0


def add_moving_patch(
    frames: np.ndarray,
    donor: np.ndarray,
    rng: np.random.Generator,
    background_motion: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """frames (3, S, S, 3) uint8 (frame 0, truth, frame 2) with a patch of donor (D, D, 3)
    uint8 pasted at p, p + v/2, p + v; v/2 whole pixels, the patch inside the crop in all
    three. Returns a new array (frames is not changed) and the visibility map (S, S) int8:
    SEEN_IN_FIRST_ONLY where the middle frame shows background that the patch covers in
    frame 2 only, SEEN_IN_SECOND_ONLY where it covers it in frame 0 only, else SEEN_IN_BOTH.
    The background moves too: background_motion (2, S, S) says, for each middle pixel p,
    that its background is at p + d in frame 0 and p - d in frame 2 (the flow prior's middle
    displacement, as (dy, dx)); None for a still background. The map is as right as it is."""
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
    visibility = np.full((size, size), SEEN_IN_BOTH, np.int8)
    if height + span[0] > size or width + span[1] > size:
        return frames.copy(), visibility  # too large a move for this crop: left as it is
    y0 = int(rng.integers(0, size - height - span[0] + 1)) + max(-2 * int(half[0]), 0)
    x0 = int(rng.integers(0, size - width - span[1] + 1)) + max(-2 * int(half[1]), 0)
    dy, dx = (
        rng.integers(0, donor.shape[0] - height + 1),
        rng.integers(0, donor.shape[1] - width + 1),
    )
    texture = donor[dy : dy + height, dx : dx + width]
    shape = patch_shape(height, width, rng)
    out = frames.copy()
    covered = np.zeros((3, size, size), bool)  # where the patch is in each frame
    for k in range(3):
        y, x = y0 + k * int(half[0]), x0 + k * int(half[1])
        region = out[k, y : y + height, x : x + width]
        region[shape] = texture[shape]
        covered[k, y : y + height, x : x + width] = shape
    hidden_in_first, hidden_in_second = covered[0], covered[2]
    if (
        background_motion is not None
    ):  # each middle pixel's background, looked up where it is in frames 0 and 2
        rows, columns = np.mgrid[:size, :size]
        d = np.rint(background_motion).astype(int)
        hidden_in_first = covered[0][
            np.clip(rows + d[0], 0, size - 1), np.clip(columns + d[1], 0, size - 1)
        ]
        hidden_in_second = covered[2][
            np.clip(rows - d[0], 0, size - 1), np.clip(columns - d[1], 0, size - 1)
        ]
    background = ~covered[1]
    visibility[background & hidden_in_first & ~hidden_in_second] = SEEN_IN_SECOND_ONLY
    visibility[background & hidden_in_second & ~hidden_in_first] = SEEN_IN_FIRST_ONLY
    return out, visibility


# A pool of such triplets is prepared once (with flows of their own frames, which cost a DIS
# run and a patch search each) and the trainer draws from it: computing them per batch made
# the flows, not the network, the cost of a training step.
POOL_CHUNK = 25  # triplets per job


def build_synthetic_pool(
    bank: TripletBank,
    indices: np.ndarray,
    count: int,
    flows_of: Callable[[np.ndarray, np.ndarray], np.ndarray | None],
    seed: int = 0,
    workers: int = 1,
    log: Callable[[str], None] = print,
) -> TripletBank:
    """`count` triplets of bank (drawn from indices) with a patch of another one moving across
    them, and their flows computed by flows_of(frame0, frame2); source as the base triplet's."""
    chunks = [range(i, min(i + POOL_CHUNK, count)) for i in range(0, count, POOL_CHUNK)]
    frames, flows, sources, visibility = [], [], [], []
    start = time.monotonic()
    for chunk, made in zip(
        chunks,
        parallel_map(_pool_chunk, chunks, workers, shared=(bank, indices, flows_of, seed)),
        strict=True,
    ):
        frames += made[0]
        flows += made[1]
        sources += made[2]
        visibility += made[3]
        log(f"  synthetic occlusions: {chunk.stop}/{count} ({time.monotonic() - start:.0f} s)")
    return TripletBank(
        frames=np.stack(frames),
        flows=None if flows[0] is None else np.stack(flows),
        source=np.array(sources, np.int32),
        manifest={"count": count, "seed": seed},
        visibility=np.stack(visibility),
    )


def _pool_chunk(shared, chunk: range) -> tuple[list, list, list, list]:
    bank, indices, flows_of, seed = shared
    frames, flows, sources, visibilities = [], [], [], []
    for j in chunk:
        rng = np.random.default_rng([seed, j])
        base = int(rng.choice(indices))
        original = np.asarray(bank.frames[base])
        motion = (
            None
            if bank.flows is None
            else middle_displacement_of(np.asarray(bank.flows[base], np.float32))
        )
        for _ in range(20):  # a move too large for the crop leaves it unchanged: draw again
            made, visibility = add_moving_patch(
                original, np.asarray(bank.frames[rng.choice(indices), 1]), rng, motion
            )
            if not np.array_equal(made, original):
                break
        flow = flows_of(made[0], made[2])
        frames.append(made)
        flows.append(None if flow is None else flow.astype(np.float16))
        sources.append(int(bank.source[base]))
        visibilities.append(visibility)
    return frames, flows, sources, visibilities


def middle_displacement_of(flows: np.ndarray) -> np.ndarray:
    """(2, S, S): where the middle pixel's content is in frame 0 (p + d; frame 2 at p - d), from
    a bank's flows (C, S, S), as the network reads it (network.prior_displacements)."""
    return prior_displacements(torch.from_numpy(flows)[None])[0][0].numpy()


def load_or_build_synthetic_pool(
    bank: TripletBank,
    indices: np.ndarray,
    count: int,
    config: DSepConvConfig,
    seed: int = 0,
    workers: int = 1,
    log: Callable[[str], None] = print,
) -> TripletBank:
    """build_synthetic_pool with the configuration's flows, cached in the bank's folder (when
    it has one) under a name that says what shaped it."""
    key = json.dumps(
        {
            "version": 3,
            "count": count,
            "seed": seed,
            "indices": hashlib.sha1(np.asarray(indices).tobytes()).hexdigest(),
            "flow_scale": config.flow_scale,
            "motion": config.prior_motion,
            "prior": config.flow_prior,
            "search": searched_prior_signature(),
        },
        sort_keys=True,
    )
    folder = (
        bank.folder / f"synthetic-{hashlib.sha1(key.encode()).hexdigest()[:12]}"
        if bank.folder
        else None
    )
    if folder is not None and (folder / "manifest.json").exists():
        log(f"using the synthetic occlusions in {folder}")
        return TripletBank.load(folder)
    log(f"making {count} triplets with synthetic occlusions (once)")
    pool = build_synthetic_pool(
        bank, indices, count, partial(flows_for, config), seed, workers, log
    )
    if folder is None:
        return pool
    pool.save(folder)
    return TripletBank.load(folder)
