"""Model files made in a test: a valid tiny checkpoint's header and tensors, to be altered."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch
from safetensors.torch import save_file

from dsepconv_gui.model.checkpoint import ARCHITECTURE, FORMAT, FORMAT_VERSION
from dsepconv_gui.model.config import DSepConvConfig

from .conftest import make_random_network

TINY = DSepConvConfig(kernel_size=3, base_width=2)


def checkpoint_parts(
    config: DSepConvConfig = TINY, seed: int = 0
) -> tuple[dict[str, str], dict[str, torch.Tensor]]:
    """The header (string metadata) and tensors of a valid checkpoint of `config`."""
    header = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "architecture": ARCHITECTURE,
        "config": config.to_json(),
        "metadata": '{"created": "2024-01-01T00:00:00+00:00"}',
    }
    model = make_random_network(config, seed=seed)
    return header, {name: t.detach().contiguous() for name, t in model.state_dict().items()}


def tensors_of(**changes: object) -> dict[str, torch.Tensor]:
    """The tensors of a valid checkpoint of the tiny configuration with `changes`."""
    return checkpoint_parts(dataclasses.replace(TINY, **changes))[1]


def write_checkpoint_file(
    path: Path, header: dict[str, str | None], tensors: dict[str, torch.Tensor]
) -> Path:
    """A safetensors file with this header (keys whose value is None left out) and tensors."""
    save_file(tensors, str(path), metadata={k: v for k, v in header.items() if v is not None})
    return path
