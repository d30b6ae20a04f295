"""The quality strip under the timeline: per-frame scores of frame k+1 made from frames k and
k+2 (this model, OpenCV DIS, the frame average), the shot cuts skipped, the export's override
ranges shaded. A click on a frame asks for its pair; the selection marks a range for an
override."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from dsepconv_gui.export.overrides import Override
from dsepconv_gui.gui.clip_quality_work import QualityRun
from dsepconv_gui.gui.pyqtgraph_setup import pg
from dsepconv_gui.interpolation.quality_check import MODEL, FrameQuality

SCORES = {"PSNR": "psnr", "worst region (1% of blocks)": "worst"}
PENS = {
    MODEL: pg.mkPen(80, 200, 255, width=2),
    "OpenCV DIS": pg.mkPen(240, 170, 60, width=1),
    "frame average": pg.mkPen(150, 150, 150, width=1),
}
BEFORE_PEN = pg.mkPen(80, 200, 255, width=1, style=Qt.PenStyle.DashLine)
CUT_PEN = pg.mkPen(255, 70, 70, width=1)
OVERRIDE_BRUSH = {"repeat": pg.mkBrush(255, 200, 0, 50), "blend": pg.mkBrush(200, 90, 255, 50)}
NOTE = (
    "Each point: frame k+1 made from frames k and k+2 and compared with the real one. These "
    "pairs hold twice the motion of an export's: the strip ranks where the clip is hard; it "
    "does not predict the export's PSNR."
)


class QualityStrip(QWidget):
    """check_requested: score the in/out range; frame_chosen(k): show the pair around k (the
    truth); override_requested(first, last, fallback) and overrides_cleared: the selection's
    override; adapt_requested: open the adaptation dialog."""

    check_requested = Signal()
    cancel_requested = Signal()
    frame_chosen = Signal(int)
    override_requested = Signal(int, int, str)
    overrides_cleared = Signal()
    adapt_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.check_button = QPushButton("Check quality")
        self.check_button.setToolTip(
            "Score every frame of the in/out range against the clip itself, at preview size"
        )
        self.stop_button = QPushButton("Stop")
        self.stop_button.setEnabled(False)
        self.score_combo = QComboBox()
        self.score_combo.addItems(list(SCORES))
        self.score_combo.setSizeAdjustPolicy(  # the window must still fit a laptop's screen
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.score_combo.setMinimumContentsLength(8)
        self.repeat_button = QPushButton("Repeat here")
        self.repeat_button.setToolTip(
            "In exports, the in-between frames of the selected range repeat the nearer frame"
        )
        self.blend_button = QPushButton("Blend here")
        self.blend_button.setToolTip(
            "In exports, the in-between frames of the selected range blend the two frames"
        )
        self.clear_button = QPushButton("Clear")
        self.clear_button.setToolTip("Remove this clip's export overrides")
        self.adapt_button = QPushButton("Adapt model…")
        self.adapt_button.setToolTip(
            "Fine-tune the model on this clip's own frames; kept only if it scores better"
        )
        self.summary = QLabel("Check quality to see where the interpolation struggles.")
        self.summary.setWordWrap(True)
        self.summary.setToolTip(NOTE)
        row = QHBoxLayout()
        for widget in (
            self.check_button,
            self.stop_button,
            self.score_combo,
            self.repeat_button,
            self.blend_button,
            self.clear_button,
            self.adapt_button,
        ):
            row.addWidget(widget)
        row.addStretch(1)
        self.plot = pg.PlotWidget()
        self.plot.setMinimumHeight(90)
        self.plot.setMaximumHeight(180)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.plot.setLabel("left", "dB")
        self.plot.getAxis("left").enableAutoSIPrefix(False)
        self.plot.addLegend(offset=(5, 5), labelTextSize="8pt", colCount=4)
        self.selection = pg.LinearRegionItem(values=(0, 0), brush=pg.mkBrush(255, 255, 255, 30))
        self.selection.setZValue(10)
        self.plot.addItem(self.selection)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 0, 4, 2)
        layout.addLayout(row)
        layout.addWidget(self.plot)
        layout.addWidget(self.summary)
        self.results: list[FrameQuality] = []
        self.run: QualityRun | None = None
        self.before: QualityRun | None = None  # the last run with another model on this range
        self.overrides: tuple[Override, ...] = ()
        self._items: list = []
        self.check_button.clicked.connect(self.check_requested)
        self.stop_button.clicked.connect(self.cancel_requested)
        self.score_combo.currentIndexChanged.connect(lambda _: self.redraw())
        self.repeat_button.clicked.connect(lambda: self._override("repeat"))
        self.blend_button.clicked.connect(lambda: self._override("blend"))
        self.clear_button.clicked.connect(self.overrides_cleared)
        self.adapt_button.clicked.connect(self.adapt_requested)
        self.plot.scene().sigMouseClicked.connect(self._on_click)

    # ----- what is shown -------------------------------------------------------------------
    def set_clip(self, frame_count: int, overrides: tuple[Override, ...]) -> None:
        """A newly shown clip: nothing scored yet, its own overrides."""
        self.results, self.run, self.before = [], None, None
        self.overrides = overrides
        self.plot.setXRange(0, max(frame_count - 1, 1), padding=0.01)
        self.selection.setRegion((0, 0))
        self.summary.setText("Check quality to see where the interpolation struggles.")
        self.redraw()

    def started(self, in_out: tuple[int, int]) -> None:
        self.results = []
        self.check_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self.summary.setText(f"Checking frames {in_out[0] + 1}–{in_out[1] - 1}…")
        self.redraw()

    def add(self, quality: FrameQuality) -> None:
        self.results.append(quality)
        if len(self.results) % 4 == 0:  # redrawing each frame would cost more than it shows
            self.redraw()

    def finished(self, run: QualityRun | None) -> None:
        """The check ended: with its run, or None when it stopped or failed."""
        self.check_button.setEnabled(True)
        self.stop_button.setEnabled(False)
        if run is None:
            self.summary.setText("Quality check stopped.")
            return
        previous = self.run
        if (
            previous is not None
            and previous.clip is run.clip
            and previous.in_out == run.in_out
            and previous.model != run.model
        ):
            self.before = previous
        self.run, self.results = run, run.results
        text = run.summary.describe().replace("\n", " · ")
        if self.before is not None:
            gain = run.summary.mean_psnr.get(MODEL, np.nan) - self.before.summary.mean_psnr.get(
                MODEL, np.nan
            )
            text = f"Against the previous model (dashed): {gain:+.2f} dB · " + text
        self.summary.setText(text)
        self.redraw()

    def set_overrides(self, overrides: tuple[Override, ...]) -> None:
        self.overrides = overrides
        self.redraw()

    def redraw(self) -> None:
        for item in self._items:
            self.plot.removeItem(item)
        self._items = []
        legend = self.plot.plotItem.legend
        if legend is not None:
            legend.clear()
        key = SCORES[self.score_combo.currentText()]
        for override in self.overrides:
            region = pg.LinearRegionItem(
                values=(override.first, override.last),
                movable=False,
                brush=OVERRIDE_BRUSH[override.fallback],
                pen=pg.mkPen(None),
            )
            region.setToolTip(f"export override: {override.describe()}")
            self._add(region)
        scored = [r for r in self.results if r.skipped is None]
        if scored:
            frames = np.array([r.frame for r in scored])
            for method in scored[0].psnr:
                values = np.array([getattr(r, key)[method] for r in scored])
                self._add(
                    pg.PlotDataItem(frames, values, pen=PENS.get(method), name=method),
                )
        if self.before is not None and self.before.results:
            kept = [r for r in self.before.results if r.skipped is None]
            self._add(
                pg.PlotDataItem(
                    [r.frame for r in kept],
                    [getattr(r, key)[MODEL] for r in kept],
                    pen=BEFORE_PEN,
                    name="before adapting",
                )
            )
        for r in self.results:
            if r.skipped == "cut":
                self._add(pg.InfiniteLine(r.frame, pen=CUT_PEN))

    def _add(self, item) -> None:
        self.plot.addItem(item)
        self._items.append(item)

    # ----- user actions --------------------------------------------------------------------
    def _on_click(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton or not self.results:
            return
        point = self.plot.plotItem.vb.mapSceneToView(event.scenePos())
        frame = int(round(point.x()))
        scored = [r.frame for r in self.results]
        nearest = min(scored, key=lambda f: abs(f - frame))
        self.choose(nearest)

    def choose(self, frame: int) -> None:
        """Select the pairs around `frame` (the frames k - 1 to k + 1) and ask to show it."""
        self.selection.setRegion((frame - 1, frame + 1))
        self.frame_chosen.emit(frame)

    @property
    def selected(self) -> tuple[int, int]:
        first, last = self.selection.getRegion()
        return int(round(first)), int(round(last))

    def _override(self, fallback: str) -> None:
        first, last = self.selected
        self.override_requested.emit(first, last, fallback)
