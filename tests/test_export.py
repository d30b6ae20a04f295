"""Exports: frame counts, exact rates and timestamps, audio kept in sync, motion placed where
linear motion puts it, no blending across cuts, nothing left behind on cancel or failure."""

from __future__ import annotations

import errno
import os
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from dsepconv_gui.base.errors import InputError
from dsepconv_gui.cli.main import main
from dsepconv_gui.export.clip_export import ExportError, ExportSettings, export_clip
from dsepconv_gui.export.overrides import parse_override
from dsepconv_gui.export.plan import factor_plan, parse_rate, rate_plan
from dsepconv_gui.frames.images import read_image
from dsepconv_gui.interpolation.interpolator import Interpolator
from dsepconv_gui.model.device import resolve_device
from dsepconv_gui.model.weights import random_model
from dsepconv_gui.video.clips import ArrayClip, open_clip
from dsepconv_gui.video.writer import VideoWriter

from .command_lines import export_args
from .conftest import SHARED_DATA
from .media import SPEED, START_X, decode, square_x, write_flat_clip_with_audio, write_square_clip


@pytest.fixture(scope="module")
def midpoint():
    """An untrained flow-small network: its heads start at zero, so it computes the average of
    the two frames warped halfway by the DIS flow, and puts a moving square where it belongs."""
    interpolator = Interpolator(random_model("flow-small"), resolve_device("cpu"))
    return interpolator


@pytest.fixture(scope="module")
def square_clip(tmp_path_factory) -> Path:
    return write_square_clip(tmp_path_factory.mktemp("clips") / "square.mp4")


def average(a, b):
    return ((a.astype(np.uint16) + b) // 2).astype(np.uint8)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


# --- timing plans ---------------------------------------------------------------------


def test_factor_plan_counts_and_keep_duration():
    plan = factor_plan(10, Fraction(24), 4)
    assert len(plan.frames) == 9 * 4 + 1 and plan.rate == 96
    assert [f.position for f in plan.frames[:5]] == [
        0,
        Fraction(1, 4),
        Fraction(1, 2),
        Fraction(3, 4),
        0,
    ]
    kept = factor_plan(10, Fraction(24), 4, keep_duration=True)
    assert len(kept.frames) == 40
    assert kept.output_duration == pytest.approx(kept.input_duration)
    with pytest.raises(InputError, match="power of two"):
        factor_plan(10, Fraction(24), 3)


def test_rate_plan_retimes_ntsc_film_to_60_exactly():
    rate_in = Fraction(24000, 1001)
    stamps = [float(i / rate_in) for i in range(48)]
    plan = rate_plan(stamps, float(1 / rate_in), Fraction(60), depth=3)
    assert len(plan.frames) == round(48 / rate_in * 60)
    assert all(f.time == pytest.approx(f.index / 60) for f in plan.frames)
    assert plan.frames[0].is_copy and plan.frames[0].first == 0
    # every frame is within 1/16 of an input interval of its exact time
    assert plan.max_timing_error <= float(1 / rate_in) / 16 + 1e-12
    assert 0 < plan.max_timing_error
    # made at dyadic timesteps (eighths) between the right input frames
    for f in plan.frames:
        assert f.position.denominator in (1, 2, 4, 8)
        if f.time >= stamps[-1]:
            assert f.first == 47 and f.is_copy  # the last frame is held for its display time
            continue
        made_at = stamps[f.first] + float(f.position) * float(1 / rate_in)
        assert abs(made_at - f.time) == pytest.approx(f.error, abs=1e-9)


def test_rate_plan_follows_variable_timestamps():
    stamps = [0.0, 0.1, 0.15, 0.35, 0.4]  # irregular gaps
    plan = rate_plan(stamps, 0.05, Fraction(20), depth=4)
    assert len(plan.frames) == round(0.45 * 20)
    by_index = {f.index: f for f in plan.frames}
    assert by_index[2].first == 1 and by_index[2].is_copy  # t = 0.10 falls on input frame 1
    assert by_index[5].first == 2 and by_index[5].position == Fraction(
        1, 2
    )  # 0.25 halfway 0.15..0.35
    assert by_index[8].first == 4  # within the last frame's display time: held


def test_rate_plan_copies_frames_that_fall_on_input_frames():
    stamps = [i / 25 for i in range(25)]
    plan = rate_plan(stamps, 1 / 25, Fraction(50), depth=3)
    assert len(plan.frames) == 50
    assert all(f.is_copy for f in plan.frames[::2]) and not any(
        f.is_copy for f in plan.frames[1:-1:2]
    )


@pytest.mark.parametrize(
    "text, rate",
    [
        ("60", 60),
        ("23.976", Fraction(24000, 1001)),
        ("59.94", Fraction(60000, 1001)),
        ("30000/1001", Fraction(30000, 1001)),
        ("25.0", 25),
        ("12.5", Fraction(25, 2)),
    ],
)
def test_parse_rate(text, rate):
    assert parse_rate(text) == rate


@pytest.mark.parametrize("text", ["fast", "0", "-24", "1/0", "5000"])
def test_parse_rate_refuses_nonsense(text):
    with pytest.raises(InputError):
        parse_rate(text)


# --- whole exports --------------------------------------------------------------------


def test_factor_two_export_frames_rate_audio_and_motion(tmp_path, square_clip, midpoint):
    out = tmp_path / "x2.mp4"
    summary = export_clip(open_clip(square_clip), ExportSettings(out, factor=2), midpoint)
    frames, times, facts = decode(out)
    assert len(frames) == summary.frames_written == (12 - 1) * 2 + 1
    assert facts["rate"] == 48
    assert times == pytest.approx([i / 48 for i in range(len(frames))])
    assert facts["audio_streams"] == 1 and summary.audio == "copied (aac)"
    assert facts["audio_seconds"] == pytest.approx(12 / 24, abs=1 / 48)
    assert summary.cuts == [] and summary.max_timing_error == 0
    for i, frame in enumerate(frames):
        assert square_x(frame) == pytest.approx(START_X + SPEED * i / 2, abs=1.0), (
            f"output frame {i}"
        )


def test_export_to_an_ntsc_rate_has_exact_timestamps_and_motion(tmp_path, square_clip, midpoint):
    out = tmp_path / "60.mp4"
    summary = export_clip(
        open_clip(square_clip), ExportSettings(out, fps=Fraction(60000, 1001), depth=3), midpoint
    )
    frames, times, facts = decode(out)
    assert facts["rate"] == Fraction(60000, 1001)
    assert len(frames) == summary.frames_written == round(Fraction(12, 24) * Fraction(60000, 1001))
    assert times == pytest.approx(
        [float(i * Fraction(1001, 60000)) for i in range(len(frames))], abs=1e-9
    )
    assert (
        abs(len(frames) / facts["rate"] - 0.5) <= 1 / facts["rate"]
    )  # duration kept within a frame
    assert facts["audio_seconds"] == pytest.approx(0.5, abs=float(1 / facts["rate"]))
    assert 0 < summary.max_timing_error <= (1 / 24) / 16
    for frame, t in zip(frames, times, strict=True):
        input_position = min(t * 24, 11)  # the last frame is held
        allowed = 1.0 + SPEED * summary.max_timing_error * 24
        assert square_x(frame) == pytest.approx(START_X + SPEED * input_position, abs=allowed), (
            f"at {t:.4f} s"
        )


def test_keep_duration_and_range(tmp_path, square_clip):
    out = tmp_path / "range.mkv"
    summary = export_clip(
        open_clip(square_clip),
        ExportSettings(out, factor=4, start=2, end=7, keep_duration=True, codec="ffv1"),
        average,
    )
    frames, _, facts = decode(out)
    assert len(frames) == 6 * 4
    assert facts["rate"] == 96
    assert facts["audio_seconds"] == pytest.approx(6 / 24, abs=1 / 96 + 1024 / 48000)
    assert summary.input_frames == 6
    assert square_x(frames[0]) == pytest.approx(
        START_X + 2 * SPEED, abs=1.0
    )  # starts at input frame 2


def test_png_sequence_export(tmp_path, square_clip):
    out = tmp_path / "frames"
    summary = export_clip(
        open_clip(square_clip), ExportSettings(out, factor=2, codec="png"), average
    )
    assert len(list(out.glob("frame_*.png"))) == 23
    assert (out / "rate.txt").read_text().strip() == "48/1"
    assert any("PNG sequence cannot hold audio" in w for w in summary.warnings)
    assert leftovers(tmp_path) == []


def test_no_blended_frame_at_a_cut(tmp_path, midpoint):
    clip_path = write_square_clip(tmp_path / "cut.mp4", frames=10, cut_at=5)
    out = tmp_path / "cut_x4.mp4"
    summary = export_clip(open_clip(clip_path), ExportSettings(out, factor=4), midpoint)
    assert summary.cuts == [4]
    frames, _, _ = decode(out)
    brightness = [float(np.median(f)) for f in frames]
    # shot A has a background of 40, shot B of 210: nothing in between may appear
    assert all(b < 60 or b > 190 for b in brightness), brightness
    assert brightness[4 * 4 + 1] < 60 and brightness[4 * 4 + 3] > 190  # nearer frame on each side
    assert "scene cuts: 1" in summary.describe()


def test_clip_without_audio_exports_video_with_a_warning(tmp_path, midpoint):
    clip_path = write_square_clip(tmp_path / "silent.mp4", frames=6, audio=False)
    summary = export_clip(
        open_clip(clip_path), ExportSettings(tmp_path / "o.mp4", factor=2), average
    )
    assert summary.audio == "none" and any("no audio stream" in w for w in summary.warnings)
    assert decode(tmp_path / "o.mp4")[2]["audio_streams"] == 0


def test_audio_the_container_cannot_hold_is_reencoded(tmp_path):
    # PCM audio in Matroska, exported to MP4 (which does not take PCM): must become AAC.
    samples = (np.sin(np.linspace(0, 200, 24000)) * 8000).astype(np.int16)[None]
    source = write_flat_clip_with_audio(tmp_path / "pcm.mkv", "pcm_s16le", samples, "s16", 1024)
    summary = export_clip(open_clip(source), ExportSettings(tmp_path / "o.mp4", factor=2), average)
    _, _, facts = decode(tmp_path / "o.mp4")
    assert facts["audio_codec"] == "aac"
    assert summary.audio == "re-encoded pcm_s16le to AAC"
    assert facts["audio_seconds"] == pytest.approx(0.5, abs=0.05)


class StopHere(Exception):
    pass


def test_cancel_leaves_the_existing_file_untouched_and_no_temporary_files(tmp_path, square_clip):
    out = tmp_path / "out.mp4"
    out.write_bytes(b"an earlier export")

    def cancel_after_three(progress):
        if progress.done >= 3:
            raise StopHere

    with pytest.raises(StopHere):
        export_clip(
            open_clip(square_clip),
            ExportSettings(out, factor=2, overwrite=True),
            average,
            cancel_after_three,
        )
    assert out.read_bytes() == b"an earlier export"
    assert leftovers(tmp_path) == []


def test_cancelled_export_leaves_no_file(tmp_path, square_clip):
    out = tmp_path / "new.mp4"
    with pytest.raises(KeyboardInterrupt):
        export_clip(
            open_clip(square_clip),
            ExportSettings(out, factor=2),
            average,
            lambda p: (_ for _ in ()).throw(KeyboardInterrupt) if p.done == 5 else None,
        )
    assert not out.exists() and leftovers(tmp_path) == []


def test_disk_full_while_writing_removes_the_partial_file(tmp_path, square_clip, monkeypatch):
    original = VideoWriter.write

    def write_until_full(self, frame):
        if self.frames_written == 4:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        original(self, frame)

    monkeypatch.setattr(VideoWriter, "write", write_until_full)
    out = tmp_path / "full.mp4"
    with pytest.raises(ExportError, match="disk full"):
        export_clip(open_clip(square_clip), ExportSettings(out, factor=2), average)
    assert not out.exists() and leftovers(tmp_path) == []


def test_existing_destination_needs_overwrite(tmp_path, square_clip):
    out = tmp_path / "there.mp4"
    out.write_bytes(b"keep me")
    with pytest.raises(InputError, match="already exists"):
        export_clip(open_clip(square_clip), ExportSettings(out, factor=2), average)
    assert out.read_bytes() == b"keep me"


@pytest.mark.parametrize(
    "settings, message",
    [
        (dict(output="missing/out.mp4", factor=2), "does not exist"),
        (dict(output="out.avi", factor=2), "goes in"),
        (dict(output="out.mkv", factor=2, codec="prores"), "goes in .mov"),
        (dict(output="out.mp4", factor=2, start=5, end=50), "outside the clip"),
        (dict(output="out.mp4"), "either a factor"),
    ],
)
def test_user_mistakes_are_refused_before_any_work(tmp_path, square_clip, settings, message):
    settings["output"] = tmp_path / settings["output"]
    with pytest.raises(InputError, match=message):
        export_clip(open_clip(square_clip), ExportSettings(**settings), average)
    assert [p for p in tmp_path.iterdir()] == []


def test_read_only_destination_folder_is_refused(tmp_path, square_clip, monkeypatch):
    # Root may write into a 0500 folder, so the permission answer is simulated.
    import dsepconv_gui.video.writer as video_writer

    folder = tmp_path / "locked"
    folder.mkdir()
    real_access = os.access
    monkeypatch.setattr(
        video_writer.os,
        "access",
        lambda path, mode: False if Path(path) == folder else real_access(path, mode),
    )
    with pytest.raises(InputError, match="locked: destination folder is not writable"):
        export_clip(open_clip(square_clip), ExportSettings(folder / "o.mp4", factor=2), average)
    assert list(folder.iterdir()) == []


def test_not_enough_disk_space_is_refused_up_front(tmp_path, square_clip, monkeypatch):
    import shutil
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 1000, 1000))
    with pytest.raises(InputError, match="not enough free disk space"):
        export_clip(
            open_clip(square_clip),
            ExportSettings(tmp_path / "o.mkv", factor=8, codec="ffv1"),
            average,
        )


def test_cli_export_and_its_errors(tmp_path, square_clip, capsys):
    out = tmp_path / "cli.mp4"
    args = export_args(square_clip, out, "--factor", "2", "--range", "0:3")
    assert main(args) == 0
    assert len(decode(out)[0]) == 7
    assert "7 frames" in capsys.readouterr().out
    assert main(args) == 2
    assert "already exists" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # argparse: --factor and --fps together
        main(args + ["--overwrite", "--fps", "30"])
    by_rate = export_args(square_clip, tmp_path / "t.mp4", "--fps", "30", "--range", "0.1s:0.3s")
    assert main(by_rate) == 0
    assert decode(tmp_path / "t.mp4")[2]["rate"] == 30


def test_export_of_a_real_clip_plays_with_its_audio(tmp_path):
    clip_path = SHARED_DATA / "train" / "clips" / "moviepy-airplane.mp4"
    if not clip_path.exists():
        pytest.skip(f"shared training clips not found at {clip_path} (only on the team's machines)")
    clip = open_clip(clip_path)
    out = tmp_path / "airplane_x2.mp4"
    summary = export_clip(clip, ExportSettings(out, factor=2, end=24, keep_duration=True), average)
    frames, times, facts = decode(out)
    assert len(frames) == 25 * 2 and facts["rate"] == 50
    assert facts["audio_seconds"] == pytest.approx(
        25 / 25, abs=0.05
    )  # mp3 copied, cut to the range
    assert summary.audio == "copied (mp3)"


def test_avi_with_packed_b_frames_reads_every_frame_in_order():
    # Its packet timestamps do not match the decoded frames (packed B-frames, N-VOPs).
    clip_path = SHARED_DATA / "train" / "clips" / "mmaction2-test.avi"
    if not clip_path.exists():
        pytest.skip(f"shared training clips not found at {clip_path} (only on the team's machines)")
    clip = open_clip(clip_path)
    assert len(clip) == 164  # what ffmpeg decodes
    streamed = dict(clip.iter_frames(0, 12))
    assert sorted(streamed) == list(range(12))
    for index in (11, 3, 4, 0, 7):  # random access agrees with streaming
        assert np.array_equal(clip.read(index), streamed[index])


def test_overrides_repeat_or_blend_in_their_ranges_and_the_summary_says_so(tmp_path):
    """An override list changes what the export writes in the marked ranges only: a midpoint
    that returns black shows where the network was asked."""
    rng = np.random.default_rng(0)
    frames = [rng.integers(60, 200, (32, 48, 3), dtype=np.uint8) for _ in range(10)]
    settings = ExportSettings(
        tmp_path / "frames",
        factor=2,
        codec="png",
        overrides=(parse_override("2:5=repeat"), parse_override("6:8=blend")),
    )
    summary = export_clip(ArrayClip(frames, 24.0, "noise"), settings, lambda a, b: np.zeros_like(a))
    written = [read_image(p) for p in sorted((tmp_path / "frames").glob("frame_*.png"))]
    assert len(written) == 19
    for k in range(9):  # output 2k is input k, output 2k + 1 lies between k and k + 1
        between = written[2 * k + 1]
        if 2 <= k < 5:
            assert np.array_equal(between, frames[k])
        elif 6 <= k < 8:
            expected = (frames[k].astype(np.float32) + frames[k + 1]) / 2 + 0.5
            assert np.array_equal(between, np.clip(expected, 0, 255).astype(np.uint8))
        else:
            assert not between.any()
    assert summary.overridden == {"repeat": 3, "blend": 2}
    assert summary.interpolated == 9 - 5
    assert "override: 3 in-between frames repeat the nearer frame instead" in summary.describe()

    # a range that starts later: the overrides keep the clip's frame numbers
    later = ExportSettings(
        tmp_path / "later",
        factor=2,
        codec="png",
        start=3,
        overrides=(parse_override("4:6=repeat"),),
    )
    export_clip(ArrayClip(frames, 24.0, "noise"), later, lambda a, b: np.zeros_like(a))
    written = [read_image(p) for p in sorted((tmp_path / "later").glob("frame_*.png"))]
    assert len(written) == 13  # input frames 3..9
    overridden = [k for k in range(3, 9) if written[2 * (k - 3) + 1].any()]
    assert overridden == [4, 5]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (("2:20=repeat",), "outside the exported frames"),
        (("1:4=blend", "3:6=repeat"), "overlap"),
        (("4:4=blend",), "two frames or more"),
        (("1:3=smear",), "repeat, blend"),
        (("1-3=blend",), "FIRST:LAST=repeat"),
    ],
)
def test_wrong_overrides_are_refused_before_any_work(tmp_path, square_clip, overrides, message):
    with pytest.raises(InputError, match=message):
        settings = ExportSettings(
            tmp_path / "out.mp4", factor=2, overrides=tuple(map(parse_override, overrides))
        )
        export_clip(open_clip(square_clip), settings, average)
    assert not (tmp_path / "out.mp4").exists()


def test_cli_export_takes_overrides(tmp_path, square_clip, capsys):
    out = tmp_path / "out.mp4"
    assert main(export_args(square_clip, out, "--factor", "2", "--override", "0:4=repeat")) == 0
    assert (
        "override: 4 in-between frames repeat the nearer frame instead" in capsys.readouterr().out
    )
