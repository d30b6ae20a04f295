"""The pieces that let the network learn occlusion: the evidence it sees, the census loss,
and starting a model with more inputs from a model file with fewer."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from dsepconv_gui.base.errors import ConfigError
from dsepconv_gui.model.checkpoint import save_checkpoint
from dsepconv_gui.model.config import EVIDENCE_CHANNELS, DSepConvConfig, preset
from dsepconv_gui.model.network import DSepConvNet, prior_displacements, warp
from dsepconv_gui.model.occlusion_evidence import (
    OFFSET_GATE_AGREE,
    OFFSET_GATE_DISAGREE,
    occlusion_evidence,
    offset_gate,
)
from dsepconv_gui.training.losses import census_loss, charbonnier, reverse_flows
from dsepconv_gui.training.trainer import load_initial_weights

from .conftest import TINY_SEARCHED

SIZE, SIDE, MOTION, LEFT = 64, 16, 12, 14  # a square moving MOTION pixels right over a texture


def occlusion_pair() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Frames (1, 3, H, W) of a bright square moving over a static texture, and the true flows
    (flow 1→2 then 2→1): MOTION on the square, 0 on the background."""
    rng = np.random.default_rng(0)
    background = rng.uniform(0.0, 0.5, (3, SIZE, SIZE)).astype(np.float32)
    square = rng.uniform(0.6, 1.0, (3, SIDE, SIDE)).astype(np.float32)
    top = (SIZE - SIDE) // 2
    frames, flows = [], np.zeros((4, SIZE, SIZE), np.float32)
    for k, x in enumerate((LEFT, LEFT + MOTION)):
        frame = background.copy()
        frame[:, top : top + SIDE, x : x + SIDE] = square
        frames.append(torch.from_numpy(frame)[None])
        flows[2 * k + 1, top : top + SIDE, x : x + SIDE] = MOTION if k == 0 else -MOTION
    return frames[0], frames[1], torch.from_numpy(flows)[None]


def evidence_of(frame1, frame2, flows) -> torch.Tensor:
    prior1, prior2 = prior_displacements(flows)
    return occlusion_evidence(
        frame1, frame2, flows, prior1, prior2, warp(frame1, prior1), warp(frame2, prior2)
    )


def test_evidence_marks_the_frame_whose_pixels_have_no_match():
    frame1, frame2, flows = occlusion_pair()
    evidence = evidence_of(frame1, frame2, flows)[0]
    assert evidence.shape == (EVIDENCE_CHANNELS, SIZE, SIZE)
    unmatched1, _, unmatched2, _, disagreement = evidence
    rows = slice((SIZE - SIDE) // 2 + 2, (SIZE + SIDE) // 2 - 2)
    # Behind the square (frame 2 shows background that frame 1 hid): frame 2's pixels there find
    # the square in frame 1, frame 1's pixels (the square) find themselves in frame 2.
    behind = (rows, slice(LEFT + 1, LEFT + MOTION // 2 - 1))
    assert unmatched2[behind].mean() > 0.5 > unmatched1[behind].mean() + 0.3
    assert disagreement[behind].mean() > 0.5
    # Far from the square everything matches.
    far = (slice(0, 8), slice(0, SIZE))
    assert float(evidence[:, far[0], far[1]].abs().max()) < 1e-5


def test_evidence_swaps_with_the_frames():
    frame1, frame2, flows = occlusion_pair()
    forward = evidence_of(frame1, frame2, flows)
    backward = evidence_of(frame2, frame1, reverse_flows(flows))
    torch.testing.assert_close(backward[:, [2, 3, 0, 1, 4]], forward, atol=1e-5, rtol=1e-5)


def test_census_loss_sees_structure_not_brightness():
    rng = np.random.default_rng(1)
    truth = torch.from_numpy(rng.uniform(0.2, 0.8, (1, 3, 32, 32)).astype(np.float32))
    assert census_loss(truth, truth).item() == 0.0
    brighter = truth + 0.1
    shuffled = truth[..., torch.randperm(32)]
    assert census_loss(brighter, truth).item() < 1e-6
    assert census_loss(shuffled, truth).item() > 0.3
    assert charbonnier(brighter, truth).item() > 0.09  # a plain difference counts the offset


def test_evidence_needs_a_flow_prior_and_the_blend_masks():
    with pytest.raises(ConfigError, match="occlusion_evidence needs a flow prior"):
        DSepConvConfig(occlusion_evidence=True)
    with pytest.raises(ConfigError, match="occlusion_blend needs masks"):
        DSepConvConfig(occlusion_blend=True, use_mask=False)
    assert (
        preset("flow-small-evidence").input_channels
        == preset("flow-small-searched").input_channels + 5
    )


def test_a_model_with_evidence_starts_as_the_model_file_without(tmp_path):
    base = TINY_SEARCHED
    torch.manual_seed(0)
    source = DSepConvNet(base)
    for head in source.heads():  # trained-looking heads, so the comparison means something
        torch.nn.init.normal_(head[-1].weight, std=0.05)
    path = save_checkpoint(tmp_path / "base.safetensors", source)
    widened = DSepConvNet(
        DSepConvConfig(**{**base.to_dict(), "occlusion_evidence": True, "occlusion_blend": True})
    )
    load_initial_weights(widened, path)
    frame1, frame2, flows = occlusion_pair()
    flows = torch.cat([flows, 0.25 * (flows[:, 2:4] - flows[:, 0:2])], dim=1)
    with torch.no_grad():
        expected = source(frame1, frame2, flows=flows).frame
        got = widened(frame1, frame2, flows=flows).frame
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    first = widened.features.encoders[0][0].weight
    assert torch.count_nonzero(first[:, -EVIDENCE_CHANNELS:]) == 0
    assert torch.count_nonzero(first[:, :-EVIDENCE_CHANNELS]) > 0


def test_the_blend_logit_moves_weight_from_one_frame_to_the_other():
    config = DSepConvConfig(kernel_size=3, base_width=2, occlusion_blend=True)
    torch.manual_seed(0)
    model = DSepConvNet(config)
    frame1, frame2 = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        before = model(frame1, frame2, return_terms=True).terms
        model.blend[-1].bias.fill_(2.0)  # "frame 2 shows it"
        after = model(frame1, frame2, return_terms=True).terms
    torch.testing.assert_close(before[0].mask, before[1].mask)  # neutral at the start
    sigmoid = torch.sigmoid(torch.tensor(2.0))
    torch.testing.assert_close(after[0].mask, torch.full_like(after[0].mask, 1 - sigmoid))
    torch.testing.assert_close(after[1].mask, torch.full_like(after[1].mask, sigmoid))


def test_the_offset_gate_opens_with_the_warps_disagreement():
    warped1 = torch.zeros(1, 3, 1, 5)
    differences = [0.0, OFFSET_GATE_AGREE, (OFFSET_GATE_AGREE + OFFSET_GATE_DISAGREE) / 2]
    differences += [OFFSET_GATE_DISAGREE, 0.5]
    warped2 = torch.tensor(differences).expand(1, 3, 1, 5)
    gate = offset_gate(warped1, warped2)[0, 0, 0]
    torch.testing.assert_close(gate, torch.tensor([0.0, 0.0, 0.5, 1.0, 1.0]))
    torch.testing.assert_close(offset_gate(warped2, warped1), offset_gate(warped1, warped2))


def test_gated_offsets_act_only_where_the_prior_warps_disagree():
    config = dataclasses.replace(TINY_SEARCHED, gated_offsets=True)
    torch.manual_seed(0)
    gated = DSepConvNet(config)
    with torch.no_grad():
        for head in (gated.offset_y1, gated.offset_x1, gated.offset_y2, gated.offset_x2):
            head[-1].bias.fill_(3.0)  # every tap 3 pixels off the prior, wherever
    ungated = DSepConvNet(dataclasses.replace(config, gated_offsets=False))
    ungated.load_state_dict(gated.state_dict())
    frame1, frame2, flows = occlusion_pair()
    flows = torch.cat([flows, prior_displacements(flows)[0]], dim=1)  # the searched layout
    with torch.no_grad():
        terms = gated(frame1, frame2, flows=flows, return_terms=True).terms
        free = ungated(frame1, frame2, flows=flows, return_terms=True).terms
    learned = (terms[0].offset_y - free[0].offset_y + 3.0)[0, 0]  # the learned part, gated
    behind = (slice((SIZE - SIDE) // 2 + 2, (SIZE + SIDE) // 2 - 2), slice(LEFT + 1, LEFT + 5))
    far = (slice(0, 8), slice(0, SIZE))
    assert float(learned[far].abs().max()) < 1e-5  # the true flow: both frames agree
    torch.testing.assert_close(learned[behind], torch.full_like(learned[behind], 3.0))
    with pytest.raises(ConfigError, match="gated_offsets needs a flow prior"):
        DSepConvConfig(gated_offsets=True)
