"""PSNR by time on held-out real footage: one pass at t against bisection and DIS (issue 18).

Windows of five frames k .. k + 4 from the training footage's held-out sources (the trainer's
rule: every 10th source), at the trainer's size (short side 360); the truths are frames
k + 1, k + 2 and k + 3, at t = 1/4, 1/2 and 3/4 between frames k and k + 4. Shot cuts and
static windows are skipped; deterministic (seed 0), so every model sees the same windows.

For each window and t:
- every --timed model (one that takes the time), in one pass at t;
- the --midpoint model by bisection: M(k, k+4) at 1/2, M(k, that) at 1/4, M(that, k+4) at 3/4;
- OpenCV DIS warped to t (classical.dis_flow_at).

    python experiments/time_table.py ../shared/data/train/clips ../shared/data/train/davis2016-val \
        --timed runs/time/run1/best.safetensors --midpoint models/dsepconv.safetensors \
        --json runs/time/table.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from dsepconv_gui.frames.metrics import psnr
from dsepconv_gui.frames.scene_cuts import thumbnail_difference
from dsepconv_gui.interpolation.classical import dis_flow_at
from dsepconv_gui.interpolation.interpolator import Interpolator
from dsepconv_gui.model.device import resolve_device
from dsepconv_gui.model.weights import resolve_model
from dsepconv_gui.training.sources import discover_sources, read_frames
from dsepconv_gui.training.trainer import TrainOptions
from dsepconv_gui.training.triplet_bank import BankSettings

TIMES = (0.25, 0.5, 0.75)
SPAN = 4


def held_out_windows(data: list[Path], per_source: int) -> list[tuple[str, int, list]]:
    """(source name, first frame, the five frames) of the held-out sources' windows."""
    every, bank = TrainOptions.validation_every_nth_source, BankSettings()
    rng = np.random.default_rng(0)
    windows = []
    for index, source in enumerate(discover_sources(data)):
        if index % every != every - 1:
            continue
        frames = list(read_frames(source, bank.max_short_side))
        starts = list(range(len(frames) - SPAN))
        rng.shuffle(starts)
        taken = 0
        for k in starts:
            if taken == per_source:
                break
            window = frames[k : k + SPAN + 1]
            steps = [thumbnail_difference(a, b) for a, b in zip(window, window[1:], strict=False)]
            if max(steps) > bank.cut_threshold:
                continue
            if np.abs(window[0].astype(np.int16) - window[-1]).mean() < bank.static_threshold:
                continue
            windows.append((source.path.stem, k, window))
            taken += 1
    return windows


def interpolator(spec: str) -> Interpolator:
    device = resolve_device("cpu")
    loaded, _ = resolve_model(spec, device.device)
    return Interpolator(loaded, device)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("data", nargs="+", type=Path, help="the training data, as for train")
    parser.add_argument("--timed", action="append", default=[], help="a model that takes t")
    parser.add_argument("--midpoint", default=None, help="a midpoint model, run by bisection")
    parser.add_argument("--per-source", type=int, default=8)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    windows = held_out_windows(args.data, args.per_source)
    methods: dict[str, callable] = {}
    for spec in args.timed:
        model = interpolator(spec)
        if not model.takes_time:
            parser.error(f"{spec} makes midpoints only: give it as --midpoint")
        methods[f"one pass: {spec}"] = lambda a, b, model=model: {
            t: model.at_time(a, b, t) for t in TIMES
        }
    if args.midpoint:
        model = interpolator(args.midpoint)

        def bisection(a, b, model=model):
            middle = model(a, b)
            return {0.25: model(a, middle), 0.5: middle, 0.75: model(middle, b)}

        methods[f"bisection: {args.midpoint}"] = bisection
    methods["OpenCV DIS warped to t"] = lambda a, b: {t: dis_flow_at(a, b, t) for t in TIMES}

    scores = {name: {t: [] for t in TIMES} for name in methods}
    seconds = dict.fromkeys(methods, 0.0)
    print(f"{len(windows)} windows from the held-out sources", flush=True)
    for number, (name, k, window) in enumerate(windows, start=1):
        truths = dict(zip(TIMES, window[1:SPAN], strict=True))
        for method, make in methods.items():
            start = time.perf_counter()
            made = make(window[0], window[SPAN])
            seconds[method] += time.perf_counter() - start
            for t in TIMES:
                scores[method][t].append(psnr(made[t], truths[t]))
        line = "  ".join(f"{np.mean(s[0.25]):.2f}" for s in scores.values())
        print(f"[{number}/{len(windows)}] {name} {k}: running t=1/4 means {line}", flush=True)

    print(f"\nPSNR (dB) by time, mean over {len(windows)} windows of held-out real footage")
    print("| method | t = 1/4 | t = 1/2 | t = 3/4 | seconds per window |")
    print("|---|---|---|---|---|")
    for method in methods:
        cells = " | ".join(f"{np.mean(scores[method][t]):.2f}" for t in TIMES)
        print(f"| {method} | {cells} | {seconds[method] / len(windows):.2f} |")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "windows": [(name, k) for name, k, _ in windows],
                    "scores": {m: {str(t): v for t, v in s.items()} for m, s in scores.items()},
                    "seconds": seconds,
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
