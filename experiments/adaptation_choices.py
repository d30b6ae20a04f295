"""Measure dsepconv adapt's choices (what to adapt, learning rate, budget) on real clips:
python experiments/adaptation_choices.py CLIP [CLIP ...] --seconds 300 --train-only mask1,mask2
--lr 1e-4; prints one line per clip and the median gain."""

import argparse
import json
import sys

import numpy as np

from dsepconv_gui.model.checkpoint import load_checkpoint
from dsepconv_gui.training.adaptation import AdaptOptions, adapt_to_clip
from dsepconv_gui.training.losses import LossWeights
from dsepconv_gui.video.clips import open_clip

parser = argparse.ArgumentParser()
parser.add_argument("clips", nargs="+")
parser.add_argument("--model", default="models/dsepconv.safetensors")
parser.add_argument("--seconds", type=float, default=300)
parser.add_argument("--train-only", default="")
parser.add_argument("--lr", type=float, default=1e-4)
parser.add_argument("--batch-size", type=int, default=4)
parser.add_argument("--crop", type=int, default=128)
parser.add_argument("--census", type=float, default=0.0)
parser.add_argument("--last", type=int, default=None)
parser.add_argument("--json", default=None)
args = parser.parse_args()

rows = []
for path in args.clips:
    loaded = load_checkpoint(args.model)
    clip = open_clip(path)
    options = AdaptOptions(
        seconds=args.seconds,
        last=None if args.last is None else min(args.last, clip.info.frame_count - 1),
        train_only=tuple(m for m in args.train_only.split(",") if m),
        learning_rate=args.lr,
        batch_size=args.batch_size,
        crop=args.crop,
        weights=LossWeights(flip=0.0, gradient=0.0, census=args.census),
    )
    result = adapt_to_clip(loaded, clip, options)
    print(path, result.describe(), flush=True)
    rows.append(
        {
            "clip": path,
            "before": result.base_psnr,
            "after": result.adapted_psnr,
            "gain": result.gain,
            "iterations": result.iterations,
            "seconds": result.seconds,
        }
    )
print("median gain", float(np.median([r["gain"] for r in rows])), " ".join(sys.argv[1:]))
if args.json:
    json.dump(rows, open(args.json, "w"), indent=1)
