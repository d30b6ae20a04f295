"""What bfloat16 in the network costs: each benchmark triplet interpolated with the network in
float32 and under torch.autocast(bfloat16) on the CPU (the fused kernel in float32 either
way), PSNR of each against the truth and of the two against each other.

usage: python experiments/bf16_probe.py [MODEL] --sets DIR [DIR ...]
"""

import argparse
import statistics
from pathlib import Path

import numpy as np
import torch

from dsepconv_gui.cli.evaluation import find_sequences
from dsepconv_gui.frames.images import read_image
from dsepconv_gui.frames.metrics import psnr
from dsepconv_gui.interpolation.interpolator import Interpolator
from dsepconv_gui.model.device import resolve_device
from dsepconv_gui.model.network import DSepConvNet
from dsepconv_gui.model.weights import resolve_model

parser = argparse.ArgumentParser()
parser.add_argument("model", nargs="?")
parser.add_argument("--sets", nargs="+", required=True)
args = parser.parse_args()
loaded, _ = resolve_model(args.model)
interpolator = Interpolator(loaded, resolve_device("cpu", "float32"))  # autocast here alone
full_precision = DSepConvNet.half_resolution_terms


def to_float(term):
    fields = ("heads", "blend", "blend_start", "offset_scale", "gate", "prior")
    return type(term)(
        **{
            name: (value.float() if name in fields and value is not None else value)
            for name, value in vars(term).items()
        }
    )


def in_bfloat16(self, *inputs, **keywords):
    # both terms made under autocast before the first is handed out: the synthesis that takes
    # them must run in float32, outside the autocast block
    with torch.autocast("cpu", dtype=torch.bfloat16):
        terms = [to_float(term) for term in full_precision(self, *inputs, **keywords)]
    yield from terms


for folder in args.sets:
    rows = []
    for sequence in find_sequences(Path(folder)):
        a, b, truth = (read_image(p) for p in (sequence.frame_a, sequence.frame_b, sequence.truth))
        interpolator._last = None
        DSepConvNet.half_resolution_terms = full_precision
        single = interpolator(a, b)
        DSepConvNet.half_resolution_terms = in_bfloat16
        half = interpolator(a, b)  # the same motion (kept from the call before)
        rows.append(
            (
                psnr(single, truth),
                psnr(half, truth),
                psnr(half, single),
                int(np.abs(half.astype(int) - single).max()),
            )
        )
    fp32, bf16, between, worst = zip(*rows, strict=True)
    print(
        f"{Path(folder).name}: {len(rows)} triplets, float32 {statistics.mean(fp32):.4f} dB, "
        f"bfloat16 {statistics.mean(bf16):.4f} dB, the two apart {statistics.mean(between):.1f} "
        f"dB, largest difference {max(worst)} levels",
        flush=True,
    )
