"""Audio for a video being written: copied from the input clip (re-encoded to AAC only when
the container cannot hold its codec), or generated samples (test clips). The writer calls
`feed(until)` as its video advances, so audio and video packets stay interleaved.

A damaged audio stream never stops the video: packets the decoder rejects, and frames it
decodes with another rate or layout than the stream's (a damaged header), are skipped (silent
there); a stream that cannot be read further stops the track; `warning` says which.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

# Codecs a container can hold as they are (what players expect there); others become AAC.
COPYABLE_CODECS = {
    ".mp4": {"aac", "mp3", "alac", "ac3", "eac3", "opus", "flac"},
    ".m4v": {"aac", "mp3", "alac", "ac3", "eac3"},
    ".mov": {"aac", "mp3", "alac", "ac3", "eac3", "pcm_s16le", "pcm_s24le", "pcm_f32le"},
    ".mkv": None,  # anything FFmpeg can put in Matroska
}
AAC_BITRATE = 192_000
PROBE_DAMAGED_PACKETS = 32  # rejected packets before any decodes: the stream is unreadable


class AudioTrack:
    """Base: `attach(container)` before the first video frame, then `feed(seconds)` and
    finally `finish()`. `description` says what was done; `warning` what went wrong."""

    description = "none"
    warning: str | None = None

    def attach(self, container, suffix: str) -> None:
        raise NotImplementedError

    def feed(self, until: float) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        self.feed(float("inf"))

    def _fail(self, message: str) -> None:
        self.warning = message
        self.feed = lambda until: None  # type: ignore[method-assign]


class GeneratedAudio(AudioTrack):
    """Samples (channels, n) float32 in [-1, 1] at sample_rate, encoded as AAC."""

    def __init__(self, samples: np.ndarray, sample_rate: int) -> None:
        self.samples = np.ascontiguousarray(np.atleast_2d(samples), dtype=np.float32)
        self.sample_rate = sample_rate
        self.description = "generated, AAC"
        self._done = 0

    def attach(self, container, suffix: str) -> None:
        layout = "mono" if self.samples.shape[0] == 1 else "stereo"
        self._stream = container.add_stream("aac", rate=self.sample_rate, layout=layout)
        self._stream.bit_rate = AAC_BITRATE
        self._container = container
        self._encoder = _FrameEncoder(container, self._stream)

    def feed(self, until: float) -> None:
        import av

        end = (
            self.samples.shape[1]
            if until == float("inf")
            else min(self.samples.shape[1], int(until * self.sample_rate))
        )
        while self._done < end:
            chunk = self.samples[:, self._done : min(end, self._done + 1024)]
            frame = av.AudioFrame.from_ndarray(
                chunk, format="fltp", layout=self._stream.layout.name
            )
            frame.sample_rate = self.sample_rate
            self._encoder.encode(frame)
            self._done += chunk.shape[1]

    def finish(self) -> None:
        self.feed(float("inf"))
        self._encoder.flush()


class CopiedAudio(AudioTrack):
    """Audio stream `number` (0: the first) of `source` between `start` and `end` seconds (on
    the source's clock, the same as the video's), shifted to start at zero."""

    def __init__(self, source: Path, start: float, end: float, number: int = 0) -> None:
        self.source, self.start, self.end, self.number = Path(source), start, end, number
        self._packets = iter(())
        self._in = None
        self._damaged = 0  # packets (or frames) the decoder rejected: skipped, silent there

    @staticmethod
    def count(source: Path) -> int:
        """How many audio streams the source has (0 when it cannot be opened)."""
        import av

        try:
            with av.open(str(source)) as container:
                return len(container.streams.audio)
        except (av.error.FFmpegError, OSError, ValueError):
            return 0

    @staticmethod
    def probe(source: Path, number: int = 0) -> str | None:
        """None when the source's audio stream `number` is readable, else why not. A few
        damaged packets at its start (skipped when copying) do not make it unreadable as long
        as two frames decode."""
        import av

        rejected: Exception | None = None
        try:
            with av.open(str(source)) as container:
                if len(container.streams.audio) <= number:
                    return "the input has no audio stream"
                stream = container.streams.audio[number]
                decoded = failed = 0
                for packet in container.demux(stream):
                    try:
                        decoded += len(packet.decode())
                    except av.error.FFmpegError as exc:
                        rejected, failed = exc, failed + 1
                        if failed < PROBE_DAMAGED_PACKETS:
                            continue
                        raise
                    if decoded >= 2:
                        return None
                if rejected is not None:  # a frame or none among damaged packets: noise, not sound
                    raise rejected
                return None if decoded else "the input's audio stream holds no decodable audio"
        except (av.error.FFmpegError, OSError, ValueError) as exc:
            return f"the input's audio stream cannot be decoded ({exc})"

    def attach(self, container, suffix: str) -> None:
        import av

        self._container = container
        self._in = av.open(str(self.source))
        in_stream = self._in.streams.audio[self.number]
        self._in_stream = in_stream
        codec = in_stream.codec_context.codec.canonical_name
        allowed = COPYABLE_CODECS.get(suffix.lower(), set())
        copy = (allowed is None and codec in container.supported_codecs) or (
            allowed is not None and codec in allowed
        )
        self._copy = copy
        if copy:
            self._stream = container.add_stream_from_template(in_stream)
            self.description = f"copied ({codec})"
        else:
            rate = in_stream.codec_context.sample_rate or 48000
            layout = "mono" if in_stream.codec_context.channels == 1 else "stereo"
            self._stream = container.add_stream("aac", rate=rate, layout=layout)
            self._stream.bit_rate = AAC_BITRATE
            self._resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
            self._encoder = _FrameEncoder(container, self._stream)
            self.description = f"re-encoded {codec} to AAC"
        self._packets = self._in.demux(in_stream)
        self._pending = None

    def feed(self, until: float) -> None:
        import av

        if self._in is None:
            return
        base = self._in_stream.time_base
        offset = Fraction(self.start).limit_denominator(1_000_000)
        try:
            while True:
                packet = self._pending or next(self._packets, None)
                self._pending = None
                if packet is None:
                    break
                if packet.pts is None or not packet.size:
                    continue
                time = packet.pts * base
                if time >= self.end:
                    break
                if time - offset > until:
                    self._pending = packet  # not due yet
                    return
                if time < offset:
                    continue
                if self._copy:
                    shift = int(round(offset / base))
                    packet.pts -= shift
                    if packet.dts is not None:
                        packet.dts -= shift
                    packet.stream = self._stream
                    self._container.mux(packet)
                else:
                    try:
                        frames = packet.decode()
                    except av.error.FFmpegError:
                        self._damaged += 1  # as ffmpeg does: skip it, the gap stays silent
                        continue
                    # the sound stays where it was relative to the first video frame: a first
                    # packet after the start, or a gap of damaged packets, stays silent
                    due = round((time - offset) * self._stream.rate)
                    if due > self._encoder.samples + self._stream.rate // 100:
                        self._encoder.silence(due - self._encoder.samples, self._stream.layout.name)
                    for frame in frames:
                        try:
                            resampled = self._resampler.resample(frame)
                        except (
                            ValueError
                        ):  # another rate or layout than the stream's: a damaged header
                            self._damaged += 1
                            continue
                        for piece in resampled:
                            self._encoder.encode(piece)
        except (av.error.FFmpegError, ValueError) as exc:
            self._fail(
                f"audio stopped early: the input's audio stream cannot be read further ({exc})"
            )

    def finish(self) -> None:
        import av

        try:
            self.feed(float("inf"))
            if not self._copy and self._in is not None:
                for resampled in self._resampler.resample(None):
                    self._encoder.encode(resampled)
                self._encoder.flush()
        except (av.error.FFmpegError, ValueError) as exc:
            self.warning = self.warning or f"audio could not be finished ({exc})"
        finally:
            self.close()
        if self._damaged and not self.warning:
            self.warning = (
                f"{self._damaged} damaged audio packet(s) of the input could not be decoded: "
                "silent there, the rest stays in sync"
            )

    def close(self) -> None:
        if self._in is not None:
            self._in.close()
            self._in = None


class AudioTracks(AudioTrack):
    """Several tracks written side by side (every audio stream of the input), in their order."""

    def __init__(self, tracks: list[AudioTrack]) -> None:
        self.tracks = tracks

    @property
    def description(self) -> str:  # type: ignore[override]
        return f"{len(self.tracks)} tracks: " + "; ".join(t.description for t in self.tracks)

    @property
    def warning(self) -> str | None:  # type: ignore[override]
        warnings = [f"track {i + 1}: {t.warning}" for i, t in enumerate(self.tracks) if t.warning]
        return "; ".join(warnings) or None

    def attach(self, container, suffix: str) -> None:
        for track in self.tracks:
            track.attach(container, suffix)

    def feed(self, until: float) -> None:
        for track in self.tracks:
            track.feed(until)

    def finish(self) -> None:
        for track in self.tracks:
            track.finish()

    def close(self) -> None:
        for track in self.tracks:
            close = getattr(track, "close", None)
            if close is not None:
                close()


class _FrameEncoder:
    """Encodes audio frames with consecutive sample timestamps and muxes the packets."""

    def __init__(self, container, stream) -> None:
        self.container, self.stream = container, stream
        self.samples = 0

    def encode(self, frame) -> None:
        frame.pts = self.samples
        frame.time_base = Fraction(1, frame.sample_rate)
        self.samples += frame.samples
        for packet in self.stream.encode(frame):
            self.container.mux(packet)

    def silence(self, count: int, layout: str) -> None:
        import av

        channels = len(av.AudioLayout(layout).channels)  # 5.1 has six, not two
        frame = av.AudioFrame.from_ndarray(
            np.zeros((channels, count), np.float32), format="fltp", layout=layout
        )
        frame.sample_rate = self.stream.rate
        self.encode(frame)

    def flush(self) -> None:
        for packet in self.stream.encode(None):
            self.container.mux(packet)
