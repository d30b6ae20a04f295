"""The quality check and the adaptation to a clip, as job functions the window runs off the UI
thread (jobs.py). Without Qt, like session.py."""

from __future__ import annotations

import datetime as _dt
import threading
from dataclasses import dataclass
from pathlib import Path

from dsepconv_gui.base.progress_bar import format_duration
from dsepconv_gui.gui.session import Context, Job
from dsepconv_gui.interpolation.interpolator import Interpolator
from dsepconv_gui.interpolation.quality_check import (
    DEFAULT_MAX_SIDE,
    FrameQuality,
    QualitySummary,
    check_clip,
    summarise,
)
from dsepconv_gui.training.adaptation import AdaptOptions, AdaptResult, adapt_to_clip, save_adapted
from dsepconv_gui.video.clips import Clip


@dataclass(frozen=True)
class QualityRun:
    """One quality check of a clip's range with one model."""

    clip: Clip
    model: str  # the model's source, to tell a run before adapting from one after
    in_out: tuple[int, int]
    results: list[FrameQuality]
    summary: QualitySummary


def quality_job(
    clip: Clip, interpolator: Interpolator, in_out: tuple[int, int], max_side=DEFAULT_MAX_SIDE
) -> Job:
    """Score frames in_out[0] + 1 .. in_out[1] - 1, each FrameQuality sent as it is made."""
    first, last = in_out

    def job(context: Context) -> QualityRun:
        results: list[FrameQuality] = []
        total = max(1, last - first - 1)
        context.progress(0, total, "checking quality")
        for quality in check_clip(clip, interpolator, first, last, max_side):
            results.append(quality)
            context.send(quality)
            context.progress(len(results), total, "checking quality")
        return QualityRun(clip, interpolator.loaded.source, in_out, results, summarise(results))

    return job


@dataclass(frozen=True)
class Adapted:
    result: AdaptResult
    path: Path | None  # where the adapted model was written (None: not kept)


def adapt_job(
    clip: Clip,
    interpolator: Interpolator,
    in_out: tuple[int, int],
    minutes: float,
    stop: threading.Event,
    folder: Path,
) -> Job:
    """Adapt the loaded model to the clip's in/out range for `minutes`; stop.set() ends the
    training early (what was learned is scored and kept if better); cancelling the job keeps
    nothing. A kept model is written to `folder`."""
    loaded = interpolator.loaded
    options = AdaptOptions(seconds=60 * minutes, first=in_out[0], last=in_out[1])

    def job(context: Context) -> Adapted:
        def progress(p) -> None:
            left = format_duration(max(p.seconds_left, 0.0))
            context.progress(p.done, p.total, f"{p.stage} · {left} left")

        result = adapt_to_clip(loaded, clip, options, progress, stop.is_set)
        context.check()  # cancelled while it scored: nothing is written
        if result.model is None:
            return Adapted(result, None)
        folder.mkdir(parents=True, exist_ok=True)
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        path = folder / f"{Path(clip.info.path).stem}-adapted-{stamp}.safetensors"
        save_adapted(path, result, str(clip.info.path), loaded.source, options)
        return Adapted(result, path)

    return job
