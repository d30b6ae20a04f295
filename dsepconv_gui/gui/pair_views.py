"""The linked views of one analysed pair: the interpolated frame large, and beside it, in
tabs, the input frames, the truth and the error, each frame's offsets, mask, total weight and
deformable result, and the classical interpolators; with the tap overlays of the
sampling-point inspector."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QGridLayout, QSplitter, QTabWidget, QVBoxLayout, QWidget

from dsepconv_gui.frames.visualize import color_wheel_legend, flow_to_color
from dsepconv_gui.gui.image_view import ImageView, ViewLinker
from dsepconv_gui.gui.inspector import TapOverlay, taps_at
from dsepconv_gui.gui.pair_options import LEARNED_TAP, MEAN_TAP, PairOptions
from dsepconv_gui.gui.pyqtgraph_setup import pg
from dsepconv_gui.interpolation.pair_analysis import PairAnalysis, PairInputs

ERROR_LEVELS = (0.0, 64.0)
LEGEND_SIZE = 129
MAIN_VIEW = ("output", "Interpolated", None)
# The detail tabs, each a grid of (key, title, colour map, row, column); the user can reorder
# the tabs and move the divider between the main view and them.
TABS = {
    "Frames": [
        ("frame_a", "A", None, 0, 0),
        ("frame_b", "B", None, 0, 1),
        ("truth", "Truth", None, 1, 0),
        ("error", "Error", "inferno", 1, 1),
    ],
    "Offsets": [
        ("offsets_a", "Offsets of A", None, 0, 0),
        ("offsets_b", "Offsets of B", None, 0, 1),
        ("legend", "Offset colours", None, 1, 0),
    ],
    # each frame's mask beside its total weight, since the weights decide the blend
    "Masks and weights": [
        ("mask_a", "Mask of A (mean)", "viridis", 0, 0),
        ("weight_a", "Weight of A (Σv·h·m)", "viridis", 0, 1),
        ("mask_b", "Mask of B (mean)", "viridis", 1, 0),
        ("weight_b", "Weight of B (Σv·h·m)", "viridis", 1, 1),
    ],
    "Results": [
        ("result_a", "Result of A", None, 0, 0),
        ("result_b", "Result of B", None, 0, 1),
    ],
    "Classical": [
        ("peer_average", "Frame average", None, 0, 0),
        ("peer_dis", "DIS optical flow", None, 0, 1),
        ("peer_average_error", "Frame average error", "inferno", 1, 0),
        ("peer_dis_error", "DIS flow error", "inferno", 1, 1),
    ],
}
COMPARISON_TAB = "Classical"
PEER_VIEWS = (("frame average", "peer_average"), ("DIS flow", "peer_dis"))


class PairViews(QWidget):
    """Shows a PairAnalysis; `inspect(y, x)` draws where that output pixel's taps read.
    Hovering over the output inspects the pixel under the mouse; a click pins it (message says
    so, for the status bar)."""

    message = Signal(str)

    def __init__(self, options: PairOptions, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.options = options
        self.inspector = options.inspector
        self.pinned = False
        self.analysis: PairAnalysis | None = None
        self.views: dict[str, ImageView] = {"output": _view(*MAIN_VIEW)}
        self.tabs = QTabWidget()
        self.tabs.setMovable(True)
        for name, specs in TABS.items():
            page = QWidget()
            grid = QGridLayout(page)
            grid.setContentsMargins(2, 2, 2, 2)
            grid.setSpacing(4)
            for key, title, cmap, row, column in specs:
                self.views[key] = _view(key, title, cmap)
                grid.addWidget(self.views[key], row, column)
            self.tabs.addTab(page, name)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.views["output"])
        splitter.addWidget(self.tabs)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setSizes([3000, 2000])  # the main view 3/5 of the width to start with
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)
        self.splitter = splitter
        # A tab that was hidden has no size to follow the shared zoom: it catches up when shown.
        self.tabs.currentChanged.connect(lambda _: self._follow_main_view())
        self.linker = ViewLinker([view for key, view in self.views.items() if key != "legend"])
        self._fitted_size: tuple[int, int] | None = None
        legend = self.views["legend"]
        legend.set_image(color_wheel_legend(LEGEND_SIZE))
        legend.viewbox.setRange(xRange=(0, LEGEND_SIZE), yRange=(0, LEGEND_SIZE), padding=0)
        self.overlays = (TapOverlay(self.views["frame_a"]), TapOverlay(self.views["frame_b"]))
        self.arrows = {
            key: pg.PlotCurveItem(connect="pairs", pen=pg.mkPen(0, 0, 0, 200, width=1))
            for key in ("offsets_a", "offsets_b")
        }
        for key, item in self.arrows.items():
            item.setZValue(5)
            self.views[key].viewbox.addItem(item)
        self.set_comparison_visible(False)
        options.views_changed.connect(self.show_offsets)
        self.views["output"].hovered.connect(self._on_hover)
        self.views["output"].clicked.connect(self._on_click)

    def mark_stale(self) -> None:
        """A newer pair is being computed: dim every view until its part arrives."""
        for key, view in self.views.items():
            if key != "legend" and view.image is not None:
                view.set_stale(True)
        self.views["output"].set_title("Interpolated (computing…)")

    def show_inputs(self, inputs: PairInputs) -> None:
        """The pair's frames, as soon as they are decoded (the interpolation follows)."""
        v = self.views
        v["frame_a"].set_image(inputs.frame_a)
        v["frame_a"].set_title(f"A: frame {inputs.index_a}")
        v["frame_b"].set_image(inputs.frame_b)
        v["frame_b"].set_title(f"B: frame {inputs.index_b}")
        if inputs.truth is not None:
            v["truth"].set_image(inputs.truth)
            v["truth"].set_title(f"Truth: frame {inputs.truth_index}")
        else:
            v["truth"].set_image(None)
        self.views["output"].set_title(
            f"Interpolated: computing between frames {inputs.index_a} and {inputs.index_b}…"
        )
        self._fit(inputs.frame_a.shape[1], inputs.frame_a.shape[0])

    def _fit(self, width: int, height: int) -> None:
        if (width, height) != self._fitted_size:
            self._fitted_size = (width, height)
            self.linker.fit(width, height)

    def show_analysis(self, analysis: PairAnalysis) -> None:
        self.analysis = analysis
        result, v = analysis.result, self.views
        term_a, term_b = result.terms
        v["frame_a"].set_image(analysis.frame_a)
        v["frame_a"].set_title(f"A: frame {analysis.index_a}")
        v["frame_b"].set_image(analysis.frame_b)
        v["frame_b"].set_title(f"B: frame {analysis.index_b}")
        v["output"].set_image(result.frame)
        device = result.device.split(" ")[0]
        at = "" if analysis.time == 0.5 else f" at t = {analysis.time:g}"
        v["output"].set_title(f"Interpolated{at} ({result.seconds:.2f} s on {device})")
        v["result_a"].set_image(to_uint8(term_a.result))
        v["result_b"].set_image(to_uint8(term_b.result))
        for key, term in (("mask_a", term_a), ("mask_b", term_b)):
            if term.mask is not None:
                v[key].set_image(term.mask.mean(axis=0), levels=(0.0, 1.0))
            else:
                v[key].set_image(None)
                v[key].set_title("No masks in this model")
        for key, weight in zip(("weight_a", "weight_b"), analysis.total_weights, strict=True):
            v[key].set_image(weight, levels=(0.0, 1.0))
        self._show_truth(analysis)
        self.show_offsets()
        self._fit(result.frame.shape[1], result.frame.shape[0])
        if self.inspector.pixel is not None:
            self.inspect(*self.inspector.pixel)

    def _show_truth(self, analysis: PairAnalysis) -> None:
        v = self.views
        if analysis.truth is not None:
            v["truth"].set_image(analysis.truth)
            v["truth"].set_title(f"Truth: frame {analysis.truth_index}")
            v["error"].set_image(analysis.error_map, levels=ERROR_LEVELS)
            v["error"].set_title(f"PSNR {analysis.psnr:.2f} dB · error |output − truth|")
        else:
            v["truth"].set_image(None)
            v["truth"].set_title(
                "Truth: choose 'k and k+2'"
                if analysis.time == 0.5
                else f"No truth at t = {analysis.time:g}: try 'k and k+4'"
            )
            v["error"].set_image(None)
            v["error"].set_title("Error: needs the truth")
        for name, key in PEER_VIEWS:
            frame = analysis.peers.get(name)
            v[key].set_image(frame)
            score = analysis.peer_psnr.get(name)
            v[key].set_title((f"PSNR {score:.2f} dB · " if score is not None else "") + name)
            error = None
            if frame is not None and analysis.truth is not None:
                error = np.abs(frame.astype(np.float32) - analysis.truth).mean(axis=2)
            v[key + "_error"].set_image(error, ERROR_LEVELS if error is not None else None)

    def show_offsets(self) -> None:
        """The offset views as colours (and arrows), for the tap the options name."""
        if self.analysis is None:
            return
        analysis = self.analysis
        tap, tap_name = self.options.tap, self.options.tap_combo.currentText()
        # the list may already be the next model's while this result is shown
        if tap == LEARNED_TAP and analysis.learned_shifts is None:
            tap = MEAN_TAP
        if tap >= analysis.result.kernel_size**2:
            tap = MEAN_TAP
        if tap == LEARNED_TAP:
            fields = list(analysis.learned_shifts)
        elif tap == MEAN_TAP:
            fields = list(analysis.mean_displacements)
        else:
            fields = [(term.offset_y[tap], term.offset_x[tap]) for term in analysis.result.terms]
        lengths = np.concatenate([np.hypot(dy, dx).ravel() for dy, dx in fields])
        moved = lengths[lengths > 1e-4]
        if tap == LEARNED_TAP and moved.size:  # mostly zero, a few large corrections: saturate
            scale = float(np.percentile(moved, 99))
        else:
            scale = float(lengths.max(initial=0.0))
        scale = max(scale, 1e-3)
        what = {MEAN_TAP: "mean", LEARNED_TAP: "learned"}.get(tap, tap_name)
        for key, (dy, dx), label in zip(("offsets_a", "offsets_b"), fields, "AB", strict=True):
            self.views[key].set_image(flow_to_color(dy, dx, scale))
            self.views[key].set_title(f"{label}: {what} ({scale:.2g} px = full colour)")
            self._draw_arrows(key, dy, dx)
        self.views["legend"].set_title(f"Colour: direction; full at {scale:.2g} px")

    def _draw_arrows(self, key: str, dy: np.ndarray, dx: np.ndarray) -> None:
        item = self.arrows[key]
        if not self.options.arrows_check.isChecked():
            item.setData(x=[], y=[])
            return
        h, w = dy.shape
        spacing = max(8, min(h, w) // 24)
        ys, xs = np.mgrid[spacing // 2 : h : spacing, spacing // 2 : w : spacing]
        start_x, start_y = xs + 0.5, ys + 0.5
        end_x, end_y = start_x + dx[ys, xs], start_y + dy[ys, xs]
        item.setData(
            x=np.stack([start_x.ravel(), end_x.ravel()], 1).ravel(),
            y=np.stack([start_y.ravel(), end_y.ravel()], 1).ravel(),
        )

    def inspect(self, y: int, x: int) -> None:
        """Show where the taps of output pixel (y, x) read on frames A and B."""
        if self.analysis is None:
            return
        result = self.analysis.result
        h, w = result.frame.shape[:2]
        y, x = int(np.clip(y, 0, h - 1)), int(np.clip(x, 0, w - 1))
        term_a, term_b = result.terms
        taps_a = taps_at(term_a, result.kernel_size, y, x)
        taps_b = taps_at(term_b, result.kernel_size, y, x)
        self.overlays[0].show(taps_a, y, x)
        self.overlays[1].show(taps_b, y, x)
        self.inspector.show(y, x, taps_a, taps_b, term_a, term_b, result.frame[y, x])

    def _on_hover(self, x: float, y: float) -> None:
        if not self.pinned:
            self.inspect(int(np.floor(y)), int(np.floor(x)))

    def _on_click(self, x: float, y: float) -> None:
        pixel = (int(np.floor(y)), int(np.floor(x)))
        self.pinned = not self.pinned if self.inspector.pixel == pixel else True
        self.inspect(*pixel)
        pinned = "Inspector pinned (click the same pixel to follow the mouse)"
        self.message.emit(pinned if self.pinned else "Inspector follows the mouse")

    def set_comparison_visible(self, visible: bool) -> None:
        index = self._tab_index(COMPARISON_TAB)
        self.tabs.setTabVisible(index, visible)
        if visible:  # the user asked for them: show them
            self.tabs.setCurrentIndex(index)
            self._follow_main_view()

    def show_tab(self, name: str) -> None:
        """Bring a detail tab to the front (its name as in TABS)."""
        self.tabs.setCurrentIndex(self._tab_index(name))

    def _tab_index(self, name: str) -> int:
        return next(i for i in range(self.tabs.count()) if self.tabs.tabText(i) == name)

    def _follow_main_view(self) -> None:
        QTimer.singleShot(0, lambda: self.linker.sync_from(self.views["output"]))


def to_uint8(image: np.ndarray) -> np.ndarray:
    """[0, 1] float image to uint8, rounded and clipped."""
    return np.clip(image * 255.0 + 0.5, 0, 255).astype(np.uint8)


def _view(key: str, title: str, cmap: str | None) -> ImageView:
    levels = ERROR_LEVELS if cmap == "inferno" else (0.0, 1.0)
    view = ImageView(title, colormap=cmap, levels=levels)
    view.setObjectName(key)
    return view
