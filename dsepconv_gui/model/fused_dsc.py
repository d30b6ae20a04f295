"""The deformable separable convolution fused into one pass, for inference on the CPU (numba).

The same operation as deformable_separable_conv.py's (its docstring has the formula and the
border rule), computed pixel by pixel: for each output pixel, every tap's bilinear read and
weight, summed straight into the output. Nothing of size n² × H × W is ever made, and the rows
run in parallel on every core. The torch ops stay the reference (tests compare the two) and
the differentiable path for training.
"""

from __future__ import annotations

import numpy as np
import torch

try:
    import numba
except ImportError:  # the torch ops are used instead
    numba = None


def available() -> bool:
    return numba is not None


def _kernel(frame, vertical, horizontal, offset_y, offset_x, mask, use_mask, top, left, out):
    """Channels last, as the network's tensors are laid out: frame (H, W, C); vertical,
    horizontal (h, w, n); offsets and mask (h, w, n*n); out (h, w, C). Output pixel (y, x) is
    frame pixel (top + y, left + x). A pixel's parameters lie side by side in memory."""
    height, width, channels = frame.shape
    h, w, n = vertical.shape
    r = (n - 1) // 2
    for y in numba.prange(h):
        for x in range(w):
            for i in range(n):
                v = vertical[y, x, i]
                for j in range(n):
                    k = i * n + j
                    weight = v * horizontal[y, x, j]
                    if use_mask:
                        weight *= mask[y, x, k]
                    # the read position, clamped to the frame (the replicate border)
                    sy = min(max(top + y + i - r + offset_y[y, x, k], 0.0), height - 1.0)
                    sx = min(max(left + x + j - r + offset_x[y, x, k], 0.0), width - 1.0)
                    y0 = int(sy)
                    x0 = int(sx)
                    y1 = min(y0 + 1, height - 1)
                    x1 = min(x0 + 1, width - 1)
                    fy = sy - y0
                    fx = sx - x0
                    w00 = weight * (1.0 - fy) * (1.0 - fx)
                    w01 = weight * (1.0 - fy) * fx
                    w10 = weight * fy * (1.0 - fx)
                    w11 = weight * fy * fx
                    for c in range(channels):
                        out[y, x, c] += (
                            w00 * frame[y0, x0, c]
                            + w01 * frame[y0, x1, c]
                            + w10 * frame[y1, x0, c]
                            + w11 * frame[y1, x1, c]
                        )


_compiled = None


def _compiled_kernel():
    global _compiled
    if _compiled is None:
        _compiled = numba.njit(parallel=True, fastmath=False, cache=True)(_kernel)
    return _compiled


def convolve(
    frame: torch.Tensor, parameters: tuple, origin: tuple[int, int] = (0, 0)
) -> torch.Tensor:
    """deformable_separable_conv_streaming's result (B, C, h, w) by the fused kernel, which
    that function calls (it checks the shapes first: the kernel does not). `parameters` are
    (vertical, horizontal, offset_y, offset_x, mask), for a region h × w of the frame at
    `origin` or for the whole frame; CPU float32 tensors only (supports() says which)."""
    vertical, horizontal, offset_y, offset_x, mask = parameters
    kernel = _compiled_kernel()
    b, c = frame.shape[:2]
    h, w = vertical.shape[-2:]
    out = np.zeros((b, h, w, c), np.float32)
    # channels last: a free view of the network's channels-last tensors (a copy otherwise)
    arrays = [_channels_last(t) for t in (frame, vertical, horizontal, offset_y, offset_x)]
    masks = _channels_last(mask) if mask is not None else np.zeros((b, 1, 1, 1), np.float32)
    for item in range(b):
        kernel(
            *(a[item] for a in arrays),
            masks[item],
            mask is not None,
            origin[0],
            origin[1],
            out[item],
        )
    return torch.from_numpy(out).permute(0, 3, 1, 2)


def _channels_last(tensor: torch.Tensor) -> np.ndarray:
    """(B, C, H, W) as a (B, H, W, C) C-contiguous array."""
    return np.ascontiguousarray(tensor.detach().permute(0, 2, 3, 1).numpy())


def supports(*tensors: torch.Tensor | None) -> bool:
    """Whether the fused kernel can take these: numba present, CPU float32, no gradient."""
    return available() and all(
        t is None or (t.device.type == "cpu" and t.dtype == torch.float32 and not t.requires_grad)
        for t in tensors
    )
