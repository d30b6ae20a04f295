"""Training aids for issue 13: triplets with a synthetic moving patch (an occlusion whose
answer is exact), the penalty on learned offsets, and the snapshot kept at every validation."""

from functools import partial

import numpy as np
import pytest
import torch

from dsepconv_gui.interpolation.interpolator import flows_for
from dsepconv_gui.model.checkpoint import load_checkpoint
from dsepconv_gui.model.network import prior_start
from dsepconv_gui.training.losses import (
    LossWeights,
    interpolation_loss,
    offset_residual_penalty,
    visibility_loss,
)
from dsepconv_gui.training.synthetic_occlusion import (
    MAX_HALF_MOTION,
    SEEN_IN_BOTH,
    SEEN_IN_FIRST_ONLY,
    SEEN_IN_SECOND_ONLY,
    add_moving_patch,
    build_synthetic_pool,
)
from dsepconv_gui.training.trainer import VALIDATED_NAME, sample_batch, train
from dsepconv_gui.training.trainer import sample_batch as sample

from .conftest import TINY_BICUBIC, TINY_FLOW, make_random_network
from .test_training import held_out_bank, tiny_options, translating_bank


def test_the_patch_moves_in_a_straight_line_and_the_truth_is_its_middle_position():
    rng = np.random.default_rng(0)
    frames = np.zeros((3, 64, 64, 3), np.uint8)  # black background: the patch is what is not black
    donor = np.full((64, 64, 3), 200, np.uint8)
    moved = 0
    for _ in range(50):
        out, visibility = add_moving_patch(frames, donor, rng)
        assert not frames.any()  # the input is left alone
        if not out.any():
            continue  # a move too large for the crop leaves it as it was
        boxes = []
        for k in range(3):
            ys, xs = np.nonzero(out[k, ..., 0])
            boxes.append((ys.min(), xs.min(), ys.max(), xs.max()))
        boxes = np.array(boxes)
        half = boxes[1] - boxes[0]
        np.testing.assert_array_equal(
            boxes[2] - boxes[1], half
        )  # the same step twice: truth halfway
        assert 2 <= np.abs(half[:2]).max() <= MAX_HALF_MOTION
        # The same pixels (shape and texture) in all three frames.
        crops = [out[k, b[0] : b[2] + 1, b[1] : b[3] + 1] for k, b in enumerate(boxes)]
        np.testing.assert_array_equal(crops[0], crops[1])
        np.testing.assert_array_equal(crops[0], crops[2])
        # The visibility map: background in the middle frame that one outer frame's patch hides.
        patch = out[..., 0] > 0
        background = ~patch[1]
        np.testing.assert_array_equal(
            visibility == SEEN_IN_SECOND_ONLY, background & patch[0] & ~patch[2]
        )
        np.testing.assert_array_equal(
            visibility == SEEN_IN_FIRST_ONLY, background & patch[2] & ~patch[0]
        )
        assert (visibility == SEEN_IN_SECOND_ONLY).any() and (
            visibility == SEEN_IN_FIRST_ONLY
        ).any()
        moved += 1
    assert moved > 30


def test_time_reversal_swaps_which_frame_shows_a_pixel():
    bank = translating_bank(count=2, size=32)
    bank.visibility = np.zeros((2, 32, 32), np.int8)
    bank.visibility[:, :, :4] = SEEN_IN_FIRST_ONLY  # a strip on the left: mirrored to the right
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(30):
        visibility = sample(bank, np.arange(2), 1, 32, rng, True, bank, 1).visibility
        strip = visibility[0] != SEEN_IN_BOTH
        assert strip.sum() == 4 * 32 and (strip[:, :4].all() or strip[:, -4:].all())
        seen.add(int(visibility[0][strip][0]))
    assert seen == {SEEN_IN_FIRST_ONLY, SEEN_IN_SECOND_ONLY}


def test_visibility_loss_is_the_hidden_frames_weight():
    model = make_random_network(TINY_BICUBIC)
    model.initialize_heads()  # bicubic kernels summing to one, masks 0.5: each frame weighs 1/2
    frames = torch.rand(2, 3, 32, 32)
    output = model(frames[:1], frames[1:], flows=torch.zeros(1, 4, 32, 32), return_terms=True)
    visibility = torch.zeros(1, 32, 32, dtype=torch.int8)
    assert visibility_loss(output.terms, visibility).item() == 0  # nothing known
    visibility[0, :8] = SEEN_IN_SECOND_ONLY
    visibility[0, 8:12] = SEEN_IN_FIRST_ONLY
    assert visibility_loss(output.terms, visibility).item() == pytest.approx(0.25, rel=1e-4)
    with torch.no_grad():
        model.mask1[-1].bias.fill_(-20.0)  # frame 1's masks 0: it weighs nothing anywhere
    output = model(frames[:1], frames[1:], flows=torch.zeros(1, 4, 32, 32), return_terms=True)
    # The 8 rows where frame 1 is hidden cost nothing now, the 4 where frame 2 is still 0.25.
    assert visibility_loss(output.terms, visibility).item() == pytest.approx(
        0.25 * 4 / 12, rel=1e-3
    )


def test_synthetic_triplets_get_flows_of_their_own_frames_and_batches_draw_them_first():
    bank = translating_bank(count=4, size=48)
    calls = []

    def flows_of(frame0, frame2):
        calls.append((frame0.copy(), frame2.copy()))
        return np.full((4, 48, 48), 7.0, np.float32)

    pool = build_synthetic_pool(bank, np.arange(4), 3, flows_of, seed=1, log=lambda m: None)
    assert len(pool) == 3 and len(calls) == 3
    for (frame0, frame2), made in zip(calls, pool.frames, strict=True):
        np.testing.assert_array_equal(frame0, made[0])  # the flows are of the patched frames
        np.testing.assert_array_equal(frame2, made[2])
        assert not any(
            np.array_equal(made, original) for original in bank.frames
        )  # each got a patch
    rng = np.random.default_rng(3)
    f0, truth, f2, flows, visibility, _ = sample_batch(
        bank, np.arange(4), 3, 32, rng, True, synthetic=pool, synthetic_occlusions=2
    )
    assert (flows[:2].abs() == 7).all()  # (flips may change signs)
    assert not (flows[2].abs() == 7).all()  # the third comes from the bank
    assert (visibility[2] == SEEN_IN_BOTH).all()  # nothing known of a bank crop


def test_the_pool_is_the_same_made_in_several_processes():
    bank = translating_bank(count=6, size=48)
    flows_of = partial(flows_for, TINY_FLOW)
    one = build_synthetic_pool(
        bank, np.arange(6), 5, flows_of, seed=2, workers=1, log=lambda m: None
    )
    several = build_synthetic_pool(
        bank, np.arange(6), 5, flows_of, seed=2, workers=2, log=lambda m: None
    )
    np.testing.assert_array_equal(one.frames, several.frames)
    np.testing.assert_array_equal(one.flows, several.flows)


def test_offset_penalty_is_zero_at_the_start_and_counts_learned_offsets():
    model = make_random_network(TINY_BICUBIC)
    model.initialize_heads()  # heads at their start: offsets are the prior's
    frames = torch.rand(2, 3, 32, 32)
    flows = torch.randn(1, 4, 32, 32) * 2
    output = model(frames[:1], frames[1:], flows=flows, return_terms=True)
    assert offset_residual_penalty(model, output.terms).item() == pytest.approx(0, abs=1e-10)
    with torch.no_grad():
        model.offset_x1[-1].bias.fill_(0.5)  # frame 1's taps all 0.5 px to the right
    output = model(frames[:1], frames[1:], flows=flows, return_terms=True)
    base = prior_start(output.terms[0].prior, 5, "bicubic")
    assert torch.allclose(output.terms[0].offset_x - base.offset_x, torch.tensor(0.5))
    # Per tap dy² + dx² is 0.25 for frame 1 and 0 for frame 2; the mean over the two frames:
    assert offset_residual_penalty(model, output.terms).item() == pytest.approx(0.25 / 2, rel=1e-5)
    weights = LossWeights(flip=0, gradient=0, offset=2.0)
    total, parts = interpolation_loss(model, frames[:1], frames[:1], frames[1:], flows, weights)
    assert parts["offset"] == pytest.approx(0.125, rel=1e-5)
    assert total.item() == pytest.approx(parts["rec"] + 2.0 * parts["offset"], rel=1e-5)


def test_every_validation_keeps_its_own_checkpoint(tmp_path):
    every_step = {"validate_every": 1, "checkpoint_every": 1}
    options = tiny_options(
        tmp_path / "run", iterations=3, batch_size=2, synthetic_occlusions=1, **every_step
    )
    train(options, held_out_bank(), log=lambda message: None)  # source 9 is held out
    for iteration in (1, 2, 3):
        kept = load_checkpoint(tmp_path / "run" / VALIDATED_NAME.format(iteration))
        assert kept.metadata["training"]["iteration"] == iteration
        assert "model" in kept.metadata["validation_psnr"]


def test_train_only_changes_just_the_named_modules(tmp_path):
    from dsepconv_gui.base.errors import InputError
    from dsepconv_gui.training.trainer import trainable_parameters

    start = make_random_network(TINY_BICUBIC)
    init = tmp_path / "start.safetensors"
    from dsepconv_gui.model.checkpoint import save_checkpoint

    save_checkpoint(init, start, {})
    options = tiny_options(
        tmp_path / "run",
        TINY_BICUBIC,
        iterations=3,
        batch_size=2,
        validate_every=10,
        checkpoint_every=3,
        init=init,
        train_only=("mask1", "mask2"),
        learning_rate=1e-2,
    )
    train(options, held_out_bank(), log=lambda message: None)
    trained = load_checkpoint(tmp_path / "run" / "last.safetensors").model.state_dict()
    before = start.state_dict()
    changed = {
        name.split(".")[0] for name in before if not torch.equal(before[name], trained[name])
    }
    assert changed == {"mask1", "mask2"}
    with pytest.raises(InputError, match="no module named maks1"):
        trainable_parameters(make_random_network(TINY_BICUBIC), ("maks1",))


def test_a_background_that_moves_with_the_patch_hides_nothing():
    frames = np.zeros((3, 64, 64, 3), np.uint8)
    donor = np.full((64, 64, 3), 200, np.uint8)
    checked = 0
    for seed in range(20):
        still, still_map = add_moving_patch(frames, donor, np.random.default_rng(seed))
        if not still.any():
            continue
        ys0, xs0 = np.nonzero(still[0, ..., 0])
        ys1, xs1 = np.nonzero(still[1, ..., 0])
        half = np.array([ys1.min() - ys0.min(), xs1.min() - xs0.min()])
        zero = np.zeros((2, 64, 64))
        _, same_map = add_moving_patch(frames, donor, np.random.default_rng(seed), zero)
        np.testing.assert_array_equal(same_map, still_map)  # no motion: as a still background
        along = np.broadcast_to(-half[:, None, None], (2, 64, 64)).astype(
            float
        )  # background at p - v/2 in frame 0
        _, moving_map = add_moving_patch(frames, donor, np.random.default_rng(seed), along)
        assert (still_map != SEEN_IN_BOTH).any() and (moving_map == SEEN_IN_BOTH).all()
        checked += 1
    assert checked > 10
