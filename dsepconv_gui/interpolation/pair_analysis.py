"""Everything the app shows for one input pair, computed in one place without Qt: the
interpolated frame with its intermediates, the truth and error when it exists, and the
classical interpolators on the same pair."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from dsepconv_gui.frames.metrics import psnr
from dsepconv_gui.interpolation.classical import dis_flow_at, frames_blended
from dsepconv_gui.interpolation.intermediates import (
    term_learned_shift,
    term_mean_displacement,
    term_total_weight,
)
from dsepconv_gui.interpolation.interpolator import InterpolationResult, Interpolator
from dsepconv_gui.video.clips import Clip

# The classical interpolators, each making the frame at time t of a pair.
PEERS: dict[str, Callable[[np.ndarray, np.ndarray, float], np.ndarray]] = {
    "frame average": frames_blended,
    "DIS flow": dis_flow_at,
}
STEPS = (1, 2, 4)
Displacement = tuple[np.ndarray, np.ndarray]  # (dy, dx), each (H, W), in pixels


@dataclass(frozen=True)
class PairInputs:
    """The frames of a pair, known before it is interpolated (shown at once)."""

    index_a: int
    index_b: int
    truth_index: int | None
    frame_a: np.ndarray
    frame_b: np.ndarray
    truth: np.ndarray | None


@dataclass(frozen=True)
class PairAnalysis:
    """index_a and index_b are the input frames; truth_index the true frame at `time`
    between them, if the clip has one."""

    index_a: int
    index_b: int
    truth_index: int | None
    frame_a: np.ndarray
    frame_b: np.ndarray
    result: InterpolationResult
    mean_displacements: tuple[Displacement, Displacement]
    total_weights: tuple[
        np.ndarray, np.ndarray
    ]  # Σ v·h·m of frame A's taps and of frame B's, (H, W)
    truth: np.ndarray | None = None
    psnr: float | None = None
    # what the network added to the flow prior's start, (dy, dx) per frame (term_learned_shift);
    # None for a model without a flow prior
    learned_shifts: tuple[Displacement, Displacement] | None = None
    peers: dict[str, np.ndarray] = field(default_factory=dict)
    peer_psnr: dict[str, float] = field(default_factory=dict)

    @property
    def time(self) -> float:
        """Where the frame made lies between A (0) and B (1)."""
        return self.result.time

    @property
    def error_map(self) -> np.ndarray | None:
        """Mean absolute error over RGB per pixel (H, W), 0..255, or None without truth."""
        if self.truth is None:
            return None
        return np.abs(self.result.frame.astype(np.float32) - self.truth).mean(axis=2)


def pair_inputs(clip: Clip, index: int, step: int = 1, time: float = 0.5) -> PairInputs:
    """The frames of the pair at `index`: (index, index + step), kept inside the clip, and the
    true frame at `time` when a frame of the clip lies there (step 2 at 1/2: frame index + 1;
    step 4 at 1/4, 1/2, 3/4: frames index + 1 .. index + 3)."""
    if step not in STEPS:
        raise ValueError(f"step must be one of {STEPS}, got {step}")
    last = len(clip) - 1
    index_a = max(0, min(index, last - step))
    index_b = min(index_a + step, last)
    between = time * (index_b - index_a)
    truth_index = (
        index_a + round(between)
        if abs(between - round(between)) < 1e-9 and 0 < round(between) < index_b - index_a
        else None
    )
    truth = clip.read(truth_index) if truth_index is not None else None
    return PairInputs(index_a, index_b, truth_index, clip.read(index_a), clip.read(index_b), truth)


def analyse_pair(
    interpolator: Interpolator,
    clip: Clip,
    index: int,
    step: int = 1,
    with_peers: bool = False,
    check: Callable[[], None] = lambda: None,
    on_inputs: Callable[[PairInputs], None] | None = None,
    time: float = 0.5,
) -> PairAnalysis:
    """Interpolate between frames index and index + step at `time` (1/2 unless the model takes
    the time; a frame of the clip there is the truth: pair_inputs). `check` is called between
    stages and may raise to cancel; `on_inputs` receives the decoded frames before the
    interpolation starts."""
    inputs = pair_inputs(clip, index, step, time)
    index_a, index_b, truth_index = inputs.index_a, inputs.index_b, inputs.truth_index
    frame_a, frame_b, truth = inputs.frame_a, inputs.frame_b, inputs.truth
    check()
    if on_inputs is not None:
        on_inputs(inputs)
    result = interpolator.interpolate(frame_a, frame_b, with_terms=True, check=check, time=time)
    check()
    displacements = tuple(term_mean_displacement(term) for term in result.terms)
    weights = tuple(term_total_weight(term) for term in result.terms)
    learned = tuple(term_learned_shift(term, result.prior_sampling) for term in result.terms)
    peers, peer_psnr = {}, {}
    if with_peers:
        for name, peer in PEERS.items():
            check()
            peers[name] = peer(frame_a, frame_b, time)
            if truth is not None:
                peer_psnr[name] = psnr(peers[name], truth)
    return PairAnalysis(
        index_a=index_a,
        index_b=index_b,
        truth_index=truth_index,
        frame_a=frame_a,
        frame_b=frame_b,
        result=result,
        mean_displacements=displacements,
        total_weights=weights,
        truth=truth,
        psnr=psnr(result.frame, truth) if truth is not None else None,
        learned_shifts=None if None in learned else learned,
        peers=peers,
        peer_psnr=peer_psnr,
    )
