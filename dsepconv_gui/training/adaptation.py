"""Adapting a model to one clip: self-supervised fine-tuning on the clip's own triplets (frame
k + s is the true middle of frames k and k + 2s), kept only if it beats the model it started
from on triplets of the same clip held out from training.

Every `held_out_every`-th frame is a held-out truth: the stride-1 triplets around those frames
score the base and the adapted model, and no training triplet contains any of them, as input
or as truth. Triplets across a shot cut, and still ones, are skipped. Everything (decoding,
flows, training, scoring) runs within one time budget.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from dsepconv_gui.base.errors import InputError
from dsepconv_gui.frames.metrics import psnr
from dsepconv_gui.frames.scene_cuts import DEFAULT_CUT_THRESHOLD, thumbnail, thumbnails_difference
from dsepconv_gui.interpolation.interpolator import flows_for, frame_to_tensor, tensor_to_frame
from dsepconv_gui.model.checkpoint import LoadedModel, save_checkpoint
from dsepconv_gui.model.network import DSepConvNet
from dsepconv_gui.model.tiling import forward_within_memory
from dsepconv_gui.training.losses import LossWeights, interpolation_loss
from dsepconv_gui.training.trainer import sample_batch, trainable_parameters
from dsepconv_gui.training.triplet_bank import TripletBank
from dsepconv_gui.video.clips import Clip

# Mean absolute difference (0..255) of a triplet's outer frames under which nothing moves:
# such a triplet teaches nothing (the frame average is already right).
STILL_THRESHOLD = 1.0
MIN_CROP = 32  # pixels: the smallest frame side that trains
# Shares of the time budget: scoring the base model on the held-out triplets (the adapted
# model's scoring takes as long again), and the training triplets' flows; the rest trains.
# At least MIN_HELD_OUT and MIN_TRAINING triplets whatever they cost.
HELD_OUT_SHARE = 0.1
FLOWS_SHARE = 0.2
MIN_HELD_OUT = 3
MIN_TRAINING = 4


@dataclass(frozen=True)
class AdaptOptions:
    seconds: float = 300.0  # the whole run: decoding, flows, training and scoring
    max_iterations: int | None = None  # training ends at the time budget or here
    first: int = 0
    last: int | None = None  # inclusive; None: the clip's last frame
    held_out_every: int = 5  # every n-th frame is a held-out truth
    strides: tuple[int, ...] = (1, 2)
    train_only: tuple[str, ...] = ()  # () adapts every weight
    learning_rate: float = 1e-4
    batch_size: int = 4
    crop: int = 128
    max_training_triplets: int = 48  # evenly spread over the range
    max_held_out: int = 12
    weights: LossWeights = field(default_factory=lambda: LossWeights(flip=0.0, gradient=0.0))
    seed: int = 0


@dataclass(frozen=True)
class Triplet:
    first: int
    stride: int

    @property
    def frames(self) -> tuple[int, int, int]:
        return self.first, self.first + self.stride, self.first + 2 * self.stride


@dataclass(frozen=True)
class AdaptPlan:
    """Which triplets train and which score, and what was skipped."""

    training: list[Triplet]
    held_out: list[Triplet]
    cuts: int
    still: int


@dataclass(frozen=True)
class AdaptProgress:
    stage: str  # "reading", "flows", "scoring the base model", "training", "scoring"
    done: int
    total: int
    seconds_left: float


@dataclass(frozen=True)
class AdaptResult:
    """base_psnr and adapted_psnr: the PSNR of all held-out triplets' pixels together
    (pooled_psnr); base_scores and adapted_scores: each triplet's. model: the adapted network
    when kept, else None."""

    kept: bool
    base_psnr: float
    adapted_psnr: float
    base_scores: list[float]
    adapted_scores: list[float]
    iterations: int
    seconds: float
    plan: AdaptPlan
    stopped_early: bool
    model: DSepConvNet | None
    stage_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def gain(self) -> float:
        return self.adapted_psnr - self.base_psnr

    def describe(self) -> str:
        verdict = (
            "kept: the adapted model is better"
            if self.kept
            else "not kept: the base model is as good or better on the held-out frames"
        )
        return (
            f"held-out PSNR {self.base_psnr:.2f} dB → {self.adapted_psnr:.2f} dB "
            f"({self.gain:+.2f} dB on {len(self.plan.held_out)} triplets held out); "
            f"{self.iterations} iterations on {len(self.plan.training)} triplets in "
            f"{self.seconds:.0f} s{' (stopped early)' if self.stopped_early else ''} ("
            + ", ".join(f"{stage} {seconds:.0f} s" for stage, seconds in self.stage_seconds.items())
            + f"); {verdict}"
        )

    def metadata(self, clip_name: str, base_source: str, options: AdaptOptions) -> dict:
        """What the adapted file records of its making."""
        return {
            "adaptation": {
                "clip": clip_name,
                "range": [options.first, options.last],
                "base_model": base_source,
                "held_out_psnr_before": round(self.base_psnr, 4),
                "held_out_psnr_after": round(self.adapted_psnr, 4),
                "gain_db": round(self.gain, 4),
                "held_out_triplets": len(self.plan.held_out),
                "held_out_frames": [t.frames[1] for t in self.plan.held_out],
                "held_out_psnr_each_before": [round(v, 3) for v in self.base_scores],
                "held_out_psnr_each_after": [round(v, 3) for v in self.adapted_scores],
                "training_triplets": len(self.plan.training),
                "iterations": self.iterations,
                "seconds": round(self.seconds, 1),
                "adapted_modules": list(options.train_only) or "all",
            }
        }


def plan_triplets(
    thumbnails: list[np.ndarray], first: int, options: AdaptOptions
) -> tuple[AdaptPlan, set[int]]:
    """The triplets of frames first .. first + len(thumbnails) - 1 (thumbnails: scene_cuts'
    thumbnails of each), and the held-out truths. Still triplets are judged later, on the
    whole frames."""
    count = len(thumbnails)
    cut_after = [
        thumbnails_difference(thumbnails[i], thumbnails[i + 1]) > DEFAULT_CUT_THRESHOLD
        for i in range(count - 1)
    ]
    every = options.held_out_every
    truths = {first + i for i in range(1, count - 1) if i % every == every // 2}

    def crosses_cut(triplet: Triplet) -> bool:
        start = triplet.first - first
        return any(cut_after[start : start + 2 * triplet.stride])

    cuts = 0
    held_out, training = [], []
    for truth in sorted(truths):
        triplet = Triplet(truth - 1, 1)
        if crosses_cut(triplet):
            cuts += 1
        else:
            held_out.append(triplet)
    for stride in options.strides:
        for start in range(first, first + count - 2 * stride):
            triplet = Triplet(start, stride)
            if truths.intersection(triplet.frames):
                continue
            if crosses_cut(triplet):
                cuts += 1
            else:
                training.append(triplet)
    return AdaptPlan(training=training, held_out=held_out, cuts=cuts, still=0), truths


def _evenly(items: list, count: int) -> list:
    if len(items) <= count:
        return items
    picks = np.linspace(0, len(items) - 1, count).round().astype(int)
    return [items[i] for i in picks]


class _Clock:
    """The run's time budget, and the seconds each stage took (laps)."""

    def __init__(self, seconds: float) -> None:
        self.start, self.seconds = time.monotonic(), seconds
        self.laps: dict[str, float] = {}
        self._lap_start = self.start

    def lap(self, stage: str) -> None:
        now = time.monotonic()
        self.laps[stage] = self.laps.get(stage, 0.0) + now - self._lap_start
        self._lap_start = now

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.start

    @property
    def left(self) -> float:
        return self.seconds - self.elapsed


def adapt_to_clip(
    loaded: LoadedModel,
    clip: Clip,
    options: AdaptOptions,
    progress: Callable[[AdaptProgress], None] = lambda p: None,
    should_stop: Callable[[], bool] = lambda: False,
) -> AdaptResult:
    """Fine-tune a copy of loaded.model on the clip's own triplets within options.seconds.
    progress may raise to cancel outright (nothing is kept); should_stop() returning True
    ends the training early, and the state reached is scored and kept if it is better."""
    clock = _Clock(options.seconds)
    config = loaded.config
    last = clip.info.frame_count - 1 if options.last is None else options.last
    if not 0 <= options.first < last <= clip.info.frame_count - 1:
        raise InputError(
            f"the range {options.first}:{last} is not within the clip's "
            f"{clip.info.frame_count} frames"
        )
    if last - options.first + 1 < 2 * options.held_out_every:
        raise InputError(
            f"adapting needs at least {2 * options.held_out_every} frames; the range has "
            f"{last - options.first + 1}"
        )

    # 1. thumbnails for the cuts, then the plan
    count = last - options.first + 1
    thumbnails = []
    for index, frame in clip.iter_frames(options.first, last + 1):
        thumbnails.append(thumbnail(frame))
        progress(AdaptProgress("reading", index - options.first + 1, count, clock.left))
    plan, _ = plan_triplets(thumbnails, options.first, options)
    clock.lap("reading")
    held_out = _evenly(plan.held_out, options.max_held_out)
    training = _evenly(plan.training, options.max_training_triplets)
    needed = {i for t in held_out + training for i in t.frames}
    frames: dict[int, np.ndarray] = {
        index: frame
        for index, frame in clip.iter_frames(options.first, last + 1)
        if index in needed
    }

    def moves(triplet: Triplet) -> bool:
        a, _, c = (frames[i] for i in triplet.frames)
        return float(np.abs(a.astype(np.int16) - c).mean()) >= STILL_THRESHOLD

    still = sum(not moves(t) for t in held_out + training)
    held_out = [t for t in held_out if moves(t)]
    training = [t for t in training if moves(t)]
    plan = replace(plan, training=training, held_out=held_out, still=plan.still + still)
    if not held_out or not training:
        raise InputError(
            "the range has too few moving triplets within one shot to adapt to "
            f"({len(training)} to train on, {len(held_out)} to score)"
        )
    height, width = next(iter(frames.values())).shape[:2]
    crop = min(options.crop, height, width)  # small frames train whole
    if crop < MIN_CROP:
        raise InputError(f"frames of {width}×{height} are too small to adapt to")

    clock.lap("reading")

    # 2. the held-out triplets' flows and the base model's score on them, then the training
    # triplets' flows, each within its share of the budget (in an order that keeps them spread
    # over the range when the time runs out: large frames get fewer triplets, not less training)
    model = _copy(loaded.model)
    flows: dict[Triplet, np.ndarray | None] = {}

    def flows_of(triplet: Triplet) -> np.ndarray | None:
        a, _, c = (frames[i] for i in triplet.frames)
        flow = flows_for(config, a, c)
        return None if flow is None else flow.astype(np.float16)  # half the memory

    base_scores, scored, scoring_seconds = [], [], 0.0
    for triplet in _spread(held_out):
        flows[triplet] = flows_of(triplet)
        started = time.monotonic()
        base_scores.append(_score(model, triplet, frames, flows))
        scoring_seconds += time.monotonic() - started
        scored.append(triplet)
        progress(AdaptProgress("scoring the base model", len(scored), len(held_out), clock.left))
        if len(scored) >= MIN_HELD_OUT and clock.elapsed > HELD_OUT_SHARE * clock.seconds:
            break
        if should_stop():  # stopped before training: nothing learned, the base model stays
            break
    order = sorted(range(len(scored)), key=lambda n: scored[n].frames)  # the range's order
    held_out, base_scores = [scored[n] for n in order], [base_scores[n] for n in order]
    clock.lap("scoring")
    prepared: list[Triplet] = []
    flows_until = clock.elapsed + FLOWS_SHARE * clock.seconds
    for triplet in _spread(training):
        flows[triplet] = flows_of(triplet)
        prepared.append(triplet)
        progress(AdaptProgress("flows", len(prepared), len(training), clock.left))
        if len(prepared) >= MIN_TRAINING and clock.elapsed > flows_until or should_stop():
            break
    training = sorted(prepared, key=lambda t: t.frames)
    plan = replace(plan, training=training, held_out=sorted(held_out, key=lambda t: t.frames))
    clock.lap("flows")

    # 4. training, leaving the time a final scoring takes
    bank = TripletBank(
        frames=np.stack([np.stack([frames[i] for i in t.frames]) for t in training]),
        flows=None if config.flow_prior == "none" else np.stack([flows.pop(t) for t in training]),
        source=np.zeros(len(training), np.int32),
        manifest={},
    )
    torch.manual_seed(options.seed)
    rng = np.random.default_rng(options.seed)
    model.train()
    optimizer = torch.optim.Adam(
        trainable_parameters(model, options.train_only), lr=options.learning_rate
    )
    indices = np.arange(len(training))
    train_until = clock.seconds - 1.2 * scoring_seconds - 2.0
    iterations, stopped_early = 0, False
    training_started = clock.elapsed
    while clock.elapsed < train_until and iterations != options.max_iterations:
        if should_stop():
            stopped_early = True
            break
        f0, truth, f2, batch_flows, *_ = sample_batch(
            bank, indices, options.batch_size, crop, rng, bank.flows is not None
        )
        loss, _ = interpolation_loss(model, f0, truth, f2, batch_flows, options.weights)
        if not torch.isfinite(loss):
            break
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        iterations += 1
        span = max(train_until - training_started, 1e-6)
        progress(
            AdaptProgress(
                "training",
                round(1000 * min(1.0, (clock.elapsed - training_started) / span)),
                1000,
                clock.left,
            )
        )
    model.eval()
    clock.lap("training")

    # 5. the adapted model's held-out score; kept only if better
    adapted_scores = []
    for triplet in held_out if iterations else ():
        adapted_scores.append(_score(model, triplet, frames, flows))
        progress(AdaptProgress("scoring", len(adapted_scores), len(held_out), clock.left))
    adapted_scores = adapted_scores or base_scores
    clock.lap("scoring")
    base_psnr, adapted_psnr = pooled_psnr(base_scores), pooled_psnr(adapted_scores)
    kept = iterations > 0 and adapted_psnr > base_psnr
    return AdaptResult(
        kept=kept,
        base_psnr=base_psnr,
        adapted_psnr=adapted_psnr,
        base_scores=base_scores,
        adapted_scores=adapted_scores,
        iterations=iterations,
        seconds=clock.elapsed,
        plan=plan,
        stopped_early=stopped_early,
        model=model if kept else None,
        stage_seconds={stage: round(seconds, 1) for stage, seconds in clock.laps.items()},
    )


def save_adapted(
    path: Path, result: AdaptResult, clip_name: str, base_source: str, options: AdaptOptions
) -> Path:
    """Write a kept adapted model with what its metadata records of its making."""
    if result.model is None:
        raise ValueError("only a kept adaptation has a model to save")
    return save_checkpoint(path, result.model, result.metadata(clip_name, base_source, options))


def pooled_psnr(scores: list[float]) -> float:
    """The PSNR of all the triplets' pixels together (of their mean squared error), from each
    triplet's PSNR. Unlike the mean of the PSNRs it is not swayed by near-still triplets, where
    61 → 70 dB counts as much as 25 → 34 dB but nobody sees a difference."""
    return float(-10 * np.log10(np.mean(10 ** (-np.asarray(scores, np.float64) / 10))))


def _copy(model: DSepConvNet) -> DSepConvNet:
    copy = DSepConvNet(model.config)
    copy.load_state_dict(model.state_dict())
    return copy.float().cpu()


def _score(
    model: DSepConvNet,
    triplet: Triplet,
    frames: dict[int, np.ndarray],
    flows: dict[Triplet, np.ndarray | None],
) -> float:
    """PSNR of the model's middle frame (8-bit) against the truth."""
    model.eval()
    a, truth, c = (frames[i] for i in triplet.frames)
    flow = flows[triplet]
    device, dtype = torch.device("cpu"), torch.float32
    with torch.inference_mode():
        prediction = forward_within_memory(
            model,
            frame_to_tensor(a, device, dtype),
            frame_to_tensor(c, device, dtype),
            None if flow is None else torch.from_numpy(flow.astype(np.float32))[None],
        )
    return psnr(tensor_to_frame(prediction), truth)


def _spread(items: list) -> list:
    """The items in an order whose every prefix is spread over the whole list: 0, n/2, n/4,
    3n/4, … (so a run that stops early still covers the range)."""
    order, seen = [], set()
    step = 1 << max(0, (len(items) - 1).bit_length())
    while step >= 1:
        for i in range(0, len(items), step):
            if i not in seen:
                seen.add(i)
                order.append(items[i])
        step //= 2
    return order
