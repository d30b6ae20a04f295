"""Probe (issue 18, not shipped): the prior of a frame at t != 1/2 with more candidates in the
per-pixel agreement choice (flow/projection.py): the plain average of the two flows (the
midpoint's linear estimate, not weighed by time) with the search's finds ("plain"), with every
carried pixel ("plaincarried"), or both, projected to t. At t = 1/2 they equal the first two
candidates, so midpoints are unchanged. Runs experiments/time_table.py with the patch:

    python experiments/time_candidates_probe.py both ../shared/data/train/clips \
        ../shared/data/train/davis2016-val --timed models/dsepconv-time.safetensors

Measured 2026-11-29 (models/README.md, "PSNR by time"): 26.72 / 25.97 / 26.87 at t = 1/4,
1/2, 3/4 against 26.65 / 25.97 / 26.90 without."""

import runpy
import sys

import numpy as np

from dsepconv_gui.flow import prior, projection
from dsepconv_gui.flow.layout import FLOW12, FLOW21

VARIANT = sys.argv.pop(1)
orig_linear = projection.linear_middle


def plain(*a):
    """middle_displacement with the linear estimate of the midpoint whatever the time."""
    projection.linear_middle = lambda f12, f21, time=0.5: orig_linear(f12, f21, 0.5)
    try:
        return projection.middle_displacement(*a)
    finally:
        projection.linear_middle = orig_linear


def flows_at(self, time=0.5):
    """PairMotion.flows_at with the extra candidates away from t = 1/2."""
    if self.found12 is None:
        return self.flows
    f12, f21 = self.flows[FLOW12], self.flows[FLOW21]
    cands = [projection.middle_displacement(f12, f21, self.found12, self.found21, time)]
    if self._carries_more:
        cands.append(projection.middle_displacement(f12, f21, self.carried12, self.carried21, time))
    if time != 0.5:
        if VARIANT in ("plain", "both"):
            cands.append(plain(f12, f21, self.found12, self.found21, time))
        if VARIANT in ("plaincarried", "both"):
            cands.append(plain(f12, f21, self.carried12, self.carried21, time))
    middle = cands[0] if len(cands) == 1 else projection.agreeing_middle(*self.frames, cands, time)
    return np.concatenate([self.flows, middle], axis=0, dtype=np.float32)


prior.PairMotion.flows_at = flows_at
sys.argv[0] = "experiments/time_table.py"
runpy.run_path("experiments/time_table.py", run_name="__main__")
