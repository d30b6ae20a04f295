"""Writing frames to a video file with PyAV, atomically: frames go to a temporary file in the
destination folder, renamed over the destination only when the video is complete."""

from __future__ import annotations

import os
import tempfile
from fractions import Fraction
from pathlib import Path

import numpy as np

from .file_modes import default_file_mode
from .errors import InputError


class VideoWriter:
    """`with VideoWriter(path, fps) as w: w.write(frame)`; frames are RGB uint8 (H, W, 3).

    H.264 in yuv420p needs even sides: odd frames are padded by one edge pixel.
    """

    def __init__(self, path: str | os.PathLike, fps: float | Fraction, codec: str = "libx264", crf: int = 18) -> None:
        import av

        self.path = Path(path)
        if not self.path.parent.is_dir():
            raise InputError(f"{self.path.parent}: destination folder does not exist")
        self.rate = Fraction(fps).limit_denominator(1001) if not isinstance(fps, Fraction) else fps
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.stem}.", suffix=self.path.suffix or ".mp4", dir=self.path.parent)
        os.close(fd)
        self._tmp = Path(tmp)
        self._container = av.open(str(self._tmp), mode="w")
        self._stream = self._container.add_stream(codec, rate=self.rate)
        self._stream.pix_fmt = "yuv420p" if codec in ("libx264", "libx265", "mpeg4") else self._stream.pix_fmt
        if codec in ("libx264", "libx265"):
            self._stream.options = {"crf": str(crf)}
        self._size: tuple[int, int] | None = None
        self.frames_written = 0

    def write(self, frame: np.ndarray) -> None:
        import av

        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise InputError(f"{self.path}: frames must be RGB uint8 (H, W, 3), got {frame.dtype} {frame.shape}")
        if self._size is None:
            h, w = frame.shape[:2]
            self._size = (h, w)
            self._stream.height, self._stream.width = h + h % 2, w + w % 2
        elif frame.shape[:2] != self._size:
            raise InputError(f"{self.path}: frame {self.frames_written} is {frame.shape[1]}×{frame.shape[0]}, "
                             f"the first was {self._size[1]}×{self._size[0]}")
        h, w = frame.shape[:2]
        if h % 2 or w % 2:
            frame = np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
        video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
        for packet in self._stream.encode(video_frame):
            self._container.mux(packet)
        self.frames_written += 1

    def close(self) -> Path:
        """Flush the encoder and move the finished file into place."""
        for packet in self._stream.encode(None):
            self._container.mux(packet)
        self._container.close()
        os.chmod(self._tmp, default_file_mode())  # mkstemp makes 0600 files
        os.replace(self._tmp, self.path)
        return self.path

    def abort(self) -> None:
        """Drop the partial file; whatever was at the destination stays untouched."""
        try:
            self._container.close()
        except Exception:  # noqa: BLE001 - the file is removed anyway
            pass
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
