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


def source_and_output(description: str) -> tuple[Path, Path]:
    """The two arguments of a re-saving script."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("source", type=Path)
    parser.add_argument("output", type=Path)
    args = parser.parse_args()
    return args.source, args.output


def save_resaved(source: Path, output: Path, model: DSepConvNet, changed: str) -> None:
    """Save model (made from source's weights) with source's metadata, less what the new file
    measures itself, plus `changed`_from: source."""
    metadata = dict(load_checkpoint(source).metadata)
    metadata.pop("parameters", None)
    metadata.pop("created", None)
    metadata[f"{changed}_from"] = str(source)
    if "validation_psnr" in metadata:  # measured on the source's network, not on this one
        metadata["source_validation_psnr"] = metadata.pop("validation_psnr")
    output.parent.mkdir(parents=True, exist_ok=True)
    print(save_checkpoint(output, model, metadata))


def main() -> None:
    source, output = source_and_output(__doc__.splitlines()[0])
    loaded = load_checkpoint(source)
    if loaded.config.flow_prior == "none":
        raise SystemExit(f"{source}: a model without a flow prior has no prior to gate by")
    gated = DSepConvNet(dataclasses.replace(loaded.config, gated_offsets=True))
    gated.load_state_dict(loaded.model.state_dict())
    save_resaved(source, output, gated, "gated_offsets")


if __name__ == "__main__":
    main()
