"""A quality timeline from a clip's own frames: frame k + 1 is the true middle of frames k and
k + 2, so every interpolator can be scored on the clip itself before a long export.

The (k, k + 2) pairs hold twice the motion of the (k, k + 1) pairs an export interpolates:
the scores rank where the clip is hard; they do not predict the export's PSNR.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass

import numpy as np

from dsepconv_gui.base.errors import InputError
from dsepconv_gui.frames.metrics import psnr, psnr_from_mse
from dsepconv_gui.frames.resize import resized
from dsepconv_gui.frames.scene_cuts import DEFAULT_CUT_THRESHOLD, thumbnail, thumbnails_difference
from dsepconv_gui.interpolation.classical import dis_flow_halfway, frame_average

Midpoint = Callable[[np.ndarray, np.ndarray], np.ndarray]

# The method that ranks the clip (the model); the others are drawn beside it for comparison.
MODEL = "this model"
CLASSICAL: dict[str, Midpoint] = {"OpenCV DIS": dis_flow_halfway, "frame average": frame_average}
# The worst-region score: the mean squared error of the worst WORST_SHARE of BLOCK×BLOCK
# blocks (at least one), as PSNR: a broken object shows there even when the frame's average
# is fine.
BLOCK = 16
WORST_SHARE = 0.01
# A frame whose worst region scores this far below the clip's median worst region is marked
# as a problem in the summary.
PROBLEM_MARGIN_DB = 6.0
# Identical frames score this, not infinity (which a mean, a plot or JSON cannot take).
MAX_PSNR = float(psnr_from_mse(1e-10))
DEFAULT_MAX_SIDE = 640  # checks run at preview size: the long side at most this


@dataclass(frozen=True)
class FrameQuality:
    """The scores of one middle frame (`frame` = k + 1), per method: psnr and worst-region
    PSNR in dB; skipped says why a frame was not scored ("cut"), else None."""

    frame: int
    psnr: dict[str, float]
    worst: dict[str, float]
    skipped: str | None = None


def worst_region_psnr(prediction: np.ndarray, truth: np.ndarray) -> float:
    """PSNR of the worst WORST_SHARE of the BLOCK×BLOCK blocks (by mean squared error)."""
    error = (prediction.astype(np.float32) - truth.astype(np.float32)) ** 2
    h, w = error.shape[:2]
    bh, bw = min(BLOCK, h), min(BLOCK, w)  # a frame thinner than a block: blocks as thin
    rows, cols = h // bh, w // bw
    blocks = error[: rows * bh, : cols * bw].reshape(rows, bh, cols, bw, -1)
    block_mse = np.sort(blocks.mean(axis=(1, 3, 4)).ravel())[::-1]
    worst = block_mse[: max(1, round(WORST_SHARE * block_mse.size))]
    return min(float(psnr_from_mse(float(worst.mean()))), MAX_PSNR)


def frame_psnr(prediction: np.ndarray, truth: np.ndarray) -> float:
    """metrics.psnr, at most MAX_PSNR."""
    return min(psnr(prediction, truth), MAX_PSNR)


def preview_scale(width: int, height: int, max_side: int | None) -> float:
    """The scale that brings the long side to max_side (never enlarging; 1 for None)."""
    return 1.0 if max_side is None else min(1.0, max_side / max(width, height))


def check_frames(
    frames: Iterator[tuple[int, np.ndarray]],
    model: Midpoint,
    compare: dict[str, Midpoint] | None = None,
    cut_threshold: float = DEFAULT_CUT_THRESHOLD,
) -> Iterator[FrameQuality]:
    """Score every middle frame of a stream of (index, frame) in order: interpolate each
    (k, k + 2) with the model (and each method of `compare`) and compare with k + 1. A middle
    frame next to a shot cut is skipped."""
    compare = CLASSICAL if compare is None else compare
    window: list[tuple[int, np.ndarray]] = []
    cut_before: list[bool] = []  # of each frame in the window: a cut between it and the last
    previous_thumbnail = None
    for index, frame in frames:
        current_thumbnail = thumbnail(frame)  # once per frame
        cut_before.append(
            previous_thumbnail is not None
            and thumbnails_difference(previous_thumbnail, current_thumbnail) > cut_threshold
        )
        previous_thumbnail = current_thumbnail
        window.append((index, frame))
        if len(window) < 3:
            continue
        window, cut_before = window[-3:], cut_before[-3:]
        (_, a), (middle, truth), (_, b) = window
        if cut_before[1] or cut_before[2]:
            yield FrameQuality(middle, {}, {}, skipped="cut")
            continue
        scores, worst = {}, {}
        for name, method in {MODEL: model, **compare}.items():
            prediction = method(a, b)
            scores[name] = frame_psnr(prediction, truth)
            worst[name] = worst_region_psnr(prediction, truth)
        yield FrameQuality(middle, scores, worst)


def check_clip(
    clip,
    model: Midpoint,
    first: int = 0,
    last: int | None = None,
    max_side: int | None = DEFAULT_MAX_SIDE,
    compare: dict[str, Midpoint] | None = None,
) -> Iterator[FrameQuality]:
    """check_frames over frames first..last (inclusive) of a video.clips.Clip, at preview
    size (the long side at most max_side)."""
    last = clip.info.frame_count - 1 if last is None else last
    if last - first < 2:
        raise InputError(
            f"a quality check needs at least three frames; the range {first}:{last} has "
            f"{max(0, last - first + 1)}"
        )
    scale = preview_scale(clip.info.width, clip.info.height, max_side)
    frames = ((i, resized(f, scale)) for i, f in clip.iter_frames(first, last + 1))
    return check_frames(frames, model, compare)


@dataclass(frozen=True)
class QualitySummary:
    scored: int
    cuts: int
    mean_psnr: dict[str, float]
    median_worst: float  # the model's
    problems: list[int]  # middle frames whose worst region is PROBLEM_MARGIN_DB below median
    worst_frames: list[int]  # the five lowest worst-region scores, worst first

    def describe(self) -> str:
        if not self.scored:
            return (
                f"no frames scored: all {self.cuts} lie next to a shot cut"
                if self.cuts
                else "no frames scored"
            )
        methods = ", ".join(f"{name} {value:.2f} dB" for name, value in self.mean_psnr.items())
        lines = [
            f"{self.scored} frames scored, {self.cuts} next to a shot cut skipped",
            f"mean PSNR of frame k+1 from k and k+2: {methods}",
            f"worst frames (worst-region PSNR of {MODEL}): "
            + (", ".join(str(f) for f in self.worst_frames) or "none"),
            f"{len(self.problems)} frames {PROBLEM_MARGIN_DB:g} dB or more below the clip's "
            f"median worst region ({self.median_worst:.2f} dB)"
            + (f": {_ranges(self.problems)}" if self.problems else ""),
            "note: each score interpolates across two frame intervals (twice the motion an "
            "export interpolates): it ranks where the clip is hard, it does not predict the "
            "export's PSNR",
        ]
        return "\n".join(lines)


def summarise(results: list[FrameQuality]) -> QualitySummary:
    scored = [r for r in results if r.skipped is None]
    if not scored:
        return QualitySummary(0, len(results), {}, float("nan"), [], [])
    methods = list(scored[0].psnr)
    worst = np.array([r.worst[MODEL] for r in scored])
    median = float(np.median(worst))
    order = np.argsort(worst, kind="stable")
    return QualitySummary(
        scored=len(scored),
        cuts=len(results) - len(scored),
        mean_psnr={m: float(np.mean([r.psnr[m] for r in scored])) for m in methods},
        median_worst=median,
        problems=[r.frame for r in scored if r.worst[MODEL] <= median - PROBLEM_MARGIN_DB],
        worst_frames=[scored[i].frame for i in order[:5]],
    )


def to_json(results: list[FrameQuality], summary: QualitySummary, source: str) -> dict:
    return {
        "clip": source,
        "note": "frame k+1 interpolated from frames k and k+2 (twice the motion of an export)",
        "summary": asdict(summary),
        "frames": [asdict(r) for r in results],
    }


def _ranges(frames: list[int]) -> str:
    """1, 2, 3, 7 → "1–3, 7"."""
    parts, start = [], None
    for i, frame in enumerate(frames):
        if start is None:
            start = frame
        if i + 1 == len(frames) or frames[i + 1] != frame + 1:
            parts.append(str(start) if start == frame else f"{start}–{frame}")
            start = None
    return ", ".join(parts)
