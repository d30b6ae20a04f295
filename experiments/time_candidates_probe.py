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

from dsepconv_gui.flow import prior, projection
from dsepconv_gui.flow.layout import FLOW12, FLOW21, MIDDLE

VARIANTS = ("plain", "plaincarried", "both")
if len(sys.argv) < 2 or sys.argv[1] not in VARIANTS:
    sys.exit(f"usage: time_candidates_probe.py {{{'|'.join(VARIANTS)}}} TIME_TABLE_ARGUMENTS...")
VARIANT = sys.argv.pop(1)
shipped_flows_at = prior.PairMotion.flows_at
shipped_linear = projection.linear_middle


def plain(*arguments):
    """middle_displacement with the midpoint's linear estimate whatever the time."""
    projection.linear_middle = lambda f12, f21, time=0.5: shipped_linear(f12, f21, 0.5)
    try:
        return projection.middle_displacement(*arguments)
    finally:
        projection.linear_middle = shipped_linear


def flows_at(self, time=0.5):
    """The shipped flows_at; away from t = 1/2 its choice meets the extra candidates."""
    flows = shipped_flows_at(self, time)
    if self.found12 is None or time == 0.5:
        return flows
    f12, f21 = self.flows[FLOW12], self.flows[FLOW21]
    candidates = [flows[MIDDLE]]
    if VARIANT in ("plain", "both"):
        candidates.append(plain(f12, f21, self.found12, self.found21, time))
    if VARIANT in ("plaincarried", "both"):
        candidates.append(plain(f12, f21, self.carried12, self.carried21, time))
    flows[MIDDLE] = projection.agreeing_middle(*self.frames, candidates, time)
    return flows


prior.PairMotion.flows_at = flows_at
sys.argv[0] = "experiments/time_table.py"
runpy.run_path("experiments/time_table.py", run_name="__main__")
