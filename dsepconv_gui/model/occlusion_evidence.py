"""What the masks need to see: where each frame's pixels have no counterpart in the other.

With a good flow the two frames read at the prior agree almost everywhere, and a mask has
nothing to decide; where an object uncovers background, one frame shows the middle pixel
and the other does not. Which one is not visible in either frame alone, but in how each
frame's pixels fare when looked up in the other frame along its flow:

- unmatched_k: |I_k(q) − I_other(q + F_k→other(q))| (mean over RGB) at frame k's pixel q:
  large where q's content is missing from the other frame (covered there, or the flow is wrong);
- inconsistent_k: |F_k→other(q) + F_other→k(q + F_k→other(q))| in pixels (log1p): the flows
  disagree, as they do at occlusions;
- disagreement: |warped_1 − warped_2| at the middle pixel (mean over RGB): the two frames
  read at the prior show different things.

The per-frame maps are read at the middle pixel's prior position of that frame, so they say
what the taps of frame k land on. Swapping the frames (time reversal) swaps the per-frame
channels and keeps the disagreement: the network stays free of any bias towards one frame.
"""

from __future__ import annotations

import torch

from dsepconv_gui.flow.layout import FLOW12, FLOW21
from dsepconv_gui.model.deformable_separable_conv import warp

# Photometric differences (0..1) are small where frames match: scaled to be of the order of one.
PHOTOMETRIC_SCALE = 4.0
# offset_gate: below AGREE (mean |warped1 - warped2| in 0..1, about 2.5 levels of 255: the
# noise and compression of real footage) the prior is trusted and the learned offsets are off;
# from DISAGREE on they act in full, linearly in between. Chosen on the shipped model's
# learned offsets (models/README.md, "Gated offsets"): 0.01 / 0.05 kept its held-out gain
# (26.02 against 26.05 dB ungated) and gave Middlebury's sharp scenes their start back
# (35.64 against 35.27); 0.02 / 0.08 cost 0.04 dB more on held-out footage.
OFFSET_GATE_AGREE = 0.01
OFFSET_GATE_DISAGREE = 0.05


def occlusion_evidence(
    frame1: torch.Tensor,
    frame2: torch.Tensor,
    flows: torch.Tensor,
    prior1: torch.Tensor,
    prior2: torch.Tensor,
    warped1: torch.Tensor,
    warped2: torch.Tensor,
) -> torch.Tensor:
    """(B, config.EVIDENCE_CHANNELS, H, W) from frames (B, 3, H, W) in [0, 1], flows (B, ≥4, H, W)
    (flow 1→2 then 2→1, as (dy, dx)), the priors (B, 2, H, W) and the frames warped by them."""
    flow12, flow21 = flows[:, FLOW12], flows[:, FLOW21]
    maps = []
    for frame, other, forward, backward, prior in (
        (frame1, frame2, flow12, flow21, prior1),
        (frame2, frame1, flow21, flow12, prior2),
    ):
        unmatched = (frame - warp(other, forward)).abs().mean(
            dim=1, keepdim=True
        ) * PHOTOMETRIC_SCALE
        round_trip = forward + warp(backward, forward)
        # hypot, not norm(dim=1): the same length, 100 times faster on CPU (26 against 0.2 ms
        # for a 640×480 map, torch 2.13). Its gradient at (0, 0) is NaN (norm's is 0); the
        # flows are inputs, never trained through.
        inconsistent = torch.log1p(torch.hypot(round_trip[:, 0:1], round_trip[:, 1:2]))
        maps.append(warp(torch.cat([unmatched, inconsistent], dim=1), prior))
    return torch.cat([*maps, disagreement(warped1, warped2) * PHOTOMETRIC_SCALE], dim=1)


def disagreement(warped1: torch.Tensor, warped2: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W): |warped1 - warped2| (mean over RGB, frames in [0, 1])."""
    return (warped1 - warped2).abs().mean(dim=1, keepdim=True)


def offset_gate(warped1: torch.Tensor, warped2: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W) in [0, 1]: how much of the learned offsets acts at each middle pixel
    (config.gated_offsets). 0 where the two frames read at the prior agree (the flow is
    right there), 1 where they disagree (occlusion, or motion the flow got wrong)."""
    span = OFFSET_GATE_DISAGREE - OFFSET_GATE_AGREE
    return ((disagreement(warped1, warped2) - OFFSET_GATE_AGREE) / span).clamp(0.0, 1.0)
