"""Playback of the in/out range: the interpolated sequence, the original, or both compared
side by side or with a wipe (a divider the user drags), looped at the clip's own speed
(smoother motion) or slower (slow motion)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from dsepconv_gui.gui.image_view import ImageView
from dsepconv_gui.gui.pyqtgraph_setup import pg
from dsepconv_gui.gui.session import SlowMotion
from dsepconv_gui.interpolation.bisection import SUPPORTED_FACTORS, factor_label, parse_factor_label

FULL_SIZE = "full resolution"
SCALES = {FULL_SIZE: 1.0, "half (preview)": 0.5, "quarter (preview)": 0.25}
MODES = ("Interpolated", "Original", "Side by side", "Wipe")
MODE_TITLES = {
    "Interpolated": "Interpolated",
    "Original": "Original (each input frame held)",
    "Side by side": "Original (left) | interpolated (right)",
    "Wipe": "Original (left of the line) | interpolated (right)",
}
# Playback speed against the clip's own: 1 plays the interpolated frames at factor × the
# clip's rate (smoother motion, same duration); below 1 is slow motion.
SPEEDS = {
    "real speed (smoother)": 1.0,
    "1/2 speed": 0.5,
    "1/4 speed": 0.25,
    "1/8 speed": 0.125,
    "1/16 speed": 0.0625,
}
MAX_PLAYBACK_FPS = 120.0


def compose(
    original: np.ndarray, interpolated: np.ndarray, mode: str, divider: float
) -> np.ndarray:
    """What the view shows for one moment: the interpolated frame, the original (the input
    frame last shown), both side by side (original left), or a wipe: the original left of the
    divider (a fraction of the width), the interpolated right of it."""
    if mode == "Original":
        return original
    if mode == "Side by side":
        return np.concatenate([original, interpolated], axis=1)
    if mode == "Wipe":
        column = int(round(np.clip(divider, 0.0, 1.0) * original.shape[1]))
        return np.concatenate([original[:, :column], interpolated[:, column:]], axis=1)
    return interpolated


class PlaybackPanel(QWidget):
    play_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.factor, self.scale = QComboBox(), QComboBox()
        self.factor.addItems([factor_label(f) for f in SUPPORTED_FACTORS])
        self.scale.addItems(list(SCALES))
        self.mode, self.speed = QComboBox(), QComboBox()
        self.mode.addItems(list(MODES))
        self.speed.addItems(list(SPEEDS))
        for combo in (self.factor, self.scale, self.mode, self.speed):  # narrow docks too
            combo.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
            )
            combo.setMinimumContentsLength(6)
        self.play_button = QPushButton("Compute and play")
        self.stop_button = QPushButton("Pause")
        self.progress = QProgressBar()
        self.progress.hide()
        self.status = QLabel("Plays the in/out range with interpolated frames inserted.")
        self.status.setWordWrap(True)
        self.view = ImageView("Playback")
        controls = QGridLayout()
        for row, cells in enumerate(
            (
                (QLabel("frames"), self.factor, QLabel("size"), self.scale),
                (QLabel("show"), self.mode, QLabel("speed"), self.speed),
            )
        ):
            for column, widget in enumerate(cells):
                controls.addWidget(widget, row, column)
        controls.addWidget(self.play_button, 2, 0, 1, 2)
        controls.addWidget(self.stop_button, 2, 2, 1, 2)
        layout = QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.view, stretch=1)
        # The wipe's divider, dragged in the view; its position is a fraction of the width.
        self.divider = pg.InfiniteLine(angle=90, movable=True, pen=pg.mkPen(255, 255, 0, width=2))
        self.divider.setZValue(10)
        self.divider.hide()
        self.view.viewbox.addItem(self.divider)
        self.sequence: SlowMotion | None = None
        self.current = 0
        self.timer = QTimer(self)
        self.timer.timeout.connect(self._next_frame)
        self.play_button.clicked.connect(self.play_requested)
        self.stop_button.clicked.connect(self.toggle_pause)
        self.speed.currentIndexChanged.connect(lambda _: self._update_interval())
        self.mode.currentIndexChanged.connect(lambda _: self._on_mode())
        self.divider.sigPositionChanged.connect(lambda _: self._show_current())

    # ----- settings -------------------------------------------------------------------------
    def restore(self, settings) -> None:
        """Frames, size, speed and view of the last run (settings.AppSettings)."""
        factor = settings.get("slowmo_factor")
        self.factor.setCurrentText(factor_label(factor if factor in SUPPORTED_FACTORS else 4))
        for combo, choices, value in (
            (self.scale, SCALES, settings.get("slowmo_scale")),
            (self.speed, SPEEDS, settings.get("playback_speed")),
        ):
            names = [name for name, choice in choices.items() if choice == value]
            if names:
                combo.setCurrentText(names[0])
        if settings.get("playback_mode") in MODES:
            self.mode.setCurrentText(settings.get("playback_mode"))

    def save(self, settings) -> None:
        settings.set("slowmo_factor", self.factor_value)
        settings.set("slowmo_scale", self.scale_value)
        settings.set("playback_speed", SPEEDS[self.speed.currentText()])
        settings.set("playback_mode", self.mode.currentText())

    @property
    def factor_value(self) -> int:
        return parse_factor_label(self.factor.currentText())

    @property
    def scale_value(self) -> float:
        return SCALES[self.scale.currentText()]

    @property
    def frames(self) -> list[np.ndarray]:
        return [] if self.sequence is None else self.sequence.frames

    # ----- computing ------------------------------------------------------------------------
    def show_progress(self, done: int, total: int, text: str) -> None:
        """Progress of the frames being computed, here where the user is looking."""
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        self.progress.setFormat(f"{text}: {done}/{total}")
        self.progress.show()

    def computing_ended(self) -> None:
        self.progress.hide()

    # ----- playing --------------------------------------------------------------------------
    def start(self, sequence: SlowMotion) -> None:
        self.sequence, self.current = sequence, 0
        self.progress.hide()
        h, w = sequence.frames[0].shape[:2]
        self.divider.setBounds([0, w])  # the divider stays on the frame
        self.divider.setValue(w / 2)
        self.stop_button.setText("Pause")
        self._update_interval()
        self.timer.start()
        self._next_frame()

    def stop(self) -> None:
        self.timer.stop()
        self.stop_button.setText("Play")

    def toggle_pause(self) -> None:
        if self.playing:
            self.stop()
        elif self.sequence is not None:
            self.stop_button.setText("Pause")
            self.timer.start()

    @property
    def playing(self) -> bool:
        return self.timer.isActive()

    @property
    def playback_fps(self) -> float:
        """Frames per second shown: the clip's rate × the factor × the speed (at most 120)."""
        if self.sequence is None:
            return 24.0
        rate = self.sequence.rate * self.sequence.factor * SPEEDS[self.speed.currentText()]
        return min(max(rate, 0.5), MAX_PLAYBACK_FPS)

    def _update_interval(self) -> None:
        self.timer.setInterval(max(1, int(round(1000 / self.playback_fps))))
        if self.sequence is not None:
            self.status.setText(f"{self.sequence.note}. {self._speed_note()}")

    def _speed_note(self) -> str:
        """What the playback speed really is (the display cannot go beyond 120 frames/s)."""
        wanted = self.sequence.rate * self.sequence.factor * SPEEDS[self.speed.currentText()]
        if wanted > MAX_PLAYBACK_FPS:
            return (
                f"Played at {MAX_PLAYBACK_FPS:.0f} frames/s: {wanted / MAX_PLAYBACK_FPS:.1f}× "
                "slower than the speed chosen"
            )
        return f"Played at {wanted:.3g} frames/s"

    def _on_mode(self) -> None:
        self.divider.setVisible(self.mode.currentText() == "Wipe")
        self._show_current()

    def frame_at(self, index: int) -> np.ndarray:
        """What is shown at position `index` of the sequence, in the chosen mode."""
        sequence = self.sequence
        original = sequence.frames[sequence.original_of[index]]
        width = max(original.shape[1], 1)
        divider = self.divider.value() / width
        return compose(original, sequence.frames[index], self.mode.currentText(), divider)

    def _show_current(self) -> None:
        if self.sequence is None:
            return
        index = (self.current - 1) % len(self.sequence.frames)
        self.view.set_image(self.frame_at(index))

    def _next_frame(self) -> None:
        if self.sequence is None:
            return
        self.current %= len(self.sequence.frames)
        self.view.set_image(self.frame_at(self.current))
        self.view.set_title(
            f"{MODE_TITLES[self.mode.currentText()]} · {self.sequence.labels[self.current]}"
        )
        self.current += 1
