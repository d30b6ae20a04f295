"""`dsepconv eval`: layouts, metrics, the peers, the table, --json and --save-dir."""

import json

import numpy as np
import pytest

from dsepconv_gui.base.errors import InputError
from dsepconv_gui.cli.evaluation import find_sequences
from dsepconv_gui.cli.main import main
from dsepconv_gui.frames.demo import render_demo_frames
from dsepconv_gui.frames.images import read_image, write_image
from dsepconv_gui.frames.metrics import interpolation_error, psnr, ssim
from dsepconv_gui.interpolation import classical

from .conftest import shared_benchmark


@pytest.fixture
def benchmarks(tmp_path):
    """Two tiny benchmark folders, one per layout, cut from the demo clip."""
    frames = render_demo_frames(5, height=64, width=96)
    middlebury, triplets = tmp_path / "mb", tmp_path / "tri"
    for index in range(2):
        a, mid, b = frames[index], frames[index + 1], frames[index + 2]
        for root, names in (
            (middlebury, ("frame10.png", "frame10i11.png", "frame11.png")),
            (triplets, ("frame0.png", "frame1.png", "frame2.png")),
        ):
            (root / f"seq{index}").mkdir(parents=True, exist_ok=True)
            for name, frame in zip(names, (a, mid, b), strict=True):
                write_image(root / f"seq{index}" / name, frame)
    return middlebury, triplets


def test_metrics():
    a = np.zeros((8, 8, 3), np.uint8)
    b = np.full((8, 8, 3), 10, np.uint8)
    assert psnr(a, b) == pytest.approx(10 * np.log10(255**2 / 100))
    assert psnr(a, a) == float("inf")
    assert interpolation_error(a, b) == pytest.approx(10.0)
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    assert ssim(noise, noise) == pytest.approx(1.0)
    assert ssim(noise, 255 - noise) < 0.1


def test_layouts_are_detected(benchmarks):
    middlebury, triplets = benchmarks
    found = find_sequences(middlebury)
    assert [s.name for s in found] == ["seq0", "seq1"] and found[0].truth.name == "frame10i11.png"
    assert find_sequences(triplets)[1].truth.name == "frame1.png"
    assert find_sequences(middlebury / "seq0")[0].name == "seq0"
    with pytest.raises(InputError, match="no sequences found"):
        find_sequences(middlebury.parent)


def test_classical_peers_beat_nothing_and_dis_beats_the_average():
    frames = render_demo_frames(3)
    a, truth, b = frames
    average = psnr(classical.frame_average(a, b), truth)
    dis = psnr(classical.dis_flow_halfway(a, b), truth)
    assert dis > average + 5.0
    assert classical.frame_average(a, a).tolist() == a.tolist()


def test_ffmpeg_minterpolate_gives_the_middle_frame():
    if classical.find_ffmpeg() is None:
        pytest.skip(
            "no ffmpeg binary (imageio-ffmpeg is a declared dependency; this should not happen)"
        )
    frames = render_demo_frames(3)
    a, truth, b = frames
    middle = classical.ffmpeg_minterpolate(a, b)
    assert middle.shape == a.shape
    assert psnr(middle, truth) > psnr(classical.frame_average(a, b), truth)


def test_eval_command_prints_the_table_and_writes_json_and_frames(benchmarks, tmp_path, capsys):
    middlebury, triplets = benchmarks
    out, report = tmp_path / "out", tmp_path / "scores.json"
    code = main(
        [
            "eval",
            str(middlebury),
            str(triplets),
            "--model",
            "random:tiny",
            "--device",
            "cpu",
            "--save-dir",
            str(out),
            "--json",
            str(report),
        ]
    )
    assert code == 0
    table = capsys.readouterr().out
    for method in ("DSepConv", "frame average", "OpenCV DIS flow", "ffmpeg minterpolate"):
        assert method in table
    assert "mb: 2 sequences, tri: 2 sequences" in table
    data = json.loads(report.read_text())
    scores = data["results"]["mb"]["frame average"]
    truth = read_image(middlebury / "seq0" / "frame10i11.png")
    expected = psnr(
        classical.frame_average(
            read_image(middlebury / "seq0" / "frame10.png"),
            read_image(middlebury / "seq0" / "frame11.png"),
        ),
        truth,
    )
    assert scores["sequences"][0]["psnr"] == pytest.approx(expected)
    # The untrained tiny network starts as the frame average, so it scores the same.
    model_scores = data["results"]["mb"][
        next(m for m in data["results"]["mb"] if m.startswith("DSepConv"))
    ]
    assert abs(model_scores["mean"]["psnr"] - scores["mean"]["psnr"]) < 0.1
    assert read_image(out / "mb" / "seq1" / "frame10i11.png").shape == truth.shape
    assert (out / "tri" / "seq0" / "frame1.png").exists()


def test_save_dir_that_would_overwrite_the_ground_truth_is_refused(benchmarks, tmp_path, capsys):
    # --save-dir DIR writes DIR/<benchmark>/<sequence>/<truth name>: the benchmark's own parent
    # folder would put the model's frames over the ground truth
    middlebury, triplets = benchmarks
    before = {p: p.read_bytes() for p in tmp_path.rglob("*.png")}
    assert (
        main(
            [
                "eval",
                str(middlebury),
                str(triplets),
                "--model",
                "random:tiny",
                "--no-peers",
                "--save-dir",
                str(tmp_path / "."),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert (
        "is the input frame" in err and "--save-dir" in err and len(err.strip().splitlines()) == 1
    )
    assert {p: p.read_bytes() for p in tmp_path.rglob("*.png")} == before


def test_eval_of_a_folder_without_sequences_is_a_clear_error(tmp_path, capsys):
    assert main(["eval", str(tmp_path), "--model", "random:tiny", "--no-peers"]) == 2
    assert "no sequences found" in capsys.readouterr().err


def test_dis_peer_on_a_real_middlebury_sequence():
    folder = shared_benchmark("middlebury-other", "RubberWhale")
    a, b, truth = (read_image(folder / n) for n in ("frame10.png", "frame11.png", "frame10i11.png"))
    assert (
        psnr(classical.dis_flow_halfway(a, b), truth)
        > psnr(classical.frame_average(a, b), truth) + 3
    )


def test_ssim_fits_its_window_to_small_frames():
    rng = np.random.default_rng(1)
    for height, width in ((4, 5), (6, 40), (3, 3)):
        noise = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        assert ssim(noise, noise) == pytest.approx(1.0)
        assert ssim(noise, 255 - noise) < 0.5
    assert ssim(np.zeros((2, 9, 3), np.uint8), np.zeros((2, 9, 3), np.uint8)) is None


def test_ffmpeg_minterpolate_on_frames_smaller_than_its_blocks():
    if classical.find_ffmpeg() is None:
        pytest.skip(
            "no ffmpeg binary (imageio-ffmpeg is a declared dependency; this should not happen)"
        )
    a = np.random.default_rng(2).integers(0, 256, (4, 5, 3), dtype=np.uint8)
    middle = classical.ffmpeg_minterpolate(a, a)
    assert middle.shape == a.shape and np.abs(middle.astype(int) - a).mean() < 8


@pytest.mark.parametrize("height, width, ssim_shown", [(4, 5, True), (2, 2, False), (1, 1, False)])
def test_eval_on_frames_smaller_than_the_ssim_window(tmp_path, capsys, height, width, ssim_shown):
    rng = np.random.default_rng(height * width)
    sequence = tmp_path / "tiny" / "seq"
    sequence.mkdir(parents=True)
    for index in range(3):
        write_image(
            sequence / f"frame{index}.png", rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        )
    report = tmp_path / "scores.json"
    assert (
        main(["eval", str(tmp_path / "tiny"), "--model", "random:tiny", "--json", str(report)]) == 0
    )
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| ") and "PSNR" not in line]
    assert len(rows) == 4  # the model and the three peers
    scores = json.loads(report.read_text())["results"]["tiny"]
    for method in scores.values():
        assert (method["mean"]["ssim"] is not None) == ssim_shown
        assert method["mean"]["psnr"] > 0
    assert ("SSIM not computed for 1 sequence(s) under 3×3 pixels (seq)" in out) != ssim_shown
    assert all(("n/a" in row) != ssim_shown for row in rows)
