"""The searched motion prior: what DIS misses found by a patch search (checked both ways)
and carried to where it is halfway. Synthetic frames with known motion."""

import cv2
import numpy as np
import pytest
import torch

from dsepconv_gui.base.errors import ConfigError, InputError
from dsepconv_gui.flow.layout import mirror_signs, time_reversal
from dsepconv_gui.flow.prior import prior_flows
from dsepconv_gui.flow.projection import (
    AGREEMENT_MARGIN,
    agreeing_middle,
    carried_pixels,
    linear_middle,
    middle_displacement,
)
from dsepconv_gui.flow.search import SEARCH_RADIUS, consistent_repairs, repaired_flow, warp_cost
from dsepconv_gui.flow.warp import warp
from dsepconv_gui.model.config import DSepConvConfig, preset
from dsepconv_gui.model.network import DSepConvNet, prior_displacements, prior_frame

from .conftest import TINY_BICUBIC, TINY_SEARCHED, make_random_network


def ball_triplet(step=(-6, 7), size=(96, 128), ball=(40, 50)):
    """A dark 7×7 ball over a bright smooth sky, moving by `step` per frame: frames 0, 1, 2.
    It moves three times its size between the outer frames, which DIS does not follow."""
    h, w = size
    rows, cols = np.mgrid[0:h, 0:w]
    sky = np.stack(
        [200 + 20 * np.sin(rows / 17.0), 210 + 15 * np.cos(cols / 23.0), 240 + 0 * rows], -1
    )
    frames = []
    for k in range(3):
        frame = sky.copy()
        y, x = ball[0] + k * step[0], ball[1] + k * step[1]
        frame[y : y + 7, x : x + 7] = (70, 60, 50)
        frames.append(np.clip(frame, 0, 255).astype(np.uint8))
    return frames


def psnr(a, b):
    return 10 * np.log10(255**2 / np.mean((a.astype(np.float64) - b) ** 2))


def test_search_repairs_a_flow_that_misses_a_small_fast_object():
    f0, _, f2 = ball_triplet()
    wrong = np.zeros((2, *f0.shape[:2]), np.float32)  # what DIS gives the ball: the sky's motion
    assert warp_cost(f0, f2, wrong)[43, 53] > 120
    repaired = repaired_flow(f0, f2, wrong)
    np.testing.assert_array_equal(
        repaired[:, 41:46, 51:56], np.broadcast_to(np.float32([[[-12]], [[14]]]), (2, 5, 5))
    )
    # The sky far from the ball was explained already and keeps its flow.
    np.testing.assert_array_equal(repaired[:, 80:, :20], wrong[:, 80:, :20])


def test_search_leaves_a_flow_that_explains_the_frames_alone():
    f0, _, f2 = ball_triplet(step=(0, 0))
    flow = np.random.default_rng(0).uniform(-0.2, 0.2, (2, *f0.shape[:2])).astype(np.float32)
    np.testing.assert_array_equal(repaired_flow(f0, f2, flow), flow)


@pytest.mark.parametrize(
    "rows, cols, radius",
    [
        (slice(32, 96), slice(64, 128), SEARCH_RADIUS),  # inside the frame
        (slice(0, 64), slice(0, 64), SEARCH_RADIUS),  # at a corner: the region is clipped
        (slice(96, 120), slice(150, 170), 5),  # the far corner, a short edge tile
    ],
)
def test_the_search_kernel_finds_what_the_opencv_reference_finds(rows, cols, radius):
    """The numba kernel (one pass over the displacements, tiles in threads) against one OpenCV
    box filter per displacement: the same displacement for every pixel (the first of equal
    costs, row by row) and the same cost, on a textured pair with moving objects and
    occluded areas."""
    from dsepconv_gui.flow.search import search_flow, search_flow_reference

    rng = np.random.default_rng(1)
    texture = cv2_blur(rng.integers(0, 256, (140, 190, 3), dtype=np.uint8))
    a, b = texture[:120, :170], texture[5:125, 3:173].copy()  # the scene moves (-5, -3)
    b[40:60, 90:120] = texture[0:20, 0:30]  # objects with their own motion
    b[100:115, 150:165] = texture[0:15, 40:55]
    found, cost = search_flow(a, b, rows, cols, radius)
    expected_found, expected_cost = search_flow_reference(a, b, rows, cols, radius)
    np.testing.assert_allclose(cost, expected_cost, rtol=0, atol=1e-4)
    np.testing.assert_array_equal(found, expected_found)
    assert len(np.unique(found[1])) > 1  # the displacements vary: a wrong order would show


def test_among_equal_costs_the_search_keeps_the_first_displacement_as_the_reference_does():
    """Patterns moved by one pixel that match as well at two displacements as short as each
    other: the first in the search's order (rows of dy from -radius, then dx) wins. Vertical
    stripes match at (0, -1) and (0, +1), in the same row of displacements; a checkerboard also
    at (-1, 0) and (+1, 0), in other rows."""
    from dsepconv_gui.flow.search import search_flow, search_flow_reference

    rows, cols = np.mgrid[0:80, 0:80]
    inner = slice(16, 48), slice(16, 48)
    for pattern, first in ((cols % 2, (0, -1)), ((rows + cols) % 2, (-1, 0))):
        image = np.repeat((255 * pattern).astype(np.uint8)[..., None], 3, axis=2)
        a, b = image[:, :-1], image[:, 1:].copy()
        found, _ = search_flow(a, b, *inner)
        np.testing.assert_array_equal(found, search_flow_reference(a, b, *inner)[0])
        assert (found[0] == first[0]).all() and (found[1] == first[1]).all()


def test_search_work_is_bounded_when_the_flow_fails_everywhere(monkeypatch):
    from dsepconv_gui.flow import search as flow_search

    rng = np.random.default_rng(0)
    a, b = (
        rng.integers(0, 256, (400, 600, 3), dtype=np.uint8) for _ in range(2)
    )  # 70 tiles, all failing
    searched = []
    real = flow_search.search_flow
    monkeypatch.setattr(
        flow_search,
        "search_flow",
        lambda *args, **kw: searched.append(args[2:4]) or real(*args, **kw),
    )
    flow_search.repaired_flow(a, b, np.zeros((2, 400, 600), np.float32))
    assert len(searched) == flow_search.MAX_TILES


def test_search_radius_bounds_what_can_be_found():
    step = SEARCH_RADIUS // 2 + 6  # the ball moves 2 × step, more than the radius, in two frames
    f0, _, f2 = ball_triplet(step=(0, step), ball=(40, 20))
    repaired = repaired_flow(f0, f2, np.zeros((2, *f0.shape[:2]), np.float32))
    assert np.abs(repaired).max() <= SEARCH_RADIUS
    assert not np.any(repaired[1, 40:47, 20:27] == 2 * step)


def test_projection_puts_the_found_ball_halfway_and_keeps_the_sky_still():
    f0, _, f2 = ball_triplet()
    h, w = f0.shape[:2]
    flow12, flow21 = np.zeros((2, h, w), np.float32), np.zeros((2, h, w), np.float32)
    found12, found21 = np.zeros((h, w), bool), np.zeros((h, w), bool)
    flow12[:, 40:47, 50:57] = np.float32([-12, 14])[:, None, None]  # the ball's flows, as found
    flow21[:, 28:35, 64:71] = np.float32([12, -14])[:, None, None]
    found12[40:47, 50:57] = found21[28:35, 64:71] = True
    d = middle_displacement(flow12, flow21, found12, found21)
    # Halfway the ball covers rows 34..40, columns 57..63, and is read 6 down, 7 left in frame 1;
    # its motion lands there exactly, not a pixel wider.
    projected = np.any(d != linear_middle(flow12, flow21), axis=0)
    assert projected[34:41, 57:64].all() and projected.sum() == 49
    np.testing.assert_allclose(
        d[:, 34:41, 57:64], np.broadcast_to(np.float32([[[6]], [[-7]]]), (2, 7, 7))
    )
    # Read at the middle pixel itself (the linear estimate) the ball's motion is not there.
    assert np.abs(linear_middle(flow12, flow21)[:, 35:40, 58:63]).max() == 0
    assert np.abs(d[:, 70:, :]).max() == 0
    # Nothing found: the linear estimate everywhere.
    nothing = np.zeros((h, w), bool)
    np.testing.assert_array_equal(
        middle_displacement(flow12, flow21, nothing, nothing), linear_middle(flow12, flow21)
    )
    # Time reversed (the flows and what was found swap roles): the displacement changes sign,
    # also where finds of both frames land on one pixel.
    rng = np.random.default_rng(5)
    f12, f21 = (rng.normal(0, 4, (2, h, w)).astype(np.float32) for _ in range(2))
    k12, k21 = rng.random((h, w)) < 0.2, rng.random((h, w)) < 0.2
    np.testing.assert_allclose(
        middle_displacement(f21, f12, k21, k12), -middle_displacement(f12, f21, k12, k21), atol=1e-5
    )


def sliding_block_pair(step=12, size=(64, 96), block=(16, 20, 24, 30)):
    """A textured block moving `step` pixels right over a differently textured background,
    the exact flows of both frames, and the true middle frame: frame 1, frame 2, middle,
    flow12, flow21."""
    h, w = size
    rng = np.random.default_rng(3)
    background = rng.integers(0, 256, (h, w, 3)).astype(np.uint8)
    texture = rng.integers(0, 256, (block[2], block[3], 3)).astype(np.uint8)
    y, x, bh, bw = block
    frames = []
    for shift in (0, step // 2, step):
        frame = background.copy()
        frame[y : y + bh, x + shift : x + shift + bw] = texture
        frames.append(frame)
    flow12, flow21 = np.zeros((2, 2, h, w), np.float32)
    flow12[1, y : y + bh, x : x + bw] = step
    flow21[1, y : y + bh, x + step : x + step + bw] = -step
    return frames[0], frames[2], frames[1], flow12, flow21


def test_carried_pixels_are_the_moving_ones_both_flows_agree_on():
    frame1, _, _, flow12, flow21 = sliding_block_pair()
    nothing = np.zeros(frame1.shape[:2], bool)
    carried = carried_pixels(flow12, flow21, nothing)
    assert carried[16:40, 20:50].all() and carried.sum() == 24 * 30  # the block, nothing else
    still = flow12 * 0
    assert not carried_pixels(still, flow21, nothing).any()
    assert not carried_pixels(flow12, flow21 * 0, nothing).any()  # frame 2 does not agree
    found = nothing.copy()
    found[0, 0] = True
    assert carried_pixels(still, flow21, found)[0, 0]  # the search's finds are always carried


def test_agreeing_middle_carries_the_block_where_the_linear_estimate_tears_it():
    frame1, frame2, middle, flow12, flow21 = sliding_block_pair()
    nothing = np.zeros(frame1.shape[:2], bool)
    linear = middle_displacement(flow12, flow21, nothing, nothing)
    carried = middle_displacement(
        flow12,
        flow21,
        carried_pixels(flow12, flow21, nothing),
        carried_pixels(flow21, flow12, nothing),
    )
    chosen = agreeing_middle(frame1, frame2, [linear, carried])
    # Halfway the block covers columns 26..55. Read at the pixel itself, the flows see it at
    # its leading columns in frame 2 only and at its trailing ones in frame 1 only: half its
    # motion there. Carried, it is read 6 pixels left in frame 1 everywhere.
    assert np.abs(linear[1, 16:40, 50:56] + 3).max() < 1e-6
    np.testing.assert_allclose(chosen[1, 18:38, 28:54], -6)

    def made(d):
        return (warp(frame1, d[0], d[1]).astype(np.float64) + warp(frame2, -d[0], -d[1])) / 2

    assert psnr(made(chosen), middle) > psnr(made(linear), middle) + 3
    # Where both read the same (the background away from the block) the first is kept,
    # and swapping the frames swaps the choice (the displacement changes sign).
    np.testing.assert_array_equal(chosen[:, :, 70:], linear[:, :, 70:])
    swapped = agreeing_middle(frame2, frame1, [-linear, -carried])
    np.testing.assert_array_equal(swapped, -chosen)


def test_agreeing_middle_keeps_the_first_where_a_later_one_is_not_better_by_the_margin():
    rng = np.random.default_rng(8)
    flat = np.full((24, 32, 3), 120, np.uint8)
    first, second = rng.normal(0, 2, (2, 2, 24, 32)).astype(np.float32)
    # Flat frames: every displacement reads the same, the first is kept everywhere.
    np.testing.assert_array_equal(agreeing_middle(flat, flat, [first, second]), first)
    # The second better by 2 levels, less than AGREEMENT_MARGIN (3): still the first. A red
    # ramp along x, frame 2 two levels brighter: read in place the frames differ by 2; read
    # one pixel right in frame 1 and one left in frame 2 (d = (0, 1)), by 0.
    ramp = flat.copy()
    ramp[:, :, 0] = 100 + np.arange(32, dtype=np.uint8)
    brighter = ramp.copy()
    brighter[:, :, 0] += 2
    still, along = np.zeros((2, 2, 24, 32), np.float32)
    along[1] = 1
    assert AGREEMENT_MARGIN > 2
    np.testing.assert_array_equal(agreeing_middle(ramp, brighter, [still, along]), still)
    # Better by 4 levels, more than the margin: frame 2 four levels brighter, read two pixels
    # apart each way (d = (0, 2)).
    brighter[:, :, 0] += 2
    chosen = agreeing_middle(ramp, brighter, [still, 2 * along])
    np.testing.assert_array_equal(chosen[:, :, 4:-4], 2 * along[:, :, 4:-4])
    with pytest.raises(TypeError):
        agreeing_middle(flat / 255.0, flat / 255.0, [first, second])


def test_agreeing_middle_is_the_same_time_reversed():
    frame1, frame2, _, flow12, flow21 = sliding_block_pair()
    nothing = np.zeros(frame1.shape[:2], bool)
    carried12 = carried_pixels(flow12, flow21, nothing)
    carried21 = carried_pixels(flow21, flow12, nothing)
    for t in (0.25, 0.5, np.float64(0.75)):
        forward = agreeing_middle(
            frame1,
            frame2,
            [
                middle_displacement(flow12, flow21, nothing, nothing, t),
                middle_displacement(flow12, flow21, carried12, carried21, t),
            ],
            t,
        )
        backward = agreeing_middle(
            frame2,
            frame1,
            [
                middle_displacement(flow21, flow12, nothing, nothing, 1 - t),
                middle_displacement(flow21, flow12, carried21, carried12, 1 - t),
            ],
            1 - t,
        )
        # Reversed, frame 1 (now second) is read at p - 2(1 - (1 - t))·d' = p - 2t·d': the
        # same reads when d' = -d.
        np.testing.assert_allclose(backward, -forward, atol=1e-5)


def _landed_reference(flow12, flow21, found12, found21, time):
    """middle_displacement as numpy computed it before its numba kernel (commit 7a6af0b)."""
    h, w = flow12.shape[1:]
    out = linear_middle(flow12, flow21, time).astype(np.float32).reshape(2, -1)
    targets, motions = [], []
    for flow, found, sign, travelled in (
        (flow12, found12, -1.0, time),
        (flow21, found21, 1.0, 1.0 - time),
    ):
        ys, xs = np.nonzero(found)
        motion = flow[:, ys, xs]
        land_y, land_x = ys + travelled * motion[0], xs + travelled * motion[1]
        for ty, use_y in _floor_and_ceiling(land_y):
            for tx, use_x in _floor_and_ceiling(land_x):
                inside = use_y & use_x & (ty >= 0) & (ty < h) & (tx >= 0) & (tx < w)
                targets.append((ty * w + tx)[inside])
                motions.append(sign * 0.5 * motion[:, inside])
    target, motion = np.concatenate(targets), np.concatenate(motions, axis=1)
    count = np.bincount(target, minlength=h * w)
    landed = count > 0
    for c in range(2):
        out[c, landed] = np.bincount(target, motion[c], minlength=h * w)[landed] / count[landed]
    return out.reshape(2, h, w)


def _floor_and_ceiling(x):
    floor, ceiling = np.floor(x), np.ceil(x)
    return [
        (floor.astype(np.int64), np.ones(x.shape, bool)),
        (ceiling.astype(np.int64), ceiling != floor),
    ]


def test_middle_displacement_lands_as_the_numpy_reference_did():
    rng = np.random.default_rng(11)
    for trial in range(20):
        h, w = (int(v) for v in rng.integers(3, 40, 2))
        f12, f21 = (rng.normal(0, 8, (2, h, w)).astype(np.float32) for _ in range(2))
        if trial % 2:  # whole and half pixels: landings on the grid, and off the frame
            f12, f21 = np.round(f12), np.round(f21 * 2) / 2
        k12, k21 = rng.random((h, w)) < 0.5, rng.random((h, w)) < 0.5
        for t in (0.25, 0.5, 0.75):
            np.testing.assert_array_equal(
                middle_displacement(f12, f21, k12, k21, t),
                _landed_reference(f12, f21, k12, k21, t),
            )


def test_repairs_the_other_direction_does_not_undo_are_dropped():
    h, w = 30, 40
    flow12, flow21 = np.zeros((2, h, w), np.float32), np.zeros((2, h, w), np.float32)
    repaired12, repaired21 = flow12.copy(), flow21.copy()
    repaired12[:, 5, 5] = (10, 12)  # frame 2 finds its way back from (15, 17)
    repaired21[:, 15, 17] = (-10, -12)
    repaired12[:, 20, 30] = (-8, 5)  # a look-alike patch in an occlusion: nothing comes back
    kept12, kept21, found12, found21 = consistent_repairs(flow12, flow21, repaired12, repaired21)
    assert found12[5, 5] and found21[15, 17] and not found12[20, 30]
    assert found12.sum() == 1 and found21.sum() == 1
    np.testing.assert_array_equal(kept12[:, 20, 30], [0, 0])
    np.testing.assert_array_equal(kept12[:, 5, 5], [10, 12])


def test_searched_prior_reads_the_fast_ball_where_the_linear_prior_blends_it():
    f0, truth, f2 = ball_triplet()
    config = preset("flow-small-searched")
    to = lambda f: torch.from_numpy(f).permute(2, 0, 1)[None].float() / 255  # noqa: E731
    outputs = {}
    for motion in ("linear", "searched"):
        flows = torch.from_numpy(prior_flows(f0, f2, motion))[None]
        assert flows.shape[1] == (4 if motion == "linear" else 6)
        frame = prior_frame(config, to(f0), to(f2), flows)
        outputs[motion] = (frame[0].permute(1, 2, 0).clamp(0, 1).numpy() * 255).round()
    # Measured: 33.4 against 26.6 dB (what is left: DIS smears the ball's motion into the sky
    # around it, which the search does not replace, as warping explains the smooth sky).
    assert psnr(outputs["searched"], truth) > 32
    assert psnr(outputs["searched"], truth) > psnr(outputs["linear"], truth) + 6


def test_flip_and_time_reversal_transform_every_channel_pair():
    np.testing.assert_array_equal(mirror_signs(6, "x"), [1, -1, 1, -1, 1, -1])
    np.testing.assert_array_equal(mirror_signs(4, "y"), [-1, 1, -1, 1])
    f0, _, f2 = ball_triplet()
    forward, backward = prior_flows(f0, f2, "searched"), prior_flows(f2, f0, "searched")
    order, signs = time_reversal(6)
    np.testing.assert_allclose(forward[order] * signs[:, None, None], backward, atol=1e-4)


def test_config_and_network_take_six_flow_channels_with_the_searched_prior():
    config = preset("flow-small-searched")
    assert config.flow_channels == 6 and preset("flow-small-bicubic").flow_channels == 4
    assert DSepConvConfig().flow_channels == 0
    with pytest.raises(ConfigError, match="needs a flow prior"):
        DSepConvConfig(prior_motion="searched")
    with pytest.raises(ConfigError, match="prior_motion must be one of"):
        DSepConvConfig(flow_prior="dis", prior_motion="splatted")
    # Files written before prior_motion existed read as "linear".
    assert DSepConvConfig.from_dict({"flow_prior": "dis"}).prior_motion == "linear"

    model = make_random_network(TINY_SEARCHED)
    frames = torch.rand(2, 1, 3, 32, 32)
    flows = torch.randn(1, 6, 32, 32)
    with pytest.raises(InputError, match=r"\(1, 6, 32, 32\)"):
        model(frames[0], frames[1], flows=flows[:, :4])
    prior1, prior2 = prior_displacements(flows)
    torch.testing.assert_close(prior1, flows[:, 4:6])
    torch.testing.assert_close(prior2, -flows[:, 4:6])
    # The same weights work under both motions: the features see only the two flows.
    linear = DSepConvNet(TINY_BICUBIC)
    linear.load_state_dict(model.state_dict())


def test_flow_on_upscaled_frames_is_scaled_back():
    from dsepconv_gui.flow.prior import dis_flow

    rng = np.random.default_rng(0)
    texture = cv2_blur(rng.integers(0, 256, (140, 180, 3), dtype=np.uint8))
    a, b = (
        texture[10:110, 10:160],
        texture[12:112, 7:157],
    )  # b(p) = a(p + (2, -3)): a's p is at p - (2, -3) in b
    for scale in (1.0, 1.5):
        flow = dis_flow(a, b, scale)
        assert flow.shape == (2, 100, 150)
        np.testing.assert_allclose(
            np.median(flow[:, 20:80, 20:130], axis=(1, 2)), [-2, 3], atol=0.1
        )


def test_flow_scale_stops_enlarging_at_a_million_pixels():
    from dsepconv_gui.flow.prior import effective_scale

    assert effective_scale(480, 640, 1.5) == 1.5
    assert effective_scale(480, 854, 1.5) == 1.5
    assert 1.0 < effective_scale(540, 960, 1.5) < 1.5
    assert effective_scale(720, 1280, 1.5) == pytest.approx((1e6 / (720 * 1280)) ** 0.5)
    assert effective_scale(1080, 1920, 1.5) == 1.0 and effective_scale(2160, 3840, 1.5) == 1.0
    assert effective_scale(480, 640, 0.5) == 0.5


def cv2_blur(image):
    import cv2

    return cv2.GaussianBlur(image, (0, 0), 2)


def test_flow_scale_is_a_checked_float_that_older_files_lack():
    assert preset("flow-small-searched").flow_scale == 1.5
    assert DSepConvConfig.from_dict({"flow_prior": "dis"}).flow_scale == 1.0
    assert DSepConvConfig.from_json(preset("flow-small-searched").to_json()) == preset(
        "flow-small-searched"
    )
    with pytest.raises(ConfigError, match="flow_scale must be between"):
        DSepConvConfig(flow_prior="dis", flow_scale=10.0)
    with pytest.raises(ConfigError, match="must be float"):
        DSepConvConfig(flow_prior="dis", flow_scale=2)


def test_bank_folders_keep_their_name_unless_the_flow_scale_or_spans_change(tmp_path):
    import hashlib
    import json
    from dataclasses import asdict

    from dsepconv_gui.training.sources import Source
    from dsepconv_gui.training.triplet_bank import BankSettings, bank_folder

    sources = [Source(path=tmp_path / "clip.mp4", kind="video")]
    before = asdict(BankSettings())
    del before["flow_scale"], before["spans"]  # the key before these fields existed
    key = json.dumps(
        {"sources": [str((tmp_path / "clip.mp4").resolve())], "settings": before}, sort_keys=True
    )
    assert (
        bank_folder(tmp_path, sources, BankSettings()).name
        == f"bank-{hashlib.sha1(key.encode()).hexdigest()[:12]}"
    )
    assert bank_folder(tmp_path, sources, BankSettings(flow_scale=1.5)) != bank_folder(
        tmp_path, sources, BankSettings()
    )
    assert bank_folder(tmp_path, sources, BankSettings(spans=(2, 4))) != bank_folder(
        tmp_path, sources, BankSettings()
    )


def test_both_flow_directions_at_once_equal_one_after_the_other(monkeypatch):
    from dsepconv_gui.flow import prior

    rng = np.random.default_rng(4)
    a = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    b = np.roll(a, 3, axis=1)
    together = prior.bidirectional_flow(a, b, 1.5)
    apart = np.concatenate([prior.dis_flow(a, b, 1.5), prior.dis_flow(b, a, 1.5)])
    np.testing.assert_array_equal(together, apart)

    real = prior.dis_flow

    def fail_backward(source, target, scale=1.0):
        if source is b:
            raise MemoryError("backward failed")
        return real(source, target, scale)

    monkeypatch.setattr(prior, "dis_flow", fail_backward)
    with pytest.raises(MemoryError, match="backward failed"):  # not lost in its thread
        prior.bidirectional_flow(a, b)


def test_frames_too_large_for_two_dis_passes_at_once_run_them_one_after_the_other(monkeypatch):
    from dsepconv_gui.flow import prior

    rng = np.random.default_rng(5)
    a = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    b = np.roll(a, 2, axis=0)
    started = []
    real_thread = prior.threading.Thread

    def recording_thread(*args, **kwargs):
        started.append(kwargs.get("name"))
        return real_thread(*args, **kwargs)

    monkeypatch.setattr(prior.threading, "Thread", recording_thread)
    together = prior.bidirectional_flow(a, b, 1.5)
    assert started == ["dis-backward"]
    # two passes over 48 × 64 × 1.5² pixels need 2 × 205 × 6,912 bytes: a budget below that
    monkeypatch.setattr(prior, "PARALLEL_DIS_BUDGET", 2 * prior.DIS_BYTES_PER_PIXEL * 6912 - 1)
    apart = prior.bidirectional_flow(a, b, 1.5)
    assert started == ["dis-backward"]  # no second thread
    np.testing.assert_array_equal(apart, together)


def test_the_round_trip_check_equals_its_numpy_formula():
    """round_trip_agrees (a numba kernel) gives numpy's booleans: the position in float64,
    rounded half to even, clamped to the frame, the float32 hypot against CONSISTENCY."""
    from dsepconv_gui.flow.search import CONSISTENCY, round_trip_agrees

    def formula(there, back):
        h, w = there.shape[1:]
        rows, cols = np.mgrid[0:h, 0:w]
        ty = np.clip(np.rint(rows + there[0]).astype(np.int64), 0, h - 1)
        tx = np.clip(np.rint(cols + there[1]).astype(np.int64), 0, w - 1)
        return np.hypot(there[0] + back[0, ty, tx], there[1] + back[1, ty, tx]) <= CONSISTENCY

    rng = np.random.default_rng(1)
    h, w = 61, 83
    coarse = (rng.normal(size=(4, 4, 2)) * 10).astype(np.float32)
    there = cv2.resize(coarse, (w, h)).transpose(2, 0, 1).copy()  # smooth, past the edges
    there[:, :6] = np.round(there[:, :6] * 2) / 2  # half-pixel positions: ties to round
    back = (-there + rng.normal(size=(2, h, w)) * 0.6).astype(np.float32)
    expected = formula(there, back)
    assert 0.1 < expected.mean() < 0.9  # both answers, many near the threshold
    np.testing.assert_array_equal(round_trip_agrees(there, back), expected)
