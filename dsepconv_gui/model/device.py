"""Choosing the compute device: ``auto`` (CUDA when available, else CPU), ``cpu``, ``cuda:N``;
and the precision of the network on the CPU: ``auto`` (bfloat16 where the CPU computes it
natively, else float32), ``float32``, ``bfloat16``.

bfloat16 runs the network's convolutions under torch.autocast, and everything else (the
flows, the fused deformable convolution, the frames) in float32. Measured on this project's
2-core AMD EPYC (AVX512-BF16), 2026-11-28: the 640×480 network pass 197 → 121 ms, and on the
benchmarks the interpolated frames 74.0 dB (middlebury-other), 74.6 dB (ucf101-dvf21) and
66.0 dB (held-out real footage) from the float32 ones, at most 6 levels apart at a pixel, the
mean PSNR against the truth +0.0006, +0.0008 and +0.0005 dB (`python
experiments/bf16_probe.py --sets …`). Without native support bfloat16 is emulated and slower,
so ``auto`` keeps float32 there. A GPU runs float32 (its half precision is not measured yet).
"""

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
    # The network's convolutions under autocast in this dtype (CPU bfloat16); None: as dtype.
    network_dtype: torch.dtype | None = None

    def __str__(self) -> str:
        return self.description


PRECISIONS = ("auto", "float32", "bfloat16")


def describe_device(device: torch.device, network_dtype: torch.dtype | None = None) -> str:
    """'cpu (8 threads)', 'cpu (8 threads, bfloat16 network)' or
    'cuda:0 (NVIDIA GeForce RTX 3060, 12.0 GB)'."""
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        props = torch.cuda.get_device_properties(index)
        return f"cuda:{index} ({props.name}, {props.total_memory / 2**30:.1f} GB)"
    precision = ""
    if network_dtype == torch.bfloat16:
        # forced on a CPU without it: emulated, slower than float32
        precision = ", bfloat16 network" + ("" if native_bfloat16() else " emulated, slower")
    return f"cpu ({torch.get_num_threads()} threads{precision})"


def native_bfloat16() -> bool:
    """Whether this CPU computes bfloat16 natively (AVX512-BF16 or AMX)."""
    try:
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except AttributeError:  # a torch without these probes: assume not
        return False


def network_dtype_for(device: torch.device, precision: str) -> torch.dtype | None:
    """The autocast dtype of the network for a precision choice (module docstring); None:
    float32 throughout."""
    if precision not in PRECISIONS:
        raise DeviceError(f"precision '{precision}' is not one of {', '.join(PRECISIONS)}")
    if device.type != "cpu":
        if precision == "bfloat16":
            raise DeviceError(
                "precision 'bfloat16' is for the CPU; a GPU runs the network in float32 "
                "(choose the device cpu for bfloat16, or the precision auto)"
            )
        return None
    if precision == "bfloat16" or (precision == "auto" and native_bfloat16()):
        return torch.bfloat16
    return None


def resolve_device(spec: str = "auto", precision: str = "auto") -> DeviceInfo:
    """Turn a user's device and precision choice into a DeviceInfo; raise DeviceError if it
    cannot be used."""
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
                "choose the device cpu or auto"
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
    network_dtype = network_dtype_for(device, (precision or "auto").strip().lower())
    return DeviceInfo(
        device=device,
        dtype=torch.float32,
        description=describe_device(device, network_dtype),
        network_dtype=network_dtype,
    )
