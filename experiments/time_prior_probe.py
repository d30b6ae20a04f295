"""Which pixels the searched prior projects (flow/projection.py), on the held-out windows of
experiments/time_table.py: the time model in one pass and the midpoint model by bisection,
each under three middle displacements:
- "finds only": the linear estimate with the search's finds projected (before 2026-11-28);
- "moving carried": every consistently moving pixel projected too (projection.carried_pixels);
- "chosen": per pixel, whichever of the two the frames agree on (PairMotion.flows_at).

    python experiments/time_prior_probe.py ../shared/data/train/clips \
        ../shared/data/train/davis2016-val --timed models/dsepconv-time.safetensors \
        --midpoint models/dsepconv.safetensors --json runs/s14/prior-probe.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from dsepconv_gui.flow.layout import FLOW12, FLOW21
from dsepconv_gui.flow.prior import PairMotion
from dsepconv_gui.flow.projection import middle_displacement
from dsepconv_gui.frames.metrics import psnr

sys.path.insert(0, str(Path(__file__).parent))
from time_table import SPAN, TIMES, held_out_windows, interpolator  # noqa: E402

CHOSEN = PairMotion.flows_at


def projecting(which: str):
    """PairMotion.flows_at with only one candidate: "found" or "carried" pixels projected."""

    def flows_at(motion: PairMotion, time: float = 0.5) -> np.ndarray:
        flow12, flow21 = motion.flows[FLOW12], motion.flows[FLOW21]
        masks = getattr(motion, f"{which}12"), getattr(motion, f"{which}21")
        middle = middle_displacement(flow12, flow21, *masks, time)
        return np.concatenate([motion.flows, middle], axis=0, dtype=np.float32)

    return flows_at


VARIANTS = {
    "finds only": projecting("found"),
    "moving carried": projecting("carried"),
    "chosen": CHOSEN,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("data", nargs="+", type=Path)
    parser.add_argument("--timed", required=True)
    parser.add_argument("--midpoint", required=True)
    parser.add_argument("--per-source", type=int, default=8)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    timed, midpoint = interpolator(args.timed), interpolator(args.midpoint)
    windows = held_out_windows(args.data, args.per_source)
    rows = [f"{variant}, {path}" for variant in VARIANTS for path in ("one pass", "bisection")]
    scores = {row: {t: [] for t in TIMES} for row in rows}
    for number, (name, k, window) in enumerate(windows, start=1):
        a, b = window[0], window[SPAN]
        truths = dict(zip(TIMES, window[1:SPAN], strict=True))
        for variant, flows_at in VARIANTS.items():
            PairMotion.flows_at = flows_at  # the pairs' motion is cached: only this changes
            for t in TIMES:
                scores[f"{variant}, one pass"][t].append(psnr(timed.at_time(a, b, t), truths[t]))
            middle = midpoint(a, b)
            made = {0.25: midpoint(a, middle), 0.5: middle, 0.75: midpoint(middle, b)}
            for t in TIMES:
                scores[f"{variant}, bisection"][t].append(psnr(made[t], truths[t]))
        print(f"[{number}/{len(windows)}] {name} {k}", flush=True)
    PairMotion.flows_at = CHOSEN
    print(f"PSNR (dB) by time, mean over {len(windows)} held-out windows")
    print("| prior, path | t = 1/4 | t = 1/2 | t = 3/4 |\n|---|---|---|---|")
    for row, by_time in scores.items():
        print(f"| {row} | " + " | ".join(f"{np.mean(by_time[t]):.2f}" for t in TIMES) + " |")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "windows": [(name, k) for name, k, _ in windows],
                    "scores": {r: {str(t): s for t, s in by.items()} for r, by in scores.items()},
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
