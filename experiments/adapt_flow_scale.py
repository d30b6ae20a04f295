"""Whether the flow scale is worth choosing per clip: the base model's pooled held-out PSNR
(the adaptation's held-out triplets, as `dsepconv adapt` picks them) at several DIS scales.

usage: python experiments/adapt_flow_scale.py MODEL CLIP [CLIP ...] [--scales 1,1.25,1.5,2]
    [--upscale F]

--upscale F enlarges every frame by F (cubic) before the flows and the scoring: with 720p
clips and F = 1.5, frames of 1920×1080 to ask what DIS scale larger frames need (an
enlarged frame is smoother than a real 1080p one).
"""

import argparse
import dataclasses
import time

import cv2
import numpy as np

from dsepconv_gui.frames.scene_cuts import thumbnail
from dsepconv_gui.interpolation.interpolator import flows_for
from dsepconv_gui.model.checkpoint import load_checkpoint
from dsepconv_gui.training.adaptation import (
    AdaptOptions,
    _evenly,
    _score,
    plan_triplets,
    pooled_psnr,
)
from dsepconv_gui.video.clips import open_clip

parser = argparse.ArgumentParser()
parser.add_argument("model")
parser.add_argument("clips", nargs="+")
parser.add_argument("--scales", default="1,1.25,1.5,2")
parser.add_argument("--upscale", type=float, default=1.0)
args = parser.parse_args()
scales = [float(s) for s in args.scales.split(",")]
loaded = load_checkpoint(args.model)
options = AdaptOptions()
for path in args.clips:
    clip = open_clip(path)
    last = clip.info.frame_count - 1
    thumbs = [thumbnail(f) for _, f in clip.iter_frames(0, last + 1)]
    plan, _ = plan_triplets(thumbs, 0, options)
    held = _evenly(plan.held_out, options.max_held_out)
    needed = {i for t in held for i in t.frames}
    frames = {i: f for i, f in clip.iter_frames(0, last + 1) if i in needed}
    if args.upscale != 1.0:
        frames = {
            i: cv2.resize(f, None, fx=args.upscale, fy=args.upscale, interpolation=cv2.INTER_CUBIC)
            for i, f in frames.items()
        }
    held = [
        t
        for t in held
        if np.abs(frames[t.frames[0]].astype(np.int16) - frames[t.frames[2]]).mean() >= 1.0
    ]
    row = []
    for scale in scales:
        config = dataclasses.replace(loaded.config, flow_scale=scale)
        started = time.perf_counter()
        flows = {t: flows_for(config, frames[t.frames[0]], frames[t.frames[2]]) for t in held}
        scores = [_score(loaded.model, t, frames, flows) for t in held]
        row.append(f"{scale}: {pooled_psnr(scores):.2f} ({time.perf_counter() - started:.0f} s)")
    print(path.split("/")[-1], len(held), " | ".join(row), flush=True)
