"""Adapting a small learned residual to a clip instead of the network's weights: the frozen
model's frames of the clip's training triplets computed once, then a Refiner
(experiments/refiner_probe.py) trained on crops of them; scored on the same held-out triplets
as `dsepconv adapt` (pooled PSNR).

    python experiments/adapt_refiner_probe.py MODEL CLIP [--train-seconds S] [--width W]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from refiner_probe import Refiner, psnr8  # noqa: E402

from dsepconv_gui.frames.scene_cuts import thumbnail  # noqa: E402
from dsepconv_gui.interpolation.interpolator import motion_for  # noqa: E402
from dsepconv_gui.model.checkpoint import load_checkpoint  # noqa: E402
from dsepconv_gui.training.adaptation import (  # noqa: E402
    STILL_THRESHOLD,
    AdaptOptions,
    _evenly,
    plan_triplets,
    pooled_psnr,
)
from dsepconv_gui.video.clips import open_clip  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("clip")
    parser.add_argument("--train-seconds", type=float, default=150)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--max-training", type=int, default=24)
    args = parser.parse_args()
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    start = time.monotonic()
    loaded = load_checkpoint(args.model)
    model, config = loaded.model.eval(), loaded.config
    clip = open_clip(args.clip)
    options = AdaptOptions()
    frames = dict(clip.iter_frames(0, clip.info.frame_count))
    thumbs = [thumbnail(frames[i]) for i in range(len(frames))]
    plan, _ = plan_triplets(thumbs, 0, options)

    def moves(t):
        a, _, c = (frames[i] for i in t.frames)
        return float(np.abs(a.astype(np.int16) - c).mean()) >= STILL_THRESHOLD

    held = [t for t in _evenly(plan.held_out, options.max_held_out) if moves(t)]
    training = [t for t in _evenly(plan.training, args.max_training) if moves(t)]

    def stack_of(t):
        a, truth, c = (frames[i] for i in t.frames)
        flows = torch.from_numpy(motion_for(config, a, c).flows_at(0.5))[None]
        ta, tc = (
            torch.from_numpy(f.astype(np.float32) / 255).permute(2, 0, 1)[None] for f in (a, c)
        )
        with torch.inference_mode():
            out = model(ta, tc, return_terms=True, flows=flows)
        x = torch.cat([out.frame, ta, tc, 2 * out.terms[0].result, 2 * out.terms[1].result], 1)
        return x[0].numpy().astype(np.float16), truth.transpose(2, 0, 1)

    held_stacks = [stack_of(t) for t in held]
    train_stacks = [stack_of(t) for t in training]
    prepared = time.monotonic() - start
    base = pooled_psnr([psnr8(x[:3].astype(np.float32), truth) for x, truth in held_stacks])
    refiner = Refiner(args.width)
    opt = torch.optim.Adam(refiner.parameters(), lr=args.lr)
    h, w = train_stacks[0][0].shape[1:]
    crop = min(128, h, w)
    it = 0
    t0 = time.monotonic()
    while time.monotonic() - t0 < args.train_seconds:
        frac = (time.monotonic() - t0) / args.train_seconds
        for g in opt.param_groups:
            g["lr"] = args.lr * 0.5 * (1 + math.cos(math.pi * frac))
        xs = []
        for _ in range(args.batch):
            x, truth = train_stacks[rng.integers(len(train_stacks))]
            y0, x0 = rng.integers(0, h - crop + 1), rng.integers(0, w - crop + 1)
            s = np.concatenate(
                [
                    x[:, y0 : y0 + crop, x0 : x0 + crop].astype(np.float32),
                    truth[:, y0 : y0 + crop, x0 : x0 + crop].astype(np.float32) / 255,
                ]
            )
            if rng.random() < 0.5:
                s = s[:, :, ::-1]
            if rng.random() < 0.5:
                s = s[:, ::-1]
            if rng.random() < 0.5:
                s = s[[0, 1, 2, 6, 7, 8, 3, 4, 5, 12, 13, 14, 9, 10, 11, 15, 16, 17]]
            xs.append(np.ascontiguousarray(s))
        b = torch.from_numpy(np.stack(xs))
        pred = b[:, :3] + refiner(b[:, :15])
        loss = torch.sqrt((pred - b[:, 15:]) ** 2 + 1e-6).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        it += 1
    refiner.eval()
    with torch.inference_mode():
        scores = []
        for x, truth in held_stacks:
            xt = torch.from_numpy(x.astype(np.float32))[None]
            scores.append(psnr8((xt[:, :3] + refiner(xt))[0].numpy(), truth))
    after = pooled_psnr(scores)
    print(
        f"{Path(args.clip).name}: {len(training)} training, {len(held)} held out; prepared in "
        f"{prepared:.0f} s; {it} iterations in {args.train_seconds:.0f} s; held-out "
        f"{base:.3f} -> {after:.3f} ({after - base:+.3f})",
        flush=True,
    )


if __name__ == "__main__":
    main()
