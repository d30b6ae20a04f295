"""Interpolating numpy frames, the device choice, and writing the intermediates."""

import json

import numpy as np
import pytest
import torch

from dsepconv_gui.base.errors import DeviceError, InputError
from dsepconv_gui.interpolation.intermediates import write_intermediates
from dsepconv_gui.interpolation.interpolator import Interpolator
from dsepconv_gui.model.checkpoint import LoadedModel
from dsepconv_gui.model.device import resolve_device

from .conftest import make_random_network


@pytest.fixture
def interpolator():
    model = make_random_network()
    return Interpolator(
        LoadedModel(model=model, config=model.config, source="test"), resolve_device("cpu")
    )


def random_frames(h, w, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (h, w, 3), dtype=np.uint8), rng.integers(
        0, 256, (h, w, 3), dtype=np.uint8
    )


@pytest.mark.parametrize("size", [(1, 1), (2, 3), (33, 17), (4, 300)])
def test_frames_of_any_size(interpolator, size):
    a, b = random_frames(*size)
    result = interpolator.interpolate(a, b, with_terms=True)
    assert result.frame.shape == (*size, 3) and result.frame.dtype == np.uint8
    assert result.terms[0].offset_x.shape == (9, *size)
    assert result.terms[1].result.shape == (*size, 3)
    assert result.device.startswith("cpu")


def test_result_matches_the_network_and_terms_sum_to_it(interpolator):
    a, b = random_frames(24, 40, seed=1)
    result = interpolator.interpolate(a, b, with_terms=True)
    total = result.terms[0].result + result.terms[1].result
    expected = np.clip(np.round(total * 255), 0, 255)
    assert np.abs(result.frame.astype(int) - expected).max() <= 1
    assert interpolator.interpolate(a, b).terms is None


def test_identical_frames_give_that_frame_for_the_untrained_average_network():
    from dsepconv_gui.model.weights import random_model

    interpolator = Interpolator(random_model("tiny"), resolve_device("cpu"))
    a, _ = random_frames(37, 29, seed=2)
    assert np.abs(interpolator.interpolate(a, a).frame.astype(int) - a).max() <= 1


def test_bad_frames(interpolator):
    a, b = random_frames(10, 12)
    with pytest.raises(InputError, match="differ in size: 12×10 and 13×10"):
        interpolator.interpolate(a, random_frames(10, 13)[0])
    with pytest.raises(InputError, match="RGB uint8"):
        interpolator.interpolate(a.astype(np.float32), b)
    with pytest.raises(InputError, match="empty"):
        interpolator.interpolate(a[:0], b[:0])


def test_device_choice():
    info = resolve_device("auto")
    assert info.device.type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert info.dtype == torch.float32
    assert "cpu" in str(resolve_device("CPU"))
    with pytest.raises(DeviceError, match="not one of"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(DeviceError, match="CUDA is not available"):
            resolve_device("cuda:0")
    else:
        with pytest.raises(DeviceError, match="CUDA device"):
            resolve_device(f"cuda:{torch.cuda.device_count()}")


def test_write_intermediates(interpolator, tmp_path):
    a, b = random_frames(20, 24, seed=3)
    result = interpolator.interpolate(a, b, with_terms=True)
    manifest = json.loads(write_intermediates(result, tmp_path / "dump").read_text())
    folder = tmp_path / "dump"
    for index, term in enumerate(result.terms, start=1):
        for name in ("vertical", "horizontal", "offset_y", "offset_x", "mask", "result"):
            saved = np.load(folder / f"frame{index}_{name}.npy")
            np.testing.assert_array_equal(saved, getattr(term, name))
        for picture in (
            "offsets_taps",
            "mean_displacement",
            "mask_taps",
            "mask_mean",
            "kernels",
            "result",
        ):
            assert (folder / f"frame{index}_{picture}.png").stat().st_size > 0
            assert f"frame{index}_{picture}.png" in manifest["files"]
    assert manifest["kernel_size"] == 3 and manifest["width"] == 24
    assert (folder / "output.png").exists() and (folder / "offsets_legend.png").exists()


@pytest.mark.parametrize("motion, scale", [("linear", 1.0), ("searched", 1.5)])
def test_fast_inference_path_agrees_with_the_reference_path(motion, scale):
    # The Interpolator runs channels-last with the streaming op; the reference is the
    # contiguous network with the all-taps op (what training uses, gradients on), given the
    # flows the configuration asks for.
    import copy

    from dsepconv_gui.flow.prior import prior_flows
    from dsepconv_gui.interpolation.interpolator import frame_to_tensor, tensor_to_frame
    from dsepconv_gui.model.config import DSepConvConfig

    model = make_random_network(
        DSepConvConfig(
            kernel_size=5,
            base_width=2,
            flow_prior="dis",
            prior_sampling="bicubic",
            prior_motion=motion,
            flow_scale=scale,
        )
    )
    reference = copy.deepcopy(model)
    interpolator = Interpolator(
        LoadedModel(model=model, config=model.config, source="test"), resolve_device("cpu")
    )
    a, b = random_frames(40, 56, seed=4)
    fast = interpolator.interpolate(a, b).frame
    flows = torch.from_numpy(prior_flows(a, b, motion, scale))[None]
    slow = reference(
        frame_to_tensor(a, "cpu", torch.float32),
        frame_to_tensor(b, "cpu", torch.float32),
        flows=flows,
    ).frame
    assert np.abs(fast.astype(int) - tensor_to_frame(slow.detach())).max() <= 1


def test_flows_prefetched_for_the_next_pair_are_used_and_give_the_same_frame(monkeypatch):
    import threading

    import dsepconv_gui.interpolation.interpolator as module
    from dsepconv_gui.frames.demo import render_demo_frames
    from dsepconv_gui.model.device import resolve_device
    from dsepconv_gui.model.weights import random_model

    a, b, c = render_demo_frames(3, height=64, width=96)
    interpolator = module.Interpolator(
        random_model("flow-small"), resolve_device("cpu"), flows_ahead=True
    )
    expected = interpolator(b, c)
    threads = []
    real = module.flows_for
    monkeypatch.setattr(
        module, "flows_for", lambda *args: threads.append(threading.current_thread()) or real(*args)
    )
    interpolator.prefetch(a, c)  # a pair never interpolated: dropped, not kept for ever
    interpolator.prefetch(a, b)
    interpolator.prefetch(b, c)
    assert len(interpolator._ahead) == module.MAX_PAIRS_AHEAD
    np.testing.assert_array_equal(interpolator(b, c), expected)
    # the flows of (b, c) came from the worker, not from the calling thread
    assert all(thread is not threading.current_thread() for thread in threads)
    on_cpu = module.Interpolator(random_model("flow-small"), resolve_device("cpu"))
    on_cpu.prefetch(a, b)  # on a CPU by default: measured slower, so not done
    assert on_cpu._ahead == {}
