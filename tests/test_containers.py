"""Containers without an index (MPEG-TS, AVCHD M2TS, MPEG-PS) and streams that start mid-GOP:
they open, count the frames a sequential decode gives, read any frame by random access equal
to the sequential decode, and export the right number of frames."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import av
import imageio_ffmpeg
import numpy as np
import pytest

from dsepconv_gui.export.clip_export import ExportSettings, export_clip
from dsepconv_gui.video.audio import CopiedAudio
from dsepconv_gui.video.clips import VideoClip, open_clip

FRAMES, RATE = 48, 25
PICTURE = ["-f", "lavfi", "-i", f"testsrc=size=96x64:rate={RATE}:duration={FRAMES / RATE}"]
SOUND = ["-f", "lavfi", "-i", f"sine=frequency=440:duration={FRAMES / RATE}"]
# Open GOPs of 12 with B-frames: after a GOP's I-frame come B-frames that show before it.
MPEG2 = ["-c:v", "mpeg2video", "-g", "12", "-bf", "2", "-q:v", "3"]
H264 = ["-c:v", "libx264", "-g", "12", "-bf", "2", "-x264opts", "scenecut=0", "-crf", "18"]

# name: ffmpeg arguments between the inputs and the output file
INDEXLESS = {
    "mpeg2.ts": PICTURE + MPEG2,
    "interlaced.ts": PICTURE + MPEG2 + ["-flags", "+ilme+ildct", "-alternate_scan", "1"],
    # AVCHD: interlaced H.264 and AC-3 in 192-byte M2TS packets
    "avchd.m2ts": PICTURE
    + SOUND
    + H264
    + [
        "-flags",
        "+ildct+ilme",
        "-x264opts",
        "interlaced=1:scenecut=0",
        "-c:a",
        "ac3",
        "-f",
        "mpegts",
        "-mpegts_m2ts_mode",
        "1",
    ],
    "dvd.mpg": PICTURE + SOUND + MPEG2 + ["-c:a", "mp2", "-f", "vob"],
}


def ffmpeg(*args: str) -> None:
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", *args],
        check=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )


def decode_from_first_keyframe(path: Path) -> list[np.ndarray]:
    """What a plain sequential decode shows, from its first keyframe (or intra picture) on,
    passing over packets the decoder rejects as ffmpeg does."""
    frames, started = [], False
    with av.open(str(path)) as container:
        for packet in container.demux(video=0):
            try:
                decoded = packet.decode()
            except av.error.InvalidDataError:
                continue
            for frame in decoded:
                started = (
                    started or frame.key_frame or frame.pict_type == av.video.frame.PictureType.I
                )
                if started:
                    frames.append(frame.to_ndarray(format="rgb24"))
    return frames


def stored_frames(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for p in container.demux(video=0) if p.size and p.pts is not None)


def check_reads(clip, reference: list[np.ndarray]) -> None:
    """Sequential iteration and random access (every frame, last to first, so that each read
    seeks) both give the reference frames."""
    sequential = [image for _, image in clip.iter_frames()]
    assert len(sequential) == len(reference) == len(clip)
    for k, image in enumerate(sequential):
        assert np.array_equal(image, reference[k]), f"frame {k} of the sequential read"
    clip.cache_size = 0  # every read decodes
    for k in reversed(range(len(clip))):
        assert np.array_equal(clip.read(k), sequential[k]), f"frame {k} by random access"
    for k in (0, len(clip) // 2, len(clip) - 1, 1):
        assert np.array_equal(clip.read(k), sequential[k]), f"frame {k} by random access, again"


def average(a, b):
    return ((a.astype(np.uint16) + b) // 2).astype(np.uint8)


def check_export(clip, folder: Path) -> None:
    out = folder / "out.mp4"
    summary = export_clip(clip, ExportSettings(out, factor=2), average)
    assert summary.frames_written == 2 * len(clip) - 1
    with av.open(str(out)) as container:
        assert sum(1 for _ in container.decode(video=0)) == 2 * len(clip) - 1


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    folder = tmp_path_factory.mktemp("containers")
    made = {}

    def make(name: str) -> Path:
        if name not in made:
            made[name] = folder / name
            ffmpeg(*INDEXLESS[name], str(made[name]))
        return made[name]

    return make


@pytest.mark.parametrize("name", list(INDEXLESS))
def test_indexless_containers_open_read_and_export_every_frame(media, name, tmp_path):
    path = media(name)
    clip = open_clip(path)
    assert len(clip) == FRAMES and clip.notes == []
    assert clip.timestamps == pytest.approx([k / RATE for k in range(FRAMES)])
    check_reads(clip, decode_from_first_keyframe(path))
    check_export(clip, tmp_path)


def test_a_transport_stream_seeks_back_by_steps_before_decoding_from_the_start(
    tmp_path, monkeypatch
):
    """FFmpeg's seek in a TS lands on the keyframe after the time asked for: frames far from
    the start are found by stepping back, not by decoding the whole file again."""
    path = tmp_path / "long.ts"
    ffmpeg("-f", "lavfi", "-i", f"testsrc=size=64x48:rate={RATE}:duration=8", *MPEG2, str(path))
    clip = open_clip(path)
    assert len(clip) == 200
    reopened = []
    original = VideoClip._reopen
    monkeypatch.setattr(
        VideoClip, "_reopen", lambda self, c: reopened.append(1) or original(self, c)
    )
    reference = decode_from_first_keyframe(path)
    clip.cache_size = 0
    for k in (190, 150, 100, 61, 60, 59, 3, 0):
        assert np.array_equal(clip.read(k), reference[k]), f"frame {k}"
    assert len(reopened) <= 2  # for frames 3 and 0 only: before the second keyframe


def test_indexed_containers_seek_without_reopening(tmp_path, monkeypatch):
    path = tmp_path / "clip.mp4"
    ffmpeg(*PICTURE, *H264, str(path))
    clip = open_clip(path)
    reopened = []
    original = VideoClip._reopen
    monkeypatch.setattr(
        VideoClip, "_reopen", lambda self, c: reopened.append(1) or original(self, c)
    )
    check_reads(clip, decode_from_first_keyframe(path))
    assert reopened == []


def cut_with_ffmpeg(source: Path, path: Path) -> Path:
    """Stream copy from 0.2 s, keeping the non-keyframes before the next keyframe."""
    ffmpeg("-i", str(source), "-ss", "0.2", "-c", "copy", "-copyinkf", str(path))
    return path


def remux_from_packet_5(source: Path, path: Path) -> Path:
    """The packets from the sixth in decoding order on, written with PyAV."""
    with av.open(str(source)) as original, av.open(str(path), "w") as out:
        stream = out.add_stream_from_template(original.streams.video[0])
        packets = [p for p in original.demux(video=0) if p.size]
        for packet in packets[5:]:
            packet.stream = stream
            out.mux(packet)
    return path


def cut_bytes(source: Path, path: Path) -> Path:
    """A recording that starts mid-stream: the transport stream from a third of its bytes on."""
    data = source.read_bytes()
    path.write_bytes(data[len(data) // 3 // 188 * 188 :])
    return path


@pytest.mark.parametrize(
    "source, cut",
    [("clip.mp4", cut_with_ffmpeg), ("clip.mp4", remux_from_packet_5), ("clip.ts", cut_bytes)],
)
def test_streams_that_start_mid_gop_skip_the_undecodable_frames_and_say_so(tmp_path, source, cut):
    whole = tmp_path / source
    ffmpeg(*PICTURE, *(H264 if source.endswith(".mp4") else MPEG2), str(whole))
    path = cut(whole, tmp_path / f"midgop{whole.suffix}")
    clip = open_clip(path)
    reference = decode_from_first_keyframe(path)
    assert 0 < len(clip) == len(reference) < FRAMES
    (note,) = clip.notes
    skipped = re.fullmatch(
        r"the first (\d+) frame\(s\) could not be decoded \(the stream starts mid-GOP, "
        r"or is damaged at its start\) and are skipped",
        note,
    )
    assert skipped and int(skipped.group(1)) == stored_frames(path) - len(clip) > 0
    assert clip.timestamps[0] == 0.0
    assert clip.timestamps == pytest.approx([k / RATE for k in range(len(clip))])
    check_reads(clip, reference)
    check_export(clip, tmp_path)


def test_a_damaged_first_keyframe_skips_its_gop_and_says_so(tmp_path):
    path = tmp_path / "damaged.mp4"
    ffmpeg(*PICTURE, *H264, str(path))
    with av.open(str(path)) as container:
        first = next(p for p in container.demux(video=0) if p.size)
        at, size = first.pos, first.size
    data = bytearray(path.read_bytes())
    data[at : at + size] = np.random.default_rng(0).integers(0, 256, size, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))
    clip = open_clip(path)
    assert len(clip) == FRAMES - 12
    (note,) = (
        clip.notes
    )  # FFmpeg's parser finds no keyframe in the noise: it may be a mid-GOP start
    assert re.fullmatch(
        r"the first 12 frame\(s\) could not be decoded \((damaged|.*or is damaged at its start)\) "
        r"and are skipped",
        note,
    )
    check_reads(clip, decode_from_first_keyframe(path))


def transport_stream_with_audio(path: Path) -> Path:
    ffmpeg(*PICTURE, *SOUND, *MPEG2, "-c:a", "mp2", "-f", "mpegts", str(path))
    return path


def audio_and_video_spans(path: Path) -> tuple[tuple[float, float], tuple[float, float]]:
    """((start, end) of the video, (start, end) of the audio) in seconds, from the packets."""

    def span(packets) -> tuple[float, float]:
        packets = [
            p for p in packets if p.size and p.pts is not None and p.pts >= 0
        ]  # AAC priming: pts < 0
        last = max(packets, key=lambda p: p.pts)
        return float(packets[0].pts * packets[0].time_base), float(
            (last.pts + last.duration) * last.time_base
        )

    with av.open(str(path)) as container:
        video = span(container.demux(video=0))
    with av.open(str(path)) as container:
        audio = span(container.demux(audio=0))
    return video, audio


@pytest.mark.parametrize("keep", [False, True])
def test_a_transport_stream_with_damaged_packets_exports_with_its_audio_in_sync(tmp_path, keep):
    # Whole 188-byte packets zeroed in the middle third: a few video frames are lost, and the
    # audio decoder rejects some packets and decodes others at a wrong rate or layout; the
    # audio must go on (silent there) to the end, in sync.
    path = transport_stream_with_audio(tmp_path / "damaged.ts")
    data = bytearray(path.read_bytes())
    packets = len(data) // 188
    for k in range(packets // 3, 2 * packets // 3, 9):
        data[k * 188 : (k + 1) * 188] = bytes(188)
    path.write_bytes(bytes(data))
    clip = open_clip(path)
    assert 0 < len(clip) < FRAMES
    out = tmp_path / "out.mp4"
    summary = export_clip(clip, ExportSettings(out, factor=2, keep_duration=keep), average)
    assert summary.audio == "re-encoded mp2 to AAC"
    assert any("damaged audio packet(s)" in w for w in summary.warnings), summary.warnings
    assert summary.frames_written == 2 * len(clip) - (0 if keep else 1)
    (video_start, video_end), (audio_start, audio_end) = audio_and_video_spans(out)
    one_frame = 1 / (2 * RATE)
    span = FRAMES / RATE  # by the input's timestamps: its first frame to its last frame's end
    assert video_start == audio_start == 0
    assert audio_end == pytest.approx(span, abs=one_frame)
    # without --keep-duration the video is one output frame shorter than its input, by design
    assert video_end == pytest.approx(span - (0 if keep else one_frame), abs=1e-3)


def test_audio_whose_first_packets_are_damaged_is_still_exported(tmp_path):
    path = transport_stream_with_audio(tmp_path / "damaged.ts")
    data = bytearray(path.read_bytes())
    with av.open(str(path)) as container:
        pid = container.streams.audio[0].id
    audio = [
        k
        for k in range(len(data) // 188)
        if (data[k * 188 + 1] & 0x1F) << 8 | data[k * 188 + 2] == pid
    ]
    noise = np.random.default_rng(0).integers(0, 256, 166, dtype=np.uint8).tobytes()
    for k in audio[:6]:  # past the packet and PES headers: the MP2 frames' own headers
        data[k * 188 + 22 : (k + 1) * 188] = noise
    path.write_bytes(bytes(data))
    assert CopiedAudio.probe(path) is None
    out = tmp_path / "out.mp4"
    summary = export_clip(
        open_clip(path), ExportSettings(out, factor=2, keep_duration=True), average
    )
    assert summary.audio == "re-encoded mp2 to AAC"
    (_, video_end), (audio_start, audio_end) = audio_and_video_spans(out)
    assert audio_start == 0 and audio_end == pytest.approx(video_end, abs=1 / (2 * RATE))


def test_the_open_dialog_and_training_take_these_containers():
    from dsepconv_gui.video.clips import VIDEO_EXTENSIONS

    assert {".ts", ".m2ts", ".mts", ".mpg", ".vob"} <= set(VIDEO_EXTENSIONS)
