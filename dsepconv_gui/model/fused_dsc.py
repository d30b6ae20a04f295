"""The deformable separable convolution fused into one pass, for inference on the CPU (numba).

The same operation as deformable_separable_conv.py's (its docstring has the formula and the
border rule), computed pixel by pixel: for each output pixel, every tap's bilinear read and
weight, summed (in registers for three channels) into the output. Nothing of size n² × H × W
is ever made, and the rows run in parallel on every core (in one thread in a process forked
after that: _compiled_kernel).
The torch ops stay the reference (tests compare the two) and the differentiable path for
training.

convolve_half_resolution goes one step further for light heads (config.light_heads): it
takes their outputs before the ×2 upsampling and makes each pixel's kernels, offsets and
masks itself (DSepConvNet._term's steps: the bilinear upsampling, the prior's start, the
offsets' scale and gate, the masks' sigmoid of logit plus blend), so the 2n + 3n² maps of
each frame never exist at full resolution: at 640×480 their upsampling and elementwise steps
in torch took about 0.2 s, more than the network's convolutions.
"""

from __future__ import annotations

import os

import numpy as np
import torch

try:
    import numba
except ImportError:  # the torch ops are used instead (numba is a dependency: a safeguard)
    numba = None


def available() -> bool:
    return numba is not None


def _kernel(frame, vertical, horizontal, offset_y, offset_x, mask, use_mask, top, left, out):
    """Channels last, as the network's tensors are laid out: frame (H, W, C); vertical,
    horizontal (h, w, n); offsets and mask (h, w, n*n); out (h, w, C). Output pixel (y, x) is
    frame pixel (top + y, left + x). A pixel's parameters lie side by side in memory."""
    h, w, n = vertical.shape
    r = (n - 1) // 2
    rgb = frame.shape[2] == 3
    for y in numba.prange(h):
        for x in range(w):
            acc = (np.float32(0.0), np.float32(0.0), np.float32(0.0))
            for i in range(n):
                v = vertical[y, x, i]
                for j in range(n):
                    k = i * n + j
                    weight = v * horizontal[y, x, j]
                    if use_mask:
                        weight *= mask[y, x, k]
                    sy = top + y + i - r + offset_y[y, x, k]
                    sx = left + x + j - r + offset_x[y, x, k]
                    acc = _add_read(frame, sy, sx, weight, acc, out, y, x)
            if rgb:
                _store_rgb(acc, out, y, x)


def _half_resolution_kernel(
    frame, heads, blend, prior, gate, n, flags, scalars, grid_origin, frame_origin, out
):
    """frame (H, W, C); heads (Hh, Ww, 2n + 3n² or 2n + 2n²): vertical, horizontal, offset_y,
    offset_x, mask logits, at half the grid's resolution; blend (Hh, Ww, 1); prior (Hg, Wg, 2)
    and gate (Hg, Wg, 1) on the full-resolution grid; flags (masks, blend, prior, bicubic,
    gate) and scalars (offset scale, blend sign, blend start) as HalfResolutionTerm says.
    Output pixel (y, x) is grid pixel grid_origin + (y, x) and frame pixel frame_origin +
    (y, x); out (h, w, C)."""
    half_h, half_w, head_channels = heads.shape
    h, w = out.shape[0], out.shape[1]
    use_mask, use_blend, use_prior, bicubic, use_gate = flags
    offset_scale, blend_sign, blend_start = scalars
    r = (n - 1) // 2
    taps = n * n
    rgb = frame.shape[2] == 3
    for y in numba.prange(h):
        values = np.empty(head_channels, np.float32)
        masks = np.empty(taps, np.float32)
        exponent_bits = np.empty(taps, np.int32)
        vertical = np.empty(n, np.float32)
        horizontal = np.empty(n, np.float32)
        gy = grid_origin[0] + y
        # torch's ×2 bilinear upsampling (align_corners=False): source (g + 1/2)/2 - 1/2
        src_y = max((gy + 0.5) * 0.5 - 0.5, 0.0)
        ya = int(src_y)
        yb = min(ya + 1, half_h - 1)
        ly = src_y - ya
        for x in range(w):
            gx = grid_origin[1] + x
            src_x = max((gx + 0.5) * 0.5 - 0.5, 0.0)
            xa = int(src_x)
            xb = min(xa + 1, half_w - 1)
            lx = src_x - xa
            w_aa = (1.0 - ly) * (1.0 - lx)
            w_ab = (1.0 - ly) * lx
            w_ba = ly * (1.0 - lx)
            w_bb = ly * lx
            for c in range(head_channels):
                values[c] = (
                    w_aa * heads[ya, xa, c]
                    + w_ab * heads[ya, xb, c]
                    + w_ba * heads[yb, xa, c]
                    + w_bb * heads[yb, xb, c]
                )
            for i in range(n):
                vertical[i] = values[i]
                horizontal[i] = values[n + i]
            base_y = 0.0
            base_x = 0.0
            if use_prior:
                prior_y = prior[gy, gx, 0]
                prior_x = prior[gy, gx, 1]
                if bicubic:  # taps at the whole part, kernels the cubic weights of the fraction
                    base_y = np.floor(prior_y)
                    base_x = np.floor(prior_x)
                    _add_cubic_weights(vertical, r, prior_y - base_y)
                    _add_cubic_weights(horizontal, r, prior_x - base_x)
                else:
                    base_y = prior_y
                    base_x = prior_x
            scale = offset_scale
            if use_gate:
                scale *= gate[gy, gx, 0]
            mask_shift = 0.0
            if use_blend:
                mask_shift = (
                    w_aa * blend[ya, xa, 0]
                    + w_ab * blend[ya, xb, 0]
                    + w_ba * blend[yb, xa, 0]
                    + w_bb * blend[yb, xb, 0]
                )
            # float32 from here, as torch computes the masks
            mask_shift = np.float32(blend_sign * (mask_shift + blend_start))
            if use_mask:
                _sigmoids(values, 2 * n + 2 * taps, mask_shift, masks, exponent_bits)
            acc = (np.float32(0.0), np.float32(0.0), np.float32(0.0))
            for i in range(n):
                for j in range(n):
                    k = i * n + j
                    weight = vertical[i] * horizontal[j]
                    if use_mask:
                        weight *= masks[k]
                    offset_y = values[2 * n + k] * scale + base_y
                    offset_x = values[2 * n + taps + k] * scale + base_x
                    sy = frame_origin[0] + y + i - r + offset_y
                    sx = frame_origin[1] + x + j - r + offset_x
                    acc = _add_read(frame, sy, sx, weight, acc, out, y, x)
            if rgb:
                _store_rgb(acc, out, y, x)


def _widen_kernel(sources, out):
    """sources: bfloat16 maps as their bits, (rows, w, C_i) uint16 each; out: (rows, w, ΣC_i)
    uint32, the float32 bits of the same numbers, the maps side by side along the channels. A
    bfloat16 is a float32's upper half: widening shifts it, exactly."""
    for row in numba.prange(out.shape[0]):
        start = 0
        for source in sources:
            for x in range(source.shape[1]):
                for c in range(source.shape[2]):
                    out[row, x, start + c] = np.uint32(source[row, x, c]) << np.uint32(16)
            start += source.shape[2]


def _jit(function):
    """function compiled by numba on first call, inlined where a kernel calls it (a helper
    the kernels call must be compiled)."""
    return function if numba is None else numba.njit(cache=True, inline="always")(function)


@_jit
def _bilinear_corners(frame, sy, sx):
    """The four pixels around (sy, sx) of frame (H, W, C), the position clamped to the frame
    (the replicate border), and their weights: y0, x0, y1, x1, w00, w01, w10, w11."""
    height, width = frame.shape[0], frame.shape[1]
    sy = min(max(sy, 0.0), height - 1.0)
    sx = min(max(sx, 0.0), width - 1.0)
    y0 = int(sy)
    x0 = int(sx)
    fy = sy - y0
    fx = sx - x0
    return (
        y0,
        x0,
        min(y0 + 1, height - 1),
        min(x0 + 1, width - 1),
        (1.0 - fy) * (1.0 - fx),
        (1.0 - fy) * fx,
        fy * (1.0 - fx),
        fy * fx,
    )


@_jit
def _add_bilinear_read(frame, sy, sx, weight, out, y, x):
    """out[y, x] (C,) += weight × frame (H, W, C) read bilinearly at (sy, sx)."""
    y0, x0, y1, x1, w00, w01, w10, w11 = _bilinear_corners(frame, sy, sx)
    for c in range(frame.shape[2]):
        out[y, x, c] += weight * (
            w00 * frame[y0, x0, c]
            + w01 * frame[y0, x1, c]
            + w10 * frame[y1, x0, c]
            + w11 * frame[y1, x1, c]
        )


@_jit
def _add_read(frame, sy, sx, weight, acc, out, y, x):
    """weight × frame read bilinearly at (sy, sx): for 3 channels acc plus the read (in
    registers, stored by _store_rgb), else added to out[y, x] and acc returned as it was."""
    if frame.shape[2] == 3:
        return _add_rgb_read(frame, sy, sx, weight, acc)
    _add_bilinear_read(frame, sy, sx, weight, out, y, x)
    return acc


@_jit
def _add_rgb_read(frame, sy, sx, weight, acc):
    """acc (three numbers) + weight × a 3-channel frame read bilinearly at (sy, sx): the same
    as _add_bilinear_read, summed in registers (a quarter faster than in memory)."""
    y0, x0, y1, x1, w00, w01, w10, w11 = _bilinear_corners(frame, sy, sx)
    w00, w01, w10, w11 = weight * w00, weight * w01, weight * w10, weight * w11
    return (
        acc[0]
        + w00 * frame[y0, x0, 0]
        + w01 * frame[y0, x1, 0]
        + w10 * frame[y1, x0, 0]
        + w11 * frame[y1, x1, 0],
        acc[1]
        + w00 * frame[y0, x0, 1]
        + w01 * frame[y0, x1, 1]
        + w10 * frame[y1, x0, 1]
        + w11 * frame[y1, x1, 1],
        acc[2]
        + w00 * frame[y0, x0, 2]
        + w01 * frame[y0, x1, 2]
        + w10 * frame[y1, x0, 2]
        + w11 * frame[y1, x1, 2],
    )


@_jit
def _store_rgb(acc, out, y, x):
    out[y, x, 0] += acc[0]
    out[y, x, 1] += acc[1]
    out[y, x, 2] += acc[2]


@_jit
def _sigmoids(values, start, shift, out, exponent_bits):
    """out[k] = sigmoid(values[start + k] + shift) for every k of out, with e^x computed here
    as 2^m (its exponent bits) times e^f, f = x - m·ln2 with |f| <= ln2/2, by a degree-6
    Taylor polynomial: within 1e-6 of torch.sigmoid (a test). Unlike libm's expf this loop
    vectorises: the masks' sigmoids took a third of the kernel's time."""
    for k in range(out.shape[0]):
        x = -(values[start + k] + shift)
        x = min(max(x, np.float32(-86.0)), np.float32(86.0))
        y = x * np.float32(1.4426950408889634)  # e^x = 2^y
        whole = np.floor(y + np.float32(0.5))
        f = (y - whole) * np.float32(0.6931471805599453)  # 2^(y - whole) = e^f
        out[k] = np.float32(1.0) + f * (
            np.float32(1.0)
            + f
            * (
                np.float32(1.0 / 2)
                + f
                * (
                    np.float32(1.0 / 6)
                    + f
                    * (
                        np.float32(1.0 / 24)
                        + f * (np.float32(1.0 / 120) + f * np.float32(1.0 / 720))
                    )
                )
            )
        )
        exponent_bits[k] = (np.int32(whole) + np.int32(127)) << np.int32(23)
    powers = exponent_bits.view(np.float32)
    for k in range(out.shape[0]):
        out[k] = np.float32(1.0) / (np.float32(1.0) + out[k] * powers[k])


@_jit
def _add_cubic_weights(kernel, r, t):
    """Keys' cubic weights (a = -0.75, network.cubic_weights) of a read at fraction t, added
    to the taps r - 1 .. r + 2."""
    a = -0.75
    for q in range(4):
        distance = abs(t + 1.0 - q)  # tap r - 1 + q lies 1 + t, t, 1 - t, 2 - t away
        if distance <= 1.0:
            weight = ((a + 2.0) * distance - (a + 3.0)) * distance * distance + 1.0
        else:
            weight = ((a * distance - 5.0 * a) * distance + 8.0 * a) * distance - 4.0 * a
        kernel[r - 1 + q] += weight


_compiled = {}
# The process that started numba's parallel (GNU OpenMP) threads. A process forked from it
# (training/workers.py) is killed by OpenMP if it uses them ("fork() called from a process
# already using GNU OpenMP"), so there the kernels run compiled without threads.
_parallel_process: int | None = None


def _compiled_kernel(function=_kernel):
    global _parallel_process
    parallel = _parallel_process in (None, os.getpid())
    if parallel:
        _parallel_process = os.getpid()
    if (function, parallel) not in _compiled:
        # the serial variant is not cached: one cache entry per function and signature.
        # Reassociation and fused multiply-adds, but not the flags that assume no NaN or
        # infinity (they would let the compiler drop the clamps' NaN handling): no slower.
        _compiled[function, parallel] = numba.njit(
            parallel=parallel, fastmath={"reassoc", "contract", "nsz"}, cache=parallel
        )(function)
    return _compiled[function, parallel]


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


def convolve_half_resolution(
    frame: torch.Tensor, term, origin: tuple[int, int] = (0, 0)
) -> torch.Tensor:
    """The frame's contribution (B, C, h, w) for a network.HalfResolutionTerm `term` of a
    region h × w, with the region's pixel (0, 0) at frame pixel `origin`; CPU float32 tensors
    only (supports() says which)."""
    top, left, h, w = term.region
    b, c = frame.shape[:2]
    # the kernel reads without bounds checks: the region must lie on the grid and in the frame
    grid = (2 * term.heads.shape[-2], 2 * term.heads.shape[-1])
    maps = [t for t in (term.prior, term.gate) if t is not None]
    if (
        min(top, left, *origin) < 0
        or top + h > grid[0]
        or left + w > grid[1]
        or origin[0] + h > frame.shape[-2]
        or origin[1] + w > frame.shape[-1]
        or any(tuple(t.shape[-2:]) != grid for t in maps)
        or any(t.shape[0] not in (1, b) for t in (term.heads, *maps))
    ):
        raise ValueError(
            f"region {term.region} at {origin} does not fit the grid {grid} or the frame "
            f"{tuple(frame.shape)}"
        )
    kernel = _compiled_kernel(_half_resolution_kernel)
    out = np.zeros((b, h, w, c), np.float32)
    unused = np.zeros((1, 1, 1, 1), np.float32)
    frames, heads = _channels_last(frame), _channels_last(term.heads)
    blend, prior, gate = (
        unused if t is None else _channels_last(t) for t in (term.blend, term.prior, term.gate)
    )
    flags = (
        term.has_masks,
        term.blend is not None,
        term.prior is not None,
        term.bicubic,
        term.gate is not None,
    )
    for item in range(b):
        scalars = (
            _item_value(term.offset_scale, item, 1.0),
            float(term.blend_sign),
            _item_value(term.blend_start, item, 0.0),
        )
        kernel(
            frames[item],
            heads[item],
            blend[min(item, len(blend) - 1)],
            prior[min(item, len(prior) - 1)],
            gate[min(item, len(gate) - 1)],
            term.kernel_size,
            flags,
            scalars,
            (top, left),
            origin,
            out[item],
        )
    return torch.from_numpy(out).permute(0, 3, 1, 2)


def concatenated_heads(heads: list[torch.Tensor], dtype: torch.dtype) -> torch.Tensor:
    """The heads' maps (B, C_i, h, w) side by side along the channels, in `dtype` and channels
    last, which convolve_half_resolution then reads without a copy. Channels-last bfloat16
    maps (a network under autocast) into float32 on the CPU in one pass of a numba kernel,
    where torch concatenates, then casts: one frame's heads at 1080p 23 against 87 ms on this
    2-core CPU. Otherwise torch's concatenation and cast."""
    widens = (
        available()
        and dtype == torch.float32
        and all(
            t.dtype == torch.bfloat16
            and t.device.type == "cpu"
            and t.is_contiguous(memory_format=torch.channels_last)
            for t in heads
        )
    )
    if not widens:
        return torch.cat(heads, dim=1).to(dtype)
    b, _, h, w = heads[0].shape
    bits = (t.detach().permute(0, 2, 3, 1).view(torch.int16).numpy() for t in heads)
    sources = tuple(a.view(np.uint16).reshape(b * h, w, -1) for a in bits)
    out = np.empty((b * h, w, sum(s.shape[2] for s in sources)), np.uint32)
    _compiled_kernel(_widen_kernel)(sources, out)
    return torch.from_numpy(out.view(np.float32).reshape(b, h, w, -1)).permute(0, 3, 1, 2)


def _item_value(values: torch.Tensor | None, item: int, default: float) -> float:
    """A batch item's number of a (B, 1, 1, 1) tensor (default for None)."""
    return default if values is None else float(values.reshape(-1)[item])


def _channels_last(tensor: torch.Tensor) -> np.ndarray:
    """(B, C, H, W) as a (B, H, W, C) C-contiguous array."""
    return np.ascontiguousarray(tensor.detach().permute(0, 2, 3, 1).numpy())


def supports(*tensors: torch.Tensor | None) -> bool:
    """Whether the fused kernel can take these: numba present, CPU float32, no gradient."""
    return available() and all(
        t is None or (t.device.type == "cpu" and t.dtype == torch.float32 and not t.requires_grad)
        for t in tensors
    )
