"""The timeline of the active clip: a thumbnail strip with the playhead and the in/out
range, a slider, and the frame number with its timestamp."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRect, Qt, Signal
from PySide6.QtGui import QColor, QImage, QKeySequence, QPainter, QPen, QPixmap, QShortcut
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProxyStyle,
    QPushButton,
    QSlider,
    QStyle,
    QVBoxLayout,
    QWidget,
)


def to_pixmap(rgb: np.ndarray) -> QPixmap:
    """RGB uint8 (H, W, 3) to a QPixmap (copied, so the array may go away)."""
    rgb = np.ascontiguousarray(rgb)
    h, w = rgb.shape[:2]
    image = QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888)
    return QPixmap.fromImage(image.copy())


def format_timestamp(seconds: float) -> str:
    minutes, rest = divmod(max(seconds, 0.0), 60)
    return f"{int(minutes):02d}:{rest:06.3f}"


class ThumbnailStrip(QWidget):
    """Thumbnails spread over the clip's length; clicking or dragging moves the playhead."""

    seek = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumHeight(56)
        self.frame_count = 0
        self.position = 0
        self.in_point = 0
        self.out_point = 0
        self.thumbnails: list[tuple[int, QPixmap]] = []

    def index_at(self, x: float) -> int:
        if self.frame_count <= 1:
            return 0
        return int(round(np.clip(x / max(self.width() - 1, 1), 0, 1) * (self.frame_count - 1)))

    def x_of(self, index: int) -> float:
        return index / max(self.frame_count - 1, 1) * (self.width() - 1)

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt override
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(30, 30, 30))
        if self.thumbnails:
            width = self.width() / len(self.thumbnails)
            for slot, (_, pixmap) in enumerate(self.thumbnails):
                painter.drawPixmap(
                    QRect(int(slot * width), 0, int(width) + 1, self.height()), pixmap
                )
        if self.frame_count:
            left, right = self.x_of(self.in_point), self.x_of(self.out_point)
            painter.fillRect(QRect(0, 0, int(left), self.height()), QColor(0, 0, 0, 140))
            painter.fillRect(
                QRect(int(right), 0, self.width() - int(right), self.height()), QColor(0, 0, 0, 140)
            )
            painter.setPen(QPen(QColor(255, 60, 60), 2))
            x = int(self.x_of(self.position))
            painter.drawLine(x, 0, x, self.height())
        painter.end()

    def mousePressEvent(self, event) -> None:  # noqa: N802 - Qt override
        self.seek.emit(self.index_at(event.position().x()))

    def mouseMoveEvent(self, event) -> None:  # noqa: N802 - Qt override
        if event.buttons() & Qt.MouseButton.LeftButton:
            self.seek.emit(self.index_at(event.position().x()))


# The timeline's keys, (key, what it does): the shortcuts and the Help menu's list.
KEYS = (
    ("Left", "previous frame"),
    ("Right", "next frame"),
    ("Home", "first frame"),
    ("End", "last frame"),
    ("I", "set the in point at the playhead"),
    ("O", "set the out point at the playhead"),
)


class AbsoluteClickStyle(QProxyStyle):
    """A slider style whose groove, clicked, moves the handle to the click."""

    def styleHint(self, hint, option=None, widget=None, returnData=None):  # noqa: N802, N803
        if hint == QStyle.StyleHint.SH_Slider_AbsoluteSetButtons:
            return Qt.MouseButton.LeftButton.value
        return super().styleHint(hint, option, widget, returnData)


class Timeline(QWidget):
    """position_changed(k) selects the input pair (k, k + step)."""

    position_changed = Signal(int)
    range_changed = Signal(int, int)
    export_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.strip = ThumbnailStrip()
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setEnabled(False)
        # A click on the groove moves the playhead there (not a page of 10 frames).
        # (Its own base style: a proxy owns its base, so it must not wrap the app's.)
        self._slider_style = AbsoluteClickStyle()
        self._slider_style.setParent(self.slider)
        self.slider.setStyle(self._slider_style)
        self.label = QLabel("no clip")
        self.range_label = QLabel("")
        self.in_button = QPushButton("Set in [I]")
        self.out_button = QPushButton("Set out [O]")
        self.export_button = QPushButton("Export…")
        self.export_button.setEnabled(False)
        self.timestamps: list[float] = []
        row = QHBoxLayout()
        row.addWidget(self.label, stretch=1)
        row.addWidget(self.range_label)
        row.addWidget(self.in_button)
        row.addWidget(self.out_button)
        row.addWidget(self.export_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.addWidget(self.strip)
        layout.addWidget(self.slider)
        layout.addLayout(row)
        self.slider.valueChanged.connect(self._on_value)
        self.strip.seek.connect(self.slider.setValue)
        self.in_button.clicked.connect(self.set_in_point)
        self.out_button.clicked.connect(self.set_out_point)
        self.export_button.clicked.connect(self.export_requested)

    @property
    def position(self) -> int:
        return self.slider.value()

    @property
    def frame_count(self) -> int:
        return self.strip.frame_count

    def set_clip(
        self,
        frame_count: int,
        timestamps: list[float],
        position: int = 0,
        in_out: tuple[int, int] | None = None,
    ) -> None:
        """Show a clip, at `position` with its in/out points (a clip shown before keeps
        its own: the window passes them back)."""
        last = max(frame_count - 1, 0)
        self.timestamps = timestamps
        self.strip.frame_count = frame_count
        self.strip.thumbnails = []
        first, end = in_out if in_out is not None else (0, last)
        self.strip.in_point, self.strip.out_point = min(first, last), min(end, last)
        position = min(max(position, 0), last)
        self.slider.blockSignals(True)
        self.slider.setRange(0, last)
        self.slider.setValue(position)
        self.slider.blockSignals(False)
        self.slider.setEnabled(frame_count > 0)
        self.export_button.setEnabled(frame_count > 1)
        self._on_value(position)
        self._update_range_label()

    def set_thumbnails(self, thumbnails: list[tuple[int, np.ndarray]]) -> None:
        self.strip.thumbnails = [(index, to_pixmap(image)) for index, image in thumbnails]
        self.strip.update()

    def add_shortcuts(self, window: QWidget) -> None:
        """The window's keys for the playhead (KEYS)."""
        handlers = {
            "Left": lambda: self.step(-1),
            "Right": lambda: self.step(1),
            "Home": lambda: self.set_position(0),
            "End": lambda: self.set_position(self.frame_count - 1),
            "I": self.set_in_point,
            "O": self.set_out_point,
        }
        for key, _ in KEYS:
            shortcut = QShortcut(QKeySequence(key), window)
            shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
            shortcut.activated.connect(handlers[key])

    def set_position(self, index: int) -> None:
        self.slider.setValue(int(np.clip(index, 0, max(self.frame_count - 1, 0))))

    def step(self, delta: int) -> None:
        self.set_position(self.position + delta)

    def set_in_point(self) -> None:
        """The in point at the playhead; an out point before it moves along to it."""
        self.strip.in_point = self.position
        self.strip.out_point = max(self.strip.out_point, self.position)
        self._range_changed()

    def set_out_point(self) -> None:
        """The out point at the playhead; an in point after it moves along to it."""
        self.strip.out_point = self.position
        self.strip.in_point = min(self.strip.in_point, self.position)
        self._range_changed()

    @property
    def in_out(self) -> tuple[int, int]:
        return self.strip.in_point, self.strip.out_point

    def _range_changed(self) -> None:
        self._update_range_label()
        self.strip.update()
        self.range_changed.emit(*self.in_out)

    def _update_range_label(self) -> None:
        first, last = self.in_out
        self.range_label.setText(f"in {first} · out {last}")

    def _on_value(self, index: int) -> None:
        self.strip.position = index
        stamp = format_timestamp(self.timestamps[index]) if index < len(self.timestamps) else "--"
        self.label.setText(f"frame {index} / {max(self.frame_count - 1, 0)} · {stamp}")
        self.strip.update()
        self.position_changed.emit(index)
