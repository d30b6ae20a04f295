"""Inputs that are not what they seem: paths that are not readable files (missing, dangling or
looping symbolic links, folders, named pipes, sockets, devices, unreadable, empty), image
headers that declare huge frames, and JPEGs whose EXIF orientation turns them."""

from __future__ import annotations

import builtins
import os
import re
import socket
import threading
import time
import tracemalloc
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps

from dsepconv_gui.base.errors import InputError
from dsepconv_gui.cli.main import main
from dsepconv_gui.frames import images
from dsepconv_gui.frames.images import read_image, write_image
from dsepconv_gui.video.clips import ClipError, open_clip

from .command_lines import export_args, interpolate_args
from .crafted_images import png, zero_rows_png

LIMIT = "above the limit of 33.2 megapixels (7680×4320)"


def run_cli(args: list[str], capsys, timeout: float = 60.0) -> tuple[int, list[str]]:
    """main(args) in a thread, so that a read that blocks (a named pipe) fails the test instead
    of hanging it; the exit status and the lines on stderr other than warnings."""
    outcome: dict[str, object] = {}

    def target() -> None:
        try:
            outcome["code"] = main(args)
        except BaseException as exc:  # noqa: BLE001 (reported below)
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), f"dsepconv {' '.join(args)} did not finish in {timeout} s"
    assert "error" not in outcome, f"uncaught {outcome.get('error')!r}"
    err = capsys.readouterr().err
    return outcome["code"], [
        line for line in err.splitlines() if line and not line.startswith("warning:")
    ]


# ----- paths that are not readable files ---------------------------------------------------------


def make_path(kind: str, folder: Path, monkeypatch) -> tuple[Path, str]:
    """A path of the given kind and the words its refusal must contain."""
    path = folder / f"{kind}.input"
    if kind == "missing":
        return path, f"{path}: no such file"
    if kind == "dangling link":
        path.symlink_to(folder / "gone.png")
        return path, f"{path}: a symbolic link to {folder / 'gone.png'}, which does not exist"
    if kind == "link loop":
        path.symlink_to(folder / "other.input")
        (folder / "other.input").symlink_to(path)
        return path, f"{path}: a symbolic-link loop"
    if kind == "folder":
        path.mkdir()
        return path, f"{path}: is a folder, not"
    if kind == "named pipe":
        os.mkfifo(path)
        return path, f"{path}: not a regular file (a named pipe)"
    if kind == "socket":
        with socket.socket(socket.AF_UNIX) as server:
            server.bind(str(path))  # the socket file stays after the socket is closed
        return path, f"{path}: not a regular file (a socket)"
    if kind == "character device":
        return Path("/dev/zero"), "/dev/zero: not a regular file (a character device)"
    if kind == "unreadable":
        path.write_bytes(b"data")
        path.chmod(0)
        real_open = builtins.open

        def open_as_other_user(file, *args, **kwargs):  # root reads anything: simulate the refusal
            if isinstance(file, (str, os.PathLike)) and Path(file) == path:
                raise PermissionError(13, "Permission denied", str(file))
            return real_open(file, *args, **kwargs)

        monkeypatch.setattr(builtins, "open", open_as_other_user)
        return path, f"{path}: not readable (permission denied)"
    if kind == "empty":
        path.write_bytes(b"")
        return path, f"{path}: empty file"
    raise AssertionError(kind)


KINDS = [
    "missing",
    "dangling link",
    "link loop",
    "folder",
    "named pipe",
    "socket",
    "character device",
    "unreadable",
    "empty",
]


@pytest.mark.parametrize(
    "command, kind",
    [
        (command, kind)
        for command in ("interpolate", "export", "info")
        for kind in KINDS
        if (command, kind)
        != ("export", "folder")  # a folder of numbered images is an export's input
    ],
)
def test_unusable_paths_are_named_for_what_they_are(command, kind, tmp_path, monkeypatch, capsys):
    good = write_image(tmp_path / "good.png", np.zeros((8, 8, 3), np.uint8))
    path, words = make_path(kind, tmp_path, monkeypatch)
    args = {
        "interpolate": interpolate_args((path, good), tmp_path / "out.png"),
        "export": export_args(path, tmp_path / "out.mp4", "--factor", "2"),
        "info": ["info", "--model", str(path)],
    }[command]
    code, lines = run_cli(args, capsys)
    assert code == 2 and len(lines) == 1, lines
    assert words in lines[0]
    if kind == "folder":
        assert lines[0].endswith("an image" if command == "interpolate" else "a model file")
    assert not (tmp_path / "out.png").exists() and not (tmp_path / "out.mp4").exists()


# ----- image headers: the size limit before decoding ----------------------------------------------


def test_png_declaring_100000_by_100000_is_refused_from_its_header(tmp_path, capsys):
    path = tmp_path / "huge.png"
    path.write_bytes(png(100_000, 100_000))
    with pytest.raises(
        InputError, match="huge.png: declares a frame of more than .* " + re.escape(LIMIT)
    ):
        read_image(path)
    code, lines = run_cli(
        ["interpolate", str(path), str(path), "-o", str(tmp_path / "out.png")], capsys
    )
    assert code == 2 and len(lines) == 1 and LIMIT in lines[0]


@pytest.mark.parametrize("width, height", [(10_000, 10_000), (7681, 4320), (1, 40_000_000)])
def test_frames_over_the_limit_are_refused_with_their_size(tmp_path, width, height):
    path = tmp_path / "big.png"
    path.write_bytes(png(width, height))
    with pytest.raises(InputError) as caught:
        read_image(path)
    message = str(caught.value)
    assert f"{width}×{height}" in message or "more than" in message
    assert "exceed the limit of 33.2 megapixels (7680×4320)" in message or LIMIT in message


@pytest.fixture(scope="module")
def png_20000(tmp_path_factory) -> Path:
    """A complete, valid 20000×20000 PNG of black pixels: 400 MB decoded, under 2 MB on disk."""
    path = tmp_path_factory.mktemp("big") / "black_20000.png"
    path.write_bytes(zero_rows_png(20_000, 20_000))
    assert path.stat().st_size < 2_000_000
    return path


def test_a_real_20000_by_20000_png_is_refused_before_decoding(png_20000, monkeypatch):
    def no_decoding(*args, **kwargs):
        raise AssertionError("the image was decoded")

    monkeypatch.setattr(images.cv2, "imdecode", no_decoding)
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(InputError, match="black_20000.png: declares a frame of more than"):
            read_image(png_20000)
        seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert seconds < 10.0 and peak < 16 * 2**20  # decoding 20000×20000 takes 14 s and 1.2 GB


def test_an_image_folder_with_a_frame_over_the_limit_is_refused_on_opening(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    write_image(folder / "frame_0.png", np.zeros((8, 8, 3), np.uint8))
    (folder / "frame_1.png").write_bytes(png(10_000, 10_000))
    with pytest.raises(
        ClipError, match="frame_1.png: frames of 10000×10000 .* exceed the limit of 33.2 megapixels"
    ):
        open_clip(folder)


def test_crafted_pngs_within_the_limit_decode(tmp_path):
    path = tmp_path / "black.png"
    path.write_bytes(zero_rows_png(64, 48))
    frame = read_image(path)
    assert frame.shape == (48, 64, 3) and frame.dtype == np.uint8 and not frame.any()


def test_a_decoder_error_is_an_input_error(tmp_path, monkeypatch):
    path = write_image(tmp_path / "a.png", np.zeros((8, 8, 3), np.uint8))

    def failing(*args, **kwargs):
        raise cv2.error("OpenCV(5.0.0) loadsave.cpp: error: (-215) imdecode_")

    monkeypatch.setattr(images.cv2, "imdecode", failing)
    with pytest.raises(InputError, match="a.png: not a readable image"):
        read_image(path)


# ----- EXIF orientation ------------------------------------------------------------------------


def source_image(height: int = 48, width: int = 64) -> np.ndarray:
    """Large flat blocks of distinct colours, so that JPEG keeps them and any turn shows."""
    rng = np.random.default_rng(3)
    blocks = rng.integers(0, 256, (3, 4, 3), dtype=np.uint8)
    return np.kron(blocks, np.ones((height // 3, width // 4, 1), np.uint8))


def write_oriented(path: Path, orientation: int, pixels: np.ndarray | None = None) -> Path:
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(source_image() if pixels is None else pixels).save(
        path, exif=exif, quality=95, subsampling=0
    )
    return path


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("suffix", [".jpg", ".png", ".tif"])
def test_exif_orientation_is_applied(tmp_path, orientation, suffix):
    path = write_oriented(tmp_path / f"o{orientation}{suffix}", orientation)
    expected = np.asarray(ImageOps.exif_transpose(Image.open(path)).convert("RGB"))
    frame = read_image(path)
    assert frame.shape == expected.shape
    assert np.abs(frame.astype(int) - expected).max() <= 2
    upright_size = (48, 64) if orientation >= 5 else (64, 48)
    assert images.read_header(path).size == upright_size
    assert frame.shape[:2] == upright_size[::-1]


def test_a_jpeg_tagged_rotate_90_comes_out_upright(tmp_path):
    stored = source_image()
    frame = read_image(write_oriented(tmp_path / "phone.jpg", 6, stored))
    assert frame.shape == (64, 48, 3)
    turned = np.rot90(stored, -1)  # orientation 6: the stored pixels turned 90° clockwise
    assert np.abs(frame.astype(int) - turned.astype(int)).mean() < 2


def test_interpolate_and_image_folders_turn_jpegs_the_same_way(tmp_path, capsys):
    a = write_oriented(tmp_path / "a.jpg", 6)
    b = write_oriented(tmp_path / "b.jpg", 6)
    out = tmp_path / "mid.png"
    assert main(["interpolate", str(a), str(b), "-o", str(out), "--model", "random:tiny"]) == 0
    assert read_image(out).shape == (64, 48, 3)
    folder = tmp_path / "frames"
    folder.mkdir()
    for index, orientation in enumerate((6, 6, 8)):
        write_oriented(folder / f"frame_{index}.jpg", orientation)
    clip = open_clip(folder)
    assert (clip.info.width, clip.info.height) == (48, 64)
    for index in range(3):
        assert np.array_equal(clip.read(index), read_image(folder / f"frame_{index}.jpg"))
    assert clip.read(0).shape == (64, 48, 3)
