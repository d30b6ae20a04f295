"""A classical optical-flow estimate (OpenCV DIS) as the starting point of the tap offsets.

The paper notes that with n = 1 DSepConv is flow-based warping; a model configured with
flow_prior="dis" starts every tap of frame k where DIS flow points and learns the residual
offsets, kernels and masks on top. Flows are computed on whole frames, in numpy.

What the network receives (`prior_flows`), by the configuration's prior_motion:
- "linear": (4, H, W), flow 1→2 then flow 2→1; the taps start at (flow21 - flow12)/4 read
  at the middle pixel itself.
- "searched": (6, H, W), the two flows with what DIS plainly misses found by a patch search
  (flow/search.py), then the middle frame's displacement to frame 1: the linear estimate
  with the found objects projected to where they are halfway, or the same with every
  consistently moving pixel projected too, whichever the two frames agree on at each pixel
  (flow/projection.py); for a frame at time t, projected to where they are at t
  (PairMotion.flows_at).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import cv2
import numpy as np

from dsepconv_gui.flow.dis_estimators import DIS_BYTES_PER_PIXEL, borrowed_estimator
from dsepconv_gui.flow.layout import FLOW12, FLOW21, flow_channels
from dsepconv_gui.flow.projection import agreeing_middle, carried_pixels, middle_displacement
from dsepconv_gui.flow.search import found_motion

# Below this side DIS has no pyramid to work with; such frames get zero flow.
MIN_FLOW_SIDE = 16
# flow_scale enlarges frames for DIS up to this many pixels, no further: large frames
# already show DIS fine detail, and DIS's time grows with the pixels. A million keeps the
# shipped 1.5 up to 854×480 and makes 1280×720 about 1.04. Chosen by measurement
# (2026-11-28, `python experiments/adapt_flow_scale.py models/dsepconv.safetensors CLIP...
# --scales 1,1.25,1.5`, twelve held-out triplets of each of seven 1280×720 and 960×540
# clips): DIS at 1× scored 33.41 dB on average, 1.5× 33.39 (per clip −0.34 to +0.20), and
# took 2.25 times as long (at 720p half the frame's time; it was 1920 × 1080 before).
# Reducing larger frames to a million was measured too and not taken: at 0.67× and 0.8×
# those clips scored 33.40 and 33.39, but six of them enlarged to 1920×1080 (`--upscale 1.5
# --scales 1,0.69`) lost 0.05 dB on average at 0.69× (per clip −0.43 to +0.23), and real
# 1080p holds finer detail than an enlarged 720p.
MAX_SCALED_PIXELS = 1_000_000
# Both directions run at once only while the two fit PARALLEL_DIS_BUDGET (DIS's memory:
# flow/dis_estimators.py): up to 854×480 at flow_scale 1.5 (0.38 GB for the two), where it
# saves 0.05 s of 0.8 at 640×480. From 720p up one after the other: a 1280×720 frame (DIS on
# a million pixels each way) took 1.90 s either way and peaked at 1,370 MB with both at once
# against 1,251 MB (measure_size, a warm-up and three frames, 2026-11-28); a 1080p frame
# peaked at 1,601 MB with both at once against 1,278 MB, in 4.22 against 4.35 s; at 4K both
# at once took the process to 3.4 GB and were no faster.
PARALLEL_DIS_BUDGET = 0.4e9


def effective_scale(height: int, width: int, scale: float) -> float:
    """scale, reduced so that an enlarged frame stays within MAX_SCALED_PIXELS (never below 1
    for an enlargement; a reduction is kept as asked)."""
    if scale <= 1.0:
        return scale
    return max(1.0, min(scale, (MAX_SCALED_PIXELS / (height * width)) ** 0.5))


def dis_flow(source: np.ndarray, target: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """Dense flow from source to target (RGB uint8 (H, W, 3) each) as (2, H, W) float32
    (dy, dx) in pixels: pixel p of source is at p + flow(p) in target.

    DIS as flow.dis_estimators.new_estimator makes it (one kept from an earlier call when
    there is one: the same flow, sooner). With scale ≠ 1 it runs on both frames resized by
    scale (cubic; see effective_scale) and the flow is resized back.
    """
    h, w = source.shape[:2]
    if min(h, w) < MIN_FLOW_SIDE:
        return np.zeros((2, h, w), np.float32)
    scale = effective_scale(h, w, scale)
    if scale != 1.0:
        size = (max(round(w * scale), 1), max(round(h * scale), 1))
        resized = [cv2.resize(f, size, interpolation=cv2.INTER_CUBIC) for f in (source, target)]
        flow = dis_flow(*resized)
        back = [
            cv2.resize(np.ascontiguousarray(c), (w, h), interpolation=cv2.INTER_LINEAR)
            for c in flow
        ]
        return np.stack([back[0] * (h / size[1]), back[1] * (w / size[0])]).astype(np.float32)
    with borrowed_estimator(h * w) as estimator:
        flow = estimator.calc(
            cv2.cvtColor(source, cv2.COLOR_RGB2GRAY),
            cv2.cvtColor(target, cv2.COLOR_RGB2GRAY),
            None,
        )
    return np.ascontiguousarray(flow[:, :, ::-1].transpose(2, 0, 1))


def bidirectional_flow(frame1: np.ndarray, frame2: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """(4, H, W) float32: flow 1→2 (dy, dx) then flow 2→1 (dy, dx), the network's prior input.

    The two directions run at once when their memory fits PARALLEL_DIS_BUDGET, the second in
    a thread of its own (OpenCV releases the GIL; a 640×480 pair at scale 1.5: median 0.44 s
    against 0.49 s one after the other on 2 cores, more where cores are spare); larger frames
    one after the other. A new thread each time, no pool: forked training workers inherit no
    dead threads."""
    h, w = frame1.shape[:2]
    scaled_pixels = h * w * effective_scale(h, w, scale) ** 2
    if 2 * DIS_BYTES_PER_PIXEL * scaled_pixels > PARALLEL_DIS_BUDGET:
        return np.concatenate([dis_flow(frame1, frame2, scale), dis_flow(frame2, frame1, scale)])
    backward: dict[str, object] = {}

    def run() -> None:
        try:
            backward["flow"] = dis_flow(frame2, frame1, scale)
        except BaseException as exc:  # noqa: BLE001 - raised again in the caller's thread
            backward["error"] = exc

    worker = threading.Thread(target=run, name="dis-backward")
    worker.start()
    try:
        forward = dis_flow(frame1, frame2, scale)
    finally:
        worker.join()
    if "error" in backward:
        raise backward["error"]
    return np.concatenate([forward, backward["flow"]], axis=0)


@dataclass(frozen=True)
class PairMotion:
    """A pair's motion, computed once: the flow input of a frame at any time between the two
    (flows_at) costs only the projections and the choice between them (flow/projection.py).

    flows: (4, H, W) float32, flow 1→2 then 2→1 (with the search's finds, when searched);
    found12, found21: (H, W) bool, the pixels whose motion the search found (None: "linear");
    carried12, carried21: (H, W) bool, those projected in the second candidate
    (projection.carried_pixels); frames: the pair itself, (H, W, 3) uint8, which the choice
    reads."""

    flows: np.ndarray
    found12: np.ndarray | None = None
    found21: np.ndarray | None = None
    carried12: np.ndarray | None = None
    carried21: np.ndarray | None = None
    frames: tuple[np.ndarray, np.ndarray] | None = None

    def __post_init__(self) -> None:
        searched = [self.found12, self.found21, self.carried12, self.carried21, self.frames]
        if any(part is None for part in searched) and any(p is not None for p in searched):
            raise ValueError("a searched PairMotion needs its finds, carried pixels and frames")

    @property
    def _carries_more(self) -> bool:
        """Whether the second candidate projects pixels besides the search's finds."""
        return not (
            np.array_equal(self.carried12, self.found12)
            and np.array_equal(self.carried21, self.found21)
        )

    def flows_at(self, time: float = 0.5) -> np.ndarray:
        """The network's flow input for the frame at `time` (0: frame 1, 1: frame 2)."""
        if self.found12 is None:
            return self.flows
        flow12, flow21 = self.flows[FLOW12], self.flows[FLOW21]
        middle = middle_displacement(flow12, flow21, self.found12, self.found21, time)
        if self._carries_more:  # else the two candidates are one: nothing to choose
            carried = middle_displacement(flow12, flow21, self.carried12, self.carried21, time)
            middle = agreeing_middle(*self.frames, [middle, carried], time)
        return np.concatenate([self.flows, middle], axis=0, dtype=np.float32)  # no extra copy


def pair_motion(
    frame1: np.ndarray, frame2: np.ndarray, motion: str = "linear", scale: float = 1.0
) -> PairMotion:
    """The motion of a pair for prior_motion `motion` and flow_scale `scale` (module
    docstring): DIS both ways, and for "searched" the patch search's finds."""
    flow_channels(motion)  # refuses an unknown motion
    flows = bidirectional_flow(frame1, frame2, scale)
    if motion == "linear":
        return PairMotion(flows)
    return searched_motion(frame1, frame2, flows[FLOW12], flows[FLOW21])


def prior_flows(
    frame1: np.ndarray,
    frame2: np.ndarray,
    motion: str = "linear",
    scale: float = 1.0,
    time: float = 0.5,
) -> np.ndarray:
    """The flow input of a flow-prior network for prior_motion `motion` and flow_scale
    `scale` (see the module docstring) for the frame at `time`: (4, H, W) or (6, H, W)
    float32."""
    return pair_motion(frame1, frame2, motion, scale).flows_at(time)


def searched_prior_signature() -> str:
    """A short hash of everything that shapes searched_prior's output, for caches of it."""
    import hashlib
    import json

    from dsepconv_gui.flow import projection as flow_projection
    from dsepconv_gui.flow import search as flow_search

    settings = {
        name: getattr(flow_search, name)
        for name in (
            "SEARCH_RADIUS",
            "PATCH",
            "FAILURE_COST",
            "REPLACE_RATIO",
            "TILE",
            "MAX_TILES",
            "LENGTH_PENALTY",
            "CONSISTENCY",
        )
    }
    settings.update(
        {
            name: getattr(flow_projection, name)
            for name in ("CARRIED_MOTION", "AGREEMENT_WINDOW", "AGREEMENT_MARGIN")
        }
    )
    settings["projection"] = 4  # raise when flow/projection.py changes what it computes
    return hashlib.sha1(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:10]


def searched_motion(
    frame1: np.ndarray, frame2: np.ndarray, flow12: np.ndarray, flow21: np.ndarray
) -> PairMotion:
    """The searched motion from DIS flows already computed."""
    flow12, flow21, found12, found21 = found_motion(frame1, frame2, flow12, flow21)
    return PairMotion(
        np.concatenate([flow12, flow21], dtype=np.float32),
        found12,
        found21,
        carried_pixels(flow12, flow21, found12),
        carried_pixels(flow21, flow12, found21),
        (frame1, frame2),
    )


def searched_prior(
    frame1: np.ndarray,
    frame2: np.ndarray,
    flow12: np.ndarray,
    flow21: np.ndarray,
    time: float = 0.5,
) -> np.ndarray:
    """(6, H, W) float32 from DIS flows already computed: the flows with the search's finds,
    then the displacement of the frame at `time` (flow.layout's MIDDLE)."""
    return searched_motion(frame1, frame2, flow12, flow21).flows_at(time)
