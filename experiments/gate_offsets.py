"""Re-save a model with its learned offsets gated (config.gated_offsets): the same weights,
the offsets acting only where the prior's two warped frames disagree.

    python experiments/gate_offsets.py SOURCE.safetensors OUTPUT.safetensors

The metadata keeps the source file's, with what was changed and from which file.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from dsepconv_gui.model.checkpoint import load_checkpoint, save_checkpoint
from dsepconv_gui.model.network import DSepConvNet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("output", type=Path)
    args = parser.parse_args()
    loaded = load_checkpoint(args.source)
    if loaded.config.flow_prior == "none":
        raise SystemExit(f"{args.source}: a model without a flow prior has no prior to gate by")
    gated = DSepConvNet(dataclasses.replace(loaded.config, gated_offsets=True))
    gated.load_state_dict(loaded.model.state_dict())
    metadata = dict(loaded.metadata)
    metadata.pop("parameters", None)
    metadata.pop("created", None)
    metadata["gated_offsets_from"] = str(args.source)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    print(save_checkpoint(args.output, gated, metadata))


if __name__ == "__main__":
    main()
