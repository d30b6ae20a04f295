"""The clip's own frames as ground truth: the quality check ranks a known hard segment worst and
skips cuts; adapting to a clip trains only on triplets without a held-out frame and keeps the
result only when it scores better."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from dsepconv_gui.base.errors import InputError
from dsepconv_gui.cli.main import main
from dsepconv_gui.frames.scene_cuts import thumbnail
from dsepconv_gui.interpolation.interpolator import Interpolator
from dsepconv_gui.interpolation.quality_check import (
    MODEL,
    check_clip,
    summarise,
    worst_region_psnr,
)
from dsepconv_gui.model.checkpoint import LoadedModel, load_checkpoint
from dsepconv_gui.model.device import resolve_device
from dsepconv_gui.model.weights import random_model
from dsepconv_gui.training.adaptation import AdaptOptions, adapt_to_clip, plan_triplets
from dsepconv_gui.video.clips import ArrayClip

from .conftest import TINY_FLOW, make_random_network
from .media import write_frame_folder

HEIGHT, WIDTH, SIDE = 64, 96, 16


def textured(seed: int, shape: tuple[int, int]) -> np.ndarray:
    coarse = np.random.default_rng(seed).integers(30, 226, (shape[0] // 4, shape[1] // 4, 3))
    return np.kron(coarse, np.ones((4, 4, 1))).astype(np.uint8)


def moving_square_frames(count: int, jump_at: int | None = None, cut_at: int | None = None):
    """A textured square moving 2 pixels a frame over a textured background; at `jump_at` it
    is 30 pixels off its path for one frame; from `cut_at` on, another shot (a flat bright
    background). Past frame 31 the square starts again from the left."""
    background, square = textured(1, (HEIGHT, WIDTH)), textured(2, (SIDE, SIDE))
    frames = []
    for k in range(count):
        shot_a = cut_at is None or k < cut_at
        frame = background.copy() if shot_a else np.full_like(background, 220)
        x = 8 + (2 * k) % 64 + (30 if k == jump_at else 0)
        frame[24 : 24 + SIDE, x : x + SIDE] = square
        frames.append(frame)
    return frames


def frames_folder(tmp_path, count: int):
    """moving_square_frames(count) as a folder of numbered PNG images (a clip to open)."""
    return write_frame_folder(tmp_path / "frames", moving_square_frames(count))


@pytest.fixture(scope="module")
def flow_model():
    """An untrained flow-small network: the DIS flow prior's frame, right for smooth motion."""
    return Interpolator(random_model("flow-small"), resolve_device("cpu"))


def test_the_check_ranks_an_object_that_jumps_worst(flow_model):
    clip = ArrayClip(moving_square_frames(20, jump_at=10), 24.0, "jump")
    results = list(check_clip(clip, flow_model))
    assert [r.frame for r in results] == list(range(1, 19))
    summary = summarise(results)
    # frame 10 is off the path; 9 and 11 are interpolated across it
    assert set(summary.worst_frames[:3]) == {9, 10, 11}
    assert summary.worst_frames[0] == 10
    assert summary.problems and set(summary.problems) <= {9, 10, 11}
    smooth = [r for r in results if r.frame not in (9, 10, 11)]
    assert min(r.worst[MODEL] for r in smooth) > max(r.worst[MODEL] for r in results[8:11])
    # the classical methods are scored beside the model; the model beats the frame average
    assert set(results[0].psnr) == {MODEL, "OpenCV DIS", "frame average"}
    assert summary.mean_psnr[MODEL] > summary.mean_psnr["frame average"]


def test_the_check_skips_frames_next_to_a_cut_and_the_summary_says_so(flow_model):
    clip = ArrayClip(moving_square_frames(10, cut_at=5), 24.0, "cut")
    results = list(check_clip(clip, flow_model, compare={}))
    skipped = [r.frame for r in results if r.skipped == "cut"]
    assert skipped == [4, 5]
    summary = summarise(results)
    assert (summary.scored, summary.cuts) == (6, 2)
    assert "2 next to a shot cut skipped" in summary.describe()
    assert "twice the motion" in summary.describe()


def test_worst_region_finds_a_small_broken_object_the_frame_average_hides():
    truth = textured(3, (128, 128))
    broken = truth.copy()
    broken[:16, :16] = 255 - broken[:16, :16]  # one block of 64 wrong
    noisy = np.clip(truth + np.random.default_rng(0).normal(0, 6, truth.shape), 0, 255)
    noisy = noisy.astype(np.uint8)  # slightly wrong everywhere
    mse = lambda a: float(np.mean((a.astype(float) - truth) ** 2))  # noqa: E731
    assert mse(broken) > mse(noisy)  # comparable frame averages …
    assert worst_region_psnr(broken, truth) < worst_region_psnr(noisy, truth) - 15  # … not here


def test_cli_check_prints_the_summary_and_writes_per_frame_scores(tmp_path, capsys):
    folder = frames_folder(tmp_path, 8)
    out = tmp_path / "scores.json"
    code = main(["check", str(folder), "--range", "1:6", "--json", str(out), "--model",
                 "random:tiny"])  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "4 frames scored" in printed and "frame average" in printed
    scores = json.loads(out.read_text())
    assert [f["frame"] for f in scores["frames"]] == [2, 3, 4, 5]
    assert scores["summary"]["scored"] == 4


def test_cli_check_refuses_a_range_of_two_frames(tmp_path, capsys):
    folder = frames_folder(tmp_path, 4)
    assert main(["check", str(folder), "--range", "1:2", "--model", "random:tiny"]) != 0
    assert "at least three frames" in capsys.readouterr().err


# --- adaptation ---------------------------------------------------------------------------


def test_no_training_triplet_contains_a_held_out_frame():
    frames = moving_square_frames(40, cut_at=23)
    plan, truths = plan_triplets([thumbnail(f) for f in frames], 0, AdaptOptions())
    assert truths == {2, 7, 12, 17, 22, 27, 32, 37}
    assert all(t.stride == 1 and t.frames[1] in truths for t in plan.held_out)
    for triplet in plan.training:
        assert not truths.intersection(triplet.frames)
        assert triplet.frames[0] >= 23 or triplet.frames[2] < 23  # never across the cut
    assert {t.stride for t in plan.training} == {1, 2}
    assert [t.frames[1] for t in plan.held_out] == [2, 7, 12, 17, 27, 32, 37]  # 22: next to it


def tiny_loaded(seed: int = 0) -> LoadedModel:
    model = make_random_network(TINY_FLOW, seed)
    return LoadedModel(model, TINY_FLOW, "random tiny")


# A budget no loaded machine runs out of; the iteration cap ends the training.
TINY_OPTIONS = AdaptOptions(
    seconds=60.0, max_iterations=12, crop=32, batch_size=2, learning_rate=1e-3
)


def test_adapting_scores_before_and_after_and_keeps_only_a_better_model():
    clip = ArrayClip(moving_square_frames(24), 24.0, "square")
    loaded = tiny_loaded()
    before = {k: v.clone() for k, v in loaded.model.state_dict().items()}
    stages = set()
    result = adapt_to_clip(loaded, clip, TINY_OPTIONS, lambda p: stages.add(p.stage))
    assert {"reading", "flows", "scoring the base model", "training", "scoring"} <= stages
    assert result.iterations == 12 and result.seconds < TINY_OPTIONS.seconds
    assert len(result.base_scores) == len(result.plan.held_out) > 0
    assert result.kept == (result.adapted_psnr > result.base_psnr)
    assert (result.model is not None) == result.kept
    # the base model is left as it was
    assert all(torch.equal(before[k], v) for k, v in loaded.model.state_dict().items())
    info = result.metadata("square", "random tiny", TINY_OPTIONS)["adaptation"]
    assert info["gain_db"] == pytest.approx(result.gain, abs=1e-4)
    assert info["clip"] == "square" and info["base_model"] == "random tiny"


def test_a_model_made_worse_by_adapting_is_not_kept():
    clip = ArrayClip(moving_square_frames(24), 24.0, "square")
    ruinous = dataclasses.replace(TINY_OPTIONS, learning_rate=10.0)
    result = adapt_to_clip(tiny_loaded(), clip, ruinous)
    assert result.iterations > 0
    assert not result.kept and result.model is None
    assert "not kept" in result.describe()


def test_stopping_at_once_keeps_the_base_model():
    clip = ArrayClip(moving_square_frames(24), 24.0, "square")
    result = adapt_to_clip(tiny_loaded(), clip, TINY_OPTIONS, should_stop=lambda: True)
    assert result.stopped_early and result.iterations == 0
    assert not result.kept and result.adapted_psnr == result.base_psnr


def test_adapting_refuses_a_clip_too_short_or_still():
    with pytest.raises(InputError, match="at least 10 frames"):
        adapt_to_clip(tiny_loaded(), ArrayClip(moving_square_frames(6), 24.0, "short"),
                      TINY_OPTIONS)  # fmt: skip
    still = ArrayClip([moving_square_frames(1)[0]] * 20, 24.0, "still")
    with pytest.raises(InputError, match="too few moving triplets"):
        adapt_to_clip(tiny_loaded(), still, TINY_OPTIONS)


def test_cli_adapt_writes_the_model_only_when_it_is_better(tmp_path, capsys):
    folder = frames_folder(tmp_path, 24)
    out = tmp_path / "adapted.safetensors"
    code = main(["adapt", str(folder), "-o", str(out), "--minutes", "0.1", "--model",
                 "random:flow-small"])  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "held-out PSNR" in printed
    if "not kept" in printed:
        assert not out.exists() and "not written" in printed
    else:
        info = load_checkpoint(out).metadata["adaptation"]
        assert info["gain_db"] > 0 and info["clip"] == str(folder)
    assert main(["adapt", str(folder), "-o", str(tmp_path / "x.pt"), "--minutes", "1"]) != 0
    assert "is a .safetensors file" in capsys.readouterr().err


def test_a_budget_cut_keeps_the_triplets_spread_over_the_range():
    from dsepconv_gui.training.adaptation import _spread

    order = _spread(list(range(9)))
    assert sorted(order) == list(range(9))
    assert order[:3] == [0, 8, 4]  # the ends and the middle first
    assert sorted(order[:5]) == [0, 2, 4, 6, 8]


def test_the_kept_decision_pools_the_pixels_so_a_still_triplet_cannot_sway_it():
    from dsepconv_gui.training.adaptation import pooled_psnr

    assert pooled_psnr([30.0, 30.0]) == pytest.approx(30.0)
    # a near-still triplet going from 61 to 70 dB and a hard one losing 0.5 dB: the mean of
    # the PSNRs says better, the pooled pixels say worse (as the eye would)
    before, after = [61.0, 25.0], [70.0, 24.5]
    assert np.mean(after) > np.mean(before)
    assert pooled_psnr(after) < pooled_psnr(before)


def test_cli_check_refuses_a_range_after_the_clip(tmp_path, capsys):
    folder = frames_folder(tmp_path, 5)
    assert main(["check", str(folder), "--range", "7:9", "--model", "random:tiny"]) != 0
    assert "starts at frame 7, after the clip's last frame (4)" in capsys.readouterr().err


@pytest.mark.parametrize("shape", [(10, 41, 3), (8, 33, 3), (40, 7, 3), (1, 1, 3)])
def test_worst_region_works_on_frames_thinner_than_a_block(shape):
    truth = np.zeros(shape, np.uint8)
    wrong = truth.copy()
    wrong[0, 0] = 255
    assert worst_region_psnr(wrong, truth) < worst_region_psnr(truth, truth)


def test_a_range_of_cuts_only_says_nothing_was_scored():
    from dsepconv_gui.interpolation.quality_check import FrameQuality

    summary = summarise([FrameQuality(3, {}, {}, skipped="cut")])
    assert summary.describe() == "no frames scored: all 1 lie next to a shot cut"


@pytest.mark.parametrize("kept", [True, False])
def test_cli_adapt_writes_exactly_when_the_result_is_kept(tmp_path, capsys, monkeypatch, kept):
    """Both outcomes, whatever a short real run happens to give: a kept result is written
    with its metadata, one not kept leaves nothing."""
    import dsepconv_gui.training.adaptation as adaptation

    real = adaptation.adapt_to_clip

    def decided(loaded, clip, options, progress, should_stop):
        result = real(loaded, clip, dataclasses.replace(options, max_iterations=2), progress)
        gain = 0.5 if kept else -0.5
        model = loaded.model if kept else None
        return dataclasses.replace(
            result, kept=kept, adapted_psnr=result.base_psnr + gain, model=model
        )

    monkeypatch.setattr(adaptation, "adapt_to_clip", decided)
    folder, out = frames_folder(tmp_path, 24), tmp_path / "adapted.safetensors"
    assert main(["adapt", str(folder), "-o", str(out), "--model", "random:tiny"]) == 0
    printed = capsys.readouterr().out
    if kept:
        info = load_checkpoint(out).metadata["adaptation"]
        assert info["gain_db"] == pytest.approx(0.5) and info["clip"] == str(folder)
        assert info["base_model"].startswith("random:tiny")
        assert len(info["held_out_frames"]) == len(info["held_out_psnr_each_before"])
    else:
        assert not out.exists() and "not written" in printed
