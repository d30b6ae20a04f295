"""A 23.976 → 60 fps export of a real clip three ways, in one run (issue 18):

- the model that takes the time, each in-between frame in one pass at its exact time;
- the same model by bisection (--bisect, eighths of an interval: --depth 3);
- the midpoint model by bisection (--depth 3), as before the time model existed.

The clip: the first FRAMES frames of a real video, resized to 640×360 and written at
24000/1001 fps (lossless FFV1) so the rates are the film-to-60 case. Prints each export's
summary line, its largest timing error and its seconds per output frame, and the ratios.

    python experiments/exact_time_export.py ../shared/data/train/clips/sam2-01_dog.mp4 \
        --timed runs/time/run1/best.safetensors --midpoint models/dsepconv.safetensors
"""

from __future__ import annotations

import argparse
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import cv2

from dsepconv_gui.export.clip_export import ExportSettings, export_clip
from dsepconv_gui.interpolation.interpolator import Interpolator
from dsepconv_gui.model.device import resolve_device
from dsepconv_gui.model.weights import resolve_model
from dsepconv_gui.video.clips import open_clip
from dsepconv_gui.video.writer import VideoWriter


def film_rate_clip(source: Path, frames: int, destination: Path) -> Path:
    clip = open_clip(source)
    with VideoWriter(destination, Fraction(24000, 1001), codec="ffv1") as writer:
        for index in range(min(frames, len(clip))):
            writer.write(cv2.resize(clip.read(index), (640, 360), interpolation=cv2.INTER_AREA))
    clip.close()
    return destination


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("clip", type=Path)
    parser.add_argument("--timed", required=True, help="a model that takes the time")
    parser.add_argument("--midpoint", required=True, help="a midpoint model")
    parser.add_argument("--frames", type=int, default=25)
    args = parser.parse_args()

    device = resolve_device("cpu")
    timed = Interpolator(resolve_model(args.timed, device.device)[0], device)
    midpoint = Interpolator(resolve_model(args.midpoint, device.device)[0], device)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        clip_path = film_rate_clip(args.clip, args.frames, folder / "film.mkv")
        runs = {
            "time model, one pass at the exact time": (timed, True),
            "time model, bisection (--bisect, depth 3)": (timed, False),
            "midpoint model, bisection (depth 3)": (midpoint, False),
        }
        per_frame = {}
        for name, (model, exact) in runs.items():
            clip = open_clip(clip_path)
            settings = ExportSettings(
                folder / f"{len(per_frame)}.mkv",
                fps=Fraction(60),
                codec="ffv1",
                audio=False,
                exact_times=exact,
            )
            start = time.perf_counter()
            summary = export_clip(clip, settings, model)
            seconds = time.perf_counter() - start
            clip.close()
            per_frame[name] = seconds / summary.frames_written
            print(
                f"{name}: {summary.frames_written} frames ({summary.interpolated} in between), "
                f"largest timing error {summary.max_timing_error * 1000:.3f} ms, "
                f"{seconds:.1f} s, {per_frame[name]:.3f} s per output frame",
                flush=True,
            )
    one_pass = per_frame["time model, one pass at the exact time"]
    for name, seconds in per_frame.items():
        print(f"{name}: {seconds / one_pass:.2f} × the one-pass time per output frame")


if __name__ == "__main__":
    main()
