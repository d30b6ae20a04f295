"""The Clips dock: an Open button and the list of opened clips with their first frames."""

from __future__ import annotations

from PySide6.QtCore import QSize
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QPushButton, QVBoxLayout, QWidget

from dsepconv_gui.gui.session import OpenedClip
from dsepconv_gui.gui.timeline import to_pixmap


class ClipsPanel(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.clip_list = QListWidget()
        self.clip_list.setIconSize(QSize(72, 40))
        self.clip_list.setMinimumWidth(150)
        self.clip_list.setWordWrap(True)
        self.open_button = QPushButton("Open clip…")
        layout = QVBoxLayout(self)
        layout.addWidget(self.open_button)
        layout.addWidget(self.clip_list)

    def add(self, opened: OpenedClip) -> None:
        """List a clip that opened: its first frame, name, size, rate and length."""
        info = opened.clip.info
        text = f"{info.path.name}\n{info.describe()}"
        if opened.clip.notes:  # what was converted or is damaged, in sight
            text += f"\n⚠ {opened.clip.notes[0]}"
        item = QListWidgetItem(QIcon(to_pixmap(opened.icon)), text)
        item.setToolTip("\n".join([str(info.path), *opened.clip.notes]))
        self.clip_list.addItem(item)
