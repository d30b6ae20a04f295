"""Tiled inference for large frames in bounded memory.

The network runs on overlapping tiles; each tile's kernels, offsets and masks are kept for
its core (the tile without the margin) and the core's pixels are synthesised from the whole
frames (the streaming op reads anywhere), so the offsets need no margin: only the network's
receptive field does. MARGIN was measured with `dsepconv bench` (tiled against untiled on a
1080p pair; README, Performance): 512-pixel tiles agreed at 70 dB with no margin, 79 dB
with 32 and 82 dB with 64.

The memory a tile needs is estimated from the configuration (activation channels per pixel)
and the tile side is chosen to fit the memory available; on a GPU an out-of-memory error
retries with tiles half the side.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from itertools import pairwise

import torch
import torch.nn.functional as F

from dsepconv_gui.model.config import DSepConvConfig
from dsepconv_gui.model.network import (
    DSepConvNet,
    alignment_padding,
    synthesize,
    synthesize_frames,
)

MARGIN = 64  # pixels of context around each tile (multiple of 32)
MIN_TILE = 128
# bytes for one tile's network pass on CPU (tile_side_for): 736-pixel tiles with light heads,
# a 1080p frame in six of them peaks at 1.1-1.2 GB (README, Performance)
CPU_BUDGET = 0.5e9
WHOLE_FRAME_SLACK = 1.5


def bytes_per_pixel(config: DSepConvConfig, heads_fused: bool = False) -> float:
    """A generous estimate of the inference memory per input pixel (float32): the live
    activations of the U-Net's first levels and of the heads, and the per-pixel parameters
    of both frames (2 n + 3 n² channels each), which with `heads_fused` (light heads through
    the fused kernel: DSepConvNet.fuses_heads) stay at half resolution beside the priors and
    gate, one frame's at a time (network.synthesize_frames). Measured with heads_fused
    (models/dsepconv.safetensors, 2026-11-29, the process's peak above its resident memory
    before the pass, the flows computed before it): 310 bytes per pixel for a whole
    1920×1080 pass, 344 at 1280×720, 360 at 640×480 (its numba compilation included); this
    estimates 639 (while both frames' maps were held: an estimate of 767, 473 measured at
    1080p)."""
    n = config.kernel_size
    w1, w2, *_ = config.level_widths
    unet = 3 * w1 + 3 * w2 / 4 + 2 * config.head_width / 4  # three live tensors at a level
    parameters = 2 * (2 * n + 3 * n * n)
    if heads_fused:
        # one frame's parameters + the priors, gate and half-resolution blend, one head's
        # activations
        heads = parameters / 2 / 4 + 2 * 2 + 1 + 1 / 4 + config.head_width / 4
    else:
        heads = parameters + 2 * (n * n)  # the parameters plus one head's upsampled output
    frames = 3 * 8 + 4 * 2  # frames, warped frames, flows
    return 4.0 * (unet + heads + frames) * 1.5


def tile_side_for(config: DSepConvConfig, budget_bytes: float, heads_fused: bool = False) -> int:
    """The largest tile side (a multiple of 32, with margins) whose network pass fits."""
    pixels = budget_bytes / bytes_per_pixel(config, heads_fused)
    side = int(math.sqrt(max(pixels, 1))) - 2 * MARGIN
    return max(MIN_TILE, side // 32 * 32)


def available_memory(device: torch.device) -> float:
    """Bytes for one network pass: most of the free GPU memory, or on CPU half the available
    system memory up to CPU_BUDGET (larger tiles are hardly faster on CPU)."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return free * 0.8
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return min(CPU_BUDGET, int(line.split()[1]) * 1024 * 0.5)
    except OSError:
        pass
    return CPU_BUDGET


def tiles(height: int, width: int, side: int) -> list[tuple[int, int, int, int]]:
    """(top, bottom, left, right) of core tiles covering the frame: as few rows and columns
    as tiles of at most `side` (a multiple of 32) allow, the frame's 32-pixel blocks shared
    out evenly among them (sides a block apart at most, the frame's last tile cut at its
    edge), so that no thin strip at an edge pays for a whole tile's margins."""
    if side % 32:
        raise ValueError(f"the tile side must be a multiple of 32, got {side}")

    def spans(length: int) -> list[tuple[int, int]]:
        blocks = -(-length // 32)
        count = -(-blocks // (side // 32))
        starts = [32 * (i * blocks // count) for i in range(count)] + [length]
        return list(pairwise(starts))

    return [(y0, y1, x0, x1) for y0, y1 in spans(height) for x0, x1 in spans(width)]


def tiled_forward(
    model: DSepConvNet,
    frame1: torch.Tensor,
    frame2: torch.Tensor,
    flows: torch.Tensor | None,
    tile: int,
    margin: int = MARGIN,
    on_tile: Callable[[int, int], None] | None = None,
    time: float | None = None,
) -> torch.Tensor:
    """The interpolated frame (B, 3, H, W) (at `time`, for a model that takes it), computed
    tile by tile (inference only).

    Tiles start on multiples of 32 of the frame as the untiled network pads it (each crop
    padded by itself, below), so every tile's pooling windows coincide with the
    untiled ones: tiles differ from the whole frame only through context beyond the margin,
    including the prior's reads of the frames (the network's warped inputs, and with
    gated_offsets the gate) where the motion is larger than the margin.
    """
    _, _, height, width = frame1.shape
    tile, margin = max(32, tile // 32 * 32), margin // 32 * 32
    # Tiles are laid on the frame as the network pads it (pad_left, pad_top: where the frame
    # starts in it), but no padded copy of the whole frames and flows is made: each crop is
    # padded by itself (replicate padding of a crop that reaches the frame's edge equals the
    # crop of the padded frame), and synthesis reads the unpadded frames, whose clamped
    # border reads equal the padded frames' (a 4K frame: 0.4 GB less).
    pad_left, pad_right, pad_top, pad_bottom = alignment_padding(height, width)
    padded_h, padded_w = height + pad_top + pad_bottom, width + pad_left + pad_right
    output = frame1.new_empty(frame1.shape)

    def crop(tensor: torch.Tensor, y0: int, y1: int, x0: int, x1: int) -> torch.Tensor:
        """tensor[..., y0:y1, x0:x1] in the padded frame's coordinates."""
        top, bottom = y0 - pad_top, y1 - pad_top
        left, right = x0 - pad_left, x1 - pad_left
        inside = tensor[..., max(top, 0) : min(bottom, height), max(left, 0) : min(right, width)]
        beyond = (max(-left, 0), max(right - width, 0), max(-top, 0), max(bottom - height, 0))
        return F.pad(inside, beyond, mode="replicate") if any(beyond) else inside

    half_resolution = model.fuses_heads(frame1, frame2)
    cores = tiles(padded_h, padded_w, tile)
    for number, (top, bottom, left, right) in enumerate(cores):
        y0, y1 = max(0, top - margin), min(padded_h, bottom + margin)
        x0, x1 = max(0, left - margin), min(padded_w, right + margin)
        inputs = (
            crop(frame1, y0, y1, x0, x1),
            crop(frame2, y0, y1, x0, x1),
            None if flows is None else crop(flows, y0, y1, x0, x1),
            time,
        )
        # the core's pixels within the frame (cores reach into the padding at its edges)
        top_in, bottom_in = max(top, pad_top), min(bottom, pad_top + height)
        left_in, right_in = max(left, pad_left), min(right, pad_left + width)
        core = (top_in - y0, left_in - x0, bottom_in - top_in, right_in - left_in)
        origin = (top_in - pad_top, left_in - pad_left)
        if half_resolution:  # one frame's maps at a time (synthesize_frames)
            halves = model.half_resolution_terms(*inputs)
            made = synthesize_frames(
                (frame1, frame2), map(lambda t, c=core: t.crop(*c), halves), origin=origin
            )
        else:
            terms = model.estimate(*inputs)
            rows, columns = slice(core[0], core[0] + core[2]), slice(core[1], core[1] + core[3])
            shares = [
                synthesize(
                    frame, term.map(lambda t, r=rows, c=columns: t[..., r, c]), origin=origin
                )
                for frame, term in zip((frame1, frame2), terms, strict=True)
            ]
            made = shares[0] + shares[1]
        output[..., origin[0] : bottom_in - pad_top, origin[1] : right_in - pad_left] = made
        if on_tile is not None:
            on_tile(number + 1, len(cores))
    return output


def is_out_of_memory(error: BaseException) -> bool:
    return isinstance(error, torch.OutOfMemoryError) or "out of memory" in str(error).lower()


def forward_within_memory(
    model: DSepConvNet,
    frame1: torch.Tensor,
    frame2: torch.Tensor,
    flows: torch.Tensor | None,
    tile: int | None = None,
    log: Callable[[str], None] | None = None,
    check: Callable[[], None] | None = None,
    time: float | None = None,
) -> torch.Tensor:
    """The interpolated frame (at `time`, for a model that takes it), whole when it fits,
    else tiled; a GPU out-of-memory error
    retries with tiles of half the side, down to MIN_TILE. `check` is called between stages
    (after the network, after each tile) and may raise to cancel."""
    _, _, height, width = frame1.shape
    # With the tile side chosen here, a frame whose whole pass fits WHOLE_FRAME_SLACK × the
    # memory (bytes_per_pixel is generous) runs whole, whatever its shape: 640×480 whole took
    # 1.0 s against 1.4 s in four 384-pixel tiles (their margins recomputed), at the same
    # peak memory (about 1.05 GB of the process, 2 cores, 2026-11-27).
    whole_pixels = 0
    if tile is None:
        budget = available_memory(frame1.device)
        fused = model.fuses_heads(frame1, frame2)
        tile = tile_side_for(model.config, budget, fused)
        whole_pixels = WHOLE_FRAME_SLACK * budget / bytes_per_pixel(model.config, fused)
    while True:
        try:
            if (height <= tile and width <= tile) or height * width <= whole_pixels:
                return model(frame1, frame2, flows=flows, check=check, time=time).frame
            on_tile = None if check is None else (lambda _done, _total: check())
            return tiled_forward(model, frame1, frame2, flows, tile, on_tile=on_tile, time=time)
        except (torch.OutOfMemoryError, RuntimeError) as error:
            if not is_out_of_memory(error) or tile <= MIN_TILE:
                raise
            whole_pixels = 0
            if frame1.device.type == "cuda":
                torch.cuda.empty_cache()
            smaller = max(MIN_TILE, min(tile, max(height, width)) // 2 // 32 * 32)
            if log is not None:
                log(
                    f"out of memory with {min(tile, max(height, width))}-pixel tiles; "
                    f"retrying with {smaller}"
                )
            tile = smaller
