"""The held-out real-footage set: whole-frame triplets from the training footage's held-out
sources (the trainer's own rule: every 10th source), in the benchmark layout that
`dsepconv eval` reads (SEQ/frame0.png, frame1.png the truth, frame2.png).

Unlike the trainer's validation crops it keeps the hard cases: strides 1 to 3 (more motion
per pair) and no filter on how well the flow prior does; only shot cuts and static triplets
are skipped. Deterministic (seed 0), so every model is scored on the same triplets.

    python experiments/heldout_set.py ../shared/data/train/clips \
        ../shared/data/train/davis2016-val -o runs/heldout-real
    dsepconv eval runs/heldout-real --model models/dsepconv.safetensors --no-peers
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from dsepconv_gui.frames.images import write_image
from dsepconv_gui.frames.scene_cuts import thumbnail_difference
from dsepconv_gui.training.sources import discover_sources, read_frames
from dsepconv_gui.training.trainer import TrainOptions
from dsepconv_gui.training.triplet_bank import BankSettings


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "data", nargs="+", type=Path, help="the training data, as given to dsepconv train"
    )
    parser.add_argument("-o", "--output", type=Path, required=True)
    parser.add_argument("--per-source", type=int, default=30)
    parser.add_argument("--strides", type=int, nargs="+", default=[1, 2, 3])
    args = parser.parse_args()

    every = TrainOptions.validation_every_nth_source
    bank = BankSettings()
    rng = np.random.default_rng(0)
    sources = discover_sources(args.data)
    for index, source in enumerate(sources):
        if index % every != every - 1:
            continue
        frames = list(read_frames(source, bank.max_short_side))
        candidates = [(t, k) for k in args.strides for t in range(len(frames) - 2 * k)]
        rng.shuffle(candidates)
        taken = 0
        for t, k in candidates:
            if taken == args.per_source:
                break
            f0, f1, f2 = frames[t], frames[t + k], frames[t + 2 * k]
            if max(thumbnail_difference(f0, f1), thumbnail_difference(f1, f2)) > bank.cut_threshold:
                continue
            if np.abs(f0.astype(np.int16) - f2).mean() < bank.static_threshold:
                continue
            folder = args.output / f"{source.path.stem}-{t:04d}-s{k}"
            folder.mkdir(parents=True, exist_ok=True)
            for name, frame in (("frame0.png", f0), ("frame1.png", f1), ("frame2.png", f2)):
                write_image(folder / name, frame)
            taken += 1
        print(f"{source.name}: {taken} triplets")


if __name__ == "__main__":
    main()
