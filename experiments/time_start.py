"""The untrained start of the time-conditioned model: a midpoint model file's weights widened
to flow-small-time (the time map's weights and the time branch at zero), so that it makes the
midpoint model's frames at t = 1/2 and the prior's time-scaled start elsewhere.

    python experiments/time_start.py models/dsepconv.safetensors runs/time/start.safetensors
"""

from __future__ import annotations

import sys
from pathlib import Path

from dsepconv_gui.model.checkpoint import save_checkpoint
from dsepconv_gui.model.config import preset
from dsepconv_gui.model.network import DSepConvNet
from dsepconv_gui.training.trainer import load_initial_weights

if __name__ == "__main__":
    source, destination = map(Path, sys.argv[1:3])
    model = DSepConvNet(preset("flow-small-time"))
    load_initial_weights(model, source)
    save_checkpoint(destination, model, {"note": f"{source} widened to flow-small-time, untrained"})
    print(f"{destination}: {source} widened to flow-small-time")
