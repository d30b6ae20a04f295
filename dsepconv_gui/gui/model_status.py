"""The status bar's device and model: what the app runs on, and which file it runs."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QHBoxLayout, QLabel, QWidget

from dsepconv_gui.interpolation.interpolator import Interpolator


class ModelStatus(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.device_label, self.model_label = QLabel(), QLabel()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.device_label)
        layout.addWidget(self.model_label)

    def show_model(self, interpolator: Interpolator) -> None:
        loaded = interpolator.loaded
        self.device_label.setText(f"Device: {interpolator.device}")
        name = Path(loaded.source).name
        self.model_label.setText(f"Model: {name} (n={loaded.config.kernel_size})")
        self.model_label.setToolTip(f"{loaded.source}\n{loaded.config.to_dict()}")
