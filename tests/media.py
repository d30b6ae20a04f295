"""Test clips made with the project's own writer: a textured square moving at a known speed on
a flat background, with a sine tone as audio; helpers to find the square again; noise frames."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

from dsepconv_gui.frames.demo import render_demo_frames
from dsepconv_gui.frames.images import write_image
from dsepconv_gui.video.audio import GeneratedAudio
from dsepconv_gui.video.writer import VideoWriter

WIDTH, HEIGHT, SIDE = 192, 96, 24
START_X, SPEED = 16, 6  # pixels, pixels per frame
BACKGROUND = 40
SAMPLE_RATE = 48000


def square_texture(seed: int = 0) -> np.ndarray:
    """Bright texture (values 140..255) so the square stands out from the background."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(140, 256, size=(SIDE // 4, SIDE // 4, 3), dtype=np.uint8)
    return np.kron(coarse, np.ones((4, 4, 1), dtype=np.uint8))


def square_frame(
    x: int, background: int = BACKGROUND, texture: np.ndarray | None = None
) -> np.ndarray:
    frame = np.full((HEIGHT, WIDTH, 3), background, dtype=np.uint8)
    y = (HEIGHT - SIDE) // 2
    frame[y : y + SIDE, x : x + SIDE] = square_texture() if texture is None else texture
    return frame


def tone(seconds: float, frequency: float = 440.0) -> np.ndarray:
    t = np.arange(int(round(seconds * SAMPLE_RATE))) / SAMPLE_RATE
    return (0.3 * np.sin(2 * np.pi * frequency * t)).astype(np.float32)[None]


def write_square_clip(
    path: Path,
    frames: int = 12,
    rate: Fraction = Fraction(24),
    audio: bool = True,
    cut_at: int | None = None,
    codec: str = "h264",
) -> Path:
    """The moving square; from frame `cut_at` on, a different shot (bright background, the
    square elsewhere) so that a cut lies between cut_at - 1 and cut_at."""
    track = GeneratedAudio(tone(frames / rate), SAMPLE_RATE) if audio else None
    with VideoWriter(path, rate, codec=codec, crf=0, audio=track) as writer:
        for i in range(frames):
            if cut_at is not None and i >= cut_at:
                writer.write(
                    square_frame(
                        WIDTH - SIDE - 8 - 2 * (i - cut_at),
                        background=210,
                        texture=255 - square_texture(1),
                    )
                )
            else:
                writer.write(square_frame(START_X + SPEED * i))
    return path


def square_x(frame: np.ndarray) -> float:
    """The square's left edge, from the centroid of the pixels far from the background."""
    mask = np.abs(frame.astype(np.int16) - BACKGROUND).max(axis=2) > 50
    columns = np.flatnonzero(mask.any(axis=0))
    if len(columns) == 0:
        return float("nan")
    weights = mask.sum(axis=0).astype(np.float64)
    return float((weights * np.arange(frame.shape[1])).sum() / weights.sum()) - (SIDE - 1) / 2


def decode(path: Path) -> tuple[list[np.ndarray], list[float], dict]:
    """Every video frame (RGB), its time in seconds, and facts about the file's streams."""
    import av

    with av.open(str(path)) as container:
        video = container.streams.video[0]
        facts = {
            "rate": video.average_rate,
            "time_base": video.time_base,
            "audio_streams": len(container.streams.audio),
            "container_duration": container.duration / 1e6 if container.duration else None,
        }
        frames, times = [], []
        for frame in container.decode(video):
            frames.append(frame.to_ndarray(format="rgb24"))
            times.append(float(frame.pts * frame.time_base))
    if facts["audio_streams"]:
        with av.open(str(path)) as container:
            audio = container.streams.audio[0]
            samples = sum(f.samples for f in container.decode(audio))
            facts["audio_seconds"] = samples / audio.codec_context.sample_rate
            facts["audio_codec"] = audio.codec_context.name
    return frames, times, facts


def write_flat_clip_with_audio(
    path: Path, audio_codec: str, samples: np.ndarray, sample_format: str, chunk: int, garble=None
) -> Path:
    """12 flat FFV1 frames (64×48 at 24 fps) in Matroska and `samples` (1, n) as a mono
    48 kHz audio stream encoded with `audio_codec` in frames of `chunk` samples. `garble`,
    if given, maps each audio packet to the packet muxed instead (a damaged stream)."""
    import av

    with av.open(str(path), "w") as container:
        video = container.add_stream("ffv1", rate=24)
        video.width, video.height, video.pix_fmt = 64, 48, "bgr0"
        audio = container.add_stream(audio_codec, rate=48000, layout="mono")
        for i in range(12):
            frame = av.VideoFrame.from_ndarray(
                np.full((48, 64, 3), 20 * i, np.uint8), format="rgb24"
            )
            frame.pts = i
            for packet in video.encode(frame):
                container.mux(packet)
        for start in range(0, samples.shape[1], chunk):
            piece = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(samples[:, start : start + chunk]),
                format=sample_format,
                layout="mono",
            )
            piece.sample_rate, piece.pts = 48000, start
            for packet in audio.encode(piece):
                container.mux(garble(packet) if garble else packet)
        for stream in (video, audio):
            for packet in stream.encode(None):
                container.mux(garble(packet) if garble and stream is audio else packet)
    return path


def write_shapes_clip(path: Path, frames: int, height: int, width: int) -> Path:
    """A short 24 fps video of the demo's moving shapes, written with the project's writer."""
    from dsepconv_gui.frames.demo import render_demo_frames

    with VideoWriter(path, 24) as writer:
        for frame in render_demo_frames(frames, height=height, width=width):
            writer.write(frame)
    return path


def write_noise_pair(folder: Path, height: int, width: int, seed: int = 0) -> tuple[Path, Path]:
    """Two frames of random pixels, folder/a.png then folder/b.png, drawn from one generator."""
    rng = np.random.default_rng(seed)
    paths = folder / "a.png", folder / "b.png"
    for path in paths:
        write_image(path, rng.integers(0, 256, (height, width, 3), dtype=np.uint8))
    return paths


def write_frame_folder(folder: Path, frames) -> Path:
    """The frames as a new folder of numbered PNG images (a clip to open, a training source)."""
    folder.mkdir()
    for index, frame in enumerate(frames):
        write_image(folder / f"{index:04d}.png", frame)
    return folder


def demo_frame_folder(folder: Path, frames: int) -> Path:
    """A folder of `frames` numbered PNGs of the moving demo scene, 128×96."""
    return write_frame_folder(folder, render_demo_frames(frames, height=96, width=128))
