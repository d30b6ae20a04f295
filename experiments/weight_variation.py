"""How much a model's per-frame weights and masks vary over real pairs (issue 13: the file
before the evidence weighed both frames 0.5 everywhere). For each pair: the standard deviation
over the frame of frame 1's total weight Σ v·h·m and of its mean mask over taps, and the 1st
and 99th percentiles of the weight.

    python experiments/weight_variation.py models/dsepconv.safetensors
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from dsepconv_gui.frames.images import read_image
from dsepconv_gui.interpolation.intermediates import term_total_weight
from dsepconv_gui.interpolation.interpolator import Interpolator
from dsepconv_gui.model.device import resolve_device
from dsepconv_gui.model.weights import resolve_model
from dsepconv_gui.training.sources import Source, read_frames

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "train"


def pairs() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    airplane = list(
        read_frames(Source(DATA / "clips" / "moviepy-airplane.mp4", "video"), max_short_side=10_000)
    )
    libby = DATA / "davis2016-val" / "libby"
    return {
        "moviepy-airplane.mp4 frames 30, 31": (airplane[30], airplane[31]),
        "DAVIS libby (held out) frames 0, 2": (
            read_image(libby / "00000.jpg"),
            read_image(libby / "00002.jpg"),
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("models", nargs="+")
    args = parser.parse_args()
    device = resolve_device("cpu")
    examples = pairs()
    for name in args.models:
        loaded, _ = resolve_model(name, "cpu")
        interpolator = Interpolator(loaded, device)
        for pair, (a, b) in examples.items():
            term1, _ = interpolator.interpolate(a, b, with_terms=True).terms
            weight = term_total_weight(term1)
            mask = term1.mask.mean(axis=0)
            low, high = np.percentile(weight, [1, 99])
            print(
                f"{name} | {pair} | std W1 {weight.std():.4f} | std mean mask1 {mask.std():.4f} "
                f"| W1 {low:.2f} to {high:.2f}"
            )


if __name__ == "__main__":
    main()
