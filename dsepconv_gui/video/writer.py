"""Writing frames to a video file (PyAV) or a folder of PNGs, atomically: everything goes to a
temporary file or folder next to the destination (named as in safe_output.py) and is moved into
place only when complete; on error or cancel the temporary output is removed and the
destination left untouched.

Frame timestamps are exact: the stream's time base is 1/rate, so 60000/1001 stays exact. A
variable-rate output (frames written with their own times) uses MPEG's 90 kHz clock instead.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from dsepconv_gui.base import bounded_json
from dsepconv_gui.base.errors import InputError
from dsepconv_gui.base.safe_output import (
    atomic_file,
    check_output,
    commit,
    merge_folder,
    temp_file,
    temp_folder,
)
from dsepconv_gui.video.audio import AudioTrack

FINE_TIME_BASE = Fraction(1, 90_000)  # frames at explicit times: MPEG's clock, 11 µs steps


@dataclass(frozen=True)
class Codec:
    name: str
    encoder: str  # FFmpeg encoder, or "png" for an image sequence
    pix_fmt: str
    suffixes: tuple[str, ...]  # containers it can go in; () for a folder of images
    lossless: bool
    # pix_fmt subsamples chroma, which needs even sides: frames with an odd side use this
    # 4:4:4 format
    odd_pix_fmt: str | None
    min_bytes_per_pixel: float  # a low estimate of the output size, for the disk-space check
    description: str

    @property
    def suffix(self) -> str:
        """The suffix a new output gets: the first container's ("" for a folder of images)."""
        return self.suffixes[0] if self.suffixes else ""


CODECS = {
    "h264": Codec(
        "h264",
        "libx264",
        "yuv420p",
        (".mp4", ".mov", ".mkv", ".m4v"),
        False,
        "yuv444p",
        0.005,
        "H.264 in MP4, yuv420p, quality by CRF",
    ),
    "ffv1": Codec(
        "ffv1", "ffv1", "bgr0", (".mkv",), True, None, 0.4, "FFV1 lossless RGB in Matroska"
    ),
    "prores": Codec(
        "prores",
        "prores_ks",
        "yuv422p10le",
        (".mov",),
        False,
        "yuv444p10le",
        0.3,
        "Apple ProRes 422 HQ in QuickTime",
    ),
    "png": Codec(
        "png",
        "png",
        "rgb24",
        (),
        True,
        None,
        0.4,
        "lossless PNG image sequence (a folder, no audio)",
    ),
}


def codec_for(name: str) -> Codec:
    try:
        return CODECS[name]
    except KeyError:
        raise InputError(f"unknown codec {name!r}; choose one of {', '.join(CODECS)}") from None


def pixel_format(codec: Codec, width: int, height: int) -> str:
    """The pixel format frames of this size are written in. H.264's 4:2:0 and ProRes 422's
    4:2:2 cannot hold an odd side; rather than pad the picture, such frames keep their exact
    size in 4:4:4 (H.264 High 4:4:4, ProRes 4444)."""
    return codec.odd_pix_fmt if codec.odd_pix_fmt and (width % 2 or height % 2) else codec.pix_fmt


def size_warning(codec: Codec, width: int, height: int) -> str | None:
    """What the user should know about writing frames of this size with this codec."""
    if pixel_format(codec, width, height) == codec.pix_fmt:
        return None
    return (
        f"the frames are {width}×{height} (an odd side), which {codec.pix_fmt} cannot hold: "
        f"written as {codec.odd_pix_fmt} to keep the exact size, which some players "
        f"(web browsers, QuickTime) cannot play; --codec ffv1 or png keep any size losslessly"
    )


def check_destination(
    path: Path, codec: Codec, overwrite: bool, inputs: Iterable[Path] = ()
) -> None:
    """Raise InputError for a destination this codec cannot write, whose name is too long,
    whose folder is missing or not writable, that is one of `inputs`, or that exists when
    overwriting was not asked for (an existing empty folder is free for a PNG sequence)."""
    if codec.suffixes and path.suffix.lower() not in codec.suffixes:
        hint = " (a folder of PNGs is --codec png)" if not path.suffix else ""
        raise InputError(
            f"{path}: {codec.name} goes in {' or '.join(codec.suffixes)} files, "
            f"not '{path.suffix or 'no suffix'}'{hint}"
        )
    if not codec.suffixes and path.suffix:
        raise InputError(
            f"{path}: a PNG sequence is written to a folder; give a path without a suffix"
        )
    check_output(path, overwrite, inputs, folder=not codec.suffixes)


def estimated_size(codec: Codec, width: int, height: int, frames: int) -> int:
    """A low estimate of the output size in bytes (used to refuse exports that clearly do not
    fit)."""
    return int(codec.min_bytes_per_pixel * width * height * frames)


class AtomicOutput:
    """`with Writer(...) as w:` closes (moves the output into place) on success and aborts
    (removes the temporary output) on any exception."""

    def close(self) -> Path:
        raise NotImplementedError

    def abort(self) -> None:
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


class VideoWriter(AtomicOutput):
    """`with VideoWriter(path, rate) as w: w.write(frame)`; frames are RGB uint8 (H, W, 3).

    codec: a key of CODECS (or an FFmpeg encoder name, kept for tests); crf for H.264;
    audio: an AudioTrack muxed alongside as the video advances. variable_rate: frames are
    written with their own times, `write(frame, time)` (rate is then only the nominal rate).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        rate: float | Fraction,
        codec: str = "h264",
        crf: int = 18,
        audio: AudioTrack | None = None,
        variable_rate: bool = False,
    ) -> None:
        import av

        self.path = Path(path)
        self.codec = CODECS.get(codec) or Codec(
            codec, codec, "yuv420p", (), False, "yuv444p", 0.0, codec
        )
        if not self.path.parent.is_dir():
            raise InputError(f"{self.path.parent}: destination folder does not exist")
        self.rate = rate if isinstance(rate, Fraction) else Fraction(rate).limit_denominator(1001)
        self._tmp = temp_file(self.path)
        self.audio = audio
        try:
            # The temporary ends in the destination's suffix, from which FFmpeg picks the container.
            guessable = bool(self.path.suffix) and self._tmp.name.endswith(self.path.suffix)
            self._container = av.open(str(self._tmp), mode="w", format=None if guessable else "mp4")
            self._stream = self._container.add_stream(self.codec.encoder, rate=self.rate)
            self._stream.pix_fmt = self.codec.pix_fmt
            self._time_base = FINE_TIME_BASE if variable_rate else 1 / self.rate
            self._stream.codec_context.time_base = self._time_base
            if variable_rate:
                self._stream.time_base = self._time_base
            if self.codec.encoder == "libx264":
                self._stream.options = {"crf": str(crf)}
            elif self.codec.encoder == "prores_ks":
                self._stream.options = {"profile": "3"}  # 422 HQ
        except BaseException:  # a signal (KeyboardInterrupt) too: no `with` owns the file yet
            self._tmp.unlink(missing_ok=True)
            raise
        self._size: tuple[int, int] | None = None
        self._last_pts = -1
        self.frames_written = 0

    def write(self, frame: np.ndarray, time: float | None = None) -> None:
        """Append a frame, shown from `time` seconds (default: frames_written / rate)."""
        import av

        frame = _checked(frame, self.path, self._size, self.frames_written)
        h, w = frame.shape[:2]
        if self._size is None:
            self._size = (h, w)
            self._stream.height, self._stream.width = h, w
            self._stream.pix_fmt = pixel_format(self.codec, w, h)
            if self._stream.pix_fmt != self.codec.pix_fmt and self.codec.encoder == "prores_ks":
                self._stream.options = {"profile": "4"}  # 4444
            if self.audio is not None:
                self.audio.attach(self._container, self.path.suffix or ".mp4")
        video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
        at = Fraction(self.frames_written) / self.rate if time is None else Fraction(time)
        self._last_pts = video_frame.pts = max(round(at / self._time_base), self._last_pts + 1)
        video_frame.time_base = self._time_base
        for packet in self._stream.encode(video_frame):
            self._container.mux(packet)
        self.frames_written += 1
        if self.audio is not None:
            self.audio.feed(float(at + 1 / self.rate) + 0.5)

    def close(self) -> Path:
        """Flush the encoder and move the finished file into place."""
        for packet in self._stream.encode(None):
            self._container.mux(packet)
        if self.audio is not None and self._size is not None:
            self.audio.finish()
        self._container.close()
        commit(self._tmp, self.path)
        return self.path

    def abort(self) -> None:
        """Drop the partial file; whatever was at the destination stays untouched."""
        for close in (getattr(self.audio, "close", None), self._container.close):
            try:
                if close is not None:
                    close()
            except Exception:  # noqa: BLE001 - the file is removed anyway
                pass
        self._tmp.unlink(missing_ok=True)


class ImageSequenceWriter(AtomicOutput):
    """Frames as frame_000000.png, ... and rate.txt in a folder, built in a temporary folder
    beside it.

    A new folder is the temporary folder renamed into place. Into an existing folder (an empty
    one, or any with --overwrite, as check_destination allows) the files are moved one by one:
    only files of the names this export writes (frames, rate.txt, timestamps.txt, MANIFEST) are
    replaced, and the frames (and timestamps.txt) an earlier export listed in MANIFEST that this
    one does not write are removed, so the folder holds one sequence. Every other file and
    subfolder is left as it was.
    """

    MANIFEST = ".dsepconv-frames.json"
    FRAME = re.compile(r"frame_\d{6,}\.png")
    TIMESTAMPS = "timestamps.txt"  # a variable-rate export's frame times

    def __init__(self, path: str | os.PathLike, rate: Fraction) -> None:
        self.path = Path(path)
        if not self.path.parent.is_dir():
            raise InputError(f"{self.path.parent}: destination folder does not exist")
        self.rate = rate
        self._tmp = temp_folder(self.path)
        self._size: tuple[int, int] | None = None
        self.frames_written = 0
        self.audio = None
        self._times: list[float] = []

    def write(self, frame: np.ndarray, time: float | None = None) -> None:
        """Append a frame; frames given a `time` (seconds) are listed in timestamps.txt."""
        import cv2

        frame = _checked(frame, self.path, self._size, self.frames_written)
        self._size = frame.shape[:2]
        target = self._tmp / f"frame_{self.frames_written:06d}.png"
        if not cv2.imwrite(str(target), np.ascontiguousarray(frame[..., ::-1])):
            raise OSError(f"{target}: could not be written (disk full?)")
        if time is not None:
            self._times.append(time)
        self.frames_written += 1

    def close(self) -> Path:
        (self._tmp / "rate.txt").write_text(f"{self.rate.numerator}/{self.rate.denominator}\n")
        frames = [f"frame_{i:06d}.png" for i in range(self.frames_written)]
        if self._times:  # a variable rate: each frame's time, in mkvmerge's timestamp format v2
            lines = ["# timestamp format v2", *(f"{t * 1000:.3f}" for t in self._times)]
            (self._tmp / self.TIMESTAMPS).write_text("\n".join(lines) + "\n")
            frames.append(self.TIMESTAMPS)  # listed like the frames, so a later export removes it
        earlier = [name for name in self._listed_frames() if name not in set(frames)]
        if earlier:  # listed until removed, should this be cut short
            self._write_manifest(self.path, sorted(set(earlier) | set(frames)))
        self._write_manifest(self._tmp, frames)
        merge_folder(self._tmp, self.path, remove=earlier)
        return self.path

    def abort(self) -> None:
        shutil.rmtree(self._tmp, ignore_errors=True)

    def _listed_frames(self) -> list[str]:
        """The frames an earlier export wrote into the destination, from its manifest."""
        try:
            # a file in the user's folder: read within bounds (a hostile one is just ignored)
            text = (self.path / self.MANIFEST).read_text()
            listed = bounded_json.loads(text, max_chars=1 << 24, max_depth=4).get("frames", [])
        except (OSError, ValueError, AttributeError):
            return []
        return [
            name
            for name in listed
            if isinstance(name, str) and (self.FRAME.fullmatch(name) or name == self.TIMESTAMPS)
        ]

    def _write_manifest(self, folder: Path, frames: list[str]) -> None:
        with atomic_file(folder / self.MANIFEST) as tmp:
            tmp.write_text(json.dumps({"written by": "dsepconv export", "frames": frames}))


def open_writer(
    path: Path,
    rate: Fraction,
    codec: str,
    crf: int = 18,
    audio: AudioTrack | None = None,
    variable_rate: bool = False,
):
    """The writer for a codec name: a VideoWriter, or an ImageSequenceWriter for "png"."""
    if codec_for(codec).encoder == "png":
        return ImageSequenceWriter(path, rate)
    return VideoWriter(path, rate, codec, crf, audio, variable_rate)


def _checked(frame: np.ndarray, path: Path, size: tuple[int, int] | None, index: int) -> np.ndarray:
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise InputError(
            f"{path}: frames must be RGB uint8 (H, W, 3), got {frame.dtype} {frame.shape}"
        )
    if size is not None and frame.shape[:2] != size:
        raise InputError(
            f"{path}: frame {index} is {frame.shape[1]}×{frame.shape[0]}, "
            f"the first was {size[1]}×{size[0]}"
        )
    return frame
