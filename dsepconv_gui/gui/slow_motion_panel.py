"""The slow-motion preview: the in/out range played with ×2/×4/×8 interpolated frames
inserted, looped at a chosen rate, optionally at a reduced preview resolution."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from dsepconv_gui.gui.image_view import ImageView
from dsepconv_gui.interpolation.bisection import SUPPORTED_FACTORS, factor_label, parse_factor_label

SCALES = {"full resolution": 1.0, "half (preview)": 0.5, "quarter (preview)": 0.25}


class SlowMotionPanel(QWidget):
    play_requested = Signal()
    stop_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.factor = QComboBox()
        self.factor.addItems([factor_label(f) for f in SUPPORTED_FACTORS])
        self.fps = QSpinBox()
        self.fps.setRange(1, 120)
        self.fps.setSuffix(" fps")
        self.scale = QComboBox()
        self.scale.addItems(list(SCALES))
        self.play_button = QPushButton("Compute and play")
        self.stop_button = QPushButton("Stop")
        self.status = QLabel("Plays the in/out range with interpolated frames inserted.")
        self.status.setWordWrap(True)
        self.view = ImageView("Slow motion")
        controls = QHBoxLayout()
        for widget in (
            QLabel("factor"),
            self.factor,
            QLabel("playback"),
            self.fps,
            QLabel("size"),
            self.scale,
            self.play_button,
            self.stop_button,
        ):
            controls.addWidget(widget)
        layout = QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addWidget(self.status)
        layout.addWidget(self.view, stretch=1)
        self.frames: list[np.ndarray] = []
        self.labels: list[str] = []
        self.current = 0
        self.timer = QTimer(self)
        self.timer.timeout.connect(self._next_frame)
        self.play_button.clicked.connect(self.play_requested)
        self.stop_button.clicked.connect(self.stop)
        self.fps.valueChanged.connect(self._update_interval)

    def restore(self, settings) -> None:
        """The factor, playback rate and preview size of the last run (settings.AppSettings)."""
        factor = settings.get("slowmo_factor")
        self.factor.setCurrentText(factor_label(factor if factor in SUPPORTED_FACTORS else 4))
        self.fps.setValue(settings.get("slowmo_fps"))
        scale = settings.get("slowmo_scale")
        names = [name for name, value in SCALES.items() if value == scale]
        if names:
            self.scale.setCurrentText(names[0])

    def save(self, settings) -> None:
        settings.set("slowmo_factor", self.factor_value)
        settings.set("slowmo_fps", self.fps.value())
        settings.set("slowmo_scale", self.scale_value)

    @property
    def factor_value(self) -> int:
        return parse_factor_label(self.factor.currentText())

    @property
    def scale_value(self) -> float:
        return SCALES[self.scale.currentText()]

    def start(self, frames: list[np.ndarray], labels: list[str], note: str) -> None:
        self.frames, self.labels, self.current = frames, labels, 0
        self.status.setText(note)
        self._update_interval()
        self.timer.start()
        self._next_frame()

    def stop(self) -> None:
        self.timer.stop()
        self.stop_requested.emit()

    @property
    def playing(self) -> bool:
        return self.timer.isActive()

    def _update_interval(self) -> None:
        self.timer.setInterval(max(1, int(1000 / self.fps.value())))

    def _next_frame(self) -> None:
        if not self.frames:
            return
        self.current %= len(self.frames)
        self.view.set_image(self.frames[self.current])
        self.view.set_title(f"Slow motion · {self.labels[self.current]}")
        self.current += 1
