"""Frame time with and without the output-preserving speed-ups of 2026-11-28 (issue 16),
interleaved in one process, so that a machine whose speed drifts from minute to minute
(this one's matmul peak measured 149 and 191 GFLOP/s an hour apart) weighs both alike.

The speed-ups, each put back to the code it replaced for the "before" runs:
- network.network_input: the U-Net's input written once, channels last, in the autocast
  dtype (before: concatenated, made channels last, then cast by autocast);
- fused_dsc.concatenated_heads: the bfloat16 heads widened into float32 by a numba kernel
  (before: torch.cat, then .to(float32));
- search.round_trip_agrees: a numba kernel (before: numpy's grid, rounding and gather);
- flow.warp's pixel grid made once per size (before: np.indices on every call).

The frames are bit for bit the same both ways (tests). Prints the median and minimum of
each, the median CPU time of all threads (less swayed by other machines' load than the wall
time), and the frames' largest difference.

    python experiments/copies_ab.py 640x480 --rounds 12
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from dsepconv_gui.cli.benchmark import parse_size, test_pair
from dsepconv_gui.flow import projection, search
from dsepconv_gui.flow import warp as flow_warp
from dsepconv_gui.interpolation.interpolator import Interpolator
from dsepconv_gui.model import fused_dsc, network
from dsepconv_gui.model.device import resolve_device
from dsepconv_gui.model.weights import resolve_model


def input_before(inputs, channels_last):
    x = torch.cat(inputs, dim=1)
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


def heads_before(heads, dtype):
    return torch.cat(heads, dim=1).to(dtype)


def round_trip_before(there, back):
    h, w = there.shape[1:]
    rows, cols = np.mgrid[0:h, 0:w]
    ty = np.clip(np.rint(rows + there[0]).astype(np.int64), 0, h - 1)
    tx = np.clip(np.rint(cols + there[1]).astype(np.int64), 0, w - 1)
    return np.hypot(there[0] + back[0, ty, tx], there[1] + back[1, ty, tx]) <= search.CONSISTENCY


def grid_before(height, width):
    return np.indices((height, width), dtype=np.float32)


AFTER = {
    (network, "network_input"): network.network_input,
    (fused_dsc, "concatenated_heads"): fused_dsc.concatenated_heads,
    (search, "round_trip_agrees"): search.round_trip_agrees,
    (projection, "round_trip_agrees"): projection.round_trip_agrees,
    (flow_warp, "_pixel_grid"): flow_warp._pixel_grid,
}
BEFORE = {
    (network, "network_input"): input_before,
    (fused_dsc, "concatenated_heads"): heads_before,
    (search, "round_trip_agrees"): round_trip_before,
    (projection, "round_trip_agrees"): round_trip_before,
    (flow_warp, "_pixel_grid"): grid_before,
}


def use(functions: dict) -> None:
    for (module, name), function in functions.items():
        setattr(module, name, function)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("size", help="WxH, e.g. 640x480")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--model", default=None)
    args = parser.parse_args()

    height, width = parse_size(args.size)
    device = resolve_device("cpu", "auto")
    loaded, _ = resolve_model(args.model, device.device)
    interpolator = Interpolator(loaded, device)
    a, b = test_pair(height, width)
    seconds: dict[str, list[float]] = {"before": [], "after": []}
    cpu: dict[str, list[float]] = {"before": [], "after": []}
    frames = {}
    for name, functions in (("before", BEFORE), ("after", AFTER)):  # warm-up
        use(functions)
        frames[name] = interpolator.interpolate(a.copy(), b.copy()).frame
    for _ in range(args.rounds):
        for name, functions in (("before", BEFORE), ("after", AFTER)):
            use(functions)
            start, start_cpu = time.perf_counter(), time.process_time()
            # copies: the interpolator reuses the motion of the very arrays it saw last
            interpolator.interpolate(a.copy(), b.copy())
            seconds[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
    use(AFTER)
    difference = np.abs(frames["before"].astype(int) - frames["after"]).max()
    print(f"{args.size}, {args.rounds} rounds, {device}; largest frame difference {difference}")
    for name, values in seconds.items():
        print(
            f"{name}: median {statistics.median(values):.3f} s, minimum {min(values):.3f} s "
            f"({', '.join(f'{v:.2f}' for v in values)}); CPU time, all threads: median "
            f"{statistics.median(cpu[name]):.3f} s"
        )


if __name__ == "__main__":
    main()
