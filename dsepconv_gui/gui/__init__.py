"""The desktop app (PySide6 + pyqtgraph): a Qt-free session (session.py) under the window,
the views and the widgets. The only layer that imports Qt."""
