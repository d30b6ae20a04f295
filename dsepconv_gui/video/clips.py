"""Clips: video files (decoded with FFmpeg's libraries through PyAV) and folders of numbered
images, read frame by frame as RGB uint8 (H, W, 3) with presentation times in seconds.

A clip is safe to read from one thread at a time; the app reads from its worker thread.
"""

from __future__ import annotations

import itertools
import re
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from dsepconv_gui.base.errors import InputError, error_reason
from dsepconv_gui.base.input_paths import check_input_file
from dsepconv_gui.frames.images import read_header, read_image
from dsepconv_gui.frames.orientation import Orientation, upright, video_orientation

VIDEO_EXTENSIONS = (
    ".mp4",
    ".mov",
    ".mkv",
    ".webm",
    ".avi",
    ".m4v",
    ".mpg",
    ".mpeg",
    ".vob",
    ".ts",
    ".m2ts",
    ".mts",
)
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
DEFAULT_IMAGE_RATE = 24.0
ALPHA_NOTE = (
    "the input's alpha channel is not kept: frames are read, interpolated and written as RGB"
)


class ClipError(InputError):
    """A clip cannot be opened or a frame of it cannot be read."""


@dataclass(frozen=True)
class ClipInfo:
    path: Path
    kind: str  # "video" or "images"
    width: int
    height: int
    frame_count: int
    fps: float  # nominal frames per second (the average rate of a variable-rate video)
    exact_rate: Fraction | None = None  # the container's rational rate (30000/1001), when known

    @property
    def rate(self) -> Fraction:
        """The nominal rate as an exact fraction (23.976 becomes 24000/1001)."""
        return self.exact_rate or Fraction(self.fps).limit_denominator(1001)

    @property
    def duration(self) -> float:
        return self.frame_count / self.fps if self.fps > 0 else 0.0

    def describe(self) -> str:
        return f"{self.width}×{self.height}, {self.fps:.3f} fps, {self.frame_count} frames"


class Clip:
    """Random access to frames, with a small cache of decoded frames."""

    cache_size = 48
    alpha_dropped = False  # the input has an alpha channel, not kept: frames are RGB
    time_origin = 0.0  # seconds of frame 0 on the file's clock (where its audio is aligned)

    def __init__(
        self, info: ClipInfo, timestamps: list[float], notes: list[str] | None = None
    ) -> None:
        self.info = info
        self.timestamps = timestamps
        self.notes = notes or []  # what was converted or is unusual, for the user
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._lock = threading.RLock()

    def __len__(self) -> int:
        return self.info.frame_count

    def timestamp(self, index: int) -> float:
        """Presentation time of frame `index` in seconds from the clip's first frame."""
        return self.timestamps[index]

    def read(self, index: int) -> np.ndarray:
        if not 0 <= index < self.info.frame_count:
            raise ClipError(
                f"{self.info.path}: frame {index} out of range 0..{self.info.frame_count - 1}"
            )
        with self._lock:
            frame = self._cache.get(index)
            if frame is None:
                frame = self._decode(index)
                frame.setflags(write=False)
                self._cache[index] = frame
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
            else:
                self._cache.move_to_end(index)
            return frame

    def _decode(self, index: int) -> np.ndarray:
        raise NotImplementedError

    def iter_frames(
        self, start: int = 0, stop: int | None = None, replaced: list[int] | None = None
    ) -> Iterator[tuple[int, np.ndarray]]:
        """(index, frame) for frames start..stop-1 in order, bypassing the cache (exports
        stream long clips through this without holding them). `replaced`: see VideoClip."""
        stop = self.info.frame_count if stop is None else stop
        for index in range(start, stop):
            yield index, self._decode(index)

    def subtitle_stream_count(self) -> int:
        """Subtitle streams in the file (an export does not copy them)."""
        return 0

    def close(self) -> None:
        self._cache.clear()


class ImageSequenceClip(Clip):
    """A folder of numbered images, in numeric order (frame_2 before frame_10).

    Every file's header is checked when the folder is opened: frames of another size refuse
    the folder, naming the first such file; grey, alpha, 16-bit, CMYK, palette and mixed
    formats are converted to 8-bit RGB with a note; a gap in the numbering becomes a gap in
    time (frame numbers are timestamps at `fps`), with a note.
    """

    def __init__(self, folder: Path, fps: float = DEFAULT_IMAGE_RATE) -> None:
        files = numbered_images(folder)
        if not files:
            raise ClipError(f"{folder}: no images ({', '.join(IMAGE_EXTENSIONS)}) in this folder")
        (width, height), notes = check_sequence(files)
        self.files = files
        numbers = [frame_number(f) for f in files]
        if all(n is not None for n in numbers) and len(set(numbers)) == len(numbers):
            stamps = [(n - numbers[0]) / fps for n in numbers]
            missing = [n for n in range(numbers[0], numbers[-1] + 1) if n not in set(numbers)]
            if missing:
                shown = ", ".join(map(str, missing[:8])) + (", ..." if len(missing) > 8 else "")
                notes.append(
                    f"{len(missing)} frame number(s) missing ({shown}): kept as gaps in time"
                )
        else:
            stamps = [i / fps for i in range(len(files))]
        info = ClipInfo(folder, "images", width, height, len(files), fps)
        super().__init__(info, stamps, notes)

    def _decode(self, index: int) -> np.ndarray:
        try:
            frame = read_image(self.files[index])
        except InputError as exc:
            raise ClipError(str(exc)) from None
        if frame.shape[:2] != (self.info.height, self.info.width):
            raise ClipError(
                f"{self.files[index]}: {frame.shape[1]}×{frame.shape[0]} differs from the "
                f"first frame's {self.info.width}×{self.info.height}"
            )
        return frame


def frame_number(path: Path) -> int | None:
    numbers = re.findall(r"\d+", path.stem)
    return int(numbers[-1]) if numbers else None


# PIL image modes and what converting them to 8-bit RGB does.
MODE_NOTES = {
    "L": "greyscale (copied to R, G and B)",
    "1": "black and white (copied to R, G and B)",
    "LA": "greyscale with alpha (alpha dropped)",
    "RGBA": "alpha channel dropped",
    "PA": "palette with alpha (alpha dropped)",
    "P": "palette colours expanded",
    "CMYK": "CMYK converted to RGB",
    "I;16": "16-bit (scaled to 8 bits)",
    "I;16B": "16-bit (scaled to 8 bits)",
    "I;16L": "16-bit (scaled to 8 bits)",
    "I": "32-bit integer (scaled to 8 bits)",
    "F": "floating point (scaled to 8 bits)",
}


def check_sequence(files: list[Path]) -> tuple[tuple[int, int], list[str]]:
    """(width, height) of the sequence (upright, as read_image turns them) and notes on
    conversions, reading only the headers. ClipError names the first file that is unreadable,
    above the size limit, or of another size."""
    size = None
    conversions: dict[str, int] = {}
    for path in files:
        try:
            header = read_header(path)
        except InputError as exc:
            raise ClipError(str(exc)) from None
        this_size, mode = header.size, header.mode
        if size is None:
            size = this_size
        elif this_size != size:
            raise ClipError(
                f"{path}: {this_size[0]}×{this_size[1]} differs from the first frame's "
                f"{size[0]}×{size[1]} ({files[0].name}); "
                "every frame of a sequence must have one size"
            )
        note = MODE_NOTES.get(mode)
        if note is None and path.suffix.lower() == ".png" and _png_bit_depth(path) == 16:
            note = "16-bit (scaled to 8 bits)"
        if note:
            conversions[note] = conversions.get(note, 0) + 1
    notes = [f"{count} frame(s): {note}" for note, count in conversions.items()]
    formats = sorted({f.suffix.lower().lstrip(".") for f in files})
    if len(formats) > 1:
        notes.append(f"mixed formats ({', '.join(formats)}), all read as 8-bit RGB")
    return size, notes


def _png_bit_depth(path: Path) -> int | None:
    with open(path, "rb") as handle:
        header = handle.read(26)
    return header[24] if len(header) == 26 and header[12:16] == b"IHDR" else None


def numbered_images(folder: Path) -> list[Path]:
    """Image files of a folder sorted by the last number in their names."""
    files = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS]

    def key(path: Path) -> tuple[int, str]:
        number = frame_number(path)
        return (-1 if number is None else number, path.name)

    return sorted(files, key=key)


class VideoClip(Clip):
    """A video file. Frame times come from the stream's timestamps (variable frame rates
    included); random access seeks to a keyframe at or before the frame and decodes forward.
    Frames are turned as the file says to show them (see orientation.py), and the clip's size
    is the size shown.

    Frames before the first keyframe decoded from the start of the file (a stream cut mid-GOP,
    damage at the start) can never be shown: they are skipped, with a note, and frame 0 is the
    first decodable frame."""

    # Frames to step back, one after another, when a seek lands after the wanted frame; then
    # decoding starts from the beginning of the file.
    SEEK_BACK = (16, 64, 256, 1024, 4096)
    _orientation: Orientation | None = None  # read from the first frame decoded

    def __init__(self, path: Path) -> None:
        import av

        self.path = path
        try:
            self._container = av.open(str(path))
        except (av.error.FFmpegError, OSError, ValueError) as exc:
            raise ClipError(
                f"{path}: cannot open as video: not a video file, or damaged or truncated "
                f"({error_reason(exc)})"
            ) from None
        try:
            self._open(path)
        except ClipError:
            self._container.close()
            raise
        except (av.error.FFmpegError, OSError, ValueError, ZeroDivisionError, OverflowError) as exc:
            self._container.close()  # a damaged header or index (found by fuzzing)
            raise ClipError(
                f"{path}: cannot read as video: damaged ({error_reason(exc)})"
            ) from None

    def _open(self, path: Path) -> None:
        streams = self._container.streams.video
        if not streams:
            self._container.close()
            raise ClipError(f"{path}: has no video stream")
        self._stream = streams[0]
        self._stream.thread_type = "AUTO"
        # AVI files (packed B-frames, N-VOP placeholders) carry packet timestamps that do not
        # match the decoded frames: number their frames in decoding order instead.
        self._by_order = "avi" in (self._container.format.name or "").split(",")
        pts = self._scan_decoded_order() if self._by_order else self._scan_timestamps()
        if not pts:
            self._container.close()
            raise ClipError(f"{path}: no decodable video frames")
        self._set_timestamps(pts)
        self._next_index: int | None = None
        self._frames = iter(())
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        skipped, first = self._first_decodable()
        notes = []
        if skipped:
            # A damaged keyframe can lose its keyframe flag too (FFmpeg's parser reads the bytes).
            why = (
                "damaged"
                if getattr(self, "_starts_on_keyframe", True)
                else "the stream starts mid-GOP, or is damaged at its start"
            )
            notes.append(
                f"the first {skipped} frame(s) could not be decoded ({why}) and are skipped"
            )
            self._set_timestamps(pts[skipped:])
            self._next_index = 1  # the decoder is just after the first decodable frame, now frame 0
        pts = self._pts
        base = self._stream.time_base or Fraction(1, 1000)
        seconds = [float((p - pts[0]) * base) for p in pts]
        rate = self._stream.average_rate or self._stream.guessed_rate
        fps = (
            float(rate)
            if rate
            else (len(pts) - 1) / max(seconds[-1], 1e-9)
            if len(pts) > 1
            else DEFAULT_IMAGE_RATE
        )
        exact = Fraction(rate) if rate else None
        info = ClipInfo(path, "video", first.shape[1], first.shape[0], len(pts), fps, exact)
        declared = self._declared_frame_count(fps)
        notes += self._picture_notes(first)
        stored = len(pts) + skipped
        if getattr(self, "_damaged_tail", False) or declared > stored + 1:
            of = f" of about {declared}" if declared > stored + 1 else ""
            notes.append(f"{len(pts)}{of} frames readable: the file is damaged or truncated")
        cached = self._cache
        super().__init__(info, seconds, notes)
        self._cache = cached
        self._cache[0] = first
        self.time_origin = float(pts[0] * base)

    def _set_timestamps(self, pts: list[int]) -> None:
        self._pts = pts
        self._index_of = {p: i for i, p in enumerate(pts)}

    def _scan_timestamps(self) -> list[int]:
        """Presentation timestamps of every frame, read from the packets without decoding."""
        import av

        pts = []
        try:
            for packet in self._container.demux(self._stream):
                if packet.size and packet.pts is not None:
                    if not pts:
                        self._starts_on_keyframe = packet.is_keyframe
                    pts.append(packet.pts)
        except av.error.FFmpegError:
            self._damaged_tail = True  # keep what was readable
        return sorted(set(pts))

    def _first_decodable(self) -> tuple[int, np.ndarray]:
        """(position, image) of the first frame decoded from the start of the file, leaving
        the decoder just after it. ClipError when nothing decodes."""
        self._frames = self._frames_from_start()
        for position, frame in self._frames:
            self._next_index = position + 1
            return position, self._rgb(frame)
        raise ClipError(f"{self.path}: no decodable video frames")

    def _declared_frame_count(self, fps: float) -> int:
        """The frame count the file's header promises (0 if it does not say): the stream's
        count, else its duration, else the container's duration, times the rate."""
        if self._stream.frames:
            return int(self._stream.frames)
        if self._stream.duration and self._stream.time_base:
            return round(float(self._stream.duration * self._stream.time_base) * fps)
        if self._container.duration:
            return round(self._container.duration / 1e6 * fps)
        return 0

    def _scan_decoded_order(self) -> list[int]:
        """Frame numbers 0..n-1 by decoding the whole stream once (AVI only: small legacy files)."""
        count = sum(1 for _ in tolerant_decode(self._container, self._stream))
        return list(range(count))

    def _positions(self, container, stream) -> Iterator[tuple[int, object]]:
        """(frame number, decoded frame) from the container's current position: by timestamp
        (frames of unknown time are passed over), or, for AVI, by decoding order from the start.
        Frames before the first keyframe or intra picture are passed over: after a seek, or in
        a stream that starts mid-GOP, they lack their references (MPEG-2 decodes them grey or
        garbled). AVI counts every decoded frame, as its scan did."""
        from av.video.frame import PictureType

        keyed = self._by_order
        for counter, frame in enumerate(tolerant_decode(container, stream)):
            keyed = keyed or frame.key_frame or frame.pict_type == PictureType.I
            position = counter if self._by_order else self._index_of.get(frame.pts)
            if keyed and position is not None:
                yield position, frame

    def _reopen(self, container):
        """A fresh container of the file, at its very beginning (FFmpeg's seek to the start
        of an MPEG-TS or PS is a guess too), in place of `container`."""
        import av

        container.close()
        container = av.open(str(self.path))
        container.streams.video[0].thread_type = "AUTO"
        return container

    def _frames_from_start(self) -> Iterator[tuple[int, object]]:
        self._container = self._reopen(self._container)
        self._stream = self._container.streams.video[0]
        return self._positions(self._container, self._stream)

    def _seek(self, container, index: int) -> Iterator[tuple[int, object]] | None:
        """(frame number, frame) decoded from a keyframe at or before frame `index`, or None
        when no seek gets there (then decode from the start of the file).

        MP4 and MKV have an index and land on the keyframe before the frame. MPEG-TS and PS
        have none: FFmpeg guesses a byte position and reads on to a keyframe, often the one
        after the frame; and the first frames of an open GOP need the GOP before. So when
        the first frame decoded is later than wanted, seek again further back."""
        import av

        if self._by_order:
            return None
        stream = container.streams.video[0]
        for back in (0, *(b for b in self.SEEK_BACK if b < index)):
            try:
                container.seek(
                    self._pts[index - back], stream=stream, backward=True, any_frame=False
                )
            except av.error.FFmpegError:
                continue  # no keyframe before it by the index (a stream that starts mid-GOP)
            frames = self._positions(container, stream)
            first = next(frames, None)
            if first is not None and first[0] <= index:
                return itertools.chain([first], frames)
        return None

    def _rgb(self, frame) -> np.ndarray:
        """A decoded frame as RGB uint8, upright (every frame is turned as the first one says)."""
        if self._orientation is None:
            self._orientation = video_orientation(frame, self._stream)
        return upright(frame.to_ndarray(format="rgb24"), self._orientation)

    def _picture_notes(self, first: np.ndarray) -> list[str]:
        """What reading the picture as upright RGB changed."""
        notes = []
        if self._orientation is not None and not self._orientation.is_upright:
            notes.append(
                f"frames {self._orientation.describe()} as the file says to show them "
                f"({first.shape[1]}×{first.shape[0]} upright)"
            )
        if self.alpha_dropped:
            notes.append(ALPHA_NOTE)
        return notes

    @property
    def alpha_dropped(self) -> bool:
        """The stream has an alpha channel, which reading frames as RGB drops."""
        import av

        name = self._stream.codec_context.pix_fmt
        try:
            return name is not None and len(av.VideoFormat(name).components) in (2, 4)
        except (ValueError, av.error.FFmpegError):
            return False

    def _decode_at(self, index: int) -> np.ndarray:
        """Decode frame `index`: forward from the current position when it is close ahead
        (playback, stepping), else from a keyframe before it. Frames passed on the way are
        cached, so scrubbing back a little is free."""
        import av

        ahead = self._next_index is not None and self._next_index <= index <= self._next_index + 48
        try:
            if not ahead:
                self._next_index = None
                self._frames = self._seek(self._container, index) or self._frames_from_start()
            for position, frame in self._frames:
                self._next_index = position + 1
                if position < index and position + self.cache_size < index:
                    continue
                image = self._rgb(frame)
                if position == index:
                    return image
                if position > index:
                    break  # the stream skipped the frame we want; fall through to the error
                image.setflags(write=False)
                self._cache[position] = image
        except (av.error.FFmpegError, OSError, ValueError) as exc:
            self._next_index = None
            raise ClipError(
                f"{self.path}: cannot decode frame {index} ({error_reason(exc)})"
            ) from None
        self._next_index = None
        raise ClipError(f"{self.path}: frame {index} is damaged and cannot be decoded")

    def _decode(self, index: int) -> np.ndarray:
        return self._decode_at(index)

    def iter_frames(
        self, start: int = 0, stop: int | None = None, replaced: list[int] | None = None
    ) -> Iterator[tuple[int, np.ndarray]]:
        """Decode start..stop-1 in order with a container of its own, so the app can keep
        reading this clip while an export runs. A frame that cannot be decoded (damaged data)
        is a ClipError, or, when a `replaced` list is given, the nearest decodable frame before
        it (after it at the start) stands in and its index is appended to the list."""
        import av

        stop = self.info.frame_count if stop is None else stop
        expected, previous = start, None

        def stand_ins(upto: int, image: np.ndarray | None):
            nonlocal expected
            while expected < upto:
                if replaced is None or image is None:
                    raise ClipError(
                        f"{self.path}: frame {expected} is damaged and cannot be decoded"
                    )
                replaced.append(expected)
                yield expected, image
                expected += 1

        container = None
        try:
            container = av.open(str(self.path))
            container.streams.video[0].thread_type = "AUTO"
            frames = self._seek(container, start)
            if frames is None:
                container = self._reopen(container)
                frames = self._positions(container, container.streams.video[0])
            for index, frame in frames:
                if index < expected:
                    continue
                image = self._rgb(frame)
                yield from stand_ins(min(index, stop), previous if previous is not None else image)
                if expected >= stop:
                    return
                yield index, image
                previous, expected = image, index + 1
                if expected >= stop:
                    return
        except (av.error.FFmpegError, OSError, ValueError) as exc:
            raise ClipError(
                f"{self.path}: cannot decode frame {expected} ({error_reason(exc)})"
            ) from None
        finally:
            if container is not None:
                container.close()
        yield from stand_ins(stop, previous)

    def subtitle_stream_count(self) -> int:
        import av

        try:
            with av.open(str(self.path)) as container:
                return len(container.streams.subtitles)
        except (av.error.FFmpegError, OSError, ValueError):
            return 0

    def close(self) -> None:
        super().close()
        self._container.close()


def is_media_error(exc: BaseException) -> bool:
    """An error of the file system or of FFmpeg (a file that cannot be read or written), as
    opposed to a bug."""
    import av

    return isinstance(exc, (OSError, av.error.FFmpegError))


def tolerant_decode(container, stream) -> Iterator:
    """The stream's frames in order, skipping packets the decoder rejects (damaged data) as
    ffmpeg does, so a damaged stretch costs a few frames rather than the rest of the clip.
    A demuxing error (a truncated file) ends the stream there."""
    import av

    try:
        for packet in container.demux(stream):
            try:
                frames = packet.decode()
            except av.error.FFmpegError:
                continue
            yield from frames
    except av.error.FFmpegError:
        return


def open_clip(path: str | Path) -> Clip:
    """Open a video file or a folder of numbered images; ClipError names the file and problem."""
    path = check_input_file(path, ClipError, "a video file or a folder of images", folders=True)
    if path.is_dir():
        return ImageSequenceClip(path)
    if path.suffix.lower() in IMAGE_EXTENSIONS:
        raise ClipError(f"{path}: a single image; open the folder of numbered images instead")
    return VideoClip(path)


class ArrayClip(Clip):
    """Frames already in memory, such as the built-in demo clip."""

    def __init__(self, frames: list[np.ndarray], fps: float, name: str) -> None:
        if not frames:
            raise ClipError(f"{name}: no frames")
        h, w = frames[0].shape[:2]
        self.frames = frames
        super().__init__(
            ClipInfo(Path(name), "memory", w, h, len(frames), fps),
            [i / fps for i in range(len(frames))],
        )

    def _decode(self, index: int) -> np.ndarray:
        return self.frames[index].copy()


def demo_clip() -> ArrayClip:
    """The built-in procedural demo: 24 frames at 24 fps, 320×240."""
    from dsepconv_gui.frames.demo import render_demo_frames

    return ArrayClip(render_demo_frames(24), 24.0, "demo (built in)")
