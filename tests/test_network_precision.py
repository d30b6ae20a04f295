"""The network's precision on the CPU (model/device.py): bfloat16 convolutions under autocast
where chosen, the fused kernel and the inspection views in float32 whatever the choice."""

import dataclasses

import numpy as np
import pytest
import torch

from dsepconv_gui.base.errors import DeviceError
from dsepconv_gui.frames.demo import render_demo_frames
from dsepconv_gui.frames.metrics import psnr
from dsepconv_gui.interpolation.interpolator import Interpolator
from dsepconv_gui.model import device as device_module
from dsepconv_gui.model import fused_dsc
from dsepconv_gui.model.checkpoint import LoadedModel
from dsepconv_gui.model.config import preset
from dsepconv_gui.model.device import network_dtype_for, resolve_device

from .conftest import make_random_network

CPU = torch.device("cpu")


def test_the_precision_choice(monkeypatch):
    assert network_dtype_for(CPU, "float32") is None
    assert network_dtype_for(CPU, "bfloat16") == torch.bfloat16
    monkeypatch.setattr(device_module, "native_bfloat16", lambda: True)
    assert network_dtype_for(CPU, "auto") == torch.bfloat16
    assert "bfloat16 network" in str(resolve_device("cpu", "auto"))
    monkeypatch.setattr(device_module, "native_bfloat16", lambda: False)
    assert network_dtype_for(CPU, "auto") is None
    assert "bfloat16" not in str(resolve_device("cpu", "auto"))
    assert "bfloat16 network emulated, slower" in str(resolve_device("cpu", "bfloat16"))
    assert network_dtype_for(torch.device("cuda:0"), "auto") is None  # a GPU runs float32
    with pytest.raises(DeviceError, match="for the CPU"):
        network_dtype_for(torch.device("cuda:0"), "bfloat16")
    with pytest.raises(DeviceError, match="one of auto, float32, bfloat16"):
        resolve_device("cpu", "float16")


@pytest.mark.skipif(not fused_dsc.available(), reason="numba is not installed")
def test_bfloat16_runs_the_network_and_leaves_the_rest_in_float32(monkeypatch):
    config = dataclasses.replace(preset("flow-small-light"), base_width=4)
    model = make_random_network(config, seed=3)
    loaded = LoadedModel(model=model, config=config, source="test")
    a, _, b = render_demo_frames(3, height=64, width=96)
    single = Interpolator(loaded, resolve_device("cpu", "float32"))
    half = Interpolator(loaded, resolve_device("cpu", "bfloat16"))

    convolution_dtypes, kernel_dtypes = [], []
    first_convolution = next(m for m in half.model.modules() if isinstance(m, torch.nn.Conv2d))
    first_convolution.register_forward_hook(
        lambda _module, _inputs, output: convolution_dtypes.append(output.dtype)
    )
    real_kernel = fused_dsc.convolve_half_resolution

    def spy(frame, term, *args):
        kernel_dtypes.extend(t.dtype for t in (frame, term.heads, term.blend) if t is not None)
        return real_kernel(frame, term, *args)

    monkeypatch.setattr(fused_dsc, "convolve_half_resolution", spy)
    expected, got = single(a, b), half(a, b)
    assert convolution_dtypes == [torch.float32, torch.bfloat16]  # float32 first, then half
    assert kernel_dtypes and set(kernel_dtypes) == {torch.float32}
    assert psnr(got, expected) > 40 and not np.array_equal(got, expected)

    # the views' terms (the whole frame's parameters) are float32's in both
    convolution_dtypes.clear()
    views = half.interpolate(a, b, with_terms=True)
    assert convolution_dtypes == [torch.float32]
    np.testing.assert_array_equal(views.frame, expected)


def test_a_model_without_the_fused_path_says_it_runs_float32():
    config = dataclasses.replace(preset("flow-small-evidence"), base_width=4)  # no light heads
    loaded = LoadedModel(model=make_random_network(config, seed=1), config=config, source="t")
    interpolator = Interpolator(loaded, resolve_device("cpu", "bfloat16"))
    assert interpolator.device.network_dtype is None
    assert "bfloat16" not in str(interpolator.device)


def test_the_network_input_is_written_in_the_first_convolutions_layout_and_dtype():
    """network_input gives the concatenation the network would have made itself: in float32
    as it is, under autocast already in bfloat16 (autocast's own cast, bit for bit)."""
    from dsepconv_gui.model.network import network_input

    g = torch.Generator().manual_seed(0)
    inputs = [torch.randn(2, k, 9, 13, generator=g) * 3 for k in (3, 3, 4, 5)]
    inputs.append(torch.tensor([0.1, -0.2]).view(2, 1, 1, 1).expand(-1, 1, 9, 13))  # time map
    expected = torch.cat(inputs, dim=1)
    assert network_input(inputs, channels_last=False).is_contiguous()
    plain = network_input(inputs, channels_last=True)
    assert plain.is_contiguous(memory_format=torch.channels_last)
    assert plain.dtype == torch.float32 and torch.equal(plain, expected)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        half = network_input(inputs, channels_last=True)
    assert half.dtype == torch.bfloat16 and half.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(half, expected.to(torch.bfloat16))
    weight = torch.randn(4, expected.shape[1], 3, 3, generator=g)
    with torch.autocast("cpu", dtype=torch.bfloat16):  # the convolution sees the same numbers
        torch.testing.assert_close(
            torch.nn.functional.conv2d(half, weight), torch.nn.functional.conv2d(expected, weight)
        )
