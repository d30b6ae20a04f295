"""No file the user had is ever lost: a PNG export into an existing folder replaces only its own
files, an output is never one of the inputs (by any spelling or link), `interpolate` checks and
writes atomically, SIGTERM and SIGHUP stop like Ctrl-C, a killed run's temporaries are cleaned
by the next one, names up to the file system's limit work, and sizes are shown readably."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from dsepconv_gui.base.errors import InputError
from dsepconv_gui.cli.main import main
from dsepconv_gui.export.clip_export import ExportSettings, export_clip, size_text
from dsepconv_gui.frames.images import read_image, write_image
from dsepconv_gui.video.clips import open_clip

from .command_lines import export_args, interpolate_args
from .media import decode, write_noise_pair, write_square_clip


def average(a, b):
    return ((a.astype(np.uint16) + b) // 2).astype(np.uint8)


def hidden(folder: Path) -> list[str]:
    """Temporaries (and anything else hidden) in a folder."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every file and folder under `folder` with its bytes (None for a folder)."""
    return {
        str(p.relative_to(folder)): None if p.is_dir() else p.read_bytes()
        for p in sorted(folder.rglob("*"))
    }


@pytest.fixture(scope="module")
def clip_path(tmp_path_factory) -> Path:
    return write_square_clip(tmp_path_factory.mktemp("clips") / "square.mp4", frames=8)


def export(source: Path, output: Path, **settings):
    settings.setdefault("factor", 2)
    clip = open_clip(source)
    try:
        return export_clip(clip, ExportSettings(output, **settings), average)
    finally:
        clip.close()


# --- 1. a PNG export into an existing folder ---------------------------------------------


def test_png_export_into_a_folder_replaces_only_its_own_files(tmp_path, clip_path):
    folder = tmp_path / "DIR"
    folder.mkdir()
    source = folder / "clip.mp4"
    source.write_bytes(clip_path.read_bytes())
    (folder / "notes.txt").write_text("my notes")
    (folder / "sub").mkdir()
    (folder / "sub" / "inner.txt").write_text("keep me too")
    (folder / "frame_000003.png").write_bytes(b"a user's file of an export's name: replaced")
    kept = {k: v for k, v in snapshot(folder).items() if k != "frame_000003.png"}

    with pytest.raises(InputError, match="already exists"):
        export(source, folder, codec="png")
    export(source, folder, codec="png", overwrite=True)  # 8 frames ×2: 15 frames

    after = snapshot(folder)
    assert {k: after.get(k) for k in kept} == kept  # the input, notes and subfolder untouched
    assert sorted(folder.glob("frame_*.png")) == [folder / f"frame_{i:06d}.png" for i in range(15)]
    assert read_image(folder / "frame_000003.png").shape == (96, 192, 3)
    assert (folder / "rate.txt").read_text().strip() == "48/1"
    assert hidden(tmp_path) == []

    # A shorter export removes the earlier export's frames it does not rewrite, and only those.
    (folder / "frame_000099.png").write_bytes(b"not from an export")
    export(source, folder, codec="png", overwrite=True, end=3)  # 4 frames ×2: 7 frames
    assert sorted(p.name for p in folder.glob("frame_*.png")) == [
        f"frame_{i:06d}.png" for i in range(7)
    ] + ["frame_000099.png"]
    after = snapshot(folder)
    assert {k: after.get(k) for k in kept} == kept
    assert hidden(tmp_path) == []


def test_an_empty_folder_needs_no_overwrite_and_keeps_its_place(tmp_path, clip_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    export(clip_path, folder, codec="png", end=2)
    assert len(list(folder.glob("frame_*.png"))) == 5 and hidden(tmp_path) == []


# --- 2. the output is never an input -----------------------------------------------------


@pytest.mark.parametrize("spelling", ["relative", "dotted", "symlink", "hardlink"])
def test_output_equal_to_the_input_is_refused_even_with_overwrite(
    tmp_path, clip_path, spelling, monkeypatch
):
    source = tmp_path / "same.mp4"
    source.write_bytes(clip_path.read_bytes())
    original = source.read_bytes()
    monkeypatch.chdir(tmp_path)
    output = {
        "relative": Path("./same.mp4"),
        "dotted": tmp_path / "sub" / ".." / "same.mp4",
        "symlink": tmp_path / "link.mp4",
        "hardlink": tmp_path / "hard.mp4",
    }[spelling]
    (tmp_path / "sub").mkdir()
    if spelling == "symlink":
        output.symlink_to(source)
    elif spelling == "hardlink":
        os.link(source, output)
    with pytest.raises(InputError, match="is the input"):
        export(source, output, overwrite=True)
    assert source.read_bytes() == original


def test_cli_refuses_to_export_over_its_input_in_one_line(tmp_path, clip_path, capsys, monkeypatch):
    source = tmp_path / "same.mp4"
    source.write_bytes(clip_path.read_bytes())
    monkeypatch.chdir(tmp_path)
    code = main(export_args("same.mp4", "./same.mp4", "--overwrite", "--factor", "2"))
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "same.mp4: is the input" in err
    assert len(decode(source)[0]) == 8


def test_png_output_that_is_the_input_image_folder_is_refused(tmp_path):
    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(3):
        write_image(frames / f"img_{i:03d}.png", np.full((16, 16, 3), 60 * i, np.uint8))
    (tmp_path / "alias").symlink_to(frames)
    before = snapshot(frames)
    for output in (frames, tmp_path / "alias"):
        with pytest.raises(InputError, match="is the input"):
            export(frames, output, codec="png", overwrite=True)
    assert snapshot(frames) == before


# --- 3. interpolate ----------------------------------------------------------------------


@pytest.fixture
def pair(tmp_path):
    return write_noise_pair(tmp_path, 24, 20, seed=1)


def interpolate(frames: tuple[Path, Path], out: Path, *extra: str) -> int:
    return main(interpolate_args(frames, out, *extra))


def test_interpolate_never_writes_over_an_input(pair, tmp_path, capsys):
    a, b = pair
    before = b.read_bytes()
    for output in (b, tmp_path / "." / "b.png"):
        assert interpolate((a, b), output, "--overwrite") == 2
        assert "is the input" in capsys.readouterr().err
    assert b.read_bytes() == before


def test_interpolate_needs_overwrite_for_an_existing_output_and_writes_atomically(
    pair, tmp_path, capsys
):
    a, b = pair
    out = tmp_path / "mid.png"
    out.write_bytes(b"an earlier result")
    assert interpolate((a, b), out) == 2
    assert "already exists (use --overwrite" in capsys.readouterr().err
    assert out.read_bytes() == b"an earlier result"
    assert interpolate((a, b), out, "-y") == 0
    assert read_image(out).shape == (24, 20, 3)
    assert oct(out.stat().st_mode & 0o777) != oct(0o600)  # not the temporary's private mode
    assert hidden(tmp_path) == []


@pytest.mark.parametrize(
    "name, signature", [("mid", b"\x89PNG"), ("mid.jpg", b"\xff\xd8"), ("mid.TIF", b"II*\x00")]
)
def test_interpolate_writes_the_format_of_the_destinations_name(pair, tmp_path, name, signature):
    # the frame is written to a temporary first: its format is still the destination's
    # (PNG without a suffix)
    a, b = pair
    assert interpolate((a, b), tmp_path / name) == 0
    assert (tmp_path / name).read_bytes().startswith(signature)
    assert hidden(tmp_path) == []


def test_dump_intermediates_keeps_unrelated_files_and_never_replaces_an_input(
    pair, tmp_path, capsys
):
    a, b = pair
    dump = tmp_path / "dump"
    dump.mkdir()
    (dump / "notes.txt").write_text("mine")
    assert interpolate((a, b), tmp_path / "m.png", "--dump-intermediates", str(dump)) == 2
    assert "dump: already exists and is not empty (use --overwrite" in capsys.readouterr().err
    assert sorted(p.name for p in dump.iterdir()) == ["notes.txt"]

    assert interpolate((a, b), tmp_path / "m.png", "--dump-intermediates", str(dump), "-y") == 0
    assert (dump / "notes.txt").read_text() == "mine"
    assert (dump / "intermediates.json").exists() and (dump / "frame1_result.png").exists()
    assert hidden(tmp_path) == [] and hidden(dump) == []

    # An input inside the dump folder under a name the dump writes: refused, nothing touched.
    own = tmp_path / "own"
    own.mkdir()
    frame = own / "output.png"
    frame.write_bytes(a.read_bytes())
    before = snapshot(own)
    code = interpolate((frame, b), tmp_path / "n.png", "--dump-intermediates", str(own), "-y")
    assert code == 2 and "is the input" in capsys.readouterr().err
    assert snapshot(own) == before and not (tmp_path / "n.png").exists()
    assert hidden(tmp_path) == [] and hidden(own) == []


# --- 4. signals and killed runs -----------------------------------------------------------

# The real command line, with a stand-in model that takes its time, so a signal surely lands
# mid-export (after the temporary file exists, before the export is done).
SLOW_CLI = """
import sys, time
from dsepconv_gui.cli import main as cli

class Slow:
    class loaded:
        source = "slow stand-in"
    device = "cpu"
    def __call__(self, a, b):
        # Short sleeps, as a real model returns to Python between layers: a signal that lands
        # just before one long sleep starts would wait for it to end (CPython checks signals
        # between bytecodes), which no user sees with a real model.
        for _ in range(600):
            time.sleep(0.1)

cli.load_interpolator = lambda *args, **kwargs: Slow()
sys.exit(cli.main(sys.argv[1:]))
"""


def start_slow_export(clip: Path, out: Path) -> subprocess.Popen:
    options = ("--factor", "2", "--overwrite", "--no-audio")
    process = subprocess.Popen(
        [sys.executable, "-c", SLOW_CLI, *export_args(clip, out, *options, model=None)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 90
    while not hidden(out.parent):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"the export never started writing: {process.communicate()}")
        time.sleep(0.02)
    return process


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_signal_removes_the_partial_file_and_leaves_the_destination(tmp_path, clip_path, signum):
    out = tmp_path / "out.mp4"
    out.write_bytes(b"an earlier export")
    process = start_slow_export(clip_path, out)
    process.send_signal(signum)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 128 + signum, err
    said = [
        line for line in err.splitlines() if line.startswith("dsepconv")
    ]  # past the clip and the bar
    assert len(said) == 1 and said[0] == err.strip().splitlines()[-1], err
    assert "Traceback" not in err
    assert said[0] == (
        "dsepconv: interrupted"
        if signum == signal.SIGINT
        else f"dsepconv: stopped by {signum.name}"
    )
    assert out.read_bytes() == b"an earlier export"
    assert hidden(tmp_path) == []


def test_a_killed_runs_temporary_is_removed_by_the_next_export_but_a_live_ones_is_not(
    tmp_path, clip_path
):
    from dsepconv_gui.base.safe_output import temp_file

    out = tmp_path / "out.mp4"
    process = start_slow_export(clip_path, out)
    process.kill()  # kill -9: nothing can clean up
    process.communicate(timeout=60)
    left = hidden(tmp_path)
    assert len(left) == 1 and str(process.pid) in left[0]

    live = temp_file(out)  # a temporary of this (running) process
    other = (
        tmp_path / f".other.mp4.dsepconv-{process.pid}-abcdefgh.part.mp4"
    )  # another destination's
    other.write_bytes(b"")
    export(clip_path, out)
    assert hidden(tmp_path) == sorted([live.name, other.name])
    assert len(decode(out)[0]) == 15
    live.unlink()


# --- 5. long names -------------------------------------------------------------------------


def test_names_up_to_the_limit_work_and_longer_ones_are_refused_in_one_line(
    tmp_path, clip_path, capsys
):
    longest = tmp_path / ("n" * 251 + ".mp4")
    export(clip_path, longest, end=2)
    assert len(decode(longest)[0]) == 5 and hidden(tmp_path) == []
    folder = tmp_path / ("f" * 255)
    export(clip_path, folder, codec="png", end=2)
    assert len(list(folder.glob("frame_*.png"))) == 5 and hidden(tmp_path) == []

    too_long = tmp_path / ("n" * 252 + ".mp4")
    code = main(export_args(clip_path, too_long, "--factor", "2"))
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "too long" in err and "Traceback" not in err
    with pytest.raises(InputError, match="too long"):
        export(clip_path, tmp_path / ("d" * 256) / "out.mp4")


def test_interpolate_to_a_255_byte_name(pair, tmp_path):
    a, b = pair
    out = tmp_path / ("é" * 125 + "x.png")  # 255 bytes in UTF-8
    assert len(os.fsencode(out.name)) == 255
    assert interpolate((a, b), out) == 0
    assert read_image(out).shape == (24, 20, 3) and hidden(tmp_path) == []


# --- 6. sizes in messages ------------------------------------------------------------------


def test_free_space_message_never_says_zero_megabytes(tmp_path, clip_path, monkeypatch):
    import shutil
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 1000, 1000))
    with pytest.raises(InputError, match="not enough free disk space") as refused:
        export(clip_path, tmp_path / "o.mkv", codec="ffv1", factor=8)
    message = str(refused.value)
    assert " 0 MB" not in message
    assert (
        "needs at least 420 kB" in message and "1.00 kB free" in message
    )  # 57 frames × 192×96 × 0.4


@pytest.mark.parametrize(
    "size, text",
    [
        (0, "0 bytes"),
        (1, "1 byte"),
        (999, "999 bytes"),
        (1000, "1.00 kB"),
        (12345, "12.3 kB"),
        (999_499, "999 kB"),
        (999_500, "1.00 MB"),
        (4_567_000, "4.57 MB"),
        (1_200_000_000, "1.20 GB"),
    ],
)
def test_size_text(size, text):
    assert size_text(size) == text


def test_a_hostile_frame_list_in_the_folder_is_ignored(tmp_path):
    from fractions import Fraction

    from dsepconv_gui.video.writer import ImageSequenceWriter

    folder = tmp_path / "frames"
    folder.mkdir()
    (folder / ImageSequenceWriter.MANIFEST).write_text(
        "[" * 100_000 + "]" * 100_000
    )  # nested past recursion
    (folder / "notes.txt").write_text("mine")
    with ImageSequenceWriter(folder, Fraction(24)) as writer:
        writer.write(np.zeros((4, 6, 3), np.uint8))
    assert (folder / "frame_000000.png").exists() and (folder / "notes.txt").read_text() == "mine"
