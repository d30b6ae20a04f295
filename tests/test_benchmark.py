"""The benchmark's measurements run and its report prints (speed itself is never asserted:
the machines are shared and noisy)."""

from __future__ import annotations

import pytest

from dsepconv_gui.cli.benchmark import format_report, measure_parts, measure_size, parse_size, timed


def test_parse_size():
    assert parse_size("1920x1080") == (1080, 1920)


def test_timed_takes_the_median_after_a_warm_up():
    calls = []
    seconds, result = timed(lambda: calls.append(1) or len(calls), runs=3)
    assert len(calls) == 4 and result == 4 and seconds >= 0


def test_measure_size_and_parts():
    row = measure_size("random:tiny", "96x64", runs=1, tile=None)
    assert (
        row["tile"] == "auto" and row["frame_seconds"] > 0 and row["peak_memory_bytes"] > 10_000_000
    )
    assert measure_size("random:tiny", "96x64", runs=1, tile=128)["tile"] == 128
    parts = measure_parts("random:tiny", "96x64", runs=1)
    assert (
        parts["network_flops"] > 0
        and parts["network_seconds"] > 0
        and parts["synthesis_seconds"] > 0
        and "full_resolution_seconds" not in parts  # 3×3 heads: nothing to fuse
    )
    light = measure_parts("random:flow-small-light", "96x64", runs=1, precision="float32")
    assert light["full_resolution_seconds"] > 0 and light["synthesis_seconds"] > 0
    assert "network_float32_seconds" not in light
    # in bfloat16, the network pass both ways
    half = measure_parts("random:flow-small-light", "96x64", runs=1, precision="bfloat16")
    assert half["network_float32_seconds"] > 0 and half["network_seconds"] > 0


@pytest.mark.parametrize("model", ["random:tiny", "random:flow-small-light"])
def test_report_prints_ratios_to_the_peers(model):
    report = {
        "machine": {"threads": 2, "cpu": "test cpu", "matmul_gflops": 50.0},
        "sizes": [measure_size("random:tiny", "96x64", runs=1, tile=None) | {"size": "640x480"}],
        "parts": [
            measure_parts(model, "96x64", runs=1)
            | {"size": "640x480", "network_seconds": 0.1, "network_float32_seconds": 0.2}
        ],
        "peers": {"dis_seconds": 0.1, "minterpolate_seconds": 0.05},
        "tiling": {"tile": 512, "psnr_tiled_vs_untiled": 80.0},
        "end_to_end": {
            "frames_written": 9,
            "seconds": 3.0,
            "output_fps": 3.0,
            "size": "640x360",
            "ffmpeg_seconds": 0.3,
            "ffmpeg_output_fps": 30.0,
        },
        "quality": {
            "DSepConv (x)": {"middlebury-other": 34.5},
            "OpenCV DIS flow, warped halfway": {"middlebury-other": 34.4},
        },
    }
    text = format_report(report)
    assert "fp32 matmul peak 50.0 GFLOP/s" in text and "% peak" in text and "DSC %" in text
    assert "ffmpeg minterpolate mci 0.050 s" in text and "× ffmpeg's time" in text
    assert "middlebury-other 34.40 dB" in text and "80.0 dB" in text and "10.0× faster" in text
    # light heads: the kernel that makes their maps itself, against the full-resolution path
    assert ("maps made inside the kernel" in text) == model.endswith("light")
    assert "network pass 0.100 s in bfloat16, 0.200 s in float32 (2.00× faster)" in text


def test_every_timed_frame_computes_its_flows(tmp_path, monkeypatch):
    """The interpolator reuses the last pair's motion: a frame time measured on one pair over
    and over would leave the flows out after the warm-up (it did, 2026-11-27)."""
    from dsepconv_gui.interpolation import interpolator
    from dsepconv_gui.model.checkpoint import save_checkpoint
    from dsepconv_gui.model.network import DSepConvNet

    from .conftest import TINY_SEARCHED

    path = save_checkpoint(tmp_path / "flow.safetensors", DSepConvNet(TINY_SEARCHED))
    computed = []
    original = interpolator.motion_for
    monkeypatch.setattr(
        interpolator, "motion_for", lambda *args: computed.append(1) or original(*args)
    )
    measure_size(str(path), "96x64", runs=2, tile=None)
    # a warm-up and two timed frames, then the flows timed apart twice
    assert len(computed) == 3 + 2
