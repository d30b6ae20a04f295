"""Probe (issue 18, not shipped): the prior of a frame at t != 1/2 refined as bisection's second
level would see it, without a second network pass. The classical middle frame M (both frames
read at the prior's midpoint displacement, averaged: no network) stands in for bisection's
first pass; the half-interval pair (frame 1, M) for t < 1/2, (M, frame 2) above, gets its own
DIS flows and search (flow.prior.pair_motion), and its middle displacement at s = 2t (or
2t - 1), doubled, is a candidate for the frame at t beside the shipped one in the per-pixel
agreement choice (flow/projection.py's agreeing_middle). At t = 1/2 nothing changes. Runs
experiments/time_table.py with the patch:

    python experiments/time_refine_probe.py [--replace] ../shared/data/train/clips \
        ../shared/data/train/davis2016-val --timed models/dsepconv-time.safetensors

--replace: the refined displacement alone, instead of a second candidate. Measured
2026-11-29 (models/README.md, "PSNR by time"): 26.74 / 25.97 / 26.90 as a candidate, 26.77 /
25.97 / 26.89 alone, against 26.65 / 25.97 / 26.90 without.

The half-interval's flows cost two more DIS directions per half of the interval a frame lies
in (shared by every frame in it).
"""

import runpy
import sys

import numpy as np

from dsepconv_gui.flow import prior, projection
from dsepconv_gui.flow.layout import MIDDLE
from dsepconv_gui.flow.warp import warp

REPLACE = len(sys.argv) > 1 and sys.argv[1] == "--replace"  # the refined prior alone
if REPLACE:
    sys.argv.pop(1)
shipped_flows_at = prior.PairMotion.flows_at
FLOW_SCALE = 1.5  # the shipped files' flow_scale


def classical_middle(frame1, frame2, middle):
    """Both frames read at the midpoint displacement (frame 1 at p + d, frame 2 at p - d),
    averaged, uint8."""
    one = warp(frame1, middle[0], middle[1]).astype(np.float32)
    two = warp(frame2, -middle[0], -middle[1]).astype(np.float32)
    return np.clip(np.rint((one + two) / 2), 0, 255).astype(np.uint8)


_halves = {}


def refined(self, time):
    """The half-interval's middle displacement at the frame's time there, in the pair's terms."""
    frame1, frame2 = self.frames
    key = (id(self), time < 0.5)
    if key not in _halves:
        middle = classical_middle(frame1, frame2, shipped_flows_at(self, 0.5)[MIDDLE])
        pair = (frame1, middle) if time < 0.5 else (middle, frame2)
        _halves.clear()  # one pair at a time
        _halves[key] = prior.pair_motion(*pair, "searched", FLOW_SCALE)
    s = 2 * time if time < 0.5 else 2 * time - 1
    # frame 1 read at p + 2s·d_s in the half equals p + 2t·d_t (t < 1/2), frame 2 likewise
    # above: d_t = 2·d_s either way
    return 2 * _halves[key].flows_at(s)[MIDDLE]


def flows_at(self, time=0.5):
    flows = shipped_flows_at(self, time)
    if self.found12 is None or time == 0.5:
        return flows
    if REPLACE:
        flows[MIDDLE] = refined(self, time)
        return flows
    candidates = [flows[MIDDLE], refined(self, time)]
    flows[MIDDLE] = projection.agreeing_middle(*self.frames, candidates, time)
    return flows


prior.PairMotion.flows_at = flows_at
sys.argv[0] = "experiments/time_table.py"
runpy.run_path("experiments/time_table.py", run_name="__main__")
