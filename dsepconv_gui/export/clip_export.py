"""Exporting an interpolated clip: ×2/×4/×8 or retimed to an exact frame rate, never blending
across a shot cut, audio copied in sync, streamed decode → interpolate → encode through
bounded queues, written atomically (see video/writer.py).

No Qt here: the command line and the app's export dialog both call `export_clip`.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from dsepconv_gui.base.errors import DSepConvError, InputError, error_reason
from dsepconv_gui.export.overrides import (
    FALLBACKS,
    Override,
    check_overrides,
    fallback_for,
    fallback_frame,
)
from dsepconv_gui.export.plan import (
    ExportPlan,
    OutputFrame,
    factor_plan,
    rate_plan,
    slow_motion_plan,
)
from dsepconv_gui.frames.images import check_frame_size
from dsepconv_gui.frames.scene_cuts import DEFAULT_CUT_THRESHOLD, thumbnail_difference
from dsepconv_gui.interpolation.bisection import Midpoint, frame_at, takes_time
from dsepconv_gui.video.audio import AudioTracks, CopiedAudio
from dsepconv_gui.video.clips import ALPHA_NOTE, Clip, is_media_error
from dsepconv_gui.video.streaming import ReadAhead, WriteBehind
from dsepconv_gui.video.writer import (
    check_destination,
    codec_for,
    estimated_size,
    open_writer,
    size_warning,
)

DEFAULT_DEPTH = 3  # --fps: timesteps in eighths, at most 1/16 of a frame interval off


class ExportError(DSepConvError):
    """The export could not be written; nothing was left at the destination."""


@dataclass(frozen=True)
class ExportSettings:
    output: Path
    factor: int | None = None  # 2, 4, 8...; or
    fps: Fraction | None = None  # an exact output rate
    start: int = 0  # first input frame
    end: int | None = None  # last input frame (inclusive); None: the clip's last
    codec: str = "h264"
    crf: int = 18
    audio: bool = True
    scene_threshold: float = DEFAULT_CUT_THRESHOLD
    depth: int = DEFAULT_DEPTH
    # each in-between frame in one pass at its exact time (a model that takes the time, see
    # Interpolator.takes_time), instead of by bisection to `depth`
    exact_times: bool = False
    keep_duration: bool = False  # --factor: repeat the last frame so the duration is kept
    # --factor: play the frames at the input's rate, factor × longer (without audio)
    slow_motion: bool = False
    overwrite: bool = False
    # ranges where the in-between frames repeat or blend instead (export/overrides.py)
    overrides: tuple[Override, ...] = ()


@dataclass(frozen=True)
class ExportProgress:
    done: int
    total: int
    elapsed: float

    @property
    def fps(self) -> float:
        return self.done / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def eta(self) -> float:
        return (self.total - self.done) / self.fps if self.fps > 0 else float("inf")


@dataclass(frozen=True)
class ExportSummary:
    output: Path
    frames_written: int
    input_frames: int
    interpolated: int
    rate: Fraction
    duration: float  # of the output video, seconds
    input_duration: float
    cuts: list[int]  # input frame k where a cut lies between k and k + 1
    max_timing_error: float  # seconds
    seconds: float
    audio: str
    warnings: list[str] = field(default_factory=list)
    overridden: dict[str, int] = field(default_factory=dict)  # fallback: frames it made

    def describe(self) -> str:
        lines = [
            f"{self.output}: {self.frames_written} frames ({self.interpolated} interpolated) "
            f"from {self.input_frames} input frames, {_rate_text(self.rate)} fps, "
            f"{self.duration:.3f} s (input {self.input_duration:.3f} s)",
            f"scene cuts: {len(self.cuts)}"
            + (
                f" (after input frames {', '.join(map(str, self.cuts[:10]))}"
                f"{', ...' if len(self.cuts) > 10 else ''})"
                if self.cuts
                else ""
            ),
            f"largest timing error: {self.max_timing_error * 1000:.2f} ms",
            *(
                f"override: {count} in-between frames {FALLBACKS[fallback]} instead"
                for fallback, count in self.overridden.items()
            ),
            f"audio: {self.audio}",
            f"time: {self.seconds:.1f} s "
            f"({self.frames_written / max(self.seconds, 1e-9):.1f} frames/s)",
        ]
        return "\n".join(lines + [f"warning: {w}" for w in self.warnings])


def export_clip(
    clip: Clip,
    settings: ExportSettings,
    midpoint: Midpoint,
    progress: Callable[[ExportProgress], None] | None = None,
) -> ExportSummary:
    """Write the interpolated clip to settings.output and return what was done.

    `midpoint(a, b)` makes the frame halfway between two RGB uint8 frames; with
    settings.exact_times, `midpoint.at_time(a, b, t)` makes the frame at t. `progress` is
    called after every output frame; raising from it (cancel, Ctrl-C) stops the export and
    removes the partial output, like any error. A user's mistake raises InputError before
    anything is written; a failure while writing raises ExportError.
    """
    started = time.monotonic()
    if settings.exact_times and not takes_time(midpoint):
        raise InputError(
            "this model makes middle frames only: exact times need a model that takes the time"
        )
    first, last, plan = prepare_export(clip, settings)
    codec, output = codec_for(settings.codec), Path(settings.output)

    warnings = _picture_warnings(clip, codec)
    audio = None
    audio_text = "none"
    if settings.audio:
        audio, audio_text = _audio_for(clip, settings, codec, first, last, warnings)

    try:
        writer = open_writer(
            output, plan.rate, codec.name, settings.crf, audio, variable_rate=plan.timed
        )
    except (OSError, ValueError) as exc:
        raise ExportError(f"{output}: cannot start writing ({exc})") from None
    replaced: list[int] = []
    cuts: list[int] = []
    overridden: dict[str, int] = {}
    reader = sink = None
    try:  # from here on, anything (a signal too) removes the partial output
        reader = ReadAhead(clip.iter_frames(first, last + 1, replaced=replaced), size=4)
        # a timed plan (variable-rate input) gives each frame its time; otherwise frame m is at
        # m / rate
        sink = WriteBehind(
            (lambda item: writer.write(*item)) if plan.timed else writer.write, size=8
        )
        _produce(
            plan,
            reader,
            first,
            sink,
            midpoint,
            settings.scene_threshold,
            cuts,
            progress,
            started,
            settings.overrides,
            overridden,
            settings.exact_times,
        )
        sink.finish()
        writer.close()
    except BaseException as exc:
        if reader is not None:
            reader.close()
        if sink is not None:
            sink.abandon()
        writer.abort()
        if is_media_error(exc):
            raise ExportError(
                f"{output}: writing failed ({error_reason(exc)}); the partial file was removed"
            ) from None
        raise
    reader.close()
    if audio is not None and audio.warning:
        warnings.append(audio.warning)
    if replaced:
        shown = ", ".join(map(str, replaced[:10])) + (", ..." if len(replaced) > 10 else "")
        warnings.append(
            f"{len(replaced)} damaged input frame(s) could not be decoded and were replaced by "
            f"their neighbour: {shown}"
        )
    return ExportSummary(
        output=output,
        frames_written=len(plan.frames),
        input_frames=last - first + 1,
        interpolated=plan.interpolated_count
        - _blended_at_cuts(plan, cuts, first)
        - sum(overridden.values()),
        rate=plan.rate,
        duration=plan.output_duration,
        input_duration=plan.input_duration,
        cuts=cuts,
        max_timing_error=plan.max_timing_error,
        seconds=time.monotonic() - started,
        audio=audio.description if audio is not None else audio_text,
        warnings=warnings,
        overridden=overridden,
    )


def prepare_export(clip: Clip, settings: ExportSettings) -> tuple[int, int, ExportPlan]:
    """Check everything a user can get wrong before any work (destination, range, rate, free
    space): the first and last input frames and the plan, or InputError."""
    codec = codec_for(settings.codec)
    output = Path(settings.output)
    inputs = [clip.info.path] if clip.info.kind in ("video", "images") else []
    check_destination(output, codec, settings.overwrite, inputs)
    first, last = _checked_range(clip, settings)
    check_frame_size(clip.info.width, clip.info.height, f"{clip.info.path}: frames")
    check_overrides(settings.overrides, first, last)
    plan = make_plan(clip, settings, first, last)
    _check_free_space(output, codec, clip, len(plan.frames))
    return first, last, plan


def make_plan(clip: Clip, settings: ExportSettings, first: int, last: int) -> ExportPlan:
    """The output frames for the clip's frames first..last (see export/plan.py)."""
    if (settings.factor is None) == (settings.fps is None):
        raise InputError("give either a factor (×2, ×4, ×8) or a target frame rate, not both")
    count = last - first + 1
    timestamps = clip.timestamps[first : last + 1]
    if settings.slow_motion:
        if settings.factor is None:
            raise InputError("slow motion needs a factor (×2, ×4, ×8)")
        return slow_motion_plan(count, clip.info.rate, settings.factor, settings.keep_duration)
    if settings.factor is not None:
        return factor_plan(
            count, clip.info.rate, settings.factor, settings.keep_duration, timestamps
        )
    return rate_plan(
        timestamps,
        float(1 / clip.info.rate),
        Fraction(settings.fps),
        settings.depth,
        settings.exact_times,
    )


def _produce(
    plan,
    reader,
    first,
    sink,
    midpoint,
    threshold,
    cuts,
    progress,
    started,
    overrides,
    overridden,
    exact_times=False,
) -> None:
    """Walk the plan as input frames arrive, keeping only the current pair of frames and the
    midpoints made between them (or, with exact_times, making each frame at its time).
    overridden counts the frames each override's fallback made."""
    pending = iter(plan.frames)
    entry: OutputFrame | None = next(pending, None)
    previous = current = None
    pair_cut = False
    made: dict[Fraction, np.ndarray] = {}
    done = 0
    prefetch = getattr(midpoint, "prefetch", None)  # an Interpolator computes flows ahead
    for (index, frame), following in _with_next(reader):
        if prefetch is not None and following is not None:
            prefetch(frame, following[1])
        relative = index - first
        previous, current = current, frame
        made = {}
        pair_cut = False
        if previous is not None and thumbnail_difference(previous, current) > threshold:
            pair_cut = True
            cuts.append(index - 1)
        while entry is not None and entry.needs <= relative:
            if entry.is_copy:
                out = current if entry.first == relative else previous
            elif pair_cut:  # never blend two shots: show the nearer frame
                out = previous if entry.position <= Fraction(1, 2) else current
            elif fallback := fallback_for(overrides, entry.first + first):
                out = fallback_frame(fallback, entry.position, previous, current)
                overridden[fallback] = overridden.get(fallback, 0) + 1
            elif exact_times:
                out = midpoint.at_time(previous, current, float(entry.position))
            else:
                out = frame_at(entry.position, previous, current, midpoint, made)
            sink.put((out, entry.time) if plan.timed else out)
            done += 1
            if progress is not None:
                progress(ExportProgress(done, len(plan.frames), time.monotonic() - started))
            entry = next(pending, None)
    if entry is not None:
        raise ExportError(f"the clip ended before frame {entry.needs + first}; nothing was written")


def _with_next(items):
    """(item, the item after it or None) for each item, reading one ahead."""
    iterator = iter(items)
    current = next(iterator, None)
    while current is not None:
        following = next(iterator, None)
        yield current, following
        current = following


def _blended_at_cuts(plan: ExportPlan, cuts: list[int], first: int) -> int:
    """How many planned in-between frames became copies because they fell on a cut."""
    cut_pairs = {c - first for c in cuts}
    return sum(1 for f in plan.frames if not f.is_copy and f.first in cut_pairs)


def _checked_range(clip: Clip, settings: ExportSettings) -> tuple[int, int]:
    count = len(clip)
    first = settings.start
    last = count - 1 if settings.end is None else settings.end
    if not 0 <= first < count or not first <= last < count:
        raise InputError(f"frame range {first}:{last} is outside the clip's frames 0:{count - 1}")
    return first, last


def _check_free_space(output: Path, codec, clip: Clip, frames: int) -> None:
    free = shutil.disk_usage(output.parent).free
    needed = estimated_size(codec, clip.info.width, clip.info.height, frames)
    if needed > free:
        raise InputError(
            f"{output.parent}: not enough free disk space: "
            f"the export needs at least {size_text(needed)} "
            f"({frames} frames, {codec.name}), {size_text(free)} free"
        )


def _picture_warnings(clip: Clip, codec) -> list[str]:
    """What of the input's picture and streams the output does not keep as it was."""
    warnings = []
    if clip.alpha_dropped:
        warnings.append(ALPHA_NOTE)
    size = size_warning(codec, clip.info.width, clip.info.height)
    if size:
        warnings.append(size)
    subtitles = clip.subtitle_stream_count()
    if subtitles:
        warnings.append(
            f"{subtitles} subtitle stream(s) of the input not copied "
            "(only video and audio are exported)"
        )
    return warnings


def size_text(size: int) -> str:
    """A byte count for people: 950 bytes, 12.3 kB, 4.57 MB, 1.20 GB (three figures, SI units)."""
    if size < 1000:
        return f"{size} byte{'s' if size != 1 else ''}"
    for unit in ("kB", "MB", "GB", "TB"):
        size /= 1000
        if size < 999.5 or unit == "TB":
            return f"{size:.{2 if size < 9.995 else 1 if size < 99.95 else 0}f} {unit}"


def _audio_for(
    clip: Clip, settings: ExportSettings, codec, first: int, last: int, warnings: list[str]
):
    """The audio to write (or None: every audio stream of the input that can be read, in
    order) and how to describe it."""
    if clip.info.kind != "video":
        return None, "none (the input is not a video file)"
    if settings.slow_motion:
        warnings.append(
            f"exported without audio: slow motion lasts {settings.factor}× as long as the sound"
        )
        return None, "none (slow motion)"
    count = max(CopiedAudio.count(clip.info.path), 1)
    reasons = {number: CopiedAudio.probe(clip.info.path, number) for number in range(count)}
    readable = [number for number, reason in reasons.items() if reason is None]
    if not readable:
        warnings.append(f"exported without audio: {reasons[0]}")
        return None, "none"
    if not codec.suffixes:
        tracks = f" ({len(readable)} tracks)" if len(readable) > 1 else ""
        warnings.append(f"exported without audio{tracks}: a PNG sequence cannot hold audio")
        return None, "none"
    for number, reason in reasons.items():
        if reason is not None:
            warnings.append(f"audio track {number + 1} not copied: {reason}")
    start = clip.time_origin + clip.timestamps[first]
    end = clip.time_origin + clip.timestamps[last] + float(1 / clip.info.rate)
    copied = [CopiedAudio(clip.info.path, start, end, number) for number in readable]
    track = copied[0] if len(copied) == 1 else AudioTracks(copied)
    return track, track.description


def _rate_text(rate: Fraction) -> str:
    return (
        str(rate.numerator)
        if rate.denominator == 1
        else f"{rate.numerator}/{rate.denominator} (≈{float(rate):.3f})"
    )
