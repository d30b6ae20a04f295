"""Learning curves of adapting to one clip under several settings, from one preparation:
python experiments/adaptation_curves.py CLIP [--held-out 8] [--triplets 32] [--iterations 400]
Prints the held-out PSNR gain over the base model at a few iteration counts, per setting."""

import argparse
import time

import numpy as np
import torch

from dsepconv_gui.frames.scene_cuts import thumbnail
from dsepconv_gui.interpolation.interpolator import flows_for
from dsepconv_gui.model.checkpoint import load_checkpoint
from dsepconv_gui.training.adaptation import AdaptOptions, _copy, _evenly, _score, plan_triplets
from dsepconv_gui.training.losses import LossWeights, interpolation_loss
from dsepconv_gui.training.trainer import sample_batch, trainable_parameters
from dsepconv_gui.training.triplet_bank import TripletBank
from dsepconv_gui.video.clips import open_clip

HEADS = (
    "vertical1,vertical2,horizontal1,horizontal2,offset_y1,offset_y2,offset_x1,offset_x2,"
    "mask1,mask2,blend"
)
KERNELS = "vertical1,vertical2,horizontal1,horizontal2"
SETTINGS = {
    "all 1e-4": dict(lr=1e-4),
    "all 3e-4": dict(lr=3e-4),
    "all 1e-3": dict(lr=1e-3),
    "heads 1e-3": dict(lr=1e-3, only=HEADS),
    "heads 3e-3": dict(lr=3e-3, only=HEADS),
    "all 3e-4 census": dict(lr=3e-4, census=0.5),
    "all 3e-4 batch 8": dict(lr=3e-4, batch=8),
    "all 1e-4 crop 96": dict(lr=1e-4, crop=96),
    "all 1e-4 batch 2": dict(lr=1e-4, batch=2),
    "kernels 3e-4": dict(lr=3e-4, only=KERNELS),
    "kernels 1e-3": dict(lr=1e-3, only=KERNELS),
    "kernels 3e-3": dict(lr=3e-3, only=KERNELS),
}

parser = argparse.ArgumentParser()
parser.add_argument("clip")
parser.add_argument("--model", default="models/dsepconv.safetensors")
parser.add_argument("--held-out", type=int, default=8)
parser.add_argument("--triplets", type=int, default=32)
parser.add_argument("--iterations", type=int, default=400)
parser.add_argument("--settings", default=",".join(SETTINGS))
parser.add_argument("--checkpoints", default="25,50,100,200,400")
args = parser.parse_args()

loaded = load_checkpoint(args.model)
clip = open_clip(args.clip)
frames_all = [f for _, f in clip.iter_frames()]
plan, _ = plan_triplets([thumbnail(f) for f in frames_all], 0, AdaptOptions())
held_out = _evenly(plan.held_out, args.held_out)
training = _evenly(plan.training, args.triplets)
frames = dict(enumerate(frames_all))
flows = {}
start = time.monotonic()
for t in held_out + training:
    flows[t] = flows_for(loaded.config, frames[t.frames[0]], frames[t.frames[2]]).astype(np.float16)
seconds = time.monotonic() - start
print(f"{args.clip}: {len(held_out)} held out, {len(training)} training, flows {seconds:.0f} s")


def scores(model):
    """Mean per-triplet PSNR, and the PSNR of the pooled squared error."""
    values = np.array([_score(model, t, frames, flows) for t in held_out])
    return values.mean(), -10 * np.log10(np.mean(10 ** (-values / 10)))


base = scores(loaded.model)
print(f"base {base[0]:.3f} dB (pooled {base[1]:.3f})", flush=True)
bank = TripletBank(
    frames=np.stack([np.stack([frames[i] for i in t.frames]) for t in training]),
    flows=np.stack([flows[t] for t in training]),
    source=np.zeros(len(training), np.int32),
    manifest={},
)
checkpoints = [int(c) for c in args.checkpoints.split(",")]
for name in args.settings.split(","):
    setting = SETTINGS[name]
    model = _copy(loaded.model).train()
    only = tuple(setting.get("only", "").split(",")) if setting.get("only") else ()
    optimizer = torch.optim.Adam(trainable_parameters(model, only), lr=setting["lr"])
    weights = LossWeights(flip=0.0, gradient=0.0, census=setting.get("census", 0.0))
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    line, started = [], time.monotonic()
    for iteration in range(1, max(checkpoints) + 1):
        f0, truth, f2, fl, *_ = sample_batch(
            bank,
            np.arange(len(training)),
            setting.get("batch", 4),
            setting.get("crop", 128),
            rng,
            True,
        )
        loss, _ = interpolation_loss(model, f0, truth, f2, fl, weights)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if iteration in checkpoints:
            mean, pooled = scores(model)
            model.train()
            line.append(f"{iteration}: {mean - base[0]:+.3f}/{pooled - base[1]:+.3f}")
    print(f"{name:>18} ({time.monotonic() - started:.0f} s): " + ", ".join(line), flush=True)
