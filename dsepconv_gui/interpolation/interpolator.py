"""Interpolating numpy frames: the boundary between images (RGB uint8) and the network."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace
from time import perf_counter

import numpy as np
import torch

from dsepconv_gui.base.errors import InputError
from dsepconv_gui.flow.prior import PairMotion, pair_motion
from dsepconv_gui.frames.images import check_frame_size
from dsepconv_gui.model.checkpoint import LoadedModel
from dsepconv_gui.model.config import DSepConvConfig
from dsepconv_gui.model.device import DeviceInfo, describe_device
from dsepconv_gui.model.network import DeformableTerm, check_time
from dsepconv_gui.model.tiling import forward_within_memory


@dataclass(frozen=True)
class InterpolationResult:
    """The frame made (the middle, or the one at the time asked of a model that takes it)
    and, when asked for, what each input frame contributed.

    frame: (H, W, 3) uint8 RGB.
    terms: None, or one DeformableTerm per input frame holding float32 numpy arrays:
        vertical, horizontal (n, H, W); offset_y, offset_x (n*n, H, W) in pixels;
        mask (n*n, H, W) or None; result (H, W, 3) in [0, 1] units (the two sum to frame).
    """

    frame: np.ndarray
    terms: tuple[DeformableTerm[np.ndarray], DeformableTerm[np.ndarray]] | None
    kernel_size: int
    device: str
    seconds: float
    time: float = 0.5  # where the frame lies between the two (0: the first, 1: the second)
    # the model's prior_sampling (where its taps started: network.prior_start); None without
    # a flow prior
    prior_sampling: str | None = None


def frame_to_tensor(frame: np.ndarray, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """(H, W, 3) uint8 RGB to (1, 3, H, W) in [0, 1]."""
    array = np.ascontiguousarray(frame)
    tensor = torch.from_numpy(array if array.flags.writeable else array.copy()).to(device)
    return tensor.permute(2, 0, 1).unsqueeze(0).to(dtype).div_(255.0)


def tensor_to_frame(tensor: torch.Tensor) -> np.ndarray:
    """(1, 3, H, W) in [0, 1] to (H, W, 3) uint8 RGB, rounded and clipped."""
    image = tensor[0].clamp(0.0, 1.0).mul(255.0).round_().to(torch.uint8)
    return image.permute(1, 2, 0).cpu().numpy()


def check_frames(frame_a: np.ndarray, frame_b: np.ndarray) -> None:
    """Raise InputError unless both are RGB uint8 (H, W, 3) arrays of the same size, at most
    MAX_FRAME_PIXELS."""
    for name, frame in (("first frame", frame_a), ("second frame", frame_b)):
        if not isinstance(frame, np.ndarray):
            raise InputError(f"{name} must be a numpy array, got {type(frame).__name__}")
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise InputError(f"{name} must be RGB uint8 (H, W, 3), got {frame.dtype} {frame.shape}")
        if frame.shape[0] < 1 or frame.shape[1] < 1:
            raise InputError(f"{name} is empty: {frame.shape}")
    check_frame_size(frame_a.shape[1], frame_a.shape[0])
    if frame_a.shape != frame_b.shape:
        raise InputError(
            f"frames differ in size: {frame_a.shape[1]}×{frame_a.shape[0]} and "
            f"{frame_b.shape[1]}×{frame_b.shape[0]}"
        )


def flows_for(config: DSepConvConfig, frame1: np.ndarray, frame2: np.ndarray) -> np.ndarray | None:
    """What a network of this configuration takes as `flows` for a pair's middle frame: None
    without a flow prior."""
    motion = motion_for(config, frame1, frame2)
    return None if motion is None else motion.flows_at()


def motion_for(config: DSepConvConfig, frame1: np.ndarray, frame2: np.ndarray) -> PairMotion | None:
    """The pair's motion a network of this configuration starts from (its `flows` at any
    time: PairMotion.flows_at): None without a flow prior, else with the configuration's
    prior_motion and flow_scale."""
    if config.flow_prior == "none":
        return None
    return pair_motion(frame1, frame2, config.prior_motion, config.flow_scale)


MAX_PAIRS_AHEAD = 2


def device_running(loaded: LoadedModel, device: DeviceInfo) -> DeviceInfo:
    """device as it runs this model: a network precision other than float32 only where the
    model's heads end in the fused kernel (Interpolator.network_precision), and a description
    that says so."""
    if device.network_dtype is None or loaded.model.can_fuse_heads():
        return device
    return replace(device, network_dtype=None, description=describe_device(device.device))


class Interpolator:
    """Runs a loaded DSepConv model on pairs of RGB uint8 frames, on one device."""

    def __init__(
        self,
        loaded: LoadedModel,
        device: DeviceInfo,
        tile: int | None = None,
        log: Callable[[str], None] | None = None,
        flows_ahead: bool | None = None,
    ) -> None:
        self.loaded = loaded
        self.device = device = device_running(loaded, device)
        # Channels-last weights (and inputs, see DSepConvNet.estimate): measured 1.19 → 0.75 s
        # for the flow-small network at 640×480 on 2 CPU cores; also the layout GPUs prefer.
        self.model = (
            loaded.model.to(device.device, device.dtype)
            .to(memory_format=torch.channels_last)
            .eval()
        )
        self.tile = tile  # None: chosen from the memory available
        self.log = log
        # Flows of the next pair in a worker while the network runs: only when the network is
        # on a GPU by default. On a CPU both compete for the same cores: a x2 export of 61
        # frames of a real 640x360 clip took 34 s with it and 26 s without on 2 cores.
        self.flows_ahead = device.device.type == "cuda" if flows_ahead is None else flows_ahead
        self._ahead: dict[tuple[int, int], tuple[np.ndarray, np.ndarray, Future]] = {}
        self._flow_pool: ThreadPoolExecutor | None = None
        # The last pair's motion: a model that takes the time makes every frame between two
        # frames from one computation of it.
        self._last: tuple[np.ndarray, np.ndarray, PairMotion | None] | None = None

    def network_precision(self, a: torch.Tensor, b: torch.Tensor) -> AbstractContextManager:
        """The device's network precision (model/device.py) for a pass on frames a and b: on
        the path whose heads end in the fused kernel (float32 from there on), else float32,
        as the inspection views' terms always are."""
        dtype = self.device.network_dtype
        if dtype is None or not self.model.fuses_heads(a, b):
            return nullcontext()
        return torch.autocast(self.device.device.type, dtype=dtype)

    @property
    def takes_time(self) -> bool:
        """Whether the model makes any time between two frames in one pass (else midpoints)."""
        return self.loaded.config.time_input

    def prefetch(self, frame_a: np.ndarray, frame_b: np.ndarray) -> None:
        """Start the flows of a pair that will be interpolated soon, in a worker thread: the
        network then runs on the pair before it while OpenCV computes these (an export calls
        this for the next pair). At most a few pairs are kept ahead. Does nothing unless
        flows_ahead (by default: on a GPU)."""
        if not self.flows_ahead or self.loaded.config.flow_prior == "none":
            return
        key = (id(frame_a), id(frame_b))
        if key not in self._ahead:
            while len(self._ahead) >= MAX_PAIRS_AHEAD:  # a pair never asked for (a scene cut)
                self._ahead.pop(next(iter(self._ahead)))[2].cancel()
            if self._flow_pool is None:
                self._flow_pool = ThreadPoolExecutor(1, thread_name_prefix="flows-ahead")
            future = self._flow_pool.submit(motion_for, self.loaded.config, frame_a, frame_b)
            self._ahead[key] = (frame_a, frame_b, future)  # the frames stay alive with their key

    def _motion(self, frame_a: np.ndarray, frame_b: np.ndarray) -> PairMotion | None:
        """The pair's motion: the last pair's or the prefetched one when it is that, else
        computed now."""
        last = self._last  # one read: the app's threads share this interpolator
        if last is not None and last[0] is frame_a and last[1] is frame_b:
            return last[2]
        ahead = self._ahead.pop((id(frame_a), id(frame_b)), None)
        if ahead is not None and ahead[0] is frame_a and ahead[1] is frame_b:
            motion = ahead[2].result()
        else:
            motion = motion_for(self.loaded.config, frame_a, frame_b)
        self._last = (frame_a, frame_b, motion)
        return motion

    def __call__(self, frame_a: np.ndarray, frame_b: np.ndarray) -> np.ndarray:
        """The middle frame alone (H, W, 3) uint8: the midpoint function that bisection,
        export, slow motion and evaluation take."""
        return self.interpolate(frame_a, frame_b).frame

    def at_time(self, frame_a: np.ndarray, frame_b: np.ndarray, time: float) -> np.ndarray:
        """The frame at `time` between frame_a (0) and frame_b (1) alone, in one pass (a model
        that takes the time; see takes_time)."""
        return self.interpolate(frame_a, frame_b, time=time).frame

    def interpolate(
        self,
        frame_a: np.ndarray,
        frame_b: np.ndarray,
        *,
        with_terms: bool = False,
        check: Callable[[], None] | None = None,
        time: float = 0.5,
    ) -> InterpolationResult:
        """The frame halfway between frame_a and frame_b (both (H, W, 3) uint8 RGB), or at
        `time` for a model that takes it (InputError for another time and a midpoint model).
        `check` is called between the stages (flows, network, synthesis or each tile) and may
        raise to cancel: a newer request then does not wait for the whole frame."""
        check_frames(frame_a, frame_b)
        check_time(time, self.takes_time)
        start = perf_counter()
        with torch.inference_mode():
            a = frame_to_tensor(frame_a, self.device.device, self.device.dtype)
            b = frame_to_tensor(frame_b, self.device.device, self.device.dtype)
            motion = self._motion(frame_a, frame_b)
            if check is not None:
                check()
            flows = None
            if motion is not None:
                flows = torch.from_numpy(motion.flows_at(time))[None].to(
                    self.device.device, self.device.dtype
                )
            at = time if self.takes_time else None
            terms = None
            if with_terms:  # the whole frame's parameters are wanted: no tiling
                output = self.model(a, b, return_terms=True, flows=flows, check=check, time=at)
                frame = tensor_to_frame(output.frame)
                terms = (term_to_numpy(output.terms[0]), term_to_numpy(output.terms[1]))
            else:
                with self.network_precision(a, b):
                    output = forward_within_memory(
                        self.model, a, b, flows, self.tile, self.log, check, time=at
                    )
                frame = tensor_to_frame(output)
        config = self.loaded.config
        return InterpolationResult(
            frame=frame,
            terms=terms,
            kernel_size=config.kernel_size,
            device=str(self.device),
            seconds=perf_counter() - start,
            time=time,
            prior_sampling=None if config.flow_prior == "none" else config.prior_sampling,
        )


def term_to_numpy(term: DeformableTerm[torch.Tensor]) -> DeformableTerm[np.ndarray]:
    """The first batch item of a term as float32 numpy, with the result as (H, W, 3)."""
    arrays = term.map(lambda t: t[0].float().cpu().numpy())
    return replace(arrays, result=np.ascontiguousarray(arrays.result.transpose(1, 2, 0)))
