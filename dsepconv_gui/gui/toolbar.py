"""The main toolbar: open, export and cancel, the device and the network's precision, and the
model."""

from __future__ import annotations

import torch
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QDockWidget,
    QLabel,
    QMainWindow,
    QPushButton,
    QToolBar,
    QWidget,
)

from dsepconv_gui.model.device import PRECISIONS


def device_choices() -> list[str]:
    """What the device list offers: auto, the CPU and each CUDA device."""
    return ["auto", "cpu"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]


class MainToolbar(QToolBar):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Main", parent)
        self.setObjectName("Main")
        self.open_action = QAction("Open clip…", self)
        self.open_action.setShortcut(QKeySequence.StandardKey.Open)
        self.open_folder_action = QAction("Open folder of images…", self)
        self.save_internals_action = QAction("Save the pair's internals…", self)
        self.save_internals_action.setToolTip(
            "offsets (EXR motion vectors, .flo), masks and weights (EXR, 16-bit PNG), kernels, "
            "results, as files for compositing tools"
        )
        self.export_action = QAction("Export…", self)
        self.export_action.setShortcut(QKeySequence("Ctrl+E"))
        self.export_action.setEnabled(False)
        self.cancel_action = QAction("Cancel", self)
        self.cancel_action.setEnabled(False)
        for action in (self.open_action, self.export_action, self.cancel_action):
            self.addAction(action)
        self.addSeparator()
        self.addWidget(QLabel(" Device "))
        self.device_combo = QComboBox()
        self.device_combo.addItems(device_choices())
        self.addWidget(self.device_combo)
        self.precision_combo = QComboBox()
        self.precision_combo.addItems(PRECISIONS)
        self.precision_combo.setToolTip(
            "the network's precision on the CPU: auto runs it in bfloat16 where the CPU computes "
            "that natively (1.3 to 1.6 times faster, frames about 70 dB from float32's), float32 "
            "gives the exact float32 frames; a GPU runs float32"
        )
        self.addWidget(QLabel(" Precision "))
        self.addWidget(self.precision_combo)
        self.model_button = QPushButton("Model…")
        self.default_model_button = QPushButton("Default model")
        self.addWidget(self.model_button)
        self.addWidget(self.default_model_button)

    def set_device(self, device: str, precision: str = "auto") -> None:
        """Show a device and a precision (ones in the lists) without asking for a model
        reload."""
        for combo, text in ((self.device_combo, device), (self.precision_combo, precision)):
            if combo.findText(text) >= 0:
                combo.blockSignals(True)
                combo.setCurrentText(text)
                combo.blockSignals(False)

    def add_menus(self, window: QMainWindow, docks: list[QDockWidget]) -> None:
        """File (open, open a folder, open recent, export, quit) and View (each dock shown or
        hidden) in the window's menus."""
        quit_action = QAction("Quit", window)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(window.close)
        file_menu = window.menuBar().addMenu("&File")
        file_menu.addActions([self.open_action, self.open_folder_action])
        self.recent_menu = file_menu.addMenu("Open recent")
        file_menu.addActions([self.save_internals_action, self.export_action, quit_action])
        window.menuBar().addMenu("&View").addActions([d.toggleViewAction() for d in docks])

    def set_recent(self, paths: list[str], open_path) -> None:
        """The Open recent menu: the clips opened last, newest first."""
        self.recent_menu.clear()
        for path in paths:
            action = self.recent_menu.addAction(path)
            action.triggered.connect(lambda _=False, path=path: open_path(path))
        self.recent_menu.setEnabled(bool(paths))
