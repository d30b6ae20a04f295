"""A network that takes the time (config.time_input, issue 18): its start at every t, the
prior and projection at t, windows at several times for training, one pass per output frame
at its exact time in export and slow motion, and clear refusals for a midpoint model."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import torch

from dsepconv_gui.base.errors import ConfigError, InputError
from dsepconv_gui.cli.main import main
from dsepconv_gui.export.clip_export import ExportSettings, export_clip
from dsepconv_gui.export.plan import rate_plan
from dsepconv_gui.flow.projection import linear_middle, middle_displacement
from dsepconv_gui.frames.images import read_image, write_image
from dsepconv_gui.interpolation.bisection import intermediate_frames
from dsepconv_gui.interpolation.interpolator import Interpolator
from dsepconv_gui.model.checkpoint import save_checkpoint
from dsepconv_gui.model.config import DSepConvConfig, preset
from dsepconv_gui.model.device import resolve_device
from dsepconv_gui.model.network import DSepConvNet, prior_displacements
from dsepconv_gui.model.weights import random_model
from dsepconv_gui.training.losses import LossWeights, interpolation_loss
from dsepconv_gui.training.sources import discover_sources
from dsepconv_gui.training.trainer import load_initial_weights, sample_batch
from dsepconv_gui.training.triplet_bank import BankSettings, build_bank
from dsepconv_gui.video.clips import open_clip

from .media import SPEED, START_X, decode, demo_frame_folder, square_x, write_square_clip

CPU = resolve_device("cpu")


def textured_pair(shift: int = 8, size: tuple[int, int] = (64, 96)) -> tuple[np.ndarray, ...]:
    """A smooth random texture and the same moved `shift` pixels right (wrapping)."""
    import cv2

    rng = np.random.default_rng(3)
    noise = rng.integers(0, 256, (*size, 3), np.uint8)
    texture = cv2.GaussianBlur(noise, (0, 0), 2.5)
    texture = cv2.normalize(texture, None, 0, 255, cv2.NORM_MINMAX)
    return texture, np.roll(texture, shift, axis=1)


@pytest.mark.parametrize("name", ["tiny-time", "flow-small-time"])
def test_the_untrained_network_returns_frame_1_at_0_and_frame_2_at_1(name):
    a, b = textured_pair()
    model = Interpolator(random_model(name), CPU)
    assert model.takes_time
    for t, expected in ((0.0, a), (1.0, b)):
        made = model.at_time(a, b, t).astype(int)
        assert np.abs(made - expected).max() <= 1, (name, t)


def test_the_untrained_flow_prior_network_puts_a_moving_texture_where_it_is_at_t():
    """Its start at t: frame 1 read t of the way along the motion, frame 2 the rest, weighed
    1 - t and t; a uniform 8-pixel translation lands at 8·t."""
    a, b = textured_pair(shift=8)
    model = Interpolator(random_model("flow-small-time"), CPU)
    inside = (slice(12, -12), slice(16, -16))  # away from the wrapped borders
    for t in (0.25, 0.5, 0.75, 0.375):
        made = model.at_time(a, b, t).astype(np.float64)
        # the truth: the texture moved 8·t, read bilinearly between whole shifts
        low = int(np.floor(8 * t))
        frac = 8 * t - low
        truth = (1 - frac) * np.roll(a, low, axis=1) + frac * np.roll(a, low + 1, axis=1)
        error = np.abs(made - truth)[inside].mean()
        # the texture put at the nearest whole shift is this wrong: the start does better
        assert error < 1.5, (t, error)


def test_at_one_half_a_widened_midpoint_model_computes_what_the_midpoint_model_computes(
    tmp_path,
):
    """train --init from a midpoint model: the time map's weights start at zero, the priors
    and offsets are scaled by 2t = 1: the same frame at t = 1/2."""
    midpoint = DSepConvNet(preset("flow-small-light"))
    with torch.no_grad():  # a model whose heads have learned something
        for head in midpoint.heads():
            head[-1].weight.normal_(0, 0.01)
    path = save_checkpoint(tmp_path / "midpoint.safetensors", midpoint)
    timed = DSepConvNet(preset("flow-small-time"))
    load_initial_weights(timed, path)
    a, b = textured_pair(shift=5)
    one = Interpolator(random_model("flow-small-light"), CPU)
    one.model.load_state_dict(midpoint.state_dict())
    two = Interpolator(random_model("flow-small-time"), CPU)
    two.model.load_state_dict(timed.state_dict())
    np.testing.assert_array_equal(one(a, b), two.at_time(a, b, 0.5))


def test_a_midpoint_model_refuses_other_times_clearly():
    a, b = textured_pair()
    model = Interpolator(random_model("tiny"), CPU)
    assert not model.takes_time
    with pytest.raises(InputError, match="middle frame only"):
        model.interpolate(a, b, time=0.25)
    with pytest.raises(InputError, match="middle frame only"):
        model.model(torch.zeros(1, 3, 32, 32), torch.zeros(1, 3, 32, 32), time=0.25)
    with pytest.raises(InputError, match="between 0 and 1"):
        Interpolator(random_model("tiny-time"), CPU).interpolate(a, b, time=1.5)
    with pytest.raises(ConfigError, match="needs masks"):
        DSepConvConfig(use_mask=False, time_input=True)


def test_a_found_object_is_projected_to_where_it_is_at_t():
    """The searched prior at time t: a pixel of frame 1 moving by f lands at q + t·f and reads
    frame 1 at 2t·d = -t·f; a pixel of frame 2 moving back by f lands at q + (1 - t)·f."""
    h, w = 8, 40
    flow12, flow21 = np.zeros((2, 2, h, w), np.float32)
    found12, found21 = np.zeros((2, h, w), bool)
    flow12[1, 4, 4], found12[4, 4] = 20.0, True  # frame 1's pixel (4, 4) moves 20 right
    for t in (0.25, 0.5, 0.75):
        d = middle_displacement(flow12, flow21, found12, found21, t)
        landed = 4 + round(20 * t)
        assert d[1, 4, landed] == pytest.approx(-10.0)  # half the motion, back to frame 1
        assert 2 * t * d[1, 4, landed] + landed == pytest.approx(4)  # reads where it came from
        # and nowhere else but at q itself, where the flows read at the pixel say -(1 - t)·f/2
        assert set(np.flatnonzero(d[1, 4])) == {4, landed} and not d[0].any()
    flow21[1, 4, 30], found21[4, 30] = -20.0, True  # frame 2's pixel (4, 30) came from 10
    d = middle_displacement(flow12 * 0, flow21, found12 & False, found21, 0.25)
    assert d[1, 4, 30 - 15] == pytest.approx(-10.0)  # at t = 1/4 it is 3/4 of the way back


def test_the_flows_read_at_the_pixel_are_trusted_by_how_near_their_frame_is_in_time():
    """Away from the middle, the linear estimate leans on the nearer frame's flow: at t = 0 it is
    frame 1's own motion, at t = 1 frame 2's, and at 1/2 the plain average, bit for bit (the
    midpoint model's input does not change)."""
    rng = np.random.default_rng(0)
    flow12, flow21 = rng.normal(0, 5, (2, 2, 6, 7)).astype(np.float32)
    assert np.array_equal(linear_middle(flow12, flow21, 0.0), -0.5 * flow12)
    assert np.array_equal(linear_middle(flow12, flow21, 1.0), 0.5 * flow21)
    assert np.array_equal(linear_middle(flow12, flow21), 0.25 * (flow21 - flow12))
    # an object of frame 1 at p moving 8 right over a still background that frame 2 shows at p:
    # near frame 1 the pixel is still the object's, so frame 1 is read about where it came from
    object_here = linear_middle(np.float32([0, 8]), np.float32([0, 0]), 0.25)
    assert 2 * 0.25 * object_here[1] == pytest.approx(-1.5)  # the old average said -1
    # the network's four-channel prior uses the same rule, each frame at its distance in time
    flows = torch.from_numpy(np.concatenate([flow12, flow21]))[None]
    t = torch.tensor([0.25]).reshape(1, 1, 1, 1)
    start1, start2 = prior_displacements(flows, t)
    expected = torch.from_numpy(linear_middle(flow12, flow21, 0.25))[None]
    torch.testing.assert_close(start1, 0.5 * expected)
    torch.testing.assert_close(start2, -1.5 * expected)


@pytest.fixture
def frame_folder(tmp_path):
    return demo_frame_folder(tmp_path / "clip", 9)


def test_a_bank_of_windows_holds_truths_at_several_times_and_trains_at_them(frame_folder):
    settings = BankSettings(crop=64, triplets_per_source=12, spans=(2, 3, 4), window_tries=1)
    bank = build_bank(discover_sources([frame_folder]), settings, log=lambda m: None)
    times = {round(float(t), 4) for t in bank.times}
    assert times <= {0.25, 0.3333, 0.5, 0.6667, 0.75} and len(times) >= 3
    searched = bank.with_prior_motion("searched", lambda m: None)
    assert searched.flows.shape[1] == 6 and np.array_equal(searched.times, bank.times)
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(6):
        batch = sample_batch(searched, np.arange(len(bank)), 4, 48, rng, True)
        seen |= {round(float(t), 4) for t in batch.time}
    # time reversal maps t to 1 - t, so both sides of 1/2 appear
    assert {0.25, 0.75} <= seen or {0.3333, 0.6667} <= seen
    model = DSepConvNet(preset("flow-small-time"))
    with torch.no_grad():  # heads that have learned something pass gradients to the U-Net
        for head in model.heads():
            head[-1].weight.normal_(0, 0.01)
    loss, parts = interpolation_loss(
        model,
        batch.frame0,
        batch.truth,
        batch.frame2,
        batch.flows,
        LossWeights(),
        time=batch.time,
    )
    loss.backward()
    time_map = model.features.encoders[0][0].weight.grad[:, -1]
    assert torch.isfinite(loss) and "flip" in parts
    assert time_map.abs().sum() > 0  # the time reaches the network


def test_an_exact_rate_export_makes_every_frame_in_one_pass_at_its_time(tmp_path):
    """23.976 → 60 with a model that takes the time: no timing error, one pass per in-between
    frame, and the square where linear motion puts it at that time."""
    clip_path = write_square_clip(tmp_path / "square.mp4", rate=Fraction(24000, 1001))
    model = Interpolator(random_model("flow-small-time"), CPU)
    calls = []
    real = model.at_time

    def counted(a, b, t):
        calls.append(t)
        return real(a, b, t)

    model.at_time = counted
    out = tmp_path / "60.mp4"
    settings = ExportSettings(out, fps=Fraction(60), exact_times=True)
    summary = export_clip(open_clip(clip_path), settings, model)
    assert summary.max_timing_error == 0
    assert len(calls) == summary.interpolated > 0
    assert any(Fraction(t).denominator > 8 for t in calls)  # not eighths: exact times
    frames, times, _ = decode(out)
    rate_in = 24000 / 1001
    for frame, t in zip(frames, times, strict=True):
        position = min(t * rate_in, 11)
        assert square_x(frame) == pytest.approx(START_X + SPEED * position, abs=1.0), t


def test_exact_times_need_a_model_that_takes_the_time(tmp_path):
    clip_path = write_square_clip(tmp_path / "square.mp4")
    settings = ExportSettings(tmp_path / "out.mp4", fps=Fraction(60), exact_times=True)
    with pytest.raises(InputError, match="middle frames only"):
        export_clip(open_clip(clip_path), settings, Interpolator(random_model("tiny"), CPU))
    assert not (tmp_path / "out.mp4").exists()


def test_the_exact_plan_has_no_timing_error_and_keeps_its_frames():
    rate_in = Fraction(24000, 1001)
    stamps = [float(i / rate_in) for i in range(48)]
    dyadic = rate_plan(stamps, float(1 / rate_in), Fraction(60), depth=3)
    exact = rate_plan(stamps, float(1 / rate_in), Fraction(60), depth=3, exact=True)
    assert exact.max_timing_error == 0 < dyadic.max_timing_error
    assert [(f.index, f.first, f.is_copy) for f in exact.frames] == [
        (f.index, f.first, f.position == 0) for f in exact.frames
    ]
    assert len(exact.frames) == len(dyadic.frames)
    for f in exact.frames:
        if not f.is_copy:
            made_at = stamps[f.first] + float(f.position) * float(1 / rate_in)
            assert made_at == pytest.approx(f.time, abs=1e-12)


def test_slow_motion_makes_each_frame_at_its_time_with_such_a_model():
    a, b = textured_pair()
    model = Interpolator(random_model("tiny-time"), CPU)
    asked = []
    real = model.at_time
    model.at_time = lambda x, y, t: asked.append(t) or real(x, y, t)
    frames = list(intermediate_frames(model, a, b, 4))
    assert asked == [0.25, 0.5, 0.75] and len(frames) == 3


def test_cli_interpolate_at_a_time(tmp_path, capsys):
    a, b = textured_pair()
    write_image(tmp_path / "a.png", a)
    write_image(tmp_path / "b.png", b)
    out = tmp_path / "quarter.png"
    args = ["interpolate", str(tmp_path / "a.png"), str(tmp_path / "b.png"), "-o", str(out)]
    assert main([*args, "--model", "random:tiny-time", "--time", "0"]) == 0
    assert np.abs(read_image(out).astype(int) - a).max() <= 1
    written = out.read_bytes()
    assert main([*args, "--model", "random:tiny", "--time", "0.25", "--overwrite"]) != 0
    assert "middle frame only" in capsys.readouterr().err
    assert out.read_bytes() == written  # the refusal loses nothing
    assert main([*args, "--model", "random:tiny-time", "--time", "2", "--overwrite"]) != 0
    assert "between 0 and 1" in capsys.readouterr().err


def test_training_from_windows_refuses_a_midpoint_configuration(frame_folder, tmp_path):
    code = main(
        [
            "train",
            str(frame_folder),
            "--run-dir",
            str(tmp_path / "run"),
            "--config",
            "tiny",
            "--spans",
            "2,4",
        ]
    )
    assert code != 0


def test_the_time_branch_leaves_the_midpoint_exactly_and_changes_other_times():
    """Trained alone (--train-only time_branch), it teaches a midpoint model other times
    without touching its midpoints: its contribution is zero at t = 1/2 whatever its weights."""
    a, b = textured_pair(shift=5)
    model = Interpolator(random_model("flow-small-time"), CPU)
    with torch.no_grad():
        for head in model.model.heads():  # heads that have learned something
            head[-1].weight.normal_(0, 0.01)
    before = {t: model.at_time(a, b, t) for t in (0.25, 0.5)}
    with torch.no_grad():
        for parameter in model.model.time_branch.parameters():
            parameter.normal_(0, 0.1)
    np.testing.assert_array_equal(model.at_time(a, b, 0.5), before[0.5])
    assert np.abs(model.at_time(a, b, 0.25).astype(int) - before[0.25]).max() > 0


def test_exact_frames_that_fall_on_input_frames_copy_them_from_any_start():
    """Timestamps made relative to a range's first frame carry float noise: an exact-time
    output frame on an input frame still copies it (as bisection's plan does)."""
    rate_in = Fraction(30000, 1001)
    stamps = [float(i / rate_in) for i in range(7, 40)]  # a range that starts at frame 7
    args = (stamps, float(1 / rate_in), 2 * rate_in)
    exact = rate_plan(*args, depth=3, exact=True)
    dyadic = rate_plan(*args, depth=3)
    assert [f.is_copy for f in exact.frames] == [f.is_copy for f in dyadic.frames]
    assert sum(f.is_copy for f in exact.frames) >= len(stamps)  # and the last one held
    assert exact.max_timing_error == 0


def test_the_shipped_time_model_makes_the_shipped_midpoints_exactly():
    """models/dsepconv-time.safetensors is models/dsepconv.safetensors with a trained time
    branch: without the branch (zero at t = 1/2) it is the shipped midpoint model weight for
    weight, and at t = 1/2 it writes the same frames, so every midpoint score carries over."""
    import dataclasses

    from dsepconv_gui.model.checkpoint import LoadedModel, load_checkpoint
    from dsepconv_gui.model.network import DSepConvNet
    from dsepconv_gui.model.weights import DEFAULT_MODEL_NAME, MODELS_DIR

    time_file = load_checkpoint(MODELS_DIR / "dsepconv-time.safetensors")
    shipped = load_checkpoint(MODELS_DIR / DEFAULT_MODEL_NAME)
    config = dataclasses.replace(time_file.config, time_input=False)
    base = DSepConvNet(config)
    weights = {
        name: value
        for name, value in time_file.model.state_dict().items()
        if not name.startswith("time_branch.")
    }
    first = "features.encoders.0.0.weight"  # the time map, zero at t = 1/2, is the last input
    weights[first] = weights[first][:, : base.state_dict()[first].shape[1]]
    base.load_state_dict(weights)
    base.eval()
    timed = Interpolator(time_file, CPU)
    midpoint = Interpolator(LoadedModel(model=base, config=config, source="its base"), CPU)
    a, b = textured_pair(shift=6)
    assert timed.takes_time and not midpoint.takes_time
    np.testing.assert_array_equal(timed.at_time(a, b, 0.5), midpoint(a, b))
    assert not np.array_equal(timed.at_time(a, b, 0.25), timed.at_time(a, b, 0.75))
    for name, value in shipped.model.state_dict().items():
        assert torch.equal(value, base.state_dict()[name]), name
    np.testing.assert_array_equal(midpoint(a, b), Interpolator(shipped, CPU)(a, b))
