"""Would a small learned residual on the model's frame (EDSC's per-pixel bias, here a small
U-Net over the frame, the two inputs and the two deformable results) gain on held-out
footage? Trains it on the cache of experiments/refiner_cache.py with the model frozen and
scores it on the bank's held-out crops and on every whole-frame set in the cache.

    python experiments/refiner_probe.py CACHE.npz OUT.pt [--iterations N] [--width W]
"""

from __future__ import annotations

import argparse
import math
import time
from collections import defaultdict

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dsepconv_gui.frames.metrics import psnr


class Refiner(nn.Module):
    def __init__(self, width: int = 16, inputs: int = 15) -> None:
        super().__init__()
        w = width
        self.inp = nn.Conv2d(inputs, w, 3, padding=1)
        self.down1 = nn.Sequential(
            nn.Conv2d(w, 2 * w, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(2 * w, 2 * w, 3, padding=1),
            nn.ReLU(),
        )
        self.down2 = nn.Sequential(
            nn.Conv2d(2 * w, 4 * w, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(4 * w, 4 * w, 3, padding=1),
            nn.ReLU(),
        )
        self.up2 = nn.Sequential(
            nn.Conv2d(6 * w, 2 * w, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(2 * w, 2 * w, 3, padding=1),
            nn.ReLU(),
        )
        self.up1 = nn.Sequential(nn.Conv2d(3 * w, w, 3, padding=1), nn.ReLU())
        self.out = nn.Conv2d(w, 3, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        ph, pw = (-h) % 4, (-w) % 4
        x = F.pad(x, (0, pw, 0, ph), mode="replicate")
        f1 = F.relu(self.inp(x))
        f2 = self.down1(F.avg_pool2d(f1, 2))
        f3 = self.down2(F.avg_pool2d(f2, 2))
        u2 = self.up2(torch.cat([F.interpolate(f3, scale_factor=2, mode="bilinear"), f2], 1))
        u1 = self.up1(torch.cat([F.interpolate(u2, scale_factor=2, mode="bilinear"), f1], 1))
        return self.out(u1)[..., :h, :w]


def inputs(out, f0, f2, r1, r2):
    return torch.cat([out, f0, f2, 2 * r1, 2 * r2], 1)


def psnr8(pred: np.ndarray, truth: np.ndarray) -> float:
    """The benchmarks' PSNR of a [0, 1] prediction, rounded to 8 bits as a saved frame is."""
    return psnr(np.clip(np.round(pred * 255), 0, 255), truth)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("cache")
    parser.add_argument("out")
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--crop", type=int, default=128)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--every", type=int, default=500)
    args = parser.parse_args()
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    data = np.load(args.cache)
    frames = data["bank_frames"]  # (N, 3, S, S, 3) uint8
    held = data["bank_held_out"]
    outs, r1s, r2s = data["bank_out"], data["bank_r1"], data["bank_r2"]
    train_idx, val_idx = np.flatnonzero(~held), np.flatnonzero(held)
    evals = defaultdict(dict)
    for key in data.files:
        if key.startswith("eval/"):
            _, setname, seq, kind = key.split("/")
            evals[(setname, seq)][kind] = data[key]
    model = Refiner(args.width)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    size = frames.shape[2]

    def batch():
        items = rng.choice(train_idx, args.batch)
        xs = []
        for i in items:
            y, x = rng.integers(0, size - args.crop + 1, 2)
            sl = (slice(y, y + args.crop), slice(x, x + args.crop))
            fr = frames[i][:, sl[0], sl[1]].astype(np.float32).transpose(0, 3, 1, 2) / 255
            o, a, b = (arr[i][:, sl[0], sl[1]].astype(np.float32) for arr in (outs, r1s, r2s))
            stack = np.concatenate([o, fr[0], fr[2], 2 * a, 2 * b, fr[1]])
            if rng.random() < 0.5:
                stack = stack[:, :, ::-1]
            if rng.random() < 0.5:
                stack = stack[:, ::-1]
            if rng.random() < 0.5:  # time reversal: frames and results swap
                stack = stack[[0, 1, 2, 6, 7, 8, 3, 4, 5, 12, 13, 14, 9, 10, 11, 15, 16, 17]]
            xs.append(np.ascontiguousarray(stack))
        t = torch.from_numpy(np.stack(xs))
        return t[:, :15], t[:, 15:]

    def score():
        model.eval()
        results = {}
        with torch.inference_mode():
            base, ref = [], []
            for i in val_idx:
                fr = frames[i].astype(np.float32).transpose(0, 3, 1, 2) / 255
                o, a, b = (arr[i].astype(np.float32) for arr in (outs, r1s, r2s))
                x = torch.from_numpy(np.concatenate([o, fr[0], fr[2], 2 * a, 2 * b]))[None]
                refined = (x[:, :3] + model(x))[0].numpy()
                truth = frames[i][1].transpose(2, 0, 1)
                base.append(psnr8(o, truth))
                ref.append(psnr8(refined, truth))
            results["bank-val"] = (np.mean(base), np.mean(ref))
            per_set = defaultdict(lambda: ([], []))
            for (setname, _seq), e in sorted(evals.items()):
                fr = e["frames"].astype(np.float32).transpose(0, 3, 1, 2) / 255
                o, a, b = (e[k].astype(np.float32) for k in ("out", "r1", "r2"))
                x = torch.from_numpy(np.concatenate([o, fr[0], fr[2], 2 * a, 2 * b]))[None]
                refined = (x[:, :3] + model(x))[0].numpy()
                truth = e["frames"][1].transpose(2, 0, 1)
                per_set[setname][0].append(psnr8(o, truth))
                per_set[setname][1].append(psnr8(refined, truth))
            for setname, (b0, r0) in per_set.items():
                results[setname] = (np.mean(b0), np.mean(r0))
        model.train()
        return results

    print({k: f"{a:.3f} -> {b:.3f}" for k, (a, b) in score().items()}, flush=True)
    start = time.monotonic()
    for it in range(1, args.iterations + 1):
        lr = args.lr * 0.5 * (1 + math.cos(math.pi * it / args.iterations))
        for g in opt.param_groups:
            g["lr"] = lr
        x, truth = batch()
        pred = x[:, :3] + model(x)
        loss = torch.sqrt((pred - truth) ** 2 + 1e-6).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if it % args.every == 0 or it == args.iterations:
            s = score()
            print(
                f"it {it} {time.monotonic() - start:.0f}s loss {loss.item():.4f}",
                {k: f"{a:.3f} -> {b:.3f} ({b - a:+.3f})" for k, (a, b) in s.items()},
                flush=True,
            )
            torch.save(model.state_dict(), args.out)


if __name__ == "__main__":
    main()
