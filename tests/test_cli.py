"""The `dsepconv` command: interpolate, dump intermediates, info, demo, one-line errors."""

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from dsepconv_gui.cli.main import main
from dsepconv_gui.frames.images import read_image, write_image
from dsepconv_gui.model.checkpoint import save_checkpoint

from .command_lines import interpolate_args
from .conftest import TINY_SEARCHED, make_random_network, shared_benchmark
from .media import write_noise_pair


@pytest.fixture
def pair(tmp_path):
    return write_noise_pair(tmp_path, 33, 17)


@pytest.fixture
def model_file(tmp_path):
    return save_checkpoint(tmp_path / "model.safetensors", make_random_network())


def test_interpolate_writes_a_frame_of_the_input_size(pair, model_file, tmp_path, capsys):
    out = tmp_path / "mid.png"
    assert main(interpolate_args(pair, out, "--device", "cpu", model=model_file)) == 0
    assert read_image(out).shape == (33, 17, 3)
    assert "17×33" in capsys.readouterr().out


def test_tile_option(pair, model_file, tmp_path, capsys):
    whole, tiled = tmp_path / "whole.png", tmp_path / "tiled.png"
    base = ["interpolate", *map(str, pair), "--model", str(model_file)]
    assert main(base + ["-o", str(whole)]) == 0
    assert main(base + ["-o", str(tiled), "--tile", "32"]) == 0  # 33×17: tiles of 32 with margins
    assert np.abs(read_image(whole).astype(int) - read_image(tiled)).max() <= 1
    assert (
        main(base + ["-o", str(tiled), "--tile", "8", "--overwrite"]) == 2
    )  # an existing output needs -y
    assert "--tile must be at least 32" in capsys.readouterr().err


def test_dump_intermediates(pair, model_file, tmp_path):
    dump = tmp_path / "dump"
    out = tmp_path / "m.png"
    code = main(interpolate_args(pair, out, "--dump-intermediates", str(dump), model=model_file))
    assert code == 0
    manifest = json.loads((dump / "intermediates.json").read_text())
    for name in (
        "frame1_vertical.npy",
        "frame2_horizontal.npy",
        "frame1_offset_x.npy",
        "frame2_offset_y.npy",
        "frame1_mask.npy",
        "frame2_result.png",
        "frame1_offsets_taps.png",
        "frame2_mask_taps.png",
        "frame1_kernels.png",
        "offsets_legend.png",
    ):
        assert (dump / name).exists(), name
        assert name in manifest["files"]
    assert np.load(dump / "frame1_offset_x.npy").shape == (9, 33, 17)
    assert not (dump / "frame1_learned_shift.npy").exists()  # no flow prior: nothing added to it


def test_dump_intermediates_of_a_flow_prior_model_hold_what_it_added(pair, tmp_path):
    model = make_random_network(dataclasses.replace(TINY_SEARCHED, gated_offsets=True))
    with torch.no_grad():  # every tap 2 px off the prior wherever the gate is open
        for head in (model.offset_y1, model.offset_x1, model.offset_y2, model.offset_x2):
            head[-1].weight.zero_()
            head[-1].bias.fill_(2.0)
    path = save_checkpoint(tmp_path / "gated.safetensors", model)
    dump = tmp_path / "dump"
    assert (
        main(
            interpolate_args(
                pair, tmp_path / "m.png", "--dump-intermediates", str(dump), model=path
            )
        )
        == 0
    )
    manifest = json.loads((dump / "intermediates.json").read_text())
    for frame in (1, 2):
        shift = np.load(dump / f"frame{frame}_learned_shift.npy")
        assert shift.shape == (2, 33, 17)
        np.testing.assert_allclose(shift[0], shift[1], atol=1e-4)  # 2 × the gate, both ways
        assert shift.min() > -1e-4 and shift.max() < 2 + 1e-4
        assert shift.max() > 1.0  # two noise frames disagree: the gate opens
        assert f"frame{frame}_learned_shift.png" in manifest["files"]


@pytest.mark.parametrize(
    "setup, expected",
    [
        (
            lambda p: ["interpolate", str(p / "missing.png"), str(p / "b.png")],
            "missing.png: no such file",
        ),
        (
            lambda p: ["interpolate", str(p / "text.png"), str(p / "b.png")],
            "text.png: not a readable image",
        ),
        (lambda p: ["interpolate", str(p / "a.png"), str(p / "big.png")], "frames differ in size"),
        (
            lambda p: [
                "interpolate",
                str(p / "a.png"),
                str(p / "b.png"),
                "--model",
                str(p / "text.png"),
            ],
            "text.png: not a readable DSepConv checkpoint",
        ),
        (
            lambda p: ["interpolate", str(p / "a.png"), str(p / "b.png"), "--device", "gpu7"],
            "device 'gpu7'",
        ),
    ],
)
def test_user_errors_print_one_line_without_traceback(pair, tmp_path, setup, expected):
    (tmp_path / "text.png").write_text("this is not an image")
    write_image(tmp_path / "big.png", np.zeros((40, 40, 3), np.uint8))
    args = setup(tmp_path) + ["-o", str(tmp_path / "out.png")]
    done = subprocess.run(
        [sys.executable, "-m", "dsepconv_gui.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if not line.startswith("warning:")]
    assert len(lines) == 1, done.stderr
    assert expected in lines[0] and "Traceback" not in done.stderr
    assert not (tmp_path / "out.png").exists()


def test_info_prints_version_device_and_model(model_file, capsys):
    assert main(["info", "--model", str(model_file)]) == 0
    out = capsys.readouterr().out
    assert "dsepconv 0.1.0" in out and "device: cpu" in out
    assert str(model_file) in out and "'kernel_size': 3" in out
    assert main(["info", "--model", str(model_file), "--precision", "float32"]) == 0
    assert "bfloat16" not in capsys.readouterr().out
    assert main(["info", "--model", str(model_file), "--precision", "half"]) == 2
    assert "one of auto, float32, bfloat16" in capsys.readouterr().err


def test_console_script_is_installed():
    script = Path(sys.executable).parent / "dsepconv"
    done = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "dsepconv" in done.stdout


def test_demo_writes_frames_and_reports_psnr(tmp_path, capsys):
    assert main(["demo", "-o", str(tmp_path), "--model", "random:tiny"]) == 0
    assert "PSNR against the true middle frame" in capsys.readouterr().out
    assert read_image(tmp_path / "output.png").shape == read_image(tmp_path / "truth.png").shape


def test_interpolate_a_real_middlebury_pair(tmp_path):
    folder = shared_benchmark("middlebury-other", "Beanbags")
    out = tmp_path / "beanbags.png"
    frames = folder / "frame10.png", folder / "frame11.png"
    code = main(interpolate_args(frames, out, "--dump-intermediates", str(tmp_path / "dump")))
    assert code == 0
    assert read_image(out).shape == read_image(folder / "frame10.png").shape
    assert np.load(tmp_path / "dump" / "frame1_offset_y.npy").shape[1:] == read_image(out).shape[:2]


def test_an_error_whose_reason_spans_lines_is_printed_on_one(monkeypatch, capsys):
    # a library's reason (a decoder's, a parser's) may hold line breaks: still one line
    from dsepconv_gui.base.errors import InputError
    from dsepconv_gui.cli import main as cli

    def fail(args):
        raise InputError("clip.mp4: cannot read (first line\n  second line\n)")

    monkeypatch.setattr(cli, "run_info", fail)
    assert main(["info"]) == 2
    assert (
        capsys.readouterr().err
        == "dsepconv: error: clip.mp4: cannot read (first line | second line | )\n"
    )
