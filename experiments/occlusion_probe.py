"""How much a model's blend follows occlusion, on synthetic pairs with an exact answer.

A textured square moves over a static textured background; halfway, the strip it has left
(visible in frame 2 only) should be read from frame 2, the strip it is about to cover
(visible in frame 1 only) from frame 1. For each model this prints, averaged over seeds,
four directions and several motions, the total weight Σ v·h·m of the frame that shows each
strip minus the other frame's, and the same for the mean mask. The pairs are those of
tests/test_shipped_model_occlusion.py (uncovering_pair), which pins one for the shipped file.

    python experiments/occlusion_probe.py models/dsepconv.safetensors random:flow-small-evidence
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dsepconv_gui.interpolation.intermediates import term_total_weight
from dsepconv_gui.interpolation.interpolator import Interpolator
from dsepconv_gui.model.device import resolve_device
from dsepconv_gui.model.weights import resolve_model
from tests.test_shipped_model_occlusion import LEFT, SIDE, H, uncovering_pair

# Each direction as an image transform and its inverse (applied to the maps).
DIRECTIONS = {
    "right": (lambda a: a, lambda a: a),
    "left": (lambda a: a[:, ::-1], lambda a: a[:, ::-1]),
    "down": (lambda a: a.swapaxes(0, 1), lambda a: a.swapaxes(0, 1)),
    "up": (lambda a: a.swapaxes(0, 1)[::-1], lambda a: a[::-1].swapaxes(0, 1)),
}


def probe(interpolator: Interpolator, seeds=(0, 1, 2), motions=(12, 16, 24)) -> dict[str, float]:
    """Mean weight and mask leads of the frame that shows each strip, over all pairs."""
    leads: dict[str, list[float]] = {
        "uncovered weight": [],
        "uncovered mask": [],
        "covered weight": [],
        "covered mask": [],
    }
    top = (H - SIDE) // 2
    rows = slice(top + 4, top + SIDE - 4)
    for seed in seeds:
        for motion in motions:
            frame1, frame2 = uncovering_pair(seed, motion)
            for forward, back in DIRECTIONS.values():
                a, b = (np.ascontiguousarray(forward(f)) for f in (frame1, frame2))
                term1, term2 = interpolator.interpolate(a, b, with_terms=True).terms
                weight = back(term_total_weight(term2) - term_total_weight(term1))
                mask = back(term2.mask.mean(0) - term1.mask.mean(0))
                # Halfway the square spans LEFT + motion/2 ... + SIDE: it has left the strip
                # [LEFT, LEFT + motion/2) and not yet reached
                # [LEFT + SIDE + motion/2, LEFT + SIDE + motion).
                uncovered = (rows, slice(LEFT + 2, LEFT + motion // 2 - 2))
                covered = (rows, slice(LEFT + SIDE + motion // 2 + 2, LEFT + SIDE + motion - 2))
                leads["uncovered weight"].append(float(weight[uncovered].mean()))
                leads["uncovered mask"].append(float(mask[uncovered].mean()))
                leads["covered weight"].append(-float(weight[covered].mean()))
                leads["covered mask"].append(-float(mask[covered].mean()))
    return {name: float(np.mean(values)) for name, values in leads.items()}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("models", nargs="+", help="model files or random:PRESET")
    args = parser.parse_args()
    device = resolve_device("cpu")
    print("| model | uncovered: weight lead / mask lead | covered: weight lead / mask lead |")
    print("|---|---|---|")
    for spec in args.models:
        loaded, _ = resolve_model(spec)
        leads = probe(Interpolator(loaded, device))
        print(
            f"| {spec} | {leads['uncovered weight']:+.2f} / {leads['uncovered mask']:+.2f} "
            f"| {leads['covered weight']:+.2f} / {leads['covered mask']:+.2f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
