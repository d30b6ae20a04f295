"""Seconds per 640×480 frame on a real pair with large motion, where the patch search has
work to do (DAVIS libby frames 10 and 12, a dog running across the frame), flows included:
median of 3 after a warm-up. It times the dsepconv_gui it imports, so an older checkout is
timed by putting that first on PYTHONPATH (issue 16; README, Performance):

    git worktree add /tmp/before 3e6076e
    PYTHONPATH=/tmp/before python experiments/real_pair_frame_time.py \\
        ../shared/data/train/davis2016-val --save /tmp/before.npy
    python experiments/real_pair_frame_time.py ../shared/data/train/davis2016-val \\
        --compare /tmp/before.npy
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import cv2
import numpy as np

import dsepconv_gui
from dsepconv_gui.interpolation.interpolator import Interpolator
from dsepconv_gui.model.device import resolve_device
from dsepconv_gui.model.weights import resolve_model
from dsepconv_gui.training.sources import discover_sources, read_frames


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("davis", type=Path, help="the folder holding DAVIS libby")
    parser.add_argument(
        "--model", default=str(Path(__file__).resolve().parents[1] / "models/dsepconv.safetensors")
    )
    parser.add_argument("--save", type=Path, help="write the interpolated frame (.npy)")
    parser.add_argument("--compare", type=Path, help="a saved frame to compare with")
    args = parser.parse_args()
    source = next(s for s in discover_sources([args.davis]) if s.path.name == "libby")
    frames = list(read_frames(source, 480))[10:13:2]
    a, b = (np.ascontiguousarray(cv2.resize(f, (640, 480))) for f in frames)
    device = resolve_device("cpu")
    loaded, _ = resolve_model(args.model, device.device)
    interpolator = Interpolator(loaded, device)
    interpolator(a.copy(), b.copy())  # warm-up
    seconds = []
    for _ in range(3):
        start = time.perf_counter()  # copies: the interpolator keeps the last pair's motion
        made = interpolator(a.copy(), b.copy())
        seconds.append(time.perf_counter() - start)
    print(f"{Path(dsepconv_gui.__file__).parent}: {statistics.median(seconds):.3f} s per frame")
    if args.save:
        np.save(args.save, made)
    if args.compare:
        difference = np.abs(made.astype(int) - np.load(args.compare)).max()
        print(f"largest difference from {args.compare}: {difference}/255")


if __name__ == "__main__":
    main()
