"""The sampling-point inspector: for one output pixel, where its n×n taps land on frame A and
frame B after the learned offsets, drawn by weight (v_i · h_j · mask), with a table of the
values and a plot of the pixel's 1-D kernels."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6.QtWidgets import QLabel, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from dsepconv_gui.gui.image_view import ImageView
from dsepconv_gui.gui.pyqtgraph_setup import pg
from dsepconv_gui.model.network import DeformableTerm

POSITIVE = (255, 170, 0)
NEGATIVE = (0, 190, 255)


@dataclass(frozen=True)
class Tap:
    i: int
    j: int
    y: float  # where the tap reads, in pixels
    x: float
    grid_y: float  # where it would read without offsets
    grid_x: float
    vertical: float
    horizontal: float
    mask: float
    weight: float


def taps_at(term: DeformableTerm[np.ndarray], kernel_size: int, y: int, x: int) -> list[Tap]:
    """The n×n taps of output pixel (y, x) for one input frame's numpy term."""
    n, r = kernel_size, (kernel_size - 1) / 2
    taps = []
    for i in range(n):
        for j in range(n):
            k = i * n + j
            v, h = float(term.vertical[i, y, x]), float(term.horizontal[j, y, x])
            m = float(term.mask[k, y, x]) if term.mask is not None else 1.0
            gy, gx = y + i - r, x + j - r
            taps.append(
                Tap(
                    i,
                    j,
                    gy + float(term.offset_y[k, y, x]),
                    gx + float(term.offset_x[k, y, x]),
                    gy,
                    gx,
                    v,
                    h,
                    m,
                    v * h * m,
                )
            )
    return taps


class TapOverlay:
    """Scatter of tap positions on one image view, with lines from the regular grid."""

    def __init__(self, view: ImageView) -> None:
        self.lines = pg.PlotCurveItem(connect="pairs", pen=pg.mkPen(255, 255, 255, 150, width=1))
        self.grid = pg.ScatterPlotItem(
            symbol="s", size=4, pen=pg.mkPen(255, 255, 255, 160), brush=None
        )
        self.points = pg.ScatterPlotItem(pen=pg.mkPen(0, 0, 0, 200, width=1))
        self.pixel = pg.ScatterPlotItem(symbol="+", size=14, pen=pg.mkPen(255, 0, 255, width=2))
        for item in (self.lines, self.grid, self.points, self.pixel):
            item.setZValue(10)
            view.viewbox.addItem(item)

    def show(self, taps: list[Tap], y: int, x: int) -> None:
        largest = max((abs(t.weight) for t in taps), default=0.0) or 1.0
        # Pixel (y, x) covers [x, x + 1) × [y, y + 1) in view coordinates: draw at centres.
        xs = np.array([t.x for t in taps]) + 0.5
        ys = np.array([t.y for t in taps]) + 0.5
        gx = np.array([t.grid_x for t in taps]) + 0.5
        gy = np.array([t.grid_y for t in taps]) + 0.5
        sizes = 4 + 14 * np.sqrt(np.abs([t.weight for t in taps]) / largest)
        brushes = [pg.mkBrush(*(POSITIVE if t.weight >= 0 else NEGATIVE), 230) for t in taps]
        self.points.setData(x=xs, y=ys, size=sizes, brush=brushes)
        self.grid.setData(x=gx, y=gy)
        self.lines.setData(x=np.stack([gx, xs], 1).ravel(), y=np.stack([gy, ys], 1).ravel())
        self.pixel.setData(x=[x + 0.5], y=[y + 0.5])

    def clear(self) -> None:
        for item in (self.lines, self.grid, self.points, self.pixel):
            item.setData(x=[], y=[])


class InspectorPanel(QWidget):
    """The table and kernel plot of the inspected pixel; the overlays live on the views."""

    COLUMNS = ("tap", "A y", "A x", "A weight", "A mask", "B y", "B x", "B weight", "B mask")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.heading = QLabel("Click or hover over the interpolated frame to inspect a pixel.")
        self.heading.setWordWrap(True)
        self.table = QTableWidget(0, len(self.COLUMNS))
        self.table.setHorizontalHeaderLabels(self.COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setMinimumHeight(160)
        self.kernel_plot = pg.PlotWidget()
        self.kernel_plot.setMinimumHeight(140)
        self.kernel_plot.addLegend(offset=(-5, 5), labelTextSize="8pt")  # top right
        self.kernel_plot.getAxis("left").enableAutoSIPrefix(False)  # values near 1, as they are
        self.kernel_plot.setLabel("bottom", "tap index")
        self.kernel_plot.setLabel("left", "1-D kernel value")
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(self.table, stretch=2)
        layout.addWidget(QLabel("Kernels of the inspected pixel"))
        layout.addWidget(self.kernel_plot, stretch=1)
        self.pixel: tuple[int, int] | None = None

    def show(
        self,
        y: int,
        x: int,
        taps_a: list[Tap],
        taps_b: list[Tap],
        term_a: DeformableTerm[np.ndarray],
        term_b: DeformableTerm[np.ndarray],
        output_rgb: np.ndarray,
    ) -> None:
        self.pixel = (y, x)
        total_a, total_b = sum(t.weight for t in taps_a), sum(t.weight for t in taps_b)
        self.heading.setText(
            f"Pixel x={x}, y={y}: output RGB {tuple(int(c) for c in output_rgb)}; "
            f"sum of weights A {total_a:.3f}, B {total_b:.3f}"
        )
        self.table.setRowCount(len(taps_a))
        for row, (a, b) in enumerate(zip(taps_a, taps_b, strict=True)):
            values = (
                f"({a.i},{a.j})",
                f"{a.y:.2f}",
                f"{a.x:.2f}",
                f"{a.weight:.4f}",
                f"{a.mask:.3f}",
                f"{b.y:.2f}",
                f"{b.x:.2f}",
                f"{b.weight:.4f}",
                f"{b.mask:.3f}",
            )
            for column, value in enumerate(values):
                self.table.setItem(row, column, QTableWidgetItem(value))
        self.kernel_plot.clear()
        n = term_a.vertical.shape[0]
        taps = np.arange(n)
        for label, values, color in (
            ("A vertical", term_a.vertical[:, y, x], (255, 120, 0)),
            ("A horizontal", term_a.horizontal[:, y, x], (255, 200, 0)),
            ("B vertical", term_b.vertical[:, y, x], (0, 120, 255)),
            ("B horizontal", term_b.horizontal[:, y, x], (0, 200, 200)),
        ):
            self.kernel_plot.plot(
                taps,
                values,
                pen=pg.mkPen(color, width=2),
                symbol="o",
                symbolSize=6,
                symbolBrush=color,
                name=label,
            )

    def clear(self) -> None:
        self.pixel = None
        self.table.setRowCount(0)
        self.kernel_plot.clear()
