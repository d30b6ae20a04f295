"""Start the desktop app: `python main.py [CLIP ...]` (or `make run`).

`python main.py --screenshot OUT.png [CLIP]` renders the window with a pair interpolated and
inspected, saves it and exits (works offscreen with QT_QPA_PLATFORM=offscreen).
"""

import sys

if __name__ == "__main__":
    from dsepconv_gui.gui.app import run

    sys.exit(run())
