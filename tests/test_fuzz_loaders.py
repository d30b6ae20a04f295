"""Fuzzing the loaders: bytes of small valid videos and images are mutated (overwritten,
truncated, spliced) and opened and read. The only outcomes allowed are a clip whose frames
decode or the project's own error; anything else (a crash, another exception, a hang) fails.

`make test` runs a short budget; `make fuzz` runs a long one (FUZZ_EXAMPLES, default 1000
there) and prints how many cases were tried.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import cv2
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from dsepconv_gui.video.clips import open_clip

from .fuzz_outcomes import FuzzOutcomes, fuzz_settings, summary_printer
from .media import write_square_clip

OUTCOMES = FuzzOutcomes("opened", time_limit=10.0)


def _seed_files() -> dict[str, bytes]:
    folder = Path(tempfile.mkdtemp(prefix="dsepconv-fuzz-seeds-"))
    try:
        seeds = {
            ".mp4": write_square_clip(folder / "a.mp4", frames=6).read_bytes(),
            ".mkv": write_square_clip(folder / "a.mkv", frames=6, codec="ffv1").read_bytes(),
        }
        image = np.random.default_rng(0).integers(0, 256, (24, 32, 3), dtype=np.uint8)
        for suffix in (".png", ".jpg"):
            seeds[suffix] = cv2.imencode(suffix, image)[1].tobytes()
        return seeds
    finally:
        shutil.rmtree(folder, ignore_errors=True)


SEEDS = _seed_files()

mutation = st.one_of(
    st.tuples(st.just("overwrite"), st.floats(0, 1), st.binary(min_size=1, max_size=64)),
    st.tuples(st.just("truncate"), st.floats(0, 1), st.just(b"")),
    st.tuples(st.just("insert"), st.floats(0, 1), st.binary(min_size=1, max_size=64)),
    st.tuples(st.just("zero"), st.floats(0, 1), st.integers(1, 512).map(lambda n: bytes(n))),
)


def mutate(data: bytes, mutations) -> bytes:
    data = bytearray(data)
    for kind, where, payload in mutations:
        at = int(where * max(len(data) - 1, 0))
        if kind == "truncate":
            del data[at:]
        elif kind == "insert":
            data[at:at] = payload
        else:
            data[at : at + len(payload)] = payload
    return bytes(data)


def open_and_read(path: Path) -> None:
    """Open and read every frame; only the project's errors may come out."""
    with OUTCOMES.case(path.name):
        clip = open_clip(path)
        for _ in clip.iter_frames():
            pass
        for index in {0, len(clip) // 2, len(clip) - 1}:
            clip.read(index)
        clip.close()


report_cases = summary_printer(OUTCOMES)


@fuzz_settings
@given(
    suffix=st.sampled_from([".mp4", ".mkv"]), mutations=st.lists(mutation, min_size=1, max_size=4)
)
def test_mutated_videos_open_or_are_refused(suffix, mutations):
    with tempfile.TemporaryDirectory(prefix="dsepconv-fuzz-") as tmp:
        path = Path(tmp) / f"clip{suffix}"
        path.write_bytes(mutate(SEEDS[suffix], mutations))
        open_and_read(path)


@fuzz_settings
@given(
    suffix=st.sampled_from([".png", ".jpg"]), mutations=st.lists(mutation, min_size=1, max_size=4)
)
def test_mutated_images_in_a_sequence_open_or_are_refused(suffix, mutations):
    with tempfile.TemporaryDirectory(prefix="dsepconv-fuzz-") as tmp:
        folder = Path(tmp) / "frames"
        folder.mkdir()
        (folder / f"frame_0{suffix}").write_bytes(SEEDS[suffix])
        (folder / f"frame_1{suffix}").write_bytes(mutate(SEEDS[suffix], mutations))
        open_and_read(folder)
