"""`dsepconv train` with the chosen preset's flow_scale replaced (the presets fix it; this
asks what training at another DIS scale gives).

    python experiments/train_at_flow_scale.py 1.25 train DATA... --config flow-small-light ...

The bank is built (or found in --bank-cache) with flows at that scale, and the files the run
writes record it in their configuration.
"""

from __future__ import annotations

import dataclasses
import sys

from dsepconv_gui.model import config


def main() -> int:
    scale, arguments = float(sys.argv[1]), sys.argv[2:]
    name = arguments[arguments.index("--config") + 1]
    config.PRESETS[name] = dataclasses.replace(config.PRESETS[name], flow_scale=scale)
    from dsepconv_gui.cli.main import main as dsepconv

    return dsepconv(arguments)


if __name__ == "__main__":
    sys.exit(main())
