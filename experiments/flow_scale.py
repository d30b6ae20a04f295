"""Re-save a model with another flow_scale (the factor DIS enlarges the frames by): the same
weights, the prior's flows computed on frames resized by `--scale` instead.

    python experiments/flow_scale.py SOURCE.safetensors OUTPUT.safetensors --scale 1.25

The metadata keeps the source file's, with what was changed and from which file.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from gate_offsets import save_resaved  # noqa: E402

from dsepconv_gui.model.checkpoint import load_checkpoint  # noqa: E402
from dsepconv_gui.model.network import DSepConvNet  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--scale", type=float, required=True)
    args = parser.parse_args()
    loaded = load_checkpoint(args.source)
    if loaded.config.flow_prior == "none":
        raise SystemExit(f"{args.source}: a model without a flow prior computes no flows")
    model = DSepConvNet(dataclasses.replace(loaded.config, flow_scale=args.scale))
    model.load_state_dict(loaded.model.state_dict())
    save_resaved(args.source, args.output, model, "flow_scale")


if __name__ == "__main__":
    main()
