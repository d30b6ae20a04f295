"""The interpolators a user would pick instead of the network, on the same RGB uint8 pairs:
the frame average, OpenCV DIS optical flow warped halfway (or to any time), and ffmpeg's
minterpolate."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from dsepconv_gui.base.errors import DSepConvError
from dsepconv_gui.flow.prior import dis_flow
from dsepconv_gui.flow.warp import warp
from dsepconv_gui.frames.images import read_image, write_image


def frame_average(frame_a: np.ndarray, frame_b: np.ndarray) -> np.ndarray:
    """The mean of the two frames, rounded."""
    return ((frame_a.astype(np.uint16) + frame_b + 1) // 2).astype(np.uint8)


def frames_blended(frame_a: np.ndarray, frame_b: np.ndarray, time: float) -> np.ndarray:
    """The two frames blended 1 - time and time, rounded (the frame average at 1/2)."""
    if time == 0.5:
        return frame_average(frame_a, frame_b)
    blended = (1 - time) * frame_a.astype(np.float32) + time * frame_b.astype(np.float32)
    return np.clip(blended + 0.5, 0, 255).astype(np.uint8)


def dis_flow_halfway(frame_a: np.ndarray, frame_b: np.ndarray) -> np.ndarray:
    """OpenCV DIS flow (medium preset, finest scale 0, variational refinement) from a to b;
    a warped half a step forward and b half a step back, averaged."""
    return dis_flow_at(frame_a, frame_b, 0.5)


def dis_flow_at(frame_a: np.ndarray, frame_b: np.ndarray, time: float) -> np.ndarray:
    """The frame at `time` (0: a, 1: b) by OpenCV DIS flow from a to b: a warped `time` of
    the way forward and b the rest of the way back, weighed 1 - time and time."""
    dy, dx = dis_flow(frame_a, frame_b)
    warped_a = warp(frame_a, -time * dy, -time * dx).astype(np.float32)
    warped_b = warp(frame_b, (1 - time) * dy, (1 - time) * dx).astype(np.float32)
    return np.clip((1 - time) * warped_a + time * warped_b + 0.5, 0, 255).astype(np.uint8)


def find_ffmpeg() -> str | None:
    """An ffmpeg binary: the one bundled with imageio-ffmpeg, else one on PATH, else None."""
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError):
        return shutil.which("ffmpeg")


# minterpolate refuses frames under 32 pixels on a side (EINVAL; found by trying sizes).
MINTERPOLATE_MIN_SIDE = 32


def ffmpeg_minterpolate(
    frame_a: np.ndarray, frame_b: np.ndarray, ffmpeg: str | None = None
) -> np.ndarray:
    """ffmpeg's motion-compensated interpolation (minterpolate, mi_mode=mci, in yuv444p):
    the frames as a 1 fps clip resampled to 2 fps; the frame at t = 0.5 is the answer.
    minterpolate emits nothing for a two-frame clip, so b is repeated to give it lookahead."""
    ffmpeg = ffmpeg or find_ffmpeg()
    if ffmpeg is None:
        raise DSepConvError("ffmpeg not found (install imageio-ffmpeg or put ffmpeg on PATH)")
    height, width = frame_a.shape[:2]
    if (
        min(height, width) < MINTERPOLATE_MIN_SIDE
    ):  # padded by replicating the border, cropped after
        pad = (
            (0, max(0, MINTERPOLATE_MIN_SIDE - height)),
            (0, max(0, MINTERPOLATE_MIN_SIDE - width)),
            (0, 0),
        )
        padded = [np.pad(frame, pad, mode="edge") for frame in (frame_a, frame_b)]
        return ffmpeg_minterpolate(*padded, ffmpeg)[:height, :width]
    with tempfile.TemporaryDirectory(prefix="dsepconv-minterpolate-") as tmp:
        folder = Path(tmp)
        for index, frame in enumerate((frame_a, frame_b, frame_b, frame_b), start=1):
            write_image(folder / f"in{index}.png", frame)
        command = [
            ffmpeg,
            "-hide_banner",
            "-loglevel",
            "error",
            "-framerate",
            "1",
            "-i",
            str(folder / "in%d.png"),
            "-vf",
            "format=yuv444p,minterpolate=fps=2:mi_mode=mci,format=rgb24",
            "-f",
            "image2",
            str(folder / "out%d.png"),
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=300)
        if done.returncode != 0 or not (folder / "out2.png").exists():
            reason = " | ".join(done.stderr.strip().splitlines())[-300:]
            raise DSepConvError(f"ffmpeg minterpolate failed: {reason}")
        return read_image(folder / "out2.png")
