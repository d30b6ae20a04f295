"""The Help menu: the keyboard and mouse shortcuts, and About (version, model and its card,
device)."""

from __future__ import annotations

from collections.abc import Callable
from html import escape

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMainWindow, QMessageBox

from dsepconv_gui import __version__
from dsepconv_gui.gui.timeline import KEYS
from dsepconv_gui.interpolation.interpolator import Interpolator
from dsepconv_gui.model.weights import MODELS_DIR

WINDOW_KEYS = (
    ("Ctrl+O", "open clips"),
    ("Ctrl+E", "export the clip or the in/out range"),
    ("Ctrl+Q", "quit"),
    ("hover", "inspect the pixel under the mouse on the interpolated frame"),
    ("click", "pin the inspector to a pixel (click it again to follow the mouse)"),
    ("wheel, drag", "zoom and pan; every view follows"),
)


def shortcuts_html() -> str:
    rows = "".join(
        f"<tr><td><b>{escape(key)}</b></td><td>{escape(what)}</td></tr>"
        for key, what in (*KEYS, *WINDOW_KEYS)
    )
    return f"<table cellspacing='6'>{rows}</table>"


def about_html(interpolator: Interpolator | None) -> str:
    """The model, its card and the device, for the About box."""
    if interpolator is None:
        return "No model is loaded."
    loaded = interpolator.loaded
    card = MODELS_DIR / "README.md"
    return (
        f"Model: {escape(str(loaded.source))} (n = {loaded.config.kernel_size})<br>"
        f"Device: {escape(str(interpolator.device))}<br>"
        f"Model card: {escape(str(card))}<br><br>"
        "DSepConv: Cheng &amp; Chen, AAAI 2020, Video Frame Interpolation via Deformable "
        "Separable Convolution."
    )


def add_help_menu(window: QMainWindow, about: Callable[[], str]) -> None:
    """Help → Keyboard shortcuts, About. `about` gives the current model and device (HTML)."""
    menu = window.menuBar().addMenu("&Help")
    shortcuts = QAction("Keyboard shortcuts", window)
    shortcuts.triggered.connect(
        lambda: QMessageBox.information(window, "Keyboard shortcuts", shortcuts_html())
    )
    about_action = QAction("About dsepconv_gui", window)
    about_action.triggered.connect(
        lambda: QMessageBox.about(
            window, "About dsepconv_gui", f"<b>dsepconv_gui {__version__}</b><br>{about()}"
        )
    )
    menu.addActions([shortcuts, about_action])
