"""The network configuration: a small frozen dataclass stored in every checkpoint."""

from __future__ import annotations

import dataclasses
import json
import reprlib
from dataclasses import dataclass
from typing import Any

from dsepconv_gui.base import bounded_json
from dsepconv_gui.base.errors import ConfigError
from dsepconv_gui.flow.layout import PRIOR_MOTIONS, flow_channels

FLOW_PRIORS = ("none", "dis")
PRIOR_SAMPLINGS = ("bilinear", "bicubic")
# occlusion_evidence.py's maps: unmatched and inconsistent for each frame, and disagreement.
EVIDENCE_CHANNELS = 5
# Bounds on what a model file may declare: far beyond any model trained here (the paper's:
# n = 5 and base_width 32, 22 M parameters) and small enough that the largest network
# (about 0.4 G parameters, 1.6 GB) can be held; a hostile header cannot ask for more.
MAX_KERNEL_SIZE = 25
MAX_BASE_WIDTH = 128
# A stored configuration is about 150 characters of flat JSON.
MAX_CONFIG_JSON_CHARS = 4096
MAX_CONFIG_JSON_DEPTH = 4


@dataclass(frozen=True)
class DSepConvConfig:
    """What defines a DSepConv network's architecture.

    kernel_size: n, the side of the tap grid and the length of the 1-D kernels (odd).
    base_width: channels of the first encoder level; the five levels have
        base_width × (1, 2, 4, 8, 16) channels and the estimator heads base_width × 2.
        The paper (SepConv's widths) uses 32.
    use_mask: predict the modulation masks (the paper's N×N+M); False gives N×N.
    flow_prior: "none" (the paper: offsets from the CNN alone) or "dis": every tap of
        frame k starts where OpenCV DIS flow points (see flow/prior.py); the network
        also sees the flows and the frames warped by them, and learns the residual.
    prior_sampling: with a flow prior, how the untrained network reads each frame at the
        prior's position: "bilinear" (every tap starts at the prior, kernels a centred unit
        tap) or "bicubic" (taps start at the prior's whole-pixel part and the 1-D kernels as
        the cubic interpolation weights of its fraction: a bicubic read, which keeps detail
        that bilinear reads blur; the network learns residual kernels on top).
    prior_motion: with a flow prior, where the middle pixel's taps start: "linear" (the
        flows read at the middle pixel itself) or "searched" (the same, plus what DIS plainly
        misses, such as a small object moving farther than its size, found by a patch search
        and carried to where it is halfway). See flow/prior.py.
    flow_scale: DIS runs on both frames resized by this factor (cubic) and its flows are
        scaled back: above 1, its finest patches see finer detail (1.5: +0.03 dB on the
        training-footage selection set, +0.11 / +0.10 dB on the benchmarks; DIS then costs
        2.25 × as much). Enlargements stop at a million pixels (flow.prior.effective_scale).
    occlusion_evidence: with a flow prior, the network also sees where each frame's pixels
        find no match in the other frame, where the two flows disagree, and where the two
        warped frames differ, each read at the middle pixel's prior (occlusion_evidence.py):
        what the masks need to tell which frame shows a pixel.
    occlusion_blend: one more estimator, a logit per pixel added to frame 2's mask logits and
        subtracted from frame 1's: it moves weight from one frame to the other while their sum
        stays near one. The two mask heads alone learn this slowly: raising one frame's mask
        also brightens the output, so their gradients mostly say "brighter" or "darker", and
        only this difference says "which frame".
    time_input: the network makes the frame at any time t in [0, 1] between the two (EDSC's
        extension of DSepConv), not only the midpoint: t enters the U-Net as one more input
        map, each frame's prior displacement and learned offsets scale with its distance in
        time (2t for frame 1, 2(1 - t) for frame 2: unchanged at t = 1/2), and the mask logits
        start at logit(1 - t) and logit(t), so that the untrained network weighs the frames
        (1 - t) and t and returns frame 1 at t = 0 and frame 2 at t = 1. A time branch
        (network.TimeBranch) adds to the U-Net's features what differs from the midpoint: zero
        at t = 1/2. Needs masks.
    gated_offsets: with a flow prior, the learned offsets (what the network adds to the
        prior's tap positions) act only where the prior's two warped frames disagree
        (occlusion_evidence.offset_gate): where they agree the flow is right, and learned
        offsets there only jitter the taps, which blurs sharp detail.
    light_heads: each estimator's last layer is a 1×1 convolution applied before the ×2
        upsampling (at a quarter of the pixels) instead of a 3×3 convolution after it: the
        full-resolution 3×3 layers with n² channels in and out made half of the network's
        multiply-adds. A file with 3×3 last layers converts by summing each kernel's taps
        (network.light_head_weights), which on the smooth upsampled features they read
        computes nearly the same.
    """

    kernel_size: int = 5
    base_width: int = 32
    use_mask: bool = True
    flow_prior: str = "none"
    prior_sampling: str = "bilinear"
    prior_motion: str = "linear"
    flow_scale: float = 1.0
    occlusion_evidence: bool = False
    occlusion_blend: bool = False
    time_input: bool = False
    gated_offsets: bool = False
    light_heads: bool = False

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            expected = {"int": int, "bool": bool, "str": str, "float": float}[field.type]
            if type(value) is not expected:
                raise ConfigError(
                    f"config field '{field.name}' must be {expected.__name__}, "
                    f"got {reprlib.repr(value)}"
                )
        if not 1 <= self.kernel_size <= MAX_KERNEL_SIZE or self.kernel_size % 2 == 0:
            raise ConfigError(
                f"kernel_size must be odd and between 1 and {MAX_KERNEL_SIZE}, "
                f"got {reprlib.repr(self.kernel_size)}"
            )
        if not 1 <= self.base_width <= MAX_BASE_WIDTH:
            raise ConfigError(
                f"base_width must be between 1 and {MAX_BASE_WIDTH}, "
                f"got {reprlib.repr(self.base_width)}"
            )
        if self.flow_prior not in FLOW_PRIORS:
            raise ConfigError(f"flow_prior must be one of {FLOW_PRIORS}, got {self.flow_prior!r}")
        if self.prior_sampling not in PRIOR_SAMPLINGS:
            raise ConfigError(
                f"prior_sampling must be one of {PRIOR_SAMPLINGS}, got {self.prior_sampling!r}"
            )
        if not 0.25 <= self.flow_scale <= 4.0:
            raise ConfigError(f"flow_scale must be between 0.25 and 4, got {self.flow_scale}")
        if self.prior_motion not in PRIOR_MOTIONS:
            raise ConfigError(
                f"prior_motion must be one of {PRIOR_MOTIONS}, got {self.prior_motion!r}"
            )
        if self.prior_motion != "linear" and self.flow_prior == "none":
            raise ConfigError(f"prior_motion={self.prior_motion!r} needs a flow prior")
        if self.occlusion_blend and not self.use_mask:
            raise ConfigError("occlusion_blend needs masks")
        if self.time_input and not self.use_mask:
            raise ConfigError("time_input needs masks (they weigh the frames by time)")
        if self.occlusion_evidence and self.flow_prior == "none":
            raise ConfigError("occlusion_evidence needs a flow prior")
        if self.gated_offsets and self.flow_prior == "none":
            raise ConfigError("gated_offsets needs a flow prior")
        if self.prior_sampling == "bicubic" and (
            self.flow_prior == "none" or self.kernel_size < 5 or not self.use_mask
        ):
            raise ConfigError(
                "prior_sampling='bicubic' needs a flow prior, masks and kernel_size of at least 5"
            )

    @property
    def level_widths(self) -> tuple[int, ...]:
        """Channels of the five encoder levels (the bottleneck keeps the last)."""
        return tuple(self.base_width * k for k in (1, 2, 4, 8, 16))

    @property
    def flow_channels(self) -> int:
        """Channels of the flow input (flow/layout.py): 0 without a flow prior."""
        return 0 if self.flow_prior == "none" else flow_channels(self.prior_motion)

    @property
    def input_channels(self) -> int:
        """Channels entering the U-Net: the two frames; with a flow prior, the two flows and
        the two frames warped by it; with occlusion_evidence, its channels; with time_input,
        the time map (last, so that a midpoint model's weights widen to it)."""
        time_channels = 1 if self.time_input else 0
        if self.flow_prior == "none":
            return 6 + time_channels
        return 6 + 4 + 6 + (EVIDENCE_CHANNELS if self.occlusion_evidence else 0) + time_channels

    @property
    def head_width(self) -> int:
        """Channels entering the kernel, offset and mask estimators."""
        return self.base_width * 2

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> DSepConvConfig:
        """Build from a stored dict; unknown keys are an error (a newer file), missing ones
        default."""
        if not isinstance(values, dict):
            raise ConfigError(f"config must be a mapping, got {type(values).__name__}")
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(
                f"unknown config field(s) {reprlib.repr(unknown)}; known: {sorted(known)}"
            )
        return cls(**values)

    @classmethod
    def from_json(cls, text: str) -> DSepConvConfig:
        try:
            values = bounded_json.loads(
                text, max_chars=MAX_CONFIG_JSON_CHARS, max_depth=MAX_CONFIG_JSON_DEPTH
            )
        except ValueError as exc:
            raise ConfigError(f"config {exc}") from None
        return cls.from_dict(values)


_SMALL = DSepConvConfig(kernel_size=5, base_width=8, use_mask=True)
_FLOW_SMALL = dataclasses.replace(_SMALL, flow_prior="dis")
_FLOW_SMALL_BICUBIC = dataclasses.replace(_FLOW_SMALL, prior_sampling="bicubic")
_FLOW_SMALL_SEARCHED = dataclasses.replace(
    _FLOW_SMALL_BICUBIC, prior_motion="searched", flow_scale=1.5
)
_FLOW_SMALL_EVIDENCE = dataclasses.replace(
    _FLOW_SMALL_SEARCHED, occlusion_evidence=True, occlusion_blend=True
)
_FLOW_SMALL_GATED = dataclasses.replace(_FLOW_SMALL_EVIDENCE, gated_offsets=True)
_FLOW_SMALL_LIGHT = dataclasses.replace(_FLOW_SMALL_GATED, light_heads=True)

PRESETS: dict[str, DSepConvConfig] = {
    # The paper's configuration: n = 5, masks, SepConv's channel widths (about 21.8 M parameters).
    "paper": DSepConvConfig(kernel_size=5, base_width=32, use_mask=True),
    # The paper's ablation without modulation masks (N×N).
    "paper-no-mask": DSepConvConfig(kernel_size=5, base_width=32, use_mask=False),
    # A quarter of the widths: trainable on a CPU.
    "small": _SMALL,
    # The small network with its taps starting from DIS optical flow.
    "flow-small": _FLOW_SMALL,
    # The same, reading each frame bicubically at the prior's position to start with.
    "flow-small-bicubic": _FLOW_SMALL_BICUBIC,
    # The same, plus small fast objects DIS misses, found by a patch search (see flow/prior.py),
    # with DIS on frames upscaled 1.5 times.
    "flow-small-searched": _FLOW_SMALL_SEARCHED,
    # The same, seeing the occlusion evidence (where each frame's pixels have no match) and
    # with a blend logit that moves weight between the frames.
    "flow-small-evidence": _FLOW_SMALL_EVIDENCE,
    # The same, with the learned offsets acting only where the prior's warps disagree.
    "flow-small-gated": _FLOW_SMALL_GATED,
    # The same, with the estimators' last layers 1×1 at half resolution (half the FLOPs).
    "flow-small-light": _FLOW_SMALL_LIGHT,
    # The same, making the frame at any time t between the two in one pass (time_input).
    "flow-small-time": dataclasses.replace(_FLOW_SMALL_LIGHT, time_input=True),
    # For tests and trying the pipeline: about 0.1 M parameters.
    "tiny": DSepConvConfig(kernel_size=5, base_width=2, use_mask=True),
    # The same, taking the time.
    "tiny-time": DSepConvConfig(kernel_size=5, base_width=2, use_mask=True, time_input=True),
}


def preset(name: str) -> DSepConvConfig:
    """A named configuration; ConfigError lists the names when it is unknown."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ConfigError(f"unknown configuration '{name}'; known: {', '.join(PRESETS)}") from None
