"""Cache a model's outputs for the refiner probe: for every bank triplet crop and every
whole-frame triplet of the given folders, the frames, the truth, the model's frame and each
input frame's deformable result (the two sum to the frame).

    python experiments/refiner_cache.py MODEL BANK_FOLDER OUT.npz [EVAL_DIR ...]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

from dsepconv_gui.cli.evaluation import find_sequences
from dsepconv_gui.frames.images import read_image
from dsepconv_gui.interpolation.interpolator import frame_to_tensor, motion_for
from dsepconv_gui.model.checkpoint import load_checkpoint
from dsepconv_gui.training.triplet_bank import TripletBank


def run(model, a, b, flows):
    with torch.inference_mode():
        out = model(a, b, return_terms=True, flows=flows)
    return out.frame, out.terms[0].result, out.terms[1].result


def main() -> None:
    model_path, bank_folder, out_path, *eval_dirs = sys.argv[1:]
    loaded = load_checkpoint(model_path)
    model, config = loaded.model.eval(), loaded.config
    bank = TripletBank.load(Path(bank_folder)).with_prior_motion(config.prior_motion)
    held_out = bank.source % 10 == 9  # the trainer's held-out sources
    n = len(bank)
    cache = {k: np.empty((n, 3, *bank.frames.shape[2:4]), np.float16) for k in ("out", "r1", "r2")}
    for start in range(0, n, 16):
        chunk = slice(start, min(start + 16, n))
        frames = torch.from_numpy(np.asarray(bank.frames[chunk], np.float32) / 255).permute(
            0, 1, 4, 2, 3
        )
        flows = torch.from_numpy(np.asarray(bank.flows[chunk], np.float32))
        made = run(model, frames[:, 0], frames[:, 2], flows)
        for key, value in zip(("out", "r1", "r2"), made, strict=True):
            cache[key][chunk] = value.numpy()
        print(f"bank {chunk.stop}/{n}", flush=True)
    arrays = {
        "bank_frames": np.asarray(bank.frames),
        "bank_held_out": held_out,
        **{f"bank_{k}": v for k, v in cache.items()},
    }
    for folder in eval_dirs:
        name = Path(folder).name
        for seq in find_sequences(Path(folder)):  # the benchmarks' layouts, as eval reads them
            f0, f1, f2 = (read_image(f) for f in (seq.frame_a, seq.truth, seq.frame_b))
            flows = torch.from_numpy(motion_for(config, f0, f2).flows_at(0.5))[None]
            a, b = (frame_to_tensor(f, torch.device("cpu"), torch.float32) for f in (f0, f2))
            out, r1, r2 = run(model, a, b, flows)
            key = f"{name}/{seq.name}"
            arrays[f"eval/{key}/frames"] = np.stack([f0, f1, f2])
            for k, v in zip(("out", "r1", "r2"), (out, r1, r2), strict=True):
                arrays[f"eval/{key}/{k}"] = v[0].numpy().astype(np.float16)
            print(key, flush=True)
    np.savez(out_path, **arrays)


if __name__ == "__main__":
    main()
