"""Start dsepconv_gui: `python main.py [CLIP ...]` (or `make run`).

Until the desktop app lands, this runs the headless demo: it renders the built-in demo
clip, interpolates its middle frame and writes every intermediate to out/demo/.
"""

import sys

from dsepconv_gui.cli import main

if __name__ == "__main__":
    if len(sys.argv) > 1:
        print("Opening clips needs the desktop app, which is not there yet; "
              "use `dsepconv interpolate FRAME_A FRAME_B -o OUT.png`.", file=sys.stderr)
        sys.exit(2)
    sys.exit(main(["demo", "-o", "out/demo"]))
