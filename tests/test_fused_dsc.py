"""The fused CPU kernel (numba) against the reference torch op: random and real inputs, every
tap position, reads far outside the frame (the replicate border), masks on and off, regions of
the frame, batches; and the interpolated frame of the shipped path within 1/255."""

import numpy as np
import pytest
import torch

from dsepconv_gui.model import fused_dsc
from dsepconv_gui.model.deformable_separable_conv import (
    deformable_separable_conv,
    deformable_separable_conv_streaming,
)

pytestmark = pytest.mark.skipif(not fused_dsc.available(), reason="numba is not installed")


def parameters(seed, batch, n, h, w, offset_scale, masked):
    g = torch.Generator().manual_seed(seed)
    v = torch.randn(batch, n, h, w, generator=g)
    hz = torch.randn(batch, n, h, w, generator=g)
    oy = torch.randn(batch, n * n, h, w, generator=g) * offset_scale
    ox = torch.randn(batch, n * n, h, w, generator=g) * offset_scale
    mask = torch.rand(batch, n * n, h, w, generator=g) if masked else None
    return v, hz, oy, ox, mask


@pytest.mark.parametrize("n", [1, 3, 5, 7])
@pytest.mark.parametrize("masked", [True, False])
@pytest.mark.parametrize("offset_scale", [0.0, 1.5, 40.0])  # 40 px: most reads off the frame
def test_the_fused_kernel_equals_the_reference(n, masked, offset_scale):
    frame = torch.rand(2, 3, 23, 31, generator=torch.Generator().manual_seed(n))
    params = parameters(n * 10 + masked, 2, n, 23, 31, offset_scale, masked)
    expected = deformable_separable_conv(frame, *params)
    got = fused_dsc.convolve(frame, params)
    torch.testing.assert_close(got, expected, atol=2e-5, rtol=1e-5)


def test_each_tap_reads_where_it_should():
    """One tap at a time carries all the weight: the output is the frame read at that tap."""
    n, h, w = 5, 9, 11
    frame = torch.arange(h * w, dtype=torch.float32).view(1, 1, h, w)
    for k in range(n * n):
        i, j = divmod(k, n)
        v = torch.zeros(1, n, h, w)
        hz = torch.zeros(1, n, h, w)
        v[:, i], hz[:, j] = 1.0, 1.0
        oy = torch.full((1, n * n, h, w), 0.25)
        ox = torch.full((1, n * n, h, w), -0.5)
        expected = deformable_separable_conv(frame, v, hz, oy, ox)
        got = fused_dsc.convolve(frame, (v, hz, oy, ox, None))
        torch.testing.assert_close(got, expected, atol=1e-4, rtol=0), k


def test_a_region_reads_the_whole_frame():
    frame = torch.rand(1, 3, 40, 50, generator=torch.Generator().manual_seed(1))
    params = parameters(2, 1, 5, 12, 17, 3.0, True)
    expected = deformable_separable_conv_streaming(frame, *params, origin=(20, 30))
    got = fused_dsc.convolve(frame, params, origin=(20, 30))
    torch.testing.assert_close(got, expected, atol=2e-5, rtol=1e-5)


def test_the_interpolated_frame_matches_the_reference_path_on_real_frames(monkeypatch):
    from pathlib import Path

    from dsepconv_gui.frames.demo import render_demo_frames
    from dsepconv_gui.frames.images import read_image
    from dsepconv_gui.interpolation.interpolator import Interpolator
    from dsepconv_gui.model.device import resolve_device
    from dsepconv_gui.model.weights import resolve_model

    folder = Path(__file__).resolve().parents[2] / "shared/data/train/davis2016-val/libby"
    if folder.is_dir():  # a real pair when the team's data is there
        a, b = (read_image(path)[:160, :224] for path in sorted(folder.iterdir())[20:23:2])
    else:
        a, _, b = render_demo_frames(3, height=96, width=128)
    loaded, _ = resolve_model(None)  # the shipped model
    interpolator = Interpolator(loaded, resolve_device("cpu"))
    fused = interpolator(a, b)
    monkeypatch.setattr(fused_dsc, "supports", lambda *tensors: False)
    reference = interpolator(a, b)
    assert np.abs(fused.astype(int) - reference).max() <= 1


def test_tensors_it_cannot_take_go_to_the_torch_op():
    t = torch.zeros(1, 1, 2, 2)
    assert fused_dsc.supports(t, None)
    assert not fused_dsc.supports(t.double())
    assert not fused_dsc.supports(t.requires_grad_())


def test_warping_for_inference_uses_the_fused_kernel_and_agrees():
    from dsepconv_gui.model.deformable_separable_conv import warp

    frame = torch.rand(2, 3, 30, 40, generator=torch.Generator().manual_seed(5))
    displacement = torch.randn(2, 2, 30, 40, generator=torch.Generator().manual_seed(6)) * 4
    expected = warp(frame, displacement)  # gradients recorded: the reference op
    with torch.inference_mode():
        got = warp(frame, displacement)
    torch.testing.assert_close(got, expected, atol=2e-5, rtol=1e-5)


def light(config_or_name, **changes):
    from dataclasses import replace

    from dsepconv_gui.model.config import preset

    config = preset(config_or_name) if isinstance(config_or_name, str) else config_or_name
    return replace(config, light_heads=True, **changes)


def light_configs():
    from dsepconv_gui.model.config import DSepConvConfig

    return {
        "bilinear prior, no blend": light(
            DSepConvConfig(kernel_size=3, base_width=2, flow_prior="dis")
        ),
        "searched bicubic prior, gate, evidence, blend": light("flow-small-light"),
        "time, no prior": light("tiny-time"),
        "time with the shipped configuration": light("flow-small-time"),
        "no masks": light(DSepConvConfig(kernel_size=5, base_width=2, use_mask=False)),
    }


@pytest.mark.parametrize("name", list(light_configs()))
def test_light_heads_at_half_resolution_make_the_reference_frame(name):
    """Inference with light heads makes each pixel's kernels, offsets and masks inside the
    fused kernel from the heads' half-resolution outputs; the frame equals the one made from
    the full-resolution terms (the path the app's views use), at a size the network pads and
    for two batch items at different times."""
    from .conftest import make_random_network

    config = light_configs()[name]
    model = make_random_network(config, seed=3)
    g = torch.Generator().manual_seed(4)
    a, b = torch.rand(2, 3, 45, 70, generator=g), torch.rand(2, 3, 45, 70, generator=g)
    flows = None
    if config.flow_prior != "none":
        coarse = torch.randn(2, config.flow_channels, 6, 9, generator=g) * 4
        flows = torch.nn.functional.interpolate(coarse, size=(45, 70), mode="bilinear")
    time = torch.tensor([0.3, 0.8]) if config.time_input else None
    with torch.inference_mode():
        assert model.fuses_heads(a, b)
        fused = model(a, b, flows=flows, time=time).frame
        reference = model(a, b, flows=flows, time=time, return_terms=True).frame
    assert reference.std() > 0.05  # the terms vary: a wrong step would show
    torch.testing.assert_close(fused, reference, atol=2e-5, rtol=1e-5)


def test_light_heads_tiled_at_half_resolution_equal_tiles_of_full_resolution_maps(monkeypatch):
    """Tiles with the default margin start inside the frame: each core's half-resolution term
    is cropped to it (HalfResolutionTerm.crop) as the full-resolution terms are sliced."""
    from dsepconv_gui.model.network import DSepConvNet
    from dsepconv_gui.model.tiling import tiled_forward

    from .conftest import make_random_network

    model = make_random_network(light("flow-small-light"), seed=7)
    g = torch.Generator().manual_seed(8)
    a, b = torch.rand(1, 3, 150, 170, generator=g), torch.rand(1, 3, 150, 170, generator=g)
    flows = torch.randn(1, 6, 150, 170, generator=g)
    with torch.inference_mode():
        fused = tiled_forward(model, a, b, flows, tile=64)
        monkeypatch.setattr(DSepConvNet, "fuses_heads", lambda self, *frames: False)
        sliced = tiled_forward(model, a, b, flows, tile=64)
    torch.testing.assert_close(fused, sliced, atol=2e-5, rtol=1e-5)


def test_the_kernels_own_sigmoid_matches_torchs_over_every_range():
    logits = np.concatenate(
        [np.linspace(-120, 120, 2001), [0.0, 1e-7, -1e-7, 87.5, -87.5, 1e4, -1e4]]
    ).astype(np.float32)
    shift = np.float32(0.25)
    out = np.empty(len(logits), np.float32)
    fused_dsc._sigmoids(logits, 0, shift, out, np.empty(len(logits), np.int32))
    expected = torch.sigmoid(torch.from_numpy(logits) + float(shift)).numpy()
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-7)


def test_a_half_resolution_region_off_its_grid_is_refused():
    from .conftest import make_random_network

    model = make_random_network(light("flow-small-light"), seed=9)
    a, b, flows = torch.rand(1, 3, 64, 64), torch.rand(1, 3, 64, 64), torch.zeros(1, 6, 64, 64)
    with torch.inference_mode():
        term, _ = model.half_resolution_terms(a, b, flows)
        with pytest.raises(ValueError, match="does not fit"):
            fused_dsc.convolve_half_resolution(a, term.crop(32, 0, 64, 64))
        with pytest.raises(ValueError, match="does not fit"):
            fused_dsc.convolve_half_resolution(a, term, origin=(8, 0))


def test_light_heads_tiled_at_half_resolution_equal_the_whole_frame():
    from dsepconv_gui.model.tiling import tiled_forward

    from .conftest import make_random_network

    model = make_random_network(light("flow-small-light"), seed=5)
    g = torch.Generator().manual_seed(6)
    a, b = torch.rand(1, 3, 100, 130, generator=g), torch.rand(1, 3, 100, 130, generator=g)
    flows = torch.randn(1, 6, 100, 130, generator=g)
    with torch.inference_mode():
        whole = model(a, b, flows=flows, return_terms=True).frame
        tiled = tiled_forward(model, a, b, flows, tile=64, margin=256)
    torch.testing.assert_close(tiled, whole, atol=1e-4, rtol=0)


@pytest.mark.parametrize("tile", [None, 64])
def test_one_frames_half_resolution_maps_are_let_go_before_the_others_are_made(monkeypatch, tile):
    """The fused path makes frame 2's heads only after frame 1's share is synthesised and
    its maps are freed (a 1080p frame: 176 MB less at the pass's peak), whole and tiled."""
    import weakref

    from dsepconv_gui.model.network import DSepConvNet
    from dsepconv_gui.model.tiling import tiled_forward

    from .conftest import make_random_network

    model = make_random_network(light("flow-small-light"), seed=3)
    g = torch.Generator().manual_seed(4)
    a, b = torch.rand(1, 3, 64, 96, generator=g), torch.rand(1, 3, 64, 96, generator=g)
    flows = torch.randn(1, 6, 64, 96, generator=g)
    made, alive_when_next_made = [], []
    original = DSepConvNet._half_resolution_term

    def recording(self, *args):
        if made:
            alive_when_next_made.append(made[-1]() is not None)
        term = original(self, *args)
        made.append(weakref.ref(term.heads))
        return term

    monkeypatch.setattr(DSepConvNet, "_half_resolution_term", recording)
    with torch.inference_mode():
        assert model.fuses_heads(a, b)
        if tile is None:
            model(a, b, flows=flows)
        else:
            tiled_forward(model, a, b, flows, tile=tile)
    tiles = 1 if tile is None else 2
    assert len(made) == 2 * tiles
    assert alive_when_next_made == [False] * (2 * tiles - 1)


def _warped_sum(seed):
    """Both fused kernels on seeded inputs: a warp, and a half-resolution term's frame (made
    here, not by a network: torch's own threads hang in a forked child, which is why training
    workers run no network)."""
    from dsepconv_gui.model.deformable_separable_conv import warp
    from dsepconv_gui.model.network import HalfResolutionTerm

    g = torch.Generator().manual_seed(seed)
    frame, displacement = (
        torch.rand(1, 3, 40, 50, generator=g),
        torch.randn(1, 2, 40, 50, generator=g),
    )
    n = 3
    term = HalfResolutionTerm(
        heads=torch.randn(1, 2 * n + 3 * n * n, 20, 25, generator=g),
        kernel_size=n,
        has_masks=True,
        bicubic=False,
        region=(0, 0, 40, 50),
        prior=displacement,
    )
    with torch.inference_mode():
        made = fused_dsc.convolve_half_resolution(frame, term)
        return float(warp(frame, displacement).sum() + made.sum())


def test_forked_workers_run_the_kernels_after_the_parent_did():
    """A process that ran the parallel kernels (GNU OpenMP threads) and then forks training
    workers: OpenMP kills children that use those threads, so they run them without."""
    from dsepconv_gui.training.workers import parallel_map

    expected = [_warped_sum(seed) for seed in range(3)]  # the parallel kernel, in this process
    got = list(parallel_map(_warped_sum_job, [0, 1, 2], workers=2))
    assert got == pytest.approx(expected, rel=1e-6)


def _warped_sum_job(_shared, seed):
    return _warped_sum(seed)


def test_bfloat16_heads_are_concatenated_into_float32_exactly():
    g = torch.Generator().manual_seed(4)
    heads = [
        (torch.randn(2, k, 7, 11, generator=g) * 100).to(torch.bfloat16) for k in (5, 5, 25, 25, 25)
    ]
    heads[0][0, 0, 0, 0] = float("inf")
    heads[1][1, 2, 3, 4] = float("-inf")
    heads[2][0, 3, 2, 1] = -0.0
    heads[3][1, 0, 6, 10] = float("nan")
    heads[4][0, 24, 0, 0] = 1e-40  # a subnormal
    expected = torch.cat(heads, dim=1).to(torch.float32)
    last = [h.contiguous(memory_format=torch.channels_last) for h in heads]
    got = fused_dsc.concatenated_heads(last, torch.float32)
    assert got.dtype == torch.float32 and got.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(got.view(torch.int32), expected.view(torch.int32))  # every bit
    # float32 heads, or heads not channels last: torch's concatenation
    for other in ([h.to(torch.float32) for h in last], heads):
        torch.testing.assert_close(
            fused_dsc.concatenated_heads(other, torch.float32), expected, equal_nan=True
        )
