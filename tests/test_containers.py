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

from dsepconv_gui.core.clips import VideoClip, open_clip
from dsepconv_gui.core.export import ExportSettings, export_clip

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
    "avchd.m2ts": PICTURE + SOUND + H264 + ["-flags", "+ildct+ilme", "-x264opts", "interlaced=1:scenecut=0",
                                            "-c:a", "ac3", "-f", "mpegts", "-mpegts_m2ts_mode", "1"],
    "dvd.mpg": PICTURE + SOUND + MPEG2 + ["-c:a", "mp2", "-f", "vob"],
}


def ffmpeg(*args: str) -> None:
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", *args], check=True,
                   stdin=subprocess.DEVNULL, timeout=60)


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
                started = started or frame.key_frame or frame.pict_type == av.video.frame.PictureType.I
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


def test_a_transport_stream_seeks_back_by_steps_before_decoding_from_the_start(tmp_path, monkeypatch):
    """FFmpeg's seek in a TS lands on the keyframe after the time asked for: frames far from
    the start are found by stepping back, not by decoding the whole file again."""
    path = tmp_path / "long.ts"
    ffmpeg("-f", "lavfi", "-i", f"testsrc=size=64x48:rate={RATE}:duration=8", *MPEG2, str(path))
    clip = open_clip(path)
    assert len(clip) == 200
    reopened = []
    original = VideoClip._reopen
    monkeypatch.setattr(VideoClip, "_reopen", lambda self, c: reopened.append(1) or original(self, c))
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
    monkeypatch.setattr(VideoClip, "_reopen", lambda self, c: reopened.append(1) or original(self, c))
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
    path.write_bytes(data[len(data) // 3 // 188 * 188:])
    return path


@pytest.mark.parametrize("source, cut", [("clip.mp4", cut_with_ffmpeg), ("clip.mp4", remux_from_packet_5),
                                         ("clip.ts", cut_bytes)])
def test_streams_that_start_mid_gop_skip_the_undecodable_frames_and_say_so(tmp_path, source, cut):
    whole = tmp_path / source
    ffmpeg(*PICTURE, *(H264 if source.endswith(".mp4") else MPEG2), str(whole))
    path = cut(whole, tmp_path / f"midgop{whole.suffix}")
    clip = open_clip(path)
    reference = decode_from_first_keyframe(path)
    assert 0 < len(clip) == len(reference) < FRAMES
    (note,) = clip.notes
    skipped = re.fullmatch(r"the first (\d+) frame\(s\) could not be decoded \(the stream starts mid-GOP, "
                           r"or is damaged at its start\) and are skipped", note)
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
    data[at:at + size] = np.random.default_rng(0).integers(0, 256, size, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))
    clip = open_clip(path)
    assert len(clip) == FRAMES - 12
    (note,) = clip.notes  # FFmpeg's parser finds no keyframe in the noise: it may be a mid-GOP start
    assert re.fullmatch(r"the first 12 frame\(s\) could not be decoded \((damaged|.*or is damaged at its start)\) "
                        r"and are skipped", note)
    check_reads(clip, decode_from_first_keyframe(path))


def test_the_open_dialog_and_training_take_these_containers():
    from dsepconv_gui.core.clips import VIDEO_EXTENSIONS

    assert {".ts", ".m2ts", ".mts", ".mpg", ".vob"} <= set(VIDEO_EXTENSIONS)
