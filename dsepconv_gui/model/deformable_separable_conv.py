"""The deformable separable convolution of DSepConv (Cheng & Chen, AAAI 2020), in plain PyTorch.

For one input frame I (B, C, H, W) and per-pixel parameters predicted by the network, the
output at pixel p = (y, x) is

    out(p) = sum_{i,j} v_i(p) * h_j(p) * m_ij(p) * I(p + g_ij + d_ij(p))

- i, j in 0..n-1 index the rows and columns of an n×n tap grid; tap k = i * n + j;
- g_ij = (i - r, j - r) with r = (n - 1) / 2 is the regular grid around p (n is odd);
- v (vertical) and h (horizontal) are the two 1-D kernels of length n;
- d_ij = (dy, dx) is the learned offset of tap (i, j), in pixels;
- m_ij in [0, 1] is the modulation mask (1 everywhere when no mask is given);
- I at a fractional position is read by bilinear interpolation.

Border rule (the paper's replicate padding): sampling coordinates are clamped to
[0, H-1] × [0, W-1] before the bilinear read, which is exactly bilinear interpolation on
the frame extended by replicating its edge pixels out to infinity.

With d = 0 and m = 1 this is SepConv's adaptive separable convolution; with n = 1 it is
backward warping by the flow (dy, dx) with the per-pixel weight v·h·m.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from dsepconv_gui.base.errors import InputError
from dsepconv_gui.model import fused_dsc


def tap_grid(kernel_size: int) -> torch.Tensor:
    """The regular tap positions g_ij as a (n*n, 2) tensor of (dy, dx), tap k = i * n + j."""
    r = (kernel_size - 1) / 2
    steps = torch.arange(kernel_size, dtype=torch.float64) - r
    gy, gx = torch.meshgrid(steps, steps, indexing="ij")
    return torch.stack([gy.reshape(-1), gx.reshape(-1)], dim=1)


def check_parameters(
    frame: torch.Tensor,
    vertical: torch.Tensor,
    horizontal: torch.Tensor,
    offset_y: torch.Tensor,
    offset_x: torch.Tensor,
    mask: torch.Tensor | None,
    region: tuple[int, int] | None = None,
) -> int:
    """Validate the shapes of the op's inputs and return the kernel size n. The parameters
    cover the whole frame, or a region of size `region` (h, w) of it."""
    if frame.dim() != 4:
        raise InputError(f"frame must be (B, C, H, W), got shape {tuple(frame.shape)}")
    b = frame.shape[0]
    h, w = region if region is not None else frame.shape[-2:]
    n = vertical.shape[1] if vertical.dim() == 4 else -1
    if n < 1 or n % 2 == 0:
        raise InputError(
            f"kernel size must be odd and positive, got vertical {tuple(vertical.shape)}"
        )
    expected = {
        "vertical": (vertical, (b, n, h, w)),
        "horizontal": (horizontal, (b, n, h, w)),
        "offset_y": (offset_y, (b, n * n, h, w)),
        "offset_x": (offset_x, (b, n * n, h, w)),
    }
    if mask is not None:
        expected["mask"] = (mask, (b, n * n, h, w))
    for name, (tensor, shape) in expected.items():
        if tuple(tensor.shape) != shape:
            raise InputError(
                f"{name} must have shape {shape} for this frame, got {tuple(tensor.shape)}"
            )
    return n


def sampling_positions(
    offset_y: torch.Tensor, offset_x: torch.Tensor, kernel_size: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Absolute sampling positions p + g_ij + d_ij, each (B, n*n, H, W), in pixels (unclamped)."""
    _, _, h, w = offset_y.shape
    grid = tap_grid(kernel_size).to(device=offset_y.device, dtype=offset_y.dtype)
    rows = torch.arange(h, device=offset_y.device, dtype=offset_y.dtype).view(1, 1, h, 1)
    cols = torch.arange(w, device=offset_y.device, dtype=offset_y.dtype).view(1, 1, 1, w)
    ys = rows + grid[:, 0].view(1, -1, 1, 1) + offset_y
    xs = cols + grid[:, 1].view(1, -1, 1, 1) + offset_x
    return ys, xs


def tap_weights(
    vertical: torch.Tensor, horizontal: torch.Tensor, mask: torch.Tensor | None
) -> torch.Tensor:
    """The weight v_i · h_j · m_ij of every tap, (B, n*n, H, W), tap k = i * n + j."""
    b, n, h, w = vertical.shape
    weights = (vertical.unsqueeze(2) * horizontal.unsqueeze(1)).reshape(b, n * n, h, w)
    return weights if mask is None else weights * mask


def deformable_separable_conv(
    frame: torch.Tensor,
    vertical: torch.Tensor,
    horizontal: torch.Tensor,
    offset_y: torch.Tensor,
    offset_x: torch.Tensor,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Reference deformable separable convolution; differentiable, same code on CPU and CUDA.

    Args:
        frame: (B, C, H, W) input frame.
        vertical, horizontal: (B, n, H, W) 1-D kernels per output pixel, n odd.
        offset_y, offset_x: (B, n*n, H, W) offsets of the taps in pixels, tap k = i*n + j.
        mask: (B, n*n, H, W) modulation in [0, 1], or None for all ones.

    Returns:
        (B, C, H, W): the frame convolved with its per-pixel deformable separable kernels.

    This reference reads all n*n bilinear samples at once (B, C, n*n, H, W), which is simple
    and fast for training crops; see the module docstring for the formula and border rule.
    """
    n = check_parameters(frame, vertical, horizontal, offset_y, offset_x, mask)
    b, c, h, w = frame.shape
    ys, xs = sampling_positions(offset_y, offset_x, n)
    # grid_sample with align_corners=True maps -1..1 to pixel centres 0..size-1, and
    # padding_mode="border" clamps to that range: the replicate rule. A side of one pixel
    # samples its only row/column whatever the coordinate.
    gy = ys * (2.0 / (h - 1)) - 1.0 if h > 1 else ys * 0.0
    gx = xs * (2.0 / (w - 1)) - 1.0 if w > 1 else xs * 0.0
    grid = torch.stack([gx, gy], dim=-1).reshape(b, n * n * h, w, 2)
    samples = F.grid_sample(
        frame, grid, mode="bilinear", padding_mode="border", align_corners=True
    ).view(b, c, n * n, h, w)
    weights = tap_weights(vertical, horizontal, mask)
    return (samples * weights.unsqueeze(1)).sum(dim=2)


def deformable_separable_conv_streaming(
    frame: torch.Tensor,
    vertical: torch.Tensor,
    horizontal: torch.Tensor,
    offset_y: torch.Tensor,
    offset_x: torch.Tensor,
    mask: torch.Tensor | None = None,
    origin: tuple[int, int] = (0, 0),
) -> torch.Tensor:
    """The same operation without the n*n sampled copies: the inference path.

    The parameters may cover a region of the frame only: output pixel (y, x) of the
    parameters is frame pixel (origin[0] + y, origin[1] + x), and taps read the whole frame
    (with the same replicate border). Tiled inference uses this so that tiles need no margin
    for the offsets. Returns (B, C, h, w) for parameters of size h × w.

    Without gradients, on CPU float32 tensors, the fused kernel computes it in one pass
    (fused_dsc.py, numba); otherwise torch, one tap at a time (streaming_torch).
    """
    h, w = vertical.shape[-2:]
    check_parameters(frame, vertical, horizontal, offset_y, offset_x, mask, region=(h, w))
    parameters = (vertical, horizontal, offset_y, offset_x, mask)
    if not torch.is_grad_enabled() and fused_dsc.supports(frame, *parameters):
        return fused_dsc.convolve(frame, parameters, origin)
    return streaming_torch(frame, parameters, origin)


def streaming_torch(
    frame: torch.Tensor, parameters: tuple, origin: tuple[int, int] = (0, 0)
) -> torch.Tensor:
    """deformable_separable_conv_streaming in torch, one tap at a time: memory of one sampled
    copy instead of n*n (25× less for n = 5), any device, differentiable. `parameters` are
    (vertical, horizontal, offset_y, offset_x, mask), already checked."""
    vertical, horizontal, offset_y, offset_x, mask = parameters
    b, c, height, width = frame.shape
    h, w = vertical.shape[-2:]
    n = vertical.shape[1]
    top, left = origin
    dtype, device = offset_y.dtype, offset_y.device
    rows = torch.arange(top, top + h, device=device, dtype=dtype).view(1, h, 1)
    cols = torch.arange(left, left + w, device=device, dtype=dtype).view(1, 1, w)
    scale_y = 2.0 / (height - 1) if height > 1 else 0.0
    scale_x = 2.0 / (width - 1) if width > 1 else 0.0
    r = (n - 1) // 2
    output = frame.new_zeros((b, c, h, w))
    for i in range(n):
        for j in range(n):
            k = i * n + j
            ys = (rows + (i - r) + offset_y[:, k]) * scale_y - 1.0
            xs = (cols + (j - r) + offset_x[:, k]) * scale_x - 1.0
            sample = F.grid_sample(
                frame,
                torch.stack([xs, ys], dim=-1),
                mode="bilinear",
                padding_mode="border",
                align_corners=True,
            )
            weight = vertical[:, i] * horizontal[:, j]
            if mask is not None:
                weight = weight * mask[:, k]
            output.addcmul_(sample, weight.unsqueeze(1))
    return output


def mean_displacement(
    vertical: torch.Tensor,
    horizontal: torch.Tensor,
    offset_y: torch.Tensor,
    offset_x: torch.Tensor,
    mask: torch.Tensor | None = None,
    eps: float = 1e-6,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Where each output pixel reads from on average: the weight-averaged g_ij + d_ij.

    Returns (dy, dx), each (B, H, W), in pixels: an optical-flow-like field (for n = 1 it is
    the flow itself). Weights are |v_i h_j m_ij| so that negative taps do not cancel out.
    """
    n = vertical.shape[1]
    grid = tap_grid(n).to(device=offset_y.device, dtype=offset_y.dtype)
    dy, dx = weighted_tap_mean(
        vertical,
        horizontal,
        mask,
        grid[:, 0].view(1, -1, 1, 1) + offset_y,
        grid[:, 1].view(1, -1, 1, 1) + offset_x,
        eps=eps,
    )
    return dy, dx


def weighted_tap_mean(
    vertical: torch.Tensor,
    horizontal: torch.Tensor,
    mask: torch.Tensor | None,
    *values: torch.Tensor,
    eps: float = 1e-6,
) -> tuple[torch.Tensor, ...]:
    """Each of `values` (B, n*n, H, W), one number per tap, averaged over the taps with the
    weights |v_i h_j m_ij| (so that negative taps do not cancel out): (B, H, W) each."""
    weights = tap_weights(vertical, horizontal, mask).abs()
    total = weights.sum(dim=1).clamp_min(eps)
    return tuple((value * weights).sum(dim=1) / total for value in values)


def warp(frame: torch.Tensor, displacement: torch.Tensor) -> torch.Tensor:
    """Backward warping (the op with n = 1): frame (B, C, H, W) read bilinearly at
    p + displacement(p), displacement (B, 2, H, W) as (dy, dx)."""
    ones = torch.ones_like(displacement[:, :1])
    parameters = (frame, ones, ones, displacement[:, 0:1], displacement[:, 1:2])
    if torch.is_grad_enabled():
        return deformable_separable_conv(*parameters)
    return deformable_separable_conv_streaming(*parameters)  # inference: fused on the CPU
