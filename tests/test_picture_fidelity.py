"""The picture as it is meant to be seen: clips that say to show them rotated or mirrored are
turned upright everywhere (the app's views, export, training read frames through the clip),
odd frame sizes are kept exactly, and what an export does not keep (alpha, subtitles) is said,
while every audio track is copied."""

from __future__ import annotations

import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from dsepconv_gui.export.clip_export import ExportSettings, export_clip
from dsepconv_gui.frames.orientation import Orientation, from_display_matrix, upright
from dsepconv_gui.video.clips import open_clip
from dsepconv_gui.video.writer import open_writer

from .media import decode

HEIGHT, WIDTH = 48, 64


def ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def run_ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg(), "-y", "-loglevel", "error", *args], check=True, capture_output=True)


def pattern(index: int) -> np.ndarray:
    """An asymmetric picture (random 8×8 blocks), different for every frame."""
    rng = np.random.default_rng(index)
    return np.kron(
        rng.integers(0, 256, (HEIGHT // 8, WIDTH // 8, 3), dtype=np.uint8),
        np.ones((8, 8, 1), np.uint8),
    )


def write_rotated(path: Path, degrees: int, hflip: bool = False, frames: int = 4) -> Path:
    """FFV1 (lossless) in Matroska whose display matrix says to turn it `degrees`
    counter-clockwise."""
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("ffv1", rate=24)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "bgr0"
        stream.set_display_rotation(degrees, hflip=hflip)
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(pattern(i), format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def average(a, b):
    return ((a.astype(np.uint16) + b) // 2).astype(np.uint8)


# --- rotation -------------------------------------------------------------------------


@pytest.mark.parametrize("degrees, turns", [(90, 1), (180, 2), (270, 3), (-180, 2), (-90, 3)])
def test_rotated_clip_is_read_upright_with_its_displayed_size(tmp_path, degrees, turns):
    clip = open_clip(write_rotated(tmp_path / "rotated.mkv", degrees))
    expected = [np.rot90(pattern(i), turns) for i in range(4)]
    assert (clip.info.width, clip.info.height) == (expected[0].shape[1], expected[0].shape[0])
    assert any("turned" in note for note in clip.notes)
    for i in (2, 0, 3):  # random access, as the app's views read
        assert np.array_equal(clip.read(i), expected[i])
    streamed = list(clip.iter_frames())  # as export and training read
    assert [i for i, _ in streamed] == [0, 1, 2, 3]
    for (_i, frame), want in zip(streamed, expected, strict=True):
        assert frame.flags.c_contiguous and np.array_equal(frame, want)
    clip.close()


def test_mirrored_clip_is_read_as_ffmpeg_shows_it(tmp_path):
    clip = open_clip(write_rotated(tmp_path / "mirrored.mkv", 90, hflip=True))
    assert np.array_equal(clip.read(1), np.fliplr(np.rot90(pattern(1), 1)))
    assert any("mirrored" in note for note in clip.notes)


def test_phone_style_mp4_display_matrix_and_old_rotate_tag(tmp_path):
    """A display matrix in an MP4 track header (what phones write), made by ffmpeg's own
    -display_rotation, and the `rotate` tag old FFmpeg versions wrote (clockwise degrees)."""
    source = tmp_path / "source.mkv"
    write_rotated(source, 0)
    phone = tmp_path / "phone.mp4"
    run_ffmpeg(
        "-display_rotation",
        "-180",
        "-i",
        str(source),
        "-c:v",
        "libx264",
        "-qp",
        "0",
        "-pix_fmt",
        "yuv444p",
        str(phone),
    )
    clip = open_clip(phone)
    assert (clip.info.width, clip.info.height) == (WIDTH, HEIGHT)
    assert np.abs(clip.read(0).astype(int) - np.rot90(pattern(0), 2)).max() <= 3
    tagged = tmp_path / "tagged.mkv"
    run_ffmpeg("-i", str(source), "-c", "copy", "-metadata:s:v", "rotate=90", str(tagged))
    clip = open_clip(tagged)
    assert (clip.info.width, clip.info.height) == (HEIGHT, WIDTH)
    assert np.array_equal(clip.read(0), np.rot90(pattern(0), -1))


def test_display_matrix_between_quarter_turns_goes_to_the_nearest():
    angle = np.radians(80)  # FFmpeg's layout: [a b u; c d v; x y w], 16.16 fixed point
    a, b = np.cos(angle), -np.sin(angle)
    matrix = np.array([a, b, 0, -b, a, 0, 0, 0, 1 / (1 << 14)]) * (1 << 16)
    assert from_display_matrix(matrix.astype(np.int32).tobytes()) == Orientation(1, False)
    assert np.array_equal(upright(pattern(0), Orientation()), pattern(0))


@pytest.mark.parametrize(
    "tag, size",
    [
        ("90", (HEIGHT, WIDTH)),
        ("-90.4", (HEIGHT, WIDTH)),
        ("nan", (WIDTH, HEIGHT)),
        ("inf", (WIDTH, HEIGHT)),
        ("1e400", (WIDTH, HEIGHT)),
        ("up", (WIDTH, HEIGHT)),
    ],
)
def test_a_rotate_tag_that_is_not_a_finite_number_is_passed_over(tmp_path, tag, size):
    path = tmp_path / "tagged.mkv"
    run_ffmpeg(
        "-f",
        "lavfi",
        "-i",
        f"testsrc=size={WIDTH}x{HEIGHT}:rate=24:duration=0.25",
        "-c:v",
        "ffv1",
        "-metadata:s:v:0",
        f"rotate={tag}",
        str(path),
    )
    clip = open_clip(path)
    assert (clip.info.width, clip.info.height) == size and clip.read(0).shape[:2] == size[::-1]


@pytest.mark.parametrize("codec, suffix", [("ffv1", ".mkv"), ("h264", ".mp4")])
def test_export_of_a_rotated_clip_is_upright_without_rotation_metadata(tmp_path, codec, suffix):
    clip = open_clip(write_rotated(tmp_path / "rotated.mkv", 90))
    output = tmp_path / f"out{suffix}"
    summary = export_clip(clip, ExportSettings(output, factor=2, codec=codec, crf=0), average)
    frames, _, _ = decode(output)
    assert summary.frames_written == len(frames) == 7
    assert frames[0].shape == (WIDTH, HEIGHT, 3)  # displayed: 48 wide, 64 high
    error = np.abs(frames[2].astype(int) - np.rot90(pattern(1), 1))
    assert (
        error.max() == 0 if codec == "ffv1" else error.mean() < 10
    )  # 4:2:0 blurs colour edges (~5); turned wrong: ~85
    import av

    with av.open(str(output)) as container:
        first = next(container.decode(video=0))
        assert first.rotation == 0
        assert not [s for s in first.side_data if s.type.name == "DISPLAYMATRIX"]


# --- odd frame sizes ------------------------------------------------------------------


def write_frames(path: Path, codec: str, frames: list[np.ndarray]) -> list[np.ndarray]:
    """Write with the project's writer and read back (video or PNG folder)."""
    import cv2

    with open_writer(path, Fraction(24), codec, crf=0) as writer:
        for frame in frames:
            writer.write(frame)
    if codec == "png":
        return [cv2.imread(str(f))[..., ::-1] for f in sorted(path.glob("*.png"))]
    return decode(path)[0]


@pytest.mark.parametrize("width, height", [(1, 1), (3, 5), (33, 17), (34, 17)])
@pytest.mark.parametrize(
    "codec, suffix", [("ffv1", ".mkv"), ("png", ""), ("h264", ".mp4"), ("prores", ".mov")]
)
def test_odd_frame_sizes_are_kept_exactly(tmp_path, width, height, codec, suffix):
    rng = np.random.default_rng(width * height)
    frames = [rng.integers(0, 256, (height, width, 3), dtype=np.uint8) for _ in range(3)]
    back = write_frames(tmp_path / f"out{suffix}", codec, frames)
    assert len(back) == 3 and back[0].shape == (height, width, 3)
    if codec in ("ffv1", "png"):
        assert all(np.array_equal(a, b) for a, b in zip(back, frames, strict=True))


def test_odd_size_h264_export_says_how_it_kept_the_size(tmp_path):
    import av

    source = tmp_path / "odd.mkv"
    with open_writer(source, Fraction(24), "ffv1") as writer:
        for i in range(3):
            writer.write(np.full((17, 33, 3), 60 * i, np.uint8))
    clip = open_clip(source)
    summary = export_clip(clip, ExportSettings(tmp_path / "out.mp4", factor=2), average)
    assert any("33×17" in w and "yuv444p" in w for w in summary.warnings), summary.warnings
    with av.open(str(summary.output)) as container:
        stream = container.streams.video[0]
        assert (stream.width, stream.height) == (33, 17)
    even = export_clip(
        open_clip(tmp_path / "out.mp4"),
        ExportSettings(tmp_path / "even.mkv", factor=2, codec="ffv1"),
        average,
    )
    assert not any("yuv444p" in w for w in even.warnings)


# --- streams besides the first audio track ----------------------------------------------


@pytest.fixture
def many_streams(tmp_path) -> Path:
    """Video, two audio tracks (440 Hz and 660 Hz) and two subtitle streams in Matroska."""
    subtitles = tmp_path / "subs.srt"
    subtitles.write_text(
        "1\n00:00:00,000 --> 00:00:00,400\nhello\n\n2\n00:00:00,500 --> 00:00:00,900\nworld\n"
    )
    path = tmp_path / "many.mkv"
    run_ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=64x48:rate=24:duration=1",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:duration=1",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=660:duration=1",
        "-i",
        str(subtitles),
        "-map",
        "0",
        "-map",
        "1",
        "-map",
        "2",
        "-map",
        "3",
        "-map",
        "3",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-c:s",
        "srt",
        str(path),
    )
    return path


def dominant_frequency(path: Path, number: int) -> float:
    import av

    with av.open(str(path)) as container:
        stream = container.streams.audio[number]
        samples = np.concatenate([f.to_ndarray().reshape(-1) for f in container.decode(stream)])
        rate = stream.codec_context.sample_rate
    spectrum = np.abs(np.fft.rfft(samples))
    return float(np.argmax(spectrum) * rate / len(samples))


@pytest.mark.parametrize("suffix, codec", [(".mp4", "h264"), (".mkv", "ffv1")])
def test_every_audio_track_is_copied_and_dropped_subtitles_are_said(
    tmp_path, many_streams, suffix, codec
):
    clip = open_clip(many_streams)
    output = tmp_path / f"out{suffix}"
    summary = export_clip(
        clip, ExportSettings(output, factor=2, codec=codec, start=4, end=15), average
    )
    _, _, facts = decode(output)
    assert facts["audio_streams"] == 2
    assert summary.audio.startswith("2 tracks")
    assert dominant_frequency(output, 0) == pytest.approx(440, abs=5)
    assert dominant_frequency(output, 1) == pytest.approx(660, abs=5)
    assert any("2 subtitle stream(s)" in w for w in summary.warnings), summary.warnings


def test_png_sequence_says_how_many_audio_tracks_it_drops(tmp_path, many_streams):
    summary = export_clip(
        open_clip(many_streams), ExportSettings(tmp_path / "frames", factor=2, codec="png"), average
    )
    assert any("2 tracks" in w and "PNG" in w for w in summary.warnings), summary.warnings


@pytest.mark.parametrize("codec, pix_fmt", [("png", "rgba"), ("ffv1", "yuva420p")])
def test_dropped_alpha_is_said_when_opened_and_exported(tmp_path, codec, pix_fmt):
    source = tmp_path / "alpha.mov" if codec == "png" else tmp_path / "alpha.mkv"
    run_ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=64x48:rate=24:duration=0.25",
        "-vf",
        "format=rgba",
        "-c:v",
        codec,
        "-pix_fmt",
        pix_fmt,
        str(source),
    )
    clip = open_clip(source)
    (note,) = [note for note in clip.notes if "alpha" in note]
    summary = export_clip(clip, ExportSettings(tmp_path / "out.mp4", factor=2), average)
    assert "alpha channel is not kept" in note and note in summary.warnings, (
        summary.warnings
    )  # in the same words


def test_opaque_clip_has_no_alpha_warning(tmp_path):
    clip = open_clip(write_rotated(tmp_path / "plain.mkv", 0))
    assert clip.notes == []
    summary = export_clip(clip, ExportSettings(tmp_path / "out.mp4", factor=2), average)
    assert not any("alpha" in w or "subtitle" in w for w in summary.warnings)
