"""Shared fixtures: tiny configurations and random networks, and the location of the shared
benchmark data."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from dsepconv_gui.model.config import DSepConvConfig
from dsepconv_gui.model.network import DSepConvNet

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

# Tiny networks with the DIS flow prior: 3×3 taps; 5×5 read at bicubic prior positions; and
# the same with the searched prior motion (six flow channels).
TINY_FLOW = DSepConvConfig(kernel_size=3, base_width=2, flow_prior="dis")
TINY_BICUBIC = DSepConvConfig(
    kernel_size=5, base_width=2, flow_prior="dis", prior_sampling="bicubic"
)
TINY_SEARCHED = dataclasses.replace(TINY_BICUBIC, prior_motion="searched")


def make_random_network(config: DSepConvConfig | None = None, seed: int = 0) -> DSepConvNet:
    """A tiny network whose heads are perturbed away from their frame-average start, so that
    kernels, offsets and masks vary across the frame as a trained model's do."""
    torch.manual_seed(seed)
    model = DSepConvNet(config or DSepConvConfig(kernel_size=3, base_width=2))
    with torch.no_grad():
        for head in model.heads():
            head[-1].weight.normal_(0.0, 0.3)
    return model.eval()


@pytest.fixture
def random_network() -> DSepConvNet:
    return make_random_network()


def shared_benchmark(*parts: str) -> Path:
    """A path under ../shared/data/benchmarks, or skip the test when the data is absent."""
    path = SHARED_DATA.joinpath("benchmarks", *parts)
    if not path.exists():
        pytest.skip(f"shared benchmark data not found at {path} (only on the team's machines)")
    return path
