"""pyqtgraph, set up for this app: every GUI module takes `pg` from here.

pyqtgraph picks the first Qt binding it finds; this app is PySide6 (Qt 6). Images are indexed
[row, column] as numpy arrays are."""

import os

os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")

import pyqtgraph as pg  # noqa: E402
import PySide6  # noqa: E402,F401  (imported before pyqtgraph on purpose)

pg.setConfigOptions(imageAxisOrder="row-major", antialias=True)
