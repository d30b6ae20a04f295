"""Adapting with crops placed uniformly against crops cut where the frames move
(AdaptOptions.motion_crops), one clip after the other, the same time budget each:

    python experiments/adapt_crops.py CLIP [CLIP ...] [--minutes 5] [--shares 0,0.5]

Prints each run's held-out gain (nothing else should run meanwhile: the budget is wall time).
"""

from __future__ import annotations

import argparse

import torch

from dsepconv_gui.model.weights import resolve_model
from dsepconv_gui.training.adaptation import AdaptOptions, adapt_to_clip
from dsepconv_gui.video.clips import open_clip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clips", nargs="+")
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--shares", default="0,0.5")
    parser.add_argument("--model", default=None)
    args = parser.parse_args()
    loaded, _ = resolve_model(args.model, torch.device("cpu"))
    for path in args.clips:
        for share in (float(s) for s in args.shares.split(",")):
            options = AdaptOptions(seconds=60 * args.minutes, motion_crops=share)
            result = adapt_to_clip(loaded, open_clip(path), options)
            print(f"{path} motion_crops={share:g}: {result.describe()}", flush=True)


if __name__ == "__main__":
    main()
