"""Timestamps under --factor (variable frame rates keep their timing and their audio in sync),
--range parsing, and the clip's notes on the command line."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from dsepconv_gui.cli.main import main
from dsepconv_gui.export.clip_export import ExportSettings, export_clip
from dsepconv_gui.export.plan import factor_plan
from dsepconv_gui.video.clips import open_clip

from .command_lines import export_args
from .media import decode, write_flat_clip_with_audio, write_square_clip

# Input frame times (ms) of a variable-rate clip: bursts and gaps, 1 ms clock.
VFR_MS = [
    0,
    20,
    40,
    100,
    180,
    200,
    300,
    320,
    400,
    500,
    520,
    600,
    700,
    720,
    800,
    900,
    940,
    1000,
    1100,
    1150,
]
AUDIO_RATE = 48000
AAC_FRAME = 1024 / AUDIO_RATE  # copied audio starts and ends on whole AAC frames
BURST_AT = 0.520  # the audio's burst starts with input frame 10


def average(a, b):
    return ((a.astype(np.uint16) + b) // 2).astype(np.uint8)


def write_vfr_clip(path: Path, stamps_ms: list[int] = VFR_MS, audio_seconds: float = 1.2) -> Path:
    """H.264 frames (64×48, a bar moving 4 px per frame) at the given times in milliseconds,
    and a mono AAC track of `audio_seconds`: silence with a loud burst from BURST_AT on."""
    import av

    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=30)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        video.codec_context.time_base = video.time_base = Fraction(1, 1000)
        audio = container.add_stream("aac", rate=AUDIO_RATE, layout="mono")
        for i, t in enumerate(stamps_ms):
            image = np.full((48, 64, 3), 30, np.uint8)
            image[:, (4 * i) % 56 : (4 * i) % 56 + 8] = 230
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = t, Fraction(1, 1000)
            for packet in video.encode(frame):
                container.mux(packet)
        for packet in video.encode(None):
            container.mux(packet)
        n = int(round(audio_seconds * AUDIO_RATE))
        t = np.arange(n) / AUDIO_RATE
        samples = np.where(t >= BURST_AT, 0.5 * np.sin(2 * np.pi * 440 * t), 0).astype(np.float32)[
            None
        ]
        for start in range(0, n, 1024):
            piece = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(samples[:, start : start + 1024]), format="fltp", layout="mono"
            )
            piece.sample_rate, piece.pts, piece.time_base = (
                AUDIO_RATE,
                start,
                Fraction(1, AUDIO_RATE),
            )
            for packet in audio.encode(piece):
                container.mux(packet)
        for packet in audio.encode(None):
            container.mux(packet)
    return path


def audio_facts(path: Path) -> tuple[float, float, float]:
    """(start, end, burst onset) of the first audio stream, seconds on the file's clock."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        frames = list(container.decode(stream))
    start = float(frames[0].pts * frames[0].time_base)
    samples = np.concatenate([f.to_ndarray().reshape(-1) for f in frames])
    onset = start + int(np.flatnonzero(np.abs(samples) > 0.1)[0]) / AUDIO_RATE
    return start, start + len(samples) / AUDIO_RATE, onset


@pytest.fixture(scope="module")
def vfr_clip(tmp_path_factory) -> Path:
    return write_vfr_clip(tmp_path_factory.mktemp("clips") / "vfr.mp4")


# --- the plan -------------------------------------------------------------------------


def test_factor_plan_places_frames_at_the_inputs_own_times():
    stamps = [0.0, 0.1, 0.15, 0.35, 0.4]
    plan = factor_plan(5, Fraction(20), 4, timestamps=stamps)
    assert plan.timed and len(plan.frames) == 4 * 4 + 1
    assert [f.time for f in plan.frames[4:9]] == pytest.approx([0.1, 0.1125, 0.125, 0.1375, 0.15])
    assert [(f.first, f.position) for f in plan.frames[5:8]] == [
        (1, Fraction(1, 4)),
        (1, Fraction(1, 2)),
        (1, Fraction(3, 4)),
    ]
    assert plan.output_duration == pytest.approx(
        0.4 + 0.05 / 4
    )  # the last frame for one output frame
    kept = factor_plan(5, Fraction(20), 4, keep_duration=True, timestamps=stamps)
    assert len(kept.frames) == 5 * 4 and all(f.first == 4 and f.is_copy for f in kept.frames[-4:])
    assert [f.time for f in kept.frames[-4:]] == pytest.approx([0.4, 0.4125, 0.425, 0.4375])
    assert kept.output_duration == pytest.approx(kept.input_duration) == pytest.approx(0.45)


def test_factor_plan_of_regular_timestamps_is_exactly_the_constant_rate_plan():
    rate = Fraction(24000, 1001)
    stamps = [round(i / float(rate), 3) for i in range(30)]  # a 1 ms clock (MP4, Matroska)
    for keep in (False, True):
        plan = factor_plan(30, rate, 8, keep, timestamps=stamps)
        assert plan == factor_plan(30, rate, 8, keep) and not plan.timed
        assert len(plan.frames) == (30 * 8 if keep else 29 * 8 + 1) and plan.rate == rate * 8


# --- exports of a variable-rate clip ----------------------------------------------------


@pytest.mark.parametrize("factor", [2, 4])
@pytest.mark.parametrize("keep", [False, True])
def test_factor_export_of_a_variable_rate_clip_keeps_its_timing_and_audio_sync(
    tmp_path, vfr_clip, factor, keep
):
    clip = open_clip(vfr_clip)
    nominal = clip.info.rate
    out = tmp_path / "slow.mp4"
    summary = export_clip(
        clip, ExportSettings(out, factor=factor, start=5, end=14, keep_duration=keep), average
    )
    frames, times, facts = decode(out)
    one_frame = 1 / float(nominal * factor)  # an output frame at the nominal rate
    stamps = [t / 1000 - 0.2 for t in VFR_MS[5:15]]
    span = stamps[-1] + float(1 / nominal)  # the input, from its timestamps
    assert len(frames) == summary.frames_written == (10 * factor if keep else 9 * factor + 1)
    # each input frame's copy is where the input put it, the new frames evenly between
    assert [times[k * factor] for k in range(10)] == pytest.approx(stamps, abs=1e-4)
    assert times[1] == pytest.approx(stamps[1] / factor, abs=1e-4)
    end = times[-1] + one_frame
    assert end == pytest.approx(span if keep else stamps[-1] + one_frame, abs=one_frame)
    assert summary.duration == pytest.approx(end, abs=one_frame)
    audio_start, audio_end, onset = audio_facts(out)
    assert 0 <= audio_start <= AAC_FRAME  # the audio starts with the first frame (whole AAC frames)
    assert audio_end == pytest.approx(span, abs=AAC_FRAME)
    if keep:
        assert end == pytest.approx(audio_end, abs=one_frame + AAC_FRAME)
    # in sync: the audio's burst sounds when input frame 10 shows
    assert onset == pytest.approx(times[5 * factor], abs=one_frame)


def test_factor_export_of_a_variable_rate_clip_to_a_png_folder_lists_the_times(tmp_path, vfr_clip):
    out = tmp_path / "frames"
    export_clip(open_clip(vfr_clip), ExportSettings(out, factor=2, codec="png"), average)
    lines = (out / "timestamps.txt").read_text().splitlines()
    assert (
        lines[0] == "# timestamp format v2"
        and len(lines) - 1 == len(list(out.glob("frame_*.png"))) == 39
    )
    assert [float(x) for x in lines[1:6]] == pytest.approx([0, 10, 20, 30, 40])
    assert float(lines[-1]) == pytest.approx(1150)
    assert (out / "rate.txt").exists()


def test_factor_export_of_a_constant_rate_clip_is_unchanged(tmp_path):
    # Matroska's 1 ms clock rounds 1/24 s: still a constant rate, exact, as before
    clip_path = write_square_clip(tmp_path / "cfr.mkv", codec="ffv1", audio=False)
    assert open_clip(clip_path).timestamps[1] == pytest.approx(0.042)
    for keep, count in ((False, 11 * 4 + 1), (True, 12 * 4)):
        out = tmp_path / f"x4_{keep}.mp4"
        summary = export_clip(
            open_clip(clip_path), ExportSettings(out, factor=4, keep_duration=keep), average
        )
        frames, times, facts = decode(out)
        assert len(frames) == count and facts["rate"] == 96
        assert times == pytest.approx([i / 96 for i in range(count)], abs=1e-9)
        assert summary.max_timing_error == 0
    png = tmp_path / "frames"
    export_clip(open_clip(clip_path), ExportSettings(png, factor=2, codec="png"), average)
    assert (png / "rate.txt").read_text().strip() == "48/1" and not (
        png / "timestamps.txt"
    ).exists()


# --- the command line ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, message",
    [
        ("nans:infs", "'nans' is not a frame number or a time"),
        ("0:infs", "'infs' is not a frame number or a time"),
        ("0s:nans", "'nans' is not a frame number or a time"),
        ("abc:3", "'abc' is not a frame number"),
        ("1.5:4", "'1.5' is not a frame number"),
        ("-2:5", "'-2' is negative"),
        ("0s:-1s", "'-1s' is negative"),
        ("7:3", "its end (frame 3) comes before its start (frame 7)"),
        ("0.6s:0.3s", "comes before its start"),
        ("50s:", "starts after the clip's last frame"),
        ("5", "must be START:END"),
    ],
)
def test_bad_ranges_are_refused_with_a_clear_message(tmp_path, vfr_clip, capsys, text, message):
    out = tmp_path / "out.mp4"
    assert main(export_args(vfr_clip, out, "--factor", "2", f"--range={text}")) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not out.exists()


def test_good_ranges_still_work(tmp_path, vfr_clip, capsys):
    out = tmp_path / "out.mp4"
    assert main(export_args(vfr_clip, out, "--factor", "2", "--range", "0.3s:0.5s")) == 0
    assert len(decode(out)[0]) == (9 - 6) * 2 + 1  # frames at 0.3 .. 0.5 s are 6 .. 9


def test_the_command_line_prints_a_damaged_clips_notes(tmp_path, capsys):
    whole = write_square_clip(
        tmp_path / "whole.mkv", frames=24, codec="ffv1", audio=False
    ).read_bytes()
    damaged = tmp_path / "cut.mkv"
    damaged.write_bytes(whole[: len(whole) * 2 // 3])
    notes = open_clip(damaged).notes
    assert any("frames readable" in note for note in notes)
    out = tmp_path / "out.mp4"
    assert main(export_args(damaged, out, "--factor", "2")) == 0
    err = capsys.readouterr().err
    assert f"note: {damaged}: {notes[0]}" in err


def test_reencoded_audio_starts_where_the_first_exported_frame_is(tmp_path):
    # MP2 cannot go in MP4: it is re-encoded. The range starts inside an MP2 packet (24 ms);
    # the sound must stay where it was relative to the first exported frame, not move earlier.
    t = np.arange(AUDIO_RATE // 2) / AUDIO_RATE
    burst = np.where(t >= 0.25, 0.5 * np.sin(2 * np.pi * 440 * t), 0)
    source = write_flat_clip_with_audio(
        tmp_path / "mp2.mkv", "mp2", (burst * 32767).astype(np.int16)[None], "s16", 1152
    )
    out = tmp_path / "out.mp4"
    summary = export_clip(open_clip(source), ExportSettings(out, factor=2, start=3), average)
    assert summary.audio == "re-encoded mp2 to AAC"
    assert audio_facts(out)[2] == pytest.approx(0.25 - 3 / 24, abs=0.004)
