"""Bad input never crashes and never loses work: each broken clip, image sequence, frame size
and model either works (with a note) or is refused with one message naming the file."""

from __future__ import annotations

import builtins
import time
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from dsepconv_gui.base.errors import InputError
from dsepconv_gui.export.clip_export import ExportSettings, export_clip
from dsepconv_gui.export.plan import rate_plan
from dsepconv_gui.frames.images import MAX_FRAME_PIXELS
from dsepconv_gui.interpolation.interpolator import Interpolator
from dsepconv_gui.model.device import resolve_device
from dsepconv_gui.model.weights import random_model
from dsepconv_gui.video.clips import ClipError, open_clip

from .media import write_flat_clip_with_audio, write_square_clip

TIME_LIMIT = 10.0  # seconds: opening and reading a broken small file must never hang


def average(a, b):
    return ((a.astype(np.uint16) + b) // 2).astype(np.uint8)


def open_and_read_all(path: Path):
    """Open and read every frame; returns (clip, frames read, error) or raises ClipError."""
    started = time.monotonic()
    clip = open_clip(path)
    frames, error = 0, None
    try:
        for _ in clip.iter_frames():
            frames += 1
    except ClipError as exc:
        error = str(exc)
    assert time.monotonic() - started < TIME_LIMIT
    return clip, frames, error


@pytest.fixture(scope="module")
def good_mp4(tmp_path_factory) -> Path:
    return write_square_clip(tmp_path_factory.mktemp("good") / "good.mp4", frames=24)


@pytest.fixture(scope="module")
def good_mkv(tmp_path_factory) -> Path:
    return write_square_clip(tmp_path_factory.mktemp("good") / "good.mkv", frames=24, codec="ffv1")


# ----- video files ---------------------------------------------------------------------------


def test_truncated_mp4_is_refused_with_a_message(good_mp4, tmp_path):
    path = tmp_path / "truncated.mp4"
    data = good_mp4.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # the index (moov) is at the end: nothing to go by
    with pytest.raises(
        ClipError, match="truncated.mp4: cannot open as video: not a video file, or damaged"
    ):
        open_and_read_all(path)


def test_truncated_mkv_opens_with_the_frames_it_has_and_says_so(good_mkv, tmp_path):
    path = tmp_path / "truncated.mkv"
    data = good_mkv.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    clip, frames, error = open_and_read_all(path)
    assert 0 < len(clip) < 24 and frames == len(clip) and error is None
    assert any("frames readable" in note for note in clip.notes)


def test_random_bytes_in_the_middle_lose_only_the_damaged_frames(good_mp4, tmp_path):
    path = tmp_path / "noise.mp4"
    data = bytearray(good_mp4.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 2000] = (
        np.random.default_rng(0).integers(0, 256, 2000, dtype=np.uint8).tobytes()
    )
    path.write_bytes(bytes(data))
    clip = open_clip(path)
    replaced: list[int] = []
    frames = list(clip.iter_frames(replaced=replaced))
    assert len(frames) == len(clip) == 24 and 0 < len(replaced) < 12
    with pytest.raises(ClipError, match=f"frame {replaced[0]} is damaged"):
        list(clip.iter_frames())
    summary = export_clip(clip, ExportSettings(tmp_path / "out.mp4", factor=2), average)
    assert summary.frames_written == 47 and any(
        "damaged input frame" in w for w in summary.warnings
    )


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("zero.mp4", b"", "empty file"),
        ("text.mp4", b"this is a text file, not a video\n" * 40, "cannot open as video"),
    ],
)
def test_files_that_are_not_videos_are_refused(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ClipError, match=f"{name}: {message}"):
        open_clip(path)


def test_audio_only_file_is_refused(tmp_path):
    path = tmp_path / "audio.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=48000, layout="mono")
        samples = (np.sin(np.arange(48000) / 10) * 0.3).astype(np.float32)[None]
        for start in range(0, 48000, 1024):
            frame = av.AudioFrame.from_ndarray(
                samples[:, start : start + 1024], format="fltp", layout="mono"
            )
            frame.sample_rate, frame.pts = 48000, start
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    with pytest.raises(ClipError, match="audio.mp4: has no video stream"):
        open_clip(path)


def test_broken_audio_stream_exports_the_video_with_a_warning(tmp_path):
    rng = np.random.default_rng(1)

    def garble(packet):
        garbage = av.Packet(rng.integers(0, 256, packet.size, dtype=np.uint8).tobytes())
        garbage.pts, garbage.dts, garbage.time_base, garbage.stream = (
            packet.pts,
            packet.dts,
            packet.time_base,
            packet.stream,
        )
        return garbage

    samples = (np.sin(np.arange(24000) / 10) * 0.3).astype(np.float32)[None]
    path = write_flat_clip_with_audio(
        tmp_path / "broken_audio.mkv", "mp2", samples, "fltp", 1152, garble
    )
    clip, frames, error = open_and_read_all(path)
    assert frames == 12 and error is None
    summary = export_clip(clip, ExportSettings(tmp_path / "out.mp4", factor=2), average)
    assert summary.frames_written == 23 and summary.audio == "none"
    assert any(
        "audio" in w and "cannot be decoded" in w or "no decodable audio" in w
        for w in summary.warnings
    )


def test_single_frame_video_opens_and_exports_that_frame(tmp_path):
    clip, frames, error = open_and_read_all(write_square_clip(tmp_path / "one.mp4", frames=1))
    assert len(clip) == frames == 1 and error is None
    summary = export_clip(clip, ExportSettings(tmp_path / "out.mp4", factor=4), average)
    assert summary.frames_written == 1


def test_variable_frame_rate_video_is_timed_by_its_timestamps(tmp_path):
    path = tmp_path / "vfr.mkv"
    stamps_ms = [0, 40, 60, 140, 160, 260]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("ffv1", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "bgr0"
        stream.codec_context.time_base = Fraction(1, 1000)
        for i, ms in enumerate(stamps_ms):
            frame = av.VideoFrame.from_ndarray(
                np.full((48, 64, 3), 30 * i, np.uint8), format="rgb24"
            )
            frame.pts, frame.time_base = ms, Fraction(1, 1000)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    clip, frames, error = open_and_read_all(path)
    assert frames == 6 and error is None
    assert clip.timestamps == pytest.approx([ms / 1000 for ms in stamps_ms], abs=1e-3)
    plan = rate_plan(clip.timestamps, 0.04, Fraction(50), depth=3)
    at_100ms = plan.frames[5]  # 0.100 s lies halfway between the frames at 60 and 140 ms
    assert at_100ms.first == 2 and at_100ms.position == Fraction(1, 2)


def test_missing_path_and_unreadable_file(tmp_path, good_mp4, monkeypatch):
    with pytest.raises(ClipError, match="no such file or folder"):
        open_clip(tmp_path / "nowhere.mp4")
    locked = tmp_path / "locked.mp4"
    locked.write_bytes(good_mp4.read_bytes())
    locked.chmod(0)
    real_open = builtins.open

    def open_as_other_user(file, *args, **kwargs):  # root reads anything: simulate the refusal
        if Path(file) == locked:
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", open_as_other_user)
    with pytest.raises(ClipError, match="locked.mp4: not readable \\(permission denied\\)"):
        open_clip(locked)


# ----- image sequences -----------------------------------------------------------------------


def write_frames(
    folder: Path, count: int = 4, size=(40, 30), numbers=None, suffix=".png"
) -> list[Path]:
    folder.mkdir(exist_ok=True)
    paths = []
    for i, number in enumerate(numbers or range(count)):
        image = np.full((size[1], size[0], 3), 40 * i, np.uint8)
        path = folder / f"frame_{number:04d}{suffix}"
        cv2.imwrite(str(path), image)
        paths.append(path)
    return paths


def test_missing_number_becomes_a_gap_in_time_with_a_note(tmp_path):
    write_frames(tmp_path / "seq", numbers=[1, 2, 3, 5, 6])
    clip = open_clip(tmp_path / "seq")
    assert len(clip) == 5
    assert clip.timestamps == pytest.approx([0, 1 / 24, 2 / 24, 4 / 24, 5 / 24])
    assert any("missing (4)" in note for note in clip.notes)


def test_frames_of_another_size_refuse_the_folder_naming_the_first(tmp_path):
    write_frames(tmp_path / "seq", count=3)
    odd = tmp_path / "seq" / "frame_0003.png"
    cv2.imwrite(str(odd), np.zeros((31, 40, 3), np.uint8))
    write_frames(tmp_path / "seq", numbers=[4], size=(20, 20))
    with pytest.raises(
        ClipError, match="frame_0003.png: 40×31 differs from the first frame's 40×30"
    ):
        open_clip(tmp_path / "seq")


def test_mixed_and_unusual_formats_are_converted_with_notes(tmp_path):
    folder = tmp_path / "seq"
    folder.mkdir()
    rgb = np.zeros((30, 40, 3), np.uint8)
    rgb[...] = (200, 50, 20)
    cv2.imwrite(str(folder / "f0.png"), rgb[..., ::-1])  # plain 8-bit RGB
    cv2.imwrite(str(folder / "f1.png"), (rgb[..., ::-1].astype(np.uint16) * 257))  # 16-bit
    rgba = np.dstack([rgb[..., ::-1], np.full((30, 40), 128, np.uint8)])
    cv2.imwrite(str(folder / "f2.png"), rgba)  # alpha
    cv2.imwrite(str(folder / "f3.png"), rgb[..., 0])  # greyscale
    Image.fromarray(rgb).convert("CMYK").save(folder / "f4.jpg", quality=100)  # CMYK JPEG
    clip = open_clip(folder)
    notes = " | ".join(clip.notes)
    for expected in ("16-bit", "alpha", "greyscale", "CMYK", "mixed formats (jpg, png)"):
        assert expected in notes
    frames = [clip.read(i) for i in range(5)]
    assert all(f.dtype == np.uint8 and f.shape == (30, 40, 3) for f in frames)
    for index in (0, 1, 2, 4):
        assert np.abs(frames[index][5, 5].astype(int) - (200, 50, 20)).max() <= 3, index
    assert (frames[3][5, 5] == 200).all()


def test_damaged_image_in_a_sequence_is_named(tmp_path):
    write_frames(tmp_path / "seq", count=3)
    (tmp_path / "seq" / "frame_0001.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(ClipError, match="frame_0001.png: not a readable image"):
        open_clip(tmp_path / "seq")


# ----- frame sizes -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def flow_interpolator():
    return Interpolator(random_model("flow-small"), resolve_device("cpu"))


@pytest.mark.parametrize("height, width", [(1, 1), (3, 2), (17, 33), (3, 4000)])
def test_odd_frame_sizes_are_interpolated(flow_interpolator, height, width):
    rng = np.random.default_rng(height * width)
    a = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    frame = flow_interpolator.interpolate(a, a).frame
    assert frame.shape == (height, width, 3)
    assert np.abs(frame.astype(int) - a).max() <= 1  # identical frames: the middle is the frame


def test_frames_above_the_limit_are_refused_with_the_limit(flow_interpolator):
    big = np.zeros((4321, 7680, 3), np.uint8)
    assert big.shape[0] * big.shape[1] > MAX_FRAME_PIXELS
    with pytest.raises(InputError, match="exceed the limit of 33.2 megapixels \\(7680×4320\\)"):
        flow_interpolator.interpolate(big, big)


# ----- memory ----------------------------------------------------------------------------------


def test_out_of_memory_in_the_model_falls_back_to_tiles_and_says_so():
    loaded = random_model("flow-small")
    messages = []
    interpolator = Interpolator(loaded, resolve_device("cpu"), log=messages.append)
    real_estimate = interpolator.model.estimate

    def estimate(f1, f2, flows, time=None):
        if f1.shape[-1] >= 320:  # the whole (padded) frame does not fit
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 3.00 GiB")
        return real_estimate(f1, f2, flows)

    interpolator.model.estimate = estimate
    a = np.random.default_rng(0).integers(0, 256, (64, 320, 3), dtype=np.uint8)
    frame = interpolator.interpolate(a, a).frame
    assert frame.shape == a.shape and messages and "out of memory" in messages[0]
