"""Re-save a model with light heads (config.light_heads): each estimator's 3×3 last layer
becomes the 1×1 sum of its taps, run before the upsampling (half the network's FLOPs).

    python experiments/light_heads.py SOURCE.safetensors OUTPUT.safetensors

The conversion is train --init's (trainer.load_initial_weights). The metadata keeps the
source file's, with what was changed and from which file.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from gate_offsets import save_resaved, source_and_output  # noqa: E402

from dsepconv_gui.model.checkpoint import load_checkpoint  # noqa: E402
from dsepconv_gui.model.network import DSepConvNet  # noqa: E402
from dsepconv_gui.training.trainer import load_initial_weights  # noqa: E402


def main() -> None:
    source, output = source_and_output(__doc__.splitlines()[0])
    light = DSepConvNet(dataclasses.replace(load_checkpoint(source).config, light_heads=True))
    load_initial_weights(light, source)
    save_resaved(source, output, light, "light_heads")


if __name__ == "__main__":
    main()
