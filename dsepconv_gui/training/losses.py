"""The training loss of the paper (section 3): Charbonnier penalty on the prediction, the same
on the prediction from the time-reversed pair, and a gradient loss on neighbour differences."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from dsepconv_gui.flow.layout import time_reversal
from dsepconv_gui.model.deformable_separable_conv import tap_weights
from dsepconv_gui.model.network import DeformableTerm, DSepConvNet, prior_start
from dsepconv_gui.training.synthetic_occlusion import SEEN_IN_FIRST_ONLY, SEEN_IN_SECOND_ONLY


@dataclass(frozen=True)
class LossWeights:
    """Weights of the terms. eps is the Charbonnier ε (1e-6, the usual choice); the paper
    gives no weights for the flip and gradient terms, so both default to 1."""

    reconstruction: float = 1.0
    flip: float = 1.0
    gradient: float = 1.0
    census: float = 0.0
    offset: float = 0.0
    visibility: float = 0.0
    eps: float = 1e-6


def charbonnier(prediction: torch.Tensor, truth: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Mean of ρ(x) = sqrt(x² + ε²) over all pixels and channels."""
    return torch.sqrt((prediction - truth) ** 2 + eps * eps).mean()


def gradient_loss(prediction: torch.Tensor, truth: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Charbonnier penalty between the neighbour differences of prediction and truth, in the
    up, down, left and right directions. ρ is even, so "up" and "down" (and "left" and
    "right") penalise the same pixel pairs: each axis is counted twice, as in the sum of four."""
    dy_p = prediction[..., 1:, :] - prediction[..., :-1, :]
    dy_t = truth[..., 1:, :] - truth[..., :-1, :]
    dx_p = prediction[..., :, 1:] - prediction[..., :, :-1]
    dx_t = truth[..., :, 1:] - truth[..., :, :-1]
    return 2 * charbonnier(dy_p, dy_t, eps) + 2 * charbonnier(dx_p, dx_t, eps)


def census_loss(prediction: torch.Tensor, truth: torch.Tensor, patch: int = 7) -> torch.Tensor:
    """The soft ternary census distance (as in UnFlow and IFRNet): each pixel's 7×7
    neighbourhood described by the signs of its differences to the centre (softened), compared
    by a robust Hamming distance. It sees structure, not brightness, so compression noise and
    exposure changes weigh little."""

    def transform(image: torch.Tensor) -> torch.Tensor:
        grey = (0.299 * image[:, 0:1] + 0.587 * image[:, 1:2] + 0.114 * image[:, 2:3]) * 255
        neighbours = torch.nn.functional.unfold(grey, patch, padding=patch // 2)
        neighbours = neighbours.view(grey.shape[0], patch * patch, *grey.shape[-2:])
        difference = neighbours - grey
        return difference / torch.sqrt(0.81 + difference**2)

    squared = (transform(prediction) - transform(truth)) ** 2
    distance = (squared / (0.1 + squared)).mean(dim=1)  # 0 (same structure) to 1
    r = patch // 2  # the border's neighbourhoods hold padding zeros
    return distance[..., r:-r, r:-r].mean()


def offset_residual_penalty(
    model: DSepConvNet, terms: tuple[DeformableTerm, DeformableTerm]
) -> torch.Tensor:
    """Mean squared learned offset (pixels²) over both frames' taps: what the network adds to
    the prior's tap positions (to zero offsets without a prior). Trained on compressed footage
    without it, the offsets grew until they cost on sharp frames: halving the shipped file's
    learned offsets after training kept its UCF101 gain and gave back most of its Middlebury
    loss (models/README.md)."""
    config = model.config
    total = 0.0
    for term in terms:
        dy, dx = term.offset_y, term.offset_x
        if term.prior is not None:
            base = prior_start(term.prior, config.kernel_size, config.prior_sampling)
            dy, dx = dy - base.offset_y, dx - base.offset_x
        total = total + (dy**2 + dx**2).mean()
    return total / 2


def visibility_loss(
    terms: tuple[DeformableTerm, DeformableTerm], visibility: torch.Tensor
) -> torch.Tensor:
    """Where a synthetic occlusion says which frame alone shows a middle pixel (visibility
    (B, H, W): SEEN_IN_FIRST_ONLY or SEEN_IN_SECOND_ONLY), the other frame's total weight
    Σ v·h·m squared, averaged over those pixels (0 where there are none). The photometric loss
    can also be lowered there by moving the hidden frame's taps onto nearby background; this
    says the blend is what should change, which is what the masks are for."""
    total = terms[0].vertical.new_zeros(())
    count = 0
    for hidden_in, term in ((SEEN_IN_SECOND_ONLY, terms[0]), (SEEN_IN_FIRST_ONLY, terms[1])):
        where = visibility == hidden_in
        if where.any():
            weight = tap_weights(term.vertical, term.horizontal, term.mask).sum(dim=1)
            total = total + (weight[where] ** 2).sum()
            count += int(where.sum())
    return total / max(count, 1)


def reverse_flows(flows: torch.Tensor | None) -> torch.Tensor | None:
    """The flow input of the time-reversed pair (flow.layout.time_reversal)."""
    if flows is None:
        return None
    order, signs = time_reversal(flows.shape[1])
    return flows[:, order] * torch.from_numpy(signs).to(flows)[None, :, None, None]


def interpolation_loss(
    model: DSepConvNet,
    frame0: torch.Tensor,
    truth: torch.Tensor,
    frame2: torch.Tensor,
    flows: torch.Tensor | None,
    weights: LossWeights,
    visibility: torch.Tensor | None = None,
    time: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The total loss for a batch and its parts (as floats, for the progress line);
    visibility (B, H, W) as sample_batch gives it, for the visibility term; time (B,) where
    the truth lies, for a network that takes it (None: the midpoint)."""
    uses_visibility = weights.visibility > 0 and visibility is not None
    output = model(
        frame0,
        frame2,
        flows=flows,
        return_terms=weights.offset > 0 or uses_visibility,
        time=time,
    )
    prediction = output.frame
    reconstruction = charbonnier(prediction, truth, weights.eps)
    gradient = gradient_loss(prediction, truth, weights.eps)
    total = weights.reconstruction * reconstruction + weights.gradient * gradient
    parts = {"rec": reconstruction.item(), "grad": gradient.item()}
    if weights.census > 0:
        census = census_loss(prediction, truth)
        total = total + weights.census * census
        parts["census"] = census.item()
    if weights.offset > 0:
        offset = offset_residual_penalty(model, output.terms)
        total = total + weights.offset * offset
        parts["offset"] = offset.item()
    if uses_visibility:
        seen = visibility_loss(output.terms, visibility)
        total = total + weights.visibility * seen
        parts["visibility"] = seen.item()
    if weights.flip > 0:
        reversed_prediction = model(
            frame2, frame0, flows=reverse_flows(flows), time=None if time is None else 1 - time
        ).frame
        flip = charbonnier(
            reversed_prediction, truth, weights.eps
        ) + weights.gradient * gradient_loss(reversed_prediction, truth, weights.eps)
        total = total + weights.flip * flip
        parts["flip"] = flip.item()
    return total, parts
