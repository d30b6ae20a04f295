"""Tiled inference: tiles agree with the whole frame, tile sizes follow the memory, and an
out-of-memory error retries with smaller tiles."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dsepconv_gui.flow.prior import bidirectional_flow
from dsepconv_gui.interpolation.interpolator import Interpolator
from dsepconv_gui.model.checkpoint import LoadedModel
from dsepconv_gui.model.config import DSepConvConfig, preset
from dsepconv_gui.model.device import resolve_device
from dsepconv_gui.model.tiling import (
    MIN_TILE,
    forward_within_memory,
    tile_side_for,
    tiled_forward,
    tiles,
)

from .conftest import make_random_network

FLOW_CONFIG = DSepConvConfig(kernel_size=3, base_width=2, flow_prior="dis")


def pair(h=150, w=170, seed=0):
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (h + 8, w + 8, 3), dtype=np.uint8)
    a, b = base[4 : 4 + h, 2 : 2 + w], base[4 : 4 + h, 6 : 6 + w]
    flows = torch.from_numpy(bidirectional_flow(a, b))[None]
    to = lambda x: torch.from_numpy(np.ascontiguousarray(x)).permute(2, 0, 1)[None].float() / 255  # noqa: E731
    return to(a), to(b), flows


def psnr(x, y):
    mse = float(((x - y) ** 2).mean())
    return 10 * np.log10(1.0 / max(mse, 1e-20))


@pytest.mark.parametrize(
    "height, width, side",
    [(150, 170, 64), (1088, 1920, 736), (2176, 3840, 512), (1088, 1920, 128), (96, 96, 128)],
)
def test_tiles_cover_the_frame_once_in_as_few_even_tiles_as_the_side_allows(height, width, side):
    covered = np.zeros((height, width), int)
    cores = tiles(height, width, side)
    for top, bottom, left, right in cores:
        covered[top:bottom, left:right] += 1
        assert top % 32 == 0 and left % 32 == 0
        assert bottom - top <= side and right - left <= side
    assert (covered == 1).all()
    assert len(cores) == -(-height // side) * -(-width // side)
    # the 32-pixel blocks shared out evenly: no thin strip at the far edges of a frame whose
    # sides are multiples of 32 (as tiled_forward's padded frames are)
    for length, spans in (
        (height, {(top, bottom) for top, bottom, _, _ in cores}),
        (width, {(left, right) for _, _, left, right in cores}),
    ):
        sizes = [end - start for start, end in spans]
        if length % 32 == 0:
            assert max(sizes) - min(sizes) <= 32


def test_tiles_refuse_a_side_off_the_32_pixel_grid_and_cover_nothing_of_nothing():
    with pytest.raises(ValueError, match="multiple of 32"):
        tiles(100, 100, 48)
    assert tiles(0, 64, 64) == []


def test_tiles_with_whole_frame_context_equal_the_untiled_frame():
    model = make_random_network(FLOW_CONFIG)
    a, b, flows = pair()
    with torch.inference_mode():
        whole = model(a, b, flows=flows).frame
        tiled = tiled_forward(model, a, b, flows, tile=64, margin=256)
    torch.testing.assert_close(
        tiled, whole, rtol=0, atol=1e-4
    )  # float32 rounding of other conv sizes


def test_tiles_with_the_default_margin_agree_above_50_db():
    model = make_random_network(FLOW_CONFIG)
    a, b, flows = pair(200, 230, seed=1)
    with torch.inference_mode():
        whole = model(a, b, flows=flows).frame
        tiled = tiled_forward(model, a, b, flows, tile=128)
    assert psnr(tiled, whole) > 50


def test_tile_side_grows_with_memory_and_has_a_floor():
    config = preset("flow-small")
    sides = [tile_side_for(config, budget) for budget in (1e6, 5e8, 2e9, 8e9)]
    assert sides[0] == MIN_TILE and sides == sorted(sides) and sides[-1] > sides[1]
    assert all(side % 32 == 0 for side in sides)
    # light heads through the fused kernel keep their maps at half resolution: larger tiles
    light = preset("flow-small-light")
    assert tile_side_for(light, 5e8, heads_fused=True) > tile_side_for(light, 5e8)


def test_out_of_memory_retries_with_smaller_tiles():
    model = make_random_network(FLOW_CONFIG)
    a, b, flows = pair(300, 300, seed=2)
    real_estimate = model.estimate
    sizes = []

    def estimate(f1, f2, fl, time=None):
        sizes.append(max(f1.shape[-2:]))
        if max(f1.shape[-2:]) >= 300:  # the whole frame does not fit
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real_estimate(f1, f2, fl)

    model.estimate = estimate
    messages = []
    with torch.inference_mode():
        out = forward_within_memory(model, a, b, flows, tile=512, log=messages.append)
        model.estimate = real_estimate
        tiled = tiled_forward(model, a, b, flows, tile=128)
    assert sizes[0] == 300 and max(sizes[1:]) < 300  # the whole frame first, then tiles
    assert messages and "out of memory" in messages[0] and "retrying with 128" in messages[0]
    torch.testing.assert_close(out, tiled, rtol=0, atol=0)  # what 128-pixel tiles make


def test_other_errors_are_not_retried():
    model = make_random_network(FLOW_CONFIG)
    a, b, flows = pair(64, 64)
    model.estimate = lambda *args: (_ for _ in ()).throw(RuntimeError("shape mismatch"))
    with pytest.raises(RuntimeError, match="shape mismatch"):
        forward_within_memory(model, a, b, flows, tile=512)


def test_interpolator_tiles_large_frames_to_the_same_result():
    model = make_random_network(FLOW_CONFIG)
    loaded = LoadedModel(model=model, config=FLOW_CONFIG, source="test")
    rng = np.random.default_rng(3)
    a = rng.integers(0, 256, (140, 300, 3), dtype=np.uint8)
    b = np.roll(a, 3, axis=1)
    device = resolve_device("cpu")
    whole = Interpolator(loaded, device, tile=1024).interpolate(a, b).frame
    calls = []
    real_estimate = model.estimate
    model.estimate = lambda *args: calls.append(1) or real_estimate(*args)
    tiled = Interpolator(loaded, device, tile=128).interpolate(a, b).frame
    assert (
        len(calls) == 6
    )  # 140 × 300 is padded to 160 × 320: 2 rows × 3 columns of 128-pixel tiles
    assert psnr(tiled / 255.0, whole / 255.0) > 50
