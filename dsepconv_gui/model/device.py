"""Choosing the compute device: ``auto`` (CUDA when available, else CPU), ``cpu``, ``cuda:N``."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from dsepconv_gui.base.errors import DeviceError


@dataclass(frozen=True)
class DeviceInfo:
    """The device and dtype inference runs with, and a human description of them."""

    device: torch.device
    dtype: torch.dtype
    description: str

    def __str__(self) -> str:
        return self.description


def describe_device(device: torch.device) -> str:
    """'cpu (8 threads)' or 'cuda:0 (NVIDIA GeForce RTX 3060, 12.0 GB)'."""
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        props = torch.cuda.get_device_properties(index)
        return f"cuda:{index} ({props.name}, {props.total_memory / 2**30:.1f} GB)"
    return f"cpu ({torch.get_num_threads()} threads)"


def resolve_device(spec: str = "auto") -> DeviceInfo:
    """Turn a user's device choice into a DeviceInfo; raise DeviceError if it cannot be used."""
    text = (spec or "auto").strip().lower()
    if text == "auto":
        device = torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
    elif text == "cpu":
        device = torch.device("cpu")
    elif text == "cuda" or text.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise DeviceError(
                f"device '{spec}': CUDA is not available here "
                f"(torch {torch.__version__}, built with CUDA {torch.version.cuda or 'none'}); "
                "use --device cpu or auto"
            )
        index_text = text.partition(":")[2] or "0"
        if not index_text.isdigit():
            raise DeviceError(f"device '{spec}': expected cuda:N with N a GPU number")
        index = int(index_text)
        count = torch.cuda.device_count()
        if index >= count:
            raise DeviceError(
                f"device '{spec}': only {count} CUDA device(s) found (0..{count - 1})"
            )
        device = torch.device(f"cuda:{index}")
    else:
        raise DeviceError(f"device '{spec}' is not one of auto, cpu, cuda, cuda:N")
    return DeviceInfo(device=device, dtype=torch.float32, description=describe_device(device))
