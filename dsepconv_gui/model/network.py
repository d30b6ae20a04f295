"""The DSepConv network (paper section 2): a U-Net and three estimators of per-pixel
kernels, offsets and masks, followed by the deformable separable convolution."""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields, replace
from typing import Generic, TypeVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dsepconv_gui.base.errors import InputError
from dsepconv_gui.flow.layout import BIDIRECTIONAL, FLOW12, FLOW21, MIDDLE
from dsepconv_gui.flow.projection import linear_middle
from dsepconv_gui.model import fused_dsc
from dsepconv_gui.model.config import DSepConvConfig
from dsepconv_gui.model.deformable_separable_conv import (
    deformable_separable_conv,
    deformable_separable_conv_streaming,
    warp,
)
from dsepconv_gui.model.occlusion_evidence import occlusion_evidence, offset_gate

# Five average poolings: the network works on sides that are multiples of 32.
ALIGNMENT = 32
# Flows enter the network divided by this, to be of the order of one.
FLOW_INPUT_SCALE = 16.0


def conv3x3(in_channels: int, out_channels: int) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1)


def convs_with_relu(*channels: int) -> list[nn.Module]:
    """3×3 convolutions from channels[0] to channels[1], then to channels[2], ..., each
    followed by a ReLU (as the flat list nn.Sequential takes: parameter names stay 0, 2, 4)."""
    layers: list[nn.Module] = []
    for in_channels, out_channels in zip(channels, channels[1:], strict=False):
        layers += [conv3x3(in_channels, out_channels), nn.ReLU(inplace=True)]
    return layers


def upsample_x2() -> nn.Upsample:
    return nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)


class ConvBlock(nn.Sequential):
    """Three 3×3 convolutions, each followed by a ReLU."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(*convs_with_relu(in_channels, out_channels, out_channels, out_channels))


class Upsample(nn.Sequential):
    """Bilinear ×2 upsampling, then a 3×3 convolution and a ReLU."""

    def __init__(self, channels: int) -> None:
        super().__init__(upsample_x2(), *convs_with_relu(channels, channels))


class EncoderDecoder(nn.Module):
    """SepConv's U-Net: five conv levels with average pooling, a bilinear-upsampling decoder,
    skip connections by addition. Maps (B, in_channels, H, W) to (B, head_width, H/2, W/2)."""

    def __init__(self, config: DSepConvConfig, in_channels: int = 6) -> None:
        super().__init__()
        w1, w2, w3, w4, w5 = config.level_widths
        self.encoders = nn.ModuleList(
            [
                ConvBlock(in_channels, w1),
                ConvBlock(w1, w2),
                ConvBlock(w2, w3),
                ConvBlock(w3, w4),
                ConvBlock(w4, w5),
            ]
        )
        # Decoder from the deepest level up: block, upsample, add the encoder skip of that size.
        self.decoders = nn.ModuleList(
            [ConvBlock(w5, w5), ConvBlock(w5, w4), ConvBlock(w4, w3), ConvBlock(w3, w2)]
        )
        self.upsamples = nn.ModuleList([Upsample(w5), Upsample(w4), Upsample(w3), Upsample(w2)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for encoder in self.encoders:
            x = encoder(x)
            skips.append(x)
            x = F.avg_pool2d(x, kernel_size=2, stride=2)
        # The first level's features are not added back (as in SepConv): the heads work at H/2.
        for decoder, upsample, skip in zip(
            self.decoders, self.upsamples, reversed(skips[1:]), strict=True
        ):
            x = upsample(decoder(x)) + skip
        return x


class UpsamplingHead(nn.Sequential):
    """An estimator sub-network: 3×3 convolutions with ReLUs on the U-Net's (B, in, H/2, W/2)
    features, a bilinear ×2 upsampling, then the last convolution, to (B, out, H, W).

    The last convolution is 3×3 at full resolution, or with `light` (config.light_heads) 1×1
    and run before the upsampling: a 1×1 convolution mixes channels only, so it commutes with
    the bilinear upsampling, and at a quarter of the pixels it costs 36 times less. The
    modules keep their order (and their parameter names) either way."""

    def __init__(self, body: list[nn.Module], out_channels: int, light: bool) -> None:
        last_in = body[-2].out_channels  # body ends with a convolution and its ReLU
        last = (
            nn.Conv2d(last_in, out_channels, kernel_size=1)
            if light
            else conv3x3(last_in, out_channels)
        )
        super().__init__(*body, upsample_x2(), last)
        self.light = light

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.light:
            return super().forward(x)
        return self[-2](self.half_resolution(x))

    def half_resolution(self, x: torch.Tensor) -> torch.Tensor:
        """A light head's output before the ×2 upsampling: (B, out, H/2, W/2)."""
        *body, _upsample, last = self
        for layer in body:
            x = layer(x)
        return last(x)


class EstimatorHead(UpsamplingHead):
    """One estimator sub-network: three 3×3 conv + ReLU, bilinear ×2 upsampling, one last
    convolution (UpsamplingHead). Maps the U-Net's (B, head_width, H/2, W/2) features to
    (B, out_channels, H, W)."""

    def __init__(self, in_channels: int, out_channels: int, light: bool = False) -> None:
        super().__init__(
            convs_with_relu(in_channels, in_channels, in_channels, out_channels),
            out_channels,
            light,
        )


class BlendHead(UpsamplingHead):
    """An estimator of one signed map (the blend logit). EstimatorHead narrows to its output
    channels before the last ReLU, which for one channel leaves a map of one sign plus a
    constant; this one keeps its width up to the last convolution, as the same layers in the
    same order otherwise."""

    def __init__(self, in_channels: int, light: bool = False) -> None:
        super().__init__(
            convs_with_relu(in_channels, in_channels, in_channels, in_channels), 1, light
        )


def light_head_weights(weight: torch.Tensor) -> torch.Tensor:
    """A 3×3 last layer's weights (out, in, 3, 3) as a light head's 1×1 (out, in, 1, 1): the
    sum of each kernel's taps. The layer reads bilinearly upsampled features, smooth at its
    scale, where a 3×3 kernel acts nearly as its sum (measured on the shipped model: within
    0.003 dB on the benchmarks and the held-out footage; see models/README.md)."""
    return weight.sum(dim=(2, 3), keepdim=True)


class TimeBranch(nn.Module):
    """How the frame at time t differs from the midpoint, added to the U-Net's features:
    two 3×3 convolutions on the features and the time map, scaled by 2(t − 1/2). Zero at
    t = 1/2 whatever its weights: training it alone (train --train-only time_branch) teaches a
    midpoint model other times and leaves its midpoints exactly as they were."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.body = nn.Sequential(*convs_with_relu(width + 1, width), conv3x3(width, width))

    def forward(self, features: torch.Tensor, time: torch.Tensor) -> torch.Tensor:
        offset = time - 0.5  # (B, 1, 1, 1)
        time_map = offset.expand(-1, 1, *features.shape[-2:]).to(features)
        return self.body(torch.cat([features, time_map], dim=1)) * (2 * offset).to(features)


# A term holds torch tensors inside the network and numpy arrays once handed to the app.
ArrayT = TypeVar("ArrayT", torch.Tensor, np.ndarray)
OtherArrayT = TypeVar("OtherArrayT", torch.Tensor, np.ndarray)


@dataclass(frozen=True)
class DeformableTerm(Generic[ArrayT]):
    """What one input frame contributes to the output, and the parameters that made it.

    Shapes as tensors (B, ...) or, after `map` to numpy for one item, without the batch axis:
    vertical, horizontal (B, n, H, W); offset_y, offset_x (B, n*n, H, W) in pixels, tap
    k = i*n + j; mask (B, n*n, H, W) in [0, 1] or None for a model without masks; result
    (B, 3, H, W): the input frame convolved with these kernels, offsets and mask; prior
    (B, 2, H, W): the (dy, dx) every tap started from (a model with a flow prior), else None.
    The offsets include the prior: they say where the taps land.
    """

    vertical: ArrayT
    horizontal: ArrayT
    offset_y: ArrayT
    offset_x: ArrayT
    mask: ArrayT | None
    result: ArrayT
    prior: ArrayT | None = None

    def map(self, fn: Callable[[ArrayT], OtherArrayT]) -> DeformableTerm[OtherArrayT]:
        """The same term with fn applied to every array (None stays None)."""
        return replace(
            self,
            **{
                f.name: None if getattr(self, f.name) is None else fn(getattr(self, f.name))
                for f in fields(self)
            },
        )


@dataclass(frozen=True)
class DSepConvOutput:
    """The interpolated frame (B, 3, H, W) and, when asked for, the two frames' terms."""

    frame: torch.Tensor
    terms: tuple[DeformableTerm, DeformableTerm] | None = None


@dataclass(frozen=True)
class HalfResolutionTerm:
    """One frame's term as light heads (config.light_heads) leave it, before the steps that
    make a DeformableTerm of it (DSepConvNet._term: the ×2 upsampling, the offsets' scale
    and gate, the prior's start, the masks' sigmoid of logit plus blend), which the fused
    kernel takes pixel by pixel (fused_dsc.convolve_half_resolution).

    heads (B, 2n + 3n², H/2, W/2), 2n + 2n² without masks: vertical, horizontal, offset_y,
    offset_x, mask logits, at half the resolution of the network's padded grid (H, W);
    blend (B, 1, H/2, W/2) or None: the blend head's logit, added to the mask logits times
    blend_sign (-1 for frame 1) after blend_start (B, 1, 1, 1) or None, the time's start
    logit; offset_scale (B, 1, 1, 1) or None; gate (B, 1, H, W) or None; prior
    (B, 2, H, W) or None; region: (top, left, height, width) of the term's pixels on the
    grid."""

    heads: torch.Tensor
    kernel_size: int
    has_masks: bool
    bicubic: bool
    region: tuple[int, int, int, int]
    blend: torch.Tensor | None = None
    blend_sign: float = 1.0
    blend_start: torch.Tensor | None = None
    offset_scale: torch.Tensor | None = None
    gate: torch.Tensor | None = None
    prior: torch.Tensor | None = None

    def crop(self, top: int, left: int, height: int, width: int) -> HalfResolutionTerm:
        """The term of the pixels (top, left) .. (top + height, left + width) of its region."""
        return replace(self, region=(self.region[0] + top, self.region[1] + left, height, width))

    def to_dtype(self, dtype: torch.dtype) -> HalfResolutionTerm:
        """The same term with every tensor in `dtype` (a network run under autocast leaves
        some in bfloat16; the fused kernel reads float32)."""
        tensors = ("heads", "blend", "blend_start", "offset_scale", "gate", "prior")
        return replace(
            self,
            **{
                name: getattr(self, name).to(dtype)
                for name in tensors
                if getattr(self, name) is not None
            },
        )


@dataclass(frozen=True)
class _SharedEstimate:
    """DSepConvNet._shared_estimate's result: the U-Net's features (B, width, H/2, W/2) of
    the padded frames (grid H × W), each frame's prior (B, 2, H, W) and the offsets' gate
    (B, 1, H, W) or None, the frames' region (top, left, height, width) on the grid and,
    with time_input, the blend's start logit and the offsets' scales (B, 1, 1, 1)."""

    features: torch.Tensor
    prior1: torch.Tensor | None
    prior2: torch.Tensor | None
    gate: torch.Tensor | None
    region: tuple[int, int, int, int]
    start_logit: torch.Tensor | None = None
    scale1: torch.Tensor | None = None
    scale2: torch.Tensor | None = None


class DSepConvNet(nn.Module):
    """DSepConv: two frames in [0, 1], (B, 3, H, W) each, to the frame halfway between (or,
    with config.time_input, to the frame at any time t between them)."""

    def __init__(self, config: DSepConvConfig) -> None:
        super().__init__()
        self.config = config
        n, width = config.kernel_size, config.head_width
        self.features = EncoderDecoder(config, config.input_channels)

        def head(out_channels: int) -> EstimatorHead:
            return EstimatorHead(width, out_channels, config.light_heads)

        self.vertical1, self.vertical2 = head(n), head(n)
        self.horizontal1, self.horizontal2 = head(n), head(n)
        self.offset_y1, self.offset_y2 = head(n * n), head(n * n)
        self.offset_x1, self.offset_x2 = head(n * n), head(n * n)
        self.mask1 = head(n * n) if config.use_mask else None
        self.mask2 = head(n * n) if config.use_mask else None
        # One logit per pixel that moves weight from one frame to the other: frame 1's mask
        # logits minus it, frame 2's plus it (config.occlusion_blend).
        self.blend = BlendHead(width, config.light_heads) if config.occlusion_blend else None
        self.time_branch = TimeBranch(width) if config.time_input else None
        self.initialize_weights()

    def initialize_weights(self) -> None:
        """He initialisation for every 3×3 conv (each is followed by a ReLU), so activations
        keep their scale through the deep U-Net; PyTorch's default shrinks them about tenfold
        by the heads, which starves the zero-initialised last layers of gradient. Then the
        heads' start (initialize_heads)."""
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
                nn.init.zeros_(module.bias)
        self.initialize_heads()

    def initialize_heads(self) -> None:
        """Start as the average of the two frames: the heads' last layers have zero weights,
        offsets and mask logits start at zero (mask 0.5, as in deformable convolution v2) and
        each 1-D kernel is a unit tap at its centre, scaled so both frames weigh 1/2."""
        n = self.config.kernel_size
        initial_mask = 0.5 if self.config.use_mask else 1.0
        centre_value = (0.5 / initial_mask) ** 0.5
        for head in self.heads():
            nn.init.zeros_(head[-1].weight)
            nn.init.zeros_(head[-1].bias)
        if self.time_branch is not None:
            nn.init.zeros_(self.time_branch.body[-1].weight)
            nn.init.zeros_(self.time_branch.body[-1].bias)
        if self.config.flow_prior != "none" and self.config.prior_sampling == "bicubic":
            # the cubic weights are the kernels' start (prior_start); masks at 0.5 halve each frame
            return
        with torch.no_grad():
            for head in (self.vertical1, self.vertical2, self.horizontal1, self.horizontal2):
                head[-1].bias[n // 2] = centre_value

    def heads(self) -> list[UpsamplingHead]:
        """Every estimator sub-network (kernels, offsets and, if used, masks)."""
        heads = [
            self.vertical1,
            self.vertical2,
            self.horizontal1,
            self.horizontal2,
            self.offset_y1,
            self.offset_y2,
            self.offset_x1,
            self.offset_x2,
        ]
        heads += [self.mask1, self.mask2] if self.config.use_mask else []
        return heads + ([self.blend] if self.blend is not None else [])

    # Heads whose weights a model file without them may lack: they start at zero, so a model
    # started from such a file (train --init) computes what the file's model computes.
    NEUTRAL_AT_START = ("blend", "time_branch")

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def forward(
        self,
        frame1: torch.Tensor,
        frame2: torch.Tensor,
        return_terms: bool = False,
        flows: torch.Tensor | None = None,
        check: Callable[[], None] | None = None,
        time: float | torch.Tensor | None = None,
    ) -> DSepConvOutput:
        """Interpolate the middle frame of two (B, 3, H, W) frames in [0, 1]; with
        config.time_input, the frame at `time` (a number or (B,) in [0, 1]; None: 1/2).

        Any size: frames are padded (replicate) to a multiple of 32 for the network and its
        outputs cropped back. `return_terms` adds each frame's kernels, offsets, masks and
        deformable result, which are computed anyway. A model with a flow prior needs
        `flows` (B, 4, H, W): flow 1→2 (dy, dx) then 2→1 (dy, dx), and with
        prior_motion="searched" (B, 6, H, W), the middle displacement after them (of the frame
        at `time`); see flow.prior.prior_flows.
        """
        if not return_terms and self.fuses_heads(frame1, frame2):
            return DSepConvOutput(
                frame=synthesize_frames(
                    (frame1, frame2), self.half_resolution_terms(frame1, frame2, flows, time), check
                )
            )
        term1, term2 = self.estimate(frame1, frame2, flows, time)
        if check is not None:  # between the network and the synthesis: a caller may cancel here
            check()
        term1 = replace(term1, result=synthesize(frame1, term1))
        term2 = replace(term2, result=synthesize(frame2, term2))
        frame = term1.result + term2.result
        return DSepConvOutput(frame=frame, terms=(term1, term2) if return_terms else None)

    def estimate(
        self,
        frame1: torch.Tensor,
        frame2: torch.Tensor,
        flows: torch.Tensor | None = None,
        time: float | torch.Tensor | None = None,
    ) -> tuple[DeformableTerm, DeformableTerm]:
        """The network part: each frame's kernels, offsets (prior included) and masks, at the
        frames' size, with result None. `synthesize` applies them; tiled inference runs this
        on tiles and synthesises each tile's pixels from the whole frames."""
        shared = self._shared_estimate(frame1, frame2, flows, time)
        blend = self.blend(shared.features) if self.blend is not None else None
        if shared.start_logit is not None:
            blend = shared.start_logit if blend is None else blend + shared.start_logit
        term1 = self._term(
            shared.features,
            shared.prior1,
            self._heads_of(1),
            None if blend is None else -blend,
            shared.scale1,
            shared.gate,
        )
        term2 = self._term(
            shared.features, shared.prior2, self._heads_of(2), blend, shared.scale2, shared.gate
        )
        top, left, h, w = shared.region
        if (top, left) == (0, 0) and (h, w) == tuple(term1.vertical.shape[-2:]):
            return term1, term2
        return (
            term1.map(lambda t: t[..., top : top + h, left : left + w]),
            term2.map(lambda t: t[..., top : top + h, left : left + w]),
        )

    def half_resolution_terms(
        self,
        frame1: torch.Tensor,
        frame2: torch.Tensor,
        flows: torch.Tensor | None = None,
        time: float | torch.Tensor | None = None,
    ) -> Iterator[HalfResolutionTerm]:
        """estimate's terms for light heads only, frame 1's then frame 2's, before their ×2
        upsampling and what follows it, which synthesize_half_resolution applies in one pass.
        Frame 2's heads run only when the next term is asked for: a caller that synthesises
        frame 1's share before asking (synthesize_frames) never holds both frames' maps (85
        channels at half resolution, in float32, each: 176 MB at 1080p)."""
        if not self.config.light_heads:
            raise ValueError("only light heads (config.light_heads) end at half resolution")
        shared = self._shared_estimate(frame1, frame2, flows, time)
        blend = self.blend.half_resolution(shared.features) if self.blend is not None else None
        for number, sign, prior, scale in (
            (1, -1.0, shared.prior1, shared.scale1),
            (2, 1.0, shared.prior2, shared.scale2),
        ):
            # made in a call and yielded unnamed: nothing here keeps the term once it is taken
            yield self._half_resolution_term(
                shared, number, blend, sign, prior, scale, frame1.dtype
            )

    def _half_resolution_term(
        self,
        shared: _SharedEstimate,
        number: int,
        blend: torch.Tensor | None,
        blend_sign: float,
        prior: torch.Tensor | None,
        offset_scale: torch.Tensor | None,
        dtype: torch.dtype,
    ) -> HalfResolutionTerm:
        heads = [
            head.half_resolution(shared.features)
            for head in self._heads_of(number)
            if head is not None
        ]
        return HalfResolutionTerm(
            heads=fused_dsc.concatenated_heads(heads, dtype),
            kernel_size=self.config.kernel_size,
            has_masks=self.config.use_mask,
            bicubic=self.config.prior_sampling == "bicubic",
            region=shared.region,
            blend=blend,
            blend_sign=blend_sign,
            blend_start=shared.start_logit,
            offset_scale=offset_scale,
            gate=shared.gate,
            prior=prior,
        ).to_dtype(dtype)

    def fuses_heads(self, *frames: torch.Tensor) -> bool:
        """Whether inference on these frames goes through half_resolution_terms and the
        fused kernel: light heads, no gradients, CPU float32 frames with numba present."""
        return self.can_fuse_heads() and not torch.is_grad_enabled() and fused_dsc.supports(*frames)

    def can_fuse_heads(self) -> bool:
        """Whether inference on CPU float32 frames can take the fused path (fuses_heads)."""
        return self.config.light_heads and fused_dsc.available()

    def _heads_of(self, frame: int) -> tuple[UpsamplingHead | None, ...]:
        """Frame 1's or 2's heads: vertical, horizontal, offset_y, offset_x, mask."""
        return tuple(
            getattr(self, f"{name}{frame}")
            for name in ("vertical", "horizontal", "offset_y", "offset_x", "mask")
        )

    def _shared_estimate(
        self,
        frame1: torch.Tensor,
        frame2: torch.Tensor,
        flows: torch.Tensor | None,
        time: float | torch.Tensor | None,
    ) -> _SharedEstimate:
        """What both frames' heads start from: the U-Net's features of the padded frames
        and the per-pixel maps beside them."""
        check_frame_pair(frame1, frame2)
        t = time_tensor(time, frame1, self.config.time_input)
        h, w = frame1.shape[-2:]
        uses_prior = self.config.flow_prior != "none"
        if uses_prior:
            check_flows(flows, frame1, self.config.flow_channels)
        pad = alignment_padding(h, w)
        if any(pad):
            frame1 = F.pad(frame1, pad, mode="replicate")
            frame2 = F.pad(frame2, pad, mode="replicate")
            flows = F.pad(flows, pad, mode="replicate") if uses_prior else None
        inputs = [frame1 - 0.5, frame2 - 0.5]
        prior1 = prior2 = gate = None
        if uses_prior:
            prior1, prior2 = prior_displacements(flows, t)
            warped1, warped2 = warp(frame1, prior1), warp(frame2, prior2)
            inputs += [flows[:, BIDIRECTIONAL] / FLOW_INPUT_SCALE, warped1 - 0.5, warped2 - 0.5]
            if self.config.occlusion_evidence:
                inputs.append(
                    occlusion_evidence(frame1, frame2, flows, prior1, prior2, warped1, warped2)
                )
            if self.config.gated_offsets:
                gate = offset_gate(warped1, warped2)
        if self.config.time_input:
            inputs.append((t - 0.5).expand(-1, 1, *frame1.shape[-2:]))
        channels_last = self.features.encoders[0][0].weight.is_contiguous(
            memory_format=torch.channels_last
        )  # see Interpolator: faster convs on CPU
        x = network_input(inputs, channels_last)
        # The maps are all in x now: let them go (and the padded copies) before the U-Net's
        # activations are made (a 1080p frame: about 0.3 GB less at the pass's peak).
        inputs = warped1 = warped2 = frame1 = frame2 = flows = None
        features = self.features(x)
        if self.time_branch is not None:
            features = features + self.time_branch(features, t)
        shared = _SharedEstimate(features, prior1, prior2, gate, (pad[2], pad[0], h, w))
        if self.config.time_input:
            # the frames weigh 1 - t and t to start with; learned offsets scale with the
            # distance in time
            return replace(
                shared,
                start_logit=torch.logit(t, eps=TIME_LOGIT_EPS),
                scale1=2 * t,
                scale2=2 * (1 - t),
            )
        return shared

    def _term(
        self, features, prior, heads, blend=None, offset_scale=None, offset_gate=None
    ) -> DeformableTerm:
        vertical, horizontal, offset_y, offset_x, mask = heads
        v, h = vertical(features), horizontal(features)
        dy, dx = offset_y(features), offset_x(features)
        for factor in (offset_scale, offset_gate):
            if factor is not None:
                dy, dx = dy * factor, dx * factor
        if prior is not None:
            base = prior_start(prior, self.config.kernel_size, self.config.prior_sampling)
            v, h = v + base.vertical, h + base.horizontal
            dy, dx = dy + base.offset_y, dx + base.offset_x
        m = None
        if mask is not None:
            logits = mask(features)
            m = torch.sigmoid(logits if blend is None else logits + blend)
        return DeformableTerm(
            vertical=v, horizontal=h, offset_y=dy, offset_x=dx, mask=m, result=None, prior=prior
        )


def synthesize(
    frame: torch.Tensor, term: DeformableTerm, origin: tuple[int, int] = (0, 0)
) -> torch.Tensor:
    """frame convolved with a term's kernels, offsets and mask. While gradients are recorded
    this is the reference op (all taps at once); for inference the streaming op (the fused
    kernel on the CPU), which can synthesise a region (origin) from the whole frame."""
    parameters = (term.vertical, term.horizontal, term.offset_y, term.offset_x, term.mask)
    if (
        torch.is_grad_enabled()
        and origin == (0, 0)
        and term.vertical.shape[-2:] == frame.shape[-2:]
    ):
        return deformable_separable_conv(frame, *parameters)
    return deformable_separable_conv_streaming(frame, *parameters, origin=origin)


def synthesize_half_resolution(
    frame: torch.Tensor, term: HalfResolutionTerm, origin: tuple[int, int] = (0, 0)
) -> torch.Tensor:
    """synthesize for a term still at half resolution (DSepConvNet.fuses_heads says when):
    the same frame, the full-resolution parameters made pixel by pixel by the fused kernel."""
    return fused_dsc.convolve_half_resolution(frame, term, origin)


def synthesize_frames(
    frames: tuple[torch.Tensor, torch.Tensor],
    terms: Iterator[HalfResolutionTerm],
    check: Callable[[], None] | None = None,
    origin: tuple[int, int] = (0, 0),
) -> torch.Tensor:
    """Both frames' shares summed, each term taken from `terms` (half_resolution_terms, or
    their crops) only after the previous one is synthesised and let go. `check` is called
    between the network and the first synthesis and may raise to cancel."""
    frame = None
    for source in frames:
        term = next(terms)  # by hand, not zip: zip's reused tuple would hold the last term
        if check is not None and frame is None:
            check()  # the network has run: a caller may cancel before the synthesis
        made = synthesize_half_resolution(source, term, origin)
        del term  # let go before the next frame's heads run
        frame = made if frame is None else frame + made
    return frame


def cubic_weights(t: torch.Tensor, a: float = -0.75) -> tuple[torch.Tensor, ...]:
    """Keys' cubic convolution weights of the pixels at -1, 0, 1, 2 for a read at fraction t
    in [0, 1) past pixel 0 (a = -0.75, as OpenCV's INTER_CUBIC)."""

    def near(x):  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):  # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    return far(1 + t), near(t), near(1 - t), far(2 - t)


@dataclass(frozen=True)
class PriorStart:
    """Where an untrained flow-prior network's kernels and offsets start (the heads add to it)."""

    vertical: torch.Tensor | float
    horizontal: torch.Tensor | float
    offset_y: torch.Tensor
    offset_x: torch.Tensor


def prior_start(prior: torch.Tensor, kernel_size: int, sampling: str) -> PriorStart:
    """The start for a prior displacement (B, 2, H, W). "bilinear": every tap at the prior
    (the heads' kernel biases make a centred unit tap). "bicubic": taps at the prior's whole
    part floor(d), so that they read whole pixels, and the 1-D kernels are the cubic weights
    of the fraction d - floor(d) on taps r-1..r+2 (r the centre): together a bicubic read."""
    if sampling != "bicubic":
        return PriorStart(0.0, 0.0, prior[:, 0:1], prior[:, 1:2])
    whole = torch.floor(prior)
    fraction = prior - whole
    r = kernel_size // 2

    def kernel(t: torch.Tensor) -> torch.Tensor:  # (B, 1, H, W) -> (B, n, H, W)
        zeros = torch.zeros_like(t)
        taps = [zeros] * kernel_size
        for k, weight in zip(range(r - 1, r + 3), cubic_weights(t), strict=True):
            taps[k] = weight
        return torch.cat(taps, dim=1)

    return PriorStart(
        kernel(fraction[:, 0:1]), kernel(fraction[:, 1:2]), whole[:, 0:1], whole[:, 1:2]
    )


def prior_frame(
    config: DSepConvConfig,
    frame1: torch.Tensor,
    frame2: torch.Tensor,
    flows: torch.Tensor,
    time: float | torch.Tensor | None = None,
) -> torch.Tensor:
    """What an untrained flow-prior network outputs: the two frames read at the prior's
    positions (bilinearly or bicubically, per config) and averaged (with config.time_input,
    weighed 1 - t and t for the frame at `time`)."""
    t = time_tensor(time, frame1, config.time_input)
    prior1, prior2 = prior_displacements(flows, t)
    out = []
    for frame, prior in ((frame1, prior1), (frame2, prior2)):
        start = prior_start(prior, config.kernel_size, config.prior_sampling)
        if config.prior_sampling == "bicubic":
            n = config.kernel_size
            ones = torch.ones_like(start.offset_y).expand(-1, n * n, -1, -1)
            out.append(
                deformable_separable_conv(
                    frame,
                    start.vertical,
                    start.horizontal,
                    start.offset_y * ones,
                    start.offset_x * ones,
                )
            )
        else:
            out.append(warp(frame, prior))
    if not config.time_input:
        return (out[0] + out[1]) / 2
    return (1 - t) * out[0] + t * out[1]


# Where a time-conditioned network's mask logits start: logit(t), with t kept this far from
# 0 and 1 (a frame at t = 0 weighs 1 - 1e-6: frame 1 up to rounding).
TIME_LOGIT_EPS = 1e-6


def check_time(time: float, takes_time: bool) -> None:
    """InputError unless `time` is a number in [0, 1], and 1/2 for a midpoint model."""
    if isinstance(time, bool) or not isinstance(time, numbers.Real) or not 0.0 <= time <= 1.0:
        raise InputError(f"time must be between 0 and 1, got {time!r}")
    if time != 0.5 and not takes_time:
        raise InputError(
            f"this model makes the middle frame only (time 0.5), not {time:g}; its export and "
            "slow motion reach other times by bisection"
        )


def time_tensor(
    time: float | torch.Tensor | None, frame: torch.Tensor, takes_time: bool
) -> torch.Tensor | float:
    """The time of the frame to make, as (B, 1, 1, 1) on frame's device for a network that
    takes it; 0.5 for one that makes midpoints only. InputError for a time outside [0, 1], or
    other than 1/2 for a midpoint network."""
    if time is None:
        time = 0.5
    if isinstance(time, torch.Tensor):  # training's: its range unchecked (that would sync a GPU)
        t = time.flatten()
        if not takes_time and torch.any(t != 0.5):
            raise InputError("this model makes the middle frame only (time 0.5)")
    else:
        t = torch.as_tensor(time, dtype=torch.float64).flatten()
        for value in t.tolist():
            check_time(value, takes_time)
    if t.numel() not in (1, frame.shape[0]):
        raise InputError(f"time must be one number or one per batch item, got {t.numel()}")
    if not takes_time:
        return 0.5
    return t.to(frame.device, frame.dtype).reshape(-1, 1, 1, 1).expand(frame.shape[0], 1, 1, 1)


def network_input(inputs: list[torch.Tensor], channels_last: bool) -> torch.Tensor:
    """The U-Net's input: the maps (B, C_i, H, W) concatenated along the channels. For a
    channels-last network they are written straight into a channels-last tensor of the dtype
    its first convolution computes in (autocast's, when autocast is on, which would cast it
    to that anyway): one pass over the pixels instead of three (concatenation, layout, cast;
    a 1080p frame's input in bfloat16: 53 against 169 ms on this 2-core CPU)."""
    if not channels_last:
        return torch.cat(inputs, dim=1)
    first = inputs[0]
    kind = first.device.type
    dtype = torch.get_autocast_dtype(kind) if torch.is_autocast_enabled(kind) else first.dtype
    b, _, h, w = first.shape
    channels = sum(t.shape[1] for t in inputs)
    x = torch.empty(
        (b, channels, h, w), dtype=dtype, device=first.device, memory_format=torch.channels_last
    )
    start = 0
    for t in inputs:
        x[:, start : start + t.shape[1]].copy_(t)
        start += t.shape[1]
    return x


def prior_displacements(
    flows: torch.Tensor, time: float | torch.Tensor = 0.5
) -> tuple[torch.Tensor, torch.Tensor]:
    """Where the taps of frames 1 and 2 start, (B, 2, H, W) each as (dy, dx), from flows
    (B, 4, H, W) = flow 1→2 then 2→1, or (B, 6, H, W) whose last two channels are the
    middle displacement (flow/projection.py), for the frame at `time` (a number or
    (B, 1, 1, 1)). With four, projection.linear_middle: at the middle, pixel p reads frame 1
    near p - flow12(p)/2 ≈ p + flow21(p)/2; averaging the two estimates (measured: +0.24 dB on
    middlebury-other over flow12 alone) gives a prior symmetric in time, and away from the
    middle each flow weighs by how near its frame is. Either way, with d that displacement,
    frame 1 is read at p + 2t·d and frame 2 at p - 2(1 - t)·d."""
    if flows.shape[1] == 6:
        half = flows[:, MIDDLE]
    else:
        half = linear_middle(flows[:, FLOW12], flows[:, FLOW21], time)
    return 2 * time * half, -2 * (1 - time) * half  # at 1/2 exactly ±half


def check_flows(flows: torch.Tensor | None, frame: torch.Tensor, channels: int = 4) -> None:
    """Raise InputError unless flows is (B, channels, H, W) for frames of frame's shape."""
    if flows is None:
        raise InputError(
            f"this model starts its offsets from optical flow: pass flows (B, {channels}, H, W) "
            "(see dsepconv_gui.flow.prior)"
        )
    b, _, h, w = frame.shape
    if tuple(flows.shape) != (b, channels, h, w):
        raise InputError(f"flows must have shape {(b, channels, h, w)}, got {tuple(flows.shape)}")


def check_frame_pair(frame1: torch.Tensor, frame2: torch.Tensor) -> None:
    """Raise InputError unless both are (B, 3, H, W) floating tensors of the same shape."""
    for name, frame in (("frame1", frame1), ("frame2", frame2)):
        if frame.dim() != 4 or frame.shape[1] != 3:
            raise InputError(f"{name} must be (B, 3, H, W), got shape {tuple(frame.shape)}")
        if not frame.is_floating_point():
            raise InputError(f"{name} must be a floating tensor in [0, 1], got {frame.dtype}")
        if frame.shape[-1] < 1 or frame.shape[-2] < 1:
            raise InputError(f"{name} is empty: shape {tuple(frame.shape)}")
    if frame1.shape != frame2.shape:
        raise InputError(f"frames differ in shape: {tuple(frame1.shape)} and {tuple(frame2.shape)}")


def alignment_padding(height: int, width: int) -> tuple[int, int, int, int]:
    """(left, right, top, bottom) padding that makes both sides multiples of ALIGNMENT,
    split evenly so that both borders see the same context."""
    extra_h, extra_w = -height % ALIGNMENT, -width % ALIGNMENT
    return (extra_w // 2, extra_w - extra_w // 2, extra_h // 2, extra_h - extra_h // 2)
