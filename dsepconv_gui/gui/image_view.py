"""A titled pyqtgraph image view: zoom and pan with the mouse, an optional colour bar, and
mouse positions reported in image pixel coordinates (x to the right, y down)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

from dsepconv_gui.gui.pyqtgraph_setup import pg


class ImageView(QWidget):
    hovered = Signal(float, float)
    clicked = Signal(float, float)

    def __init__(
        self,
        title: str,
        colormap: str | None = None,
        levels: tuple[float, float] = (0.0, 1.0),
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName(title)
        self.title = QLabel(title)
        self.title.setStyleSheet("font-weight: bold; padding: 2px;")
        # A long title is cut, never widens the view (the full text is in its tooltip).
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.title.setToolTip(title)
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setMinimumSize(120, 80)
        self.viewbox = self.graphics.addViewBox(lockAspect=True, invertY=True, enableMenu=False)
        self.image_item = pg.ImageItem()
        self.viewbox.addItem(self.image_item)
        self.colorbar = None
        self.levels = levels
        if colormap is not None:
            self.colorbar = pg.ColorBarItem(
                values=levels, colorMap=pg.colormap.get(colormap), interactive=False, width=12
            )
            self.colorbar.setImageItem(self.image_item)
            self.graphics.addItem(self.colorbar)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.title)
        layout.addWidget(self.graphics, stretch=1)
        self.image: np.ndarray | None = None
        self.stale = False
        scene = self.graphics.scene()
        scene.sigMouseMoved.connect(self._on_mouse_moved)
        scene.sigMouseClicked.connect(self._on_mouse_clicked)

    def set_title(self, text: str) -> None:
        self.title.setText(text)
        self.title.setToolTip(text)

    def set_stale(self, stale: bool) -> None:
        """Dim the image while a newer one is being computed (it stays for orientation)."""
        self.image_item.setOpacity(0.35 if stale else 1.0)
        self.stale = stale

    def set_image(
        self, image: np.ndarray | None, levels: tuple[float, float] | None = None
    ) -> None:
        """Show an RGB uint8 (H, W, 3) image, or a (H, W) array mapped through the colour bar."""
        self.image = image
        self.set_stale(False)
        if image is None:
            self.image_item.clear()
            return
        if image.ndim == 3:
            self.image_item.setImage(image, levels=(0, 255), autoLevels=False)
        else:
            levels = levels or self.levels
            if self.colorbar is not None:
                self.colorbar.setLevels(levels)
            self.image_item.setImage(image.astype(np.float32), levels=levels, autoLevels=False)
            if self.colorbar is not None:
                self.colorbar.setLevels(levels)

    def image_position(self, scene_pos: QPointF) -> tuple[float, float] | None:
        if not self.viewbox.sceneBoundingRect().contains(scene_pos):
            return None
        point = self.viewbox.mapSceneToView(scene_pos)
        return point.x(), point.y()

    def _on_mouse_moved(self, scene_pos: QPointF) -> None:
        position = self.image_position(scene_pos)
        if position is not None and self.image is not None:
            self.hovered.emit(*position)

    def _on_mouse_clicked(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return
        position = self.image_position(event.scenePos())
        if position is not None and self.image is not None:
            self.clicked.emit(*position)


class ViewLinker:
    """Links zoom and pan across views of different sizes: every view shows the region of the
    image that the view the user moved shows, widened to its own shape (the views keep their
    aspect ratio locked). A small view beside a large one thus shows the same part of the
    frame, not a crop of it at the large view's scale."""

    def __init__(self, views: list[ImageView]) -> None:
        self.views = views
        self._syncing = False
        for view in views:
            view.viewbox.sigRangeChangedManually.connect(
                lambda _mask, source=view: self.sync_from(source)
            )

    def sync_from(self, source: ImageView) -> None:
        if self._syncing:
            return
        (x0, x1), (y0, y1) = source.viewbox.viewRange()
        self._syncing = True
        try:
            for view in self.views:
                if view is not source:
                    view.viewbox.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0)
        finally:
            self._syncing = False

    def fit(self, width: int, height: int) -> None:
        """Show the whole image in every view, then share the scale of the tightest view."""
        self._syncing = True
        try:
            for view in self.views:
                view.viewbox.setRange(xRange=(0, width), yRange=(0, height), padding=0)
        finally:
            self._syncing = False
