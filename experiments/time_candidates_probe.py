"""Probe (issue 18, not shipped): the prior of a frame at t != 1/2 with other candidates in the
per-pixel agreement choice (flow/projection.py's agreeing_middle). At t = 1/2 nothing changes,
so midpoints stay exact. Runs experiments/time_table.py with PairMotion.flows_at patched:

    python experiments/time_candidates_probe.py VARIANT ../shared/data/train/clips \
        ../shared/data/train/davis2016-val --timed models/dsepconv-time.safetensors

VARIANT:
- plain, plaincarried, both: the plain average of the two flows (the midpoint's linear
  estimate, not weighed by time) with the search's finds, with every carried pixel, or both,
  projected to t, as extra candidates;
- refined: the prior refined on the half-interval as bisection's second level would see it,
  without a second network pass: the classical middle frame M (both frames read at the
  midpoint prior, averaged) stands in for bisection's first pass, the pair (frame 1, M) for
  t < 1/2 or (M, frame 2) above gets its own DIS flows and search (flow.prior.pair_motion), and
  its middle displacement at s = 2t (or 2t - 1), doubled, is a second candidate; two more DIS
  directions per half of the interval a frame lies in;
- refinedalone: that displacement in place of the shipped one.

Measured 2026-11-29 (models/README.md, "PSNR by time"), t = 1/4, 1/2, 3/4: both 26.72 / 25.97 /
26.87, refined 26.74 / 25.97 / 26.90, refinedalone 26.77 / 25.97 / 26.89, against 26.65 /
25.97 / 26.90 without."""

import runpy
import sys

import numpy as np

from dsepconv_gui.flow import prior, projection
from dsepconv_gui.flow.layout import FLOW12, FLOW21, MIDDLE
from dsepconv_gui.flow.warp import warp

VARIANTS = ("plain", "plaincarried", "both", "refined", "refinedalone")
if len(sys.argv) < 2 or sys.argv[1] not in VARIANTS:
    sys.exit(f"usage: time_candidates_probe.py {{{'|'.join(VARIANTS)}}} TIME_TABLE_ARGUMENTS...")
VARIANT = sys.argv.pop(1)
FLOW_SCALE = 1.5  # the shipped files' flow_scale
shipped_flows_at = prior.PairMotion.flows_at
shipped_linear = projection.linear_middle


def plain(*arguments):
    """middle_displacement with the midpoint's linear estimate whatever the time."""
    projection.linear_middle = lambda f12, f21, time=0.5: shipped_linear(f12, f21, 0.5)
    try:
        return projection.middle_displacement(*arguments)
    finally:
        projection.linear_middle = shipped_linear


def classical_middle(frame1, frame2, middle):
    """Both frames read at the midpoint displacement (frame 1 at p + d, frame 2 at p - d),
    averaged, uint8."""
    one = warp(frame1, middle[0], middle[1]).astype(np.float32)
    two = warp(frame2, -middle[0], -middle[1]).astype(np.float32)
    return np.clip(np.rint((one + two) / 2), 0, 255).astype(np.uint8)


_halves = {}


def refined(motion, time):
    """The half-interval's middle displacement at the frame's time there, in the pair's terms."""
    frame1, frame2 = motion.frames
    key = (id(motion), time < 0.5)
    if key not in _halves:
        middle = classical_middle(frame1, frame2, shipped_flows_at(motion, 0.5)[MIDDLE])
        pair = (frame1, middle) if time < 0.5 else (middle, frame2)
        _halves.clear()  # one pair at a time
        _halves[key] = prior.pair_motion(*pair, "searched", FLOW_SCALE)
    s = 2 * time if time < 0.5 else 2 * time - 1
    # frame 1 read at p + 2s·d_s in the half equals p + 2t·d_t (t < 1/2), frame 2 likewise
    # above: d_t = 2·d_s either way
    return 2 * _halves[key].flows_at(s)[MIDDLE]


def flows_at(self, time=0.5):
    """The shipped flows_at; away from t = 1/2 its choice meets the variant's candidates."""
    flows = shipped_flows_at(self, time)
    if self.found12 is None or time == 0.5:
        return flows
    if VARIANT == "refinedalone":
        flows[MIDDLE] = refined(self, time)
        return flows
    f12, f21 = self.flows[FLOW12], self.flows[FLOW21]
    candidates = [flows[MIDDLE]]
    if VARIANT in ("plain", "both"):
        candidates.append(plain(f12, f21, self.found12, self.found21, time))
    if VARIANT in ("plaincarried", "both"):
        candidates.append(plain(f12, f21, self.carried12, self.carried21, time))
    if VARIANT == "refined":
        candidates.append(refined(self, time))
    flows[MIDDLE] = projection.agreeing_middle(*self.frames, candidates, time)
    return flows


prior.PairMotion.flows_at = flows_at
sys.argv[0] = "experiments/time_table.py"
runpy.run_path("experiments/time_table.py", run_name="__main__")
