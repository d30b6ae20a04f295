"""Which frames an export writes, and when: a list of output frames, each a copy of an input
frame or a point between two consecutive input frames: at a dyadic timestep for a midpoint
model (DSepConv makes midpoints only, so other timesteps are reached by repeated bisection),
or at the exact time for a model that takes the time (config.time_input).

Pure arithmetic on timestamps, no frames: the export streams frames through this plan.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, replace
from fractions import Fraction

from dsepconv_gui.base.errors import InputError

MAX_DEPTH = 8  # 2^8 = 256 subdivisions between two input frames
# An exact-time output frame this close (seconds) to an input frame copies it: timestamps made
# relative to a range's first frame carry float noise (0.9999999999999996 of an interval).
ON_INPUT_FRAME = 1e-6
REGULAR_TOLERANCE = 0.001  # seconds: MP4 and Matroska clocks often count whole milliseconds


@dataclass(frozen=True)
class OutputFrame:
    """Output frame `index` at `time` seconds (from the first exported input frame).

    It is the point `position` of the way from input frame `first` to `first + 1`:
    position 0 copies `first`; otherwise 0 < position < 1 is a dyadic fraction (k / 2^d) for
    bisection, or the exact fraction of an exact-time plan (rate_plan's `exact`).
    `error` is how far (seconds) the frame made is from the exact time wanted.
    """

    index: int
    time: float
    first: int
    position: Fraction
    error: float = 0.0

    @property
    def is_copy(self) -> bool:
        return self.position == 0

    @property
    def needs(self) -> int:
        """The last input frame this output frame needs."""
        return self.first if self.is_copy else self.first + 1


@dataclass(frozen=True)
class ExportPlan:
    frames: list[OutputFrame]
    rate: Fraction  # output frames per second, exact (the nominal rate when `timed`)
    input_duration: float  # seconds, from the first exported frame to the end of the last
    # frames are written at their own `time` (variable rate), not at index / rate
    timed: bool = False
    end: float | None = None  # timed: when the last frame stops showing (seconds)

    @property
    def output_duration(self) -> float:
        if self.timed and self.end is not None:
            return self.end
        return float(len(self.frames) / self.rate)

    @property
    def max_timing_error(self) -> float:
        return max((f.error for f in self.frames), default=0.0)

    @property
    def interpolated_count(self) -> int:
        return sum(not f.is_copy for f in self.frames)


def check_depth(depth: int) -> int:
    if not 1 <= depth <= MAX_DEPTH:
        raise InputError(f"bisection depth must be 1..{MAX_DEPTH}, got {depth}")
    return depth


def factor_plan(
    input_count: int,
    rate: Fraction,
    factor: int,
    keep_duration: bool = False,
    timestamps: list[float] | None = None,
) -> ExportPlan:
    """×factor slow motion: between every two input frames factor - 1 new frames at t = j/factor,
    giving (N - 1) · factor + 1 frames at factor × the input rate; with keep_duration the last
    frame is repeated factor - 1 times so the output lasts as long as the input (N · factor).

    `timestamps` (seconds, one per input frame) are the input's own times. When they keep to
    the regular grid i / rate (within half an output frame, or the 1 ms of common containers'
    clocks), the output is at exactly factor × rate, frame m at m / (factor · rate). Otherwise
    (a variable frame rate, dropped frames) the plan is `timed`: the frames between input
    frames k and k + 1 are at t_k + j/factor · (t_k+1 - t_k), so the output lasts as long as the
    input's timestamps say and its audio stays in sync. The last input frame shows for 1 / rate."""
    if factor < 2 or factor & (factor - 1):
        raise InputError(f"factor must be a power of two (2, 4, 8, ...), got {factor}")
    if input_count < 1:
        raise InputError("nothing to export: the range holds no frames")
    out_rate = rate * factor
    times = _relative(timestamps) if timestamps is not None else None
    if times is not None and len(times) != input_count:
        raise ValueError(f"{len(times)} timestamps for {input_count} input frames")
    last_duration = float(1 / rate)
    if times is None or _on_grid(times, rate, max(float(1 / out_rate) / 2, REGULAR_TOLERANCE)):
        frames = []
        for first in range(input_count - 1):
            for j in range(factor):
                frames.append(
                    OutputFrame(
                        len(frames), float(len(frames) / out_rate), first, Fraction(j, factor)
                    )
                )
        repeats = factor if keep_duration else 1
        for _ in range(repeats):
            frames.append(
                OutputFrame(
                    len(frames), float(len(frames) / out_rate), input_count - 1, Fraction(0)
                )
            )
        return ExportPlan(frames, out_rate, float(input_count / rate))
    frames = []
    spans = [b - a for a, b in zip(times, times[1:], strict=False)] + [last_duration]
    for first, (start, span) in enumerate(zip(times, spans, strict=True)):
        last = first == input_count - 1
        for j in range(factor if not last or keep_duration else 1):
            position = Fraction(0) if last else Fraction(j, factor)
            frames.append(OutputFrame(len(frames), start + j / factor * span, first, position))
    end = times[-1] + (last_duration if keep_duration else last_duration / factor)
    return ExportPlan(frames, out_rate, times[-1] + last_duration, timed=True, end=end)


def slow_motion_plan(
    input_count: int, rate: Fraction, factor: int, keep_duration: bool = False
) -> ExportPlan:
    """×factor slow motion: the frames of factor_plan, played at the input's own rate, so the
    output lasts factor × as long as the input (its audio cannot follow)."""
    plan = factor_plan(input_count, rate, factor, keep_duration)
    frames = [replace(frame, time=float(frame.index / rate)) for frame in plan.frames]
    return ExportPlan(frames, rate, plan.input_duration)


def _relative(timestamps: list[float]) -> list[float]:
    """Times from the first, checked to increase."""
    if not timestamps:
        raise InputError("nothing to export: the range holds no frames")
    times = [t - timestamps[0] for t in timestamps]
    if any(b <= a for a, b in zip(times, times[1:], strict=False)):
        raise InputError("input timestamps are not increasing; cannot retime this clip")
    return times


def _on_grid(times: list[float], rate: Fraction, tolerance: float) -> bool:
    """Whether every time is within `tolerance` of its place i / rate on a regular grid."""
    step = float(1 / rate)
    return all(abs(t - i * step) <= tolerance for i, t in enumerate(times))


def rate_plan(
    timestamps: list[float],
    last_frame_duration: float,
    rate: Fraction,
    depth: int,
    exact: bool = False,
) -> ExportPlan:
    """Retiming to `rate` frames per second, by the input's timestamps (variable frame rates
    included). Output frame m is at m / rate; it is made from the two input frames around that
    time at the dyadic timestep nearest to the exact one (depth d: multiples of 1/2^d), or with
    `exact` (a model that takes the time) at the exact one, or copies an input frame it falls
    on. The output lasts as long as the input, the last input frame shown for
    `last_frame_duration`, rounded to whole output frames."""
    check_depth(depth)
    if rate <= 0:
        raise InputError(f"frame rate must be positive, got {rate}")
    times = _relative(timestamps)
    duration = times[-1] + last_frame_duration
    count = max(1, round(duration * rate))
    steps = 2**depth
    frames = []
    for m in range(count):
        t = float(Fraction(m) / rate)
        first = bisect.bisect_right(times, t) - 1
        if first >= len(times) - 1:  # within the last frame's display time: hold it
            frames.append(OutputFrame(m, t, len(times) - 1, Fraction(0)))
            continue
        span = times[first + 1] - times[first]
        wanted = (t - times[first]) / span
        if not exact:
            position = Fraction(round(wanted * steps), steps)
            error = abs(float(position) - wanted) * span
        elif wanted * span < ON_INPUT_FRAME or (1 - wanted) * span < ON_INPUT_FRAME:
            position, error = Fraction(round(wanted)), 0.0  # on an input frame, to float noise
        else:
            position, error = Fraction(wanted), 0.0
        if position == 1:
            first, position = first + 1, Fraction(0)
        frames.append(OutputFrame(m, t, first, position, error))
    return ExportPlan(frames, rate, duration)


def parse_rate(text: str) -> Fraction:
    """'60', '59.94', '23.976', '60000/1001' or '30000:1001' to an exact rate; the common NTSC
    decimals (23.976, 29.97, 59.94, 119.88) mean their /1001 rates."""
    cleaned = text.strip().replace(":", "/")
    try:
        rate = Fraction(cleaned)
    except (ValueError, ZeroDivisionError):
        raise InputError(f"not a frame rate: {text!r} (examples: 60, 23.976, 60000/1001)") from None
    if rate <= 0 or rate > 1000:
        raise InputError(f"frame rate must be between 0 and 1000, got {text}")
    if "/" not in cleaned and "." in cleaned:
        ntsc = Fraction(round(rate * Fraction(1001, 1000)) * 1000, 1001)
        if abs(ntsc - rate) < Fraction(1, 100):
            return ntsc
    return rate
