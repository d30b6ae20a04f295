"""Re-save a model with light heads (config.light_heads): each estimator's 3×3 last layer
becomes the 1×1 sum of its taps, run before the upsampling (half the network's FLOPs).

    python experiments/light_heads.py SOURCE.safetensors OUTPUT.safetensors

The conversion is train --init's (trainer.load_initial_weights). The metadata keeps the
source file's, with what was changed and from which file.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from dsepconv_gui.model.checkpoint import load_checkpoint, save_checkpoint
from dsepconv_gui.model.network import DSepConvNet
from dsepconv_gui.training.trainer import load_initial_weights


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("output", type=Path)
    args = parser.parse_args()
    loaded = load_checkpoint(args.source)
    light = DSepConvNet(dataclasses.replace(loaded.config, light_heads=True))
    load_initial_weights(light, args.source)
    metadata = dict(loaded.metadata)
    metadata.pop("parameters", None)
    metadata.pop("created", None)
    metadata["light_heads_from"] = str(args.source)
    if "validation_psnr" in metadata:  # measured on the source's 3×3 heads, not on these
        metadata["source_validation_psnr"] = metadata.pop("validation_psnr")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    print(save_checkpoint(args.output, light, metadata))


if __name__ == "__main__":
    main()
