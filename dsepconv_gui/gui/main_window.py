"""The main window: clips, timeline, the linked views of one pair, the sampling-point
inspector, slow-motion preview, and the status of device, model and jobs."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import pyqtgraph as pg
import torch
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QAction, QIcon, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDockWidget,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from dsepconv_gui.base.errors import DSepConvError
from dsepconv_gui.frames.visualize import color_wheel_legend, flow_to_color
from dsepconv_gui.gui.export_dialog import ExportDialog
from dsepconv_gui.gui.image_view import ImageView, ViewLinker
from dsepconv_gui.gui.inspector import InspectorPanel, TapOverlay, taps_at
from dsepconv_gui.gui.jobs import JobContext, JobRunner
from dsepconv_gui.gui.settings import AppSettings
from dsepconv_gui.gui.slow_motion_panel import SlowMotionPanel
from dsepconv_gui.gui.timeline import Timeline, to_pixmap
from dsepconv_gui.interpolation.bisection import intermediate_frames
from dsepconv_gui.interpolation.interpolator import Interpolator
from dsepconv_gui.interpolation.pair_analysis import PairAnalysis, analyse_pair
from dsepconv_gui.model.device import resolve_device
from dsepconv_gui.model.weights import resolve_model
from dsepconv_gui.video.clips import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, Clip, demo_clip, open_clip

THUMBNAILS = 16
SLOWMO_CACHE_FRAMES = 2000  # interpolated preview frames kept between plays


class ErrorBanner(QWidget):
    """A dismissible message across the top of the window: errors never pass silently."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setStyleSheet("color: white;")
        close = QPushButton("Dismiss")
        close.clicked.connect(self.hide)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.addWidget(self.label, stretch=1)
        layout.addWidget(close)
        self.setStyleSheet("background-color: #a33;")
        self.setAutoFillBackground(True)
        self.hide()

    def show_message(self, text: str) -> None:
        self.label.setText(text)
        self.show()


class MainWindow(QMainWindow):
    analysis_ready = Signal(object)
    clips_opened = Signal(int)
    worker_message = Signal(str)

    def __init__(self, settings: AppSettings | None = None) -> None:
        super().__init__()
        self.setWindowTitle("DSepConv — frame interpolation inspector")
        self.settings = settings or AppSettings()
        self.jobs = JobRunner(self)
        self.clips: list[Clip] = []
        self.active: Clip | None = None
        self.analysis: PairAnalysis | None = None
        self.interpolator: Interpolator | None = None
        self.slowmo_cache: dict[tuple, list[np.ndarray]] = {}
        self.pinned = False
        self._job_started: dict[str, float] = {}
        self.setAcceptDrops(True)
        self._build_views()
        self._build_docks()
        self._build_toolbar_and_menus()
        self._build_status_bar()
        self._connect()
        self._restore_settings()
        self.load_model(self.settings.get("model") or None, self.settings.get("device"))
        if self.settings.problem:
            self.banner.show_message(self.settings.problem)

    # ----- construction -------------------------------------------------------------------
    def _build_views(self) -> None:
        self.banner = ErrorBanner()
        self.views: dict[str, ImageView] = {}
        # (key, title, colour map, row, column, rows spanned): each frame's offsets, mask and
        # total weight side by side, since the weights decide the blend.
        specs = [
            ("frame_a", "Frame A", None, 0, 0, 1),
            ("output", "Interpolated", None, 0, 1, 1),
            ("frame_b", "Frame B", None, 0, 2, 1),
            ("truth", "True middle frame", None, 0, 3, 1),
            ("result_a", "Deformable result of A", None, 1, 0, 1),
            ("error", "Error |output − truth|", "inferno", 1, 1, 1),
            ("result_b", "Deformable result of B", None, 1, 2, 1),
            ("legend", "Offset colours", None, 1, 3, 3),
            ("offsets_a", "Offsets of A", None, 2, 0, 1),
            ("mask_a", "Mask of A (mean over taps)", "viridis", 2, 1, 1),
            ("weight_a", "Weight of A (Σ v·h·m)", "viridis", 2, 2, 1),
            ("offsets_b", "Offsets of B", None, 3, 0, 1),
            ("mask_b", "Mask of B (mean over taps)", "viridis", 3, 1, 1),
            ("weight_b", "Weight of B (Σ v·h·m)", "viridis", 3, 2, 1),
            ("peer_average", "Frame average", None, 4, 0, 1),
            ("peer_dis", "DIS optical flow", None, 4, 1, 1),
            ("peer_average_error", "Frame average error", "inferno", 4, 2, 1),
            ("peer_dis_error", "DIS flow error", "inferno", 4, 3, 1),
        ]
        grid = QGridLayout()
        grid.setSpacing(4)
        for key, title, cmap, row, column, rows in specs:
            levels = (0.0, 64.0) if cmap == "inferno" else (0.0, 1.0)
            view = ImageView(title, colormap=cmap, levels=levels)
            self.views[key] = view
            grid.addWidget(view, row, column, rows, 1)
        self.linker = ViewLinker([view for key, view in self.views.items() if key != "legend"])
        self._fitted_size: tuple[int, int] | None = None
        self.views["legend"].set_image(color_wheel_legend(129))
        self.views["legend"].viewbox.setRange(xRange=(0, 129), yRange=(0, 129), padding=0)
        self.overlay_a = TapOverlay(self.views["frame_a"])
        self.overlay_b = TapOverlay(self.views["frame_b"])
        self.arrows = {
            key: pg.PlotCurveItem(connect="pairs", pen=pg.mkPen(0, 0, 0, 200, width=1))
            for key in ("offsets_a", "offsets_b")
        }
        for key, item in self.arrows.items():
            item.setZValue(5)
            self.views[key].viewbox.addItem(item)
        grid_widget = QWidget()
        grid_widget.setLayout(grid)
        self.timeline = Timeline()
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(grid_widget)
        splitter.addWidget(self.timeline)
        splitter.setStretchFactor(0, 5)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.banner)
        layout.addWidget(splitter, stretch=1)
        self.setCentralWidget(central)
        self._set_comparison_visible(False)

    def _build_docks(self) -> None:
        self.clip_list = QListWidget()
        self.clip_list.setIconSize(QSize(96, 54))
        self.clip_list.setMinimumWidth(230)
        self.clip_list.setWordWrap(True)
        self.open_button = QPushButton("Open clip…")
        clips_widget = QWidget()
        layout = QVBoxLayout(clips_widget)
        layout.addWidget(self.open_button)
        layout.addWidget(self.clip_list)
        self.clips_dock = self._dock("Clips", clips_widget, Qt.DockWidgetArea.LeftDockWidgetArea)

        self.step_combo = QComboBox()
        self.step_combo.addItems(["k and k+1", "k and k+2 (k+1 is the truth)"])
        self.compare_check = QCheckBox("Compare with classical interpolators")
        self.arrows_check = QCheckBox("Arrows on offset views")
        self.tap_combo = QComboBox()
        self.inspector = InspectorPanel()
        options = QWidget()
        form = QVBoxLayout(options)
        form.addWidget(QLabel("Input pair"))
        form.addWidget(self.step_combo)
        form.addWidget(self.compare_check)
        form.addWidget(QLabel("Offset view shows"))
        form.addWidget(self.tap_combo)
        form.addWidget(self.arrows_check)
        form.addWidget(self.inspector, stretch=1)
        self.inspector_dock = self._dock(
            "Inspector", options, Qt.DockWidgetArea.RightDockWidgetArea
        )

        self.slowmo = SlowMotionPanel()
        self.slowmo_dock = self._dock(
            "Slow motion", self.slowmo, Qt.DockWidgetArea.RightDockWidgetArea
        )
        self.tabifyDockWidget(self.inspector_dock, self.slowmo_dock)
        self.inspector_dock.raise_()

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _build_toolbar_and_menus(self) -> None:
        toolbar = self.addToolBar("Main")
        toolbar.setObjectName("Main")
        self.open_action = QAction("Open clip…", self)
        self.open_action.setShortcut(QKeySequence.StandardKey.Open)
        self.export_action = QAction("Export…", self)
        self.export_action.setShortcut(QKeySequence("Ctrl+E"))
        self.export_action.setEnabled(False)
        self.cancel_action = QAction("Cancel", self)
        self.cancel_action.setEnabled(False)
        toolbar.addAction(self.open_action)
        toolbar.addAction(self.export_action)
        toolbar.addAction(self.cancel_action)
        toolbar.addSeparator()
        toolbar.addWidget(QLabel(" Device "))
        self.device_combo = QComboBox()
        self.device_combo.addItem("auto")
        self.device_combo.addItem("cpu")
        for index in range(torch.cuda.device_count()):
            self.device_combo.addItem(f"cuda:{index}")
        toolbar.addWidget(self.device_combo)
        self.model_button = QPushButton("Model…")
        self.default_model_button = QPushButton("Default model")
        toolbar.addWidget(self.model_button)
        toolbar.addWidget(self.default_model_button)
        menu = self.menuBar().addMenu("&File")
        menu.addAction(self.open_action)
        menu.addAction(self.export_action)
        quit_action = QAction("Quit", self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        menu.addAction(quit_action)
        view_menu = self.menuBar().addMenu("&View")
        for dock in (self.clips_dock, self.inspector_dock, self.slowmo_dock):
            view_menu.addAction(dock.toggleViewAction())

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(260)
        self.progress.setTextVisible(True)
        self.progress.hide()
        self.device_label = QLabel()
        self.model_label = QLabel()
        bar.addPermanentWidget(self.progress)
        bar.addPermanentWidget(self.device_label)
        bar.addPermanentWidget(self.model_label)

    def _connect(self) -> None:
        self.open_action.triggered.connect(self.open_dialog)
        self.open_button.clicked.connect(self.open_dialog)
        self.export_action.triggered.connect(self.open_export_dialog)
        self.timeline.export_requested.connect(self.open_export_dialog)
        self.cancel_action.triggered.connect(self.cancel_jobs)
        self.clip_list.currentRowChanged.connect(self._activate_clip)
        self.timeline.position_changed.connect(lambda _: self.request_analysis())
        self.step_combo.currentIndexChanged.connect(lambda _: self.request_analysis())
        self.compare_check.toggled.connect(self._on_compare_toggled)
        self.arrows_check.toggled.connect(lambda _: self._show_offsets())
        self.tap_combo.currentIndexChanged.connect(lambda _: self._show_offsets())
        self.device_combo.currentTextChanged.connect(
            lambda text: self.load_model(self._model_spec, text)
        )
        self.model_button.clicked.connect(self._choose_model)
        self.default_model_button.clicked.connect(
            lambda: self.load_model(None, self.device_combo.currentText())
        )
        self.views["output"].hovered.connect(self._on_hover)
        self.views["output"].clicked.connect(self._on_click)
        self.worker_message.connect(lambda text: self.statusBar().showMessage(text, 10000))
        self.jobs.result.connect(self._on_job_result)
        self.jobs.failed.connect(self._on_job_failed)
        self.jobs.progress.connect(self._on_job_progress)
        self.jobs.busy_changed.connect(self._on_busy_changed)
        self.slowmo.play_requested.connect(self.start_slow_motion)
        self.timeline.range_changed.connect(lambda *_: None)
        for keys, handler in (
            (Qt.Key.Key_Left, lambda: self.timeline.step(-1)),
            (Qt.Key.Key_Right, lambda: self.timeline.step(1)),
            (Qt.Key.Key_Home, lambda: self.timeline.set_position(0)),
            (Qt.Key.Key_End, lambda: self.timeline.set_position(self.timeline.frame_count - 1)),
            (Qt.Key.Key_I, self.timeline.set_in_point),
            (Qt.Key.Key_O, self.timeline.set_out_point),
        ):
            shortcut = QShortcut(QKeySequence(keys), self)
            shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
            shortcut.activated.connect(handler)

    def _restore_settings(self) -> None:
        geometry = self.settings.geometry("geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1500, 950)
        state = self.settings.geometry("window_state")
        if state is not None:
            self.restoreState(state)
        self.step_combo.setCurrentIndex(1 if self.settings.get("step") == 2 else 0)
        self.compare_check.setChecked(self.settings.get("compare"))
        self.arrows_check.setChecked(self.settings.get("arrows"))
        factor = self.settings.get("slowmo_factor")
        self.slowmo.factor.setCurrentText(f"×{factor}" if factor in (2, 4, 8) else "×4")
        self.slowmo.fps.setValue(self.settings.get("slowmo_fps"))
        device = self.settings.get("device")
        if self.device_combo.findText(device) >= 0:
            self.device_combo.blockSignals(True)
            self.device_combo.setCurrentText(device)
            self.device_combo.blockSignals(False)

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt override
        self.slowmo.timer.stop()
        self.jobs.shutdown()
        self.settings.set("geometry", self.saveGeometry())
        self.settings.set("window_state", self.saveState())
        self.settings.set("step", self.step)
        self.settings.set("compare", self.compare_check.isChecked())
        self.settings.set("arrows", self.arrows_check.isChecked())
        self.settings.set("slowmo_factor", self.slowmo.factor_value)
        self.settings.set("slowmo_fps", self.slowmo.fps.value())
        self.settings.set("device", self.device_combo.currentText())
        self.settings.set("model", self._model_spec or "")
        self.settings.sync()
        for clip in self.clips:
            clip.close()
        super().closeEvent(event)

    # ----- model and device ---------------------------------------------------------------
    @property
    def step(self) -> int:
        return 2 if self.step_combo.currentIndex() == 1 else 1

    def load_model(self, spec: str | None, device_spec: str = "auto") -> bool:
        """Switch model or device; on failure keep the previous one and say why."""
        try:
            device = resolve_device(device_spec)
            loaded, warning = resolve_model(spec, device.device)
        except DSepConvError as exc:
            self.banner.show_message(str(exc))
            return False
        self.jobs.cancel_all()
        # Called from worker threads (a memory fallback): the signal carries it to the UI thread.
        self.interpolator = Interpolator(loaded, device, log=self.worker_message.emit)
        self._model_spec = spec
        self.device_label.setText(f"Device: {device}")
        self.model_label.setText(
            f"Model: {Path(loaded.source).name} (n={loaded.config.kernel_size})"
        )
        self.model_label.setToolTip(f"{loaded.source}\n{loaded.config.to_dict()}")
        if warning:
            self.statusBar().showMessage(warning, 10000)
        n = loaded.config.kernel_size
        self.tap_combo.blockSignals(True)
        self.tap_combo.clear()
        self.tap_combo.addItem("weighted mean displacement")
        self.tap_combo.addItems([f"tap ({i}, {j})" for i in range(n) for j in range(n)])
        self.tap_combo.blockSignals(False)
        self.slowmo_cache.clear()
        self.request_analysis()
        return True

    _model_spec: str | None = None

    def _choose_model(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open model", str(Path.cwd() / "models"), "Models (*.safetensors)"
        )
        if path:
            self.load_model(path, self.device_combo.currentText())

    # ----- clips --------------------------------------------------------------------------
    def open_dialog(self) -> None:
        patterns = " ".join(f"*{ext}" for ext in VIDEO_EXTENSIONS + IMAGE_EXTENSIONS)
        start = self.settings.get("last_folder") or str(Path.home())
        paths, _ = QFileDialog.getOpenFileNames(
            self,
            "Open clips (or pick one image of a numbered sequence)",
            start,
            f"Clips ({patterns})",
        )
        if paths:
            self.settings.set("last_folder", str(Path(paths[0]).parent))
            self.open_paths(
                [
                    Path(p).parent if Path(p).suffix.lower() in IMAGE_EXTENSIONS else Path(p)
                    for p in paths
                ]
            )

    def open_paths(self, paths: list[Path]) -> None:
        """Open clips in a worker; each one that fails is reported by name."""

        def job(context: JobContext):
            opened = []
            for done, path in enumerate(paths):
                context.progress(done, len(paths), f"opening {Path(path).name}")
                try:
                    clip = open_clip(path)
                    opened.append((clip, thumbnail(clip.read(0), 96)))
                except DSepConvError as exc:
                    opened.append((None, str(exc)))
            return opened

        self._start("open", job)

    def open_demo(self) -> None:
        clip = demo_clip()
        self._add_clips([(clip, thumbnail(clip.read(0), 96))])

    def _add_clips(self, opened: list) -> None:
        errors = [item for clip, item in opened if clip is None]
        for clip, icon in opened:
            if clip is None:
                continue
            self.clips.append(clip)
            item = QListWidgetItem(
                QIcon(to_pixmap(icon)), f"{clip.info.path.name}\n{clip.info.describe()}"
            )
            item.setToolTip("\n".join([str(clip.info.path), *clip.notes]))
            self.clip_list.addItem(item)
        notes = [
            f"{clip.info.path.name}: {note}"
            for clip, _ in opened
            if clip is not None
            for note in clip.notes
        ]
        if errors or notes:  # notes say what was converted or is damaged: the user should know
            self.banner.show_message("\n".join(errors + notes))
        count = len(opened) - len(errors)
        if count:
            self.clip_list.setCurrentRow(len(self.clips) - count)
        self.clips_opened.emit(count)

    def _activate_clip(self, row: int) -> None:
        if not 0 <= row < len(self.clips):
            return
        self.active = self.clips[row]
        self.analysis = None
        self.timeline.set_clip(len(self.active), self.active.timestamps)
        self.export_action.setEnabled(len(self.active) > 1)
        clip = self.active

        def job(context: JobContext):
            count = min(THUMBNAILS, len(clip))
            indices = np.linspace(0, len(clip) - 1, count).round().astype(int)
            thumbs = []
            for done, index in enumerate(indices):
                context.progress(done, count, "thumbnails")
                thumbs.append((int(index), thumbnail(clip.read(int(index)), 120)))
            return clip, thumbs

        self._start("thumbnails", job)
        self.request_analysis()

    # ----- analysis of the selected pair ---------------------------------------------------
    def request_analysis(self) -> None:
        """Analyse the pair at the playhead; a newer request supersedes a running one."""
        if self.active is None or self.interpolator is None:
            return
        clip, interpolator, index = self.active, self.interpolator, self.timeline.position
        step, peers = self.step, self.compare_check.isChecked()
        self._start(
            "analysis",
            lambda context: analyse_pair(interpolator, clip, index, step, peers, context.check),
        )

    def _show_analysis(self, analysis: PairAnalysis) -> None:
        self.analysis = analysis
        result = analysis.result
        term_a, term_b = result.terms
        v = self.views
        v["frame_a"].set_image(analysis.frame_a)
        v["frame_a"].set_title(f"Frame A (frame {analysis.index_a})")
        v["frame_b"].set_image(analysis.frame_b)
        v["frame_b"].set_title(f"Frame B (frame {analysis.index_b})")
        v["output"].set_image(result.frame)
        v["output"].set_title(
            f"Interpolated ({result.seconds:.2f} s on {result.device.split(' ')[0]})"
        )
        v["result_a"].set_image(to_uint8(term_a.result))
        v["result_b"].set_image(to_uint8(term_b.result))
        for key, term in (("mask_a", term_a), ("mask_b", term_b)):
            if term.mask is not None:
                v[key].set_image(term.mask.mean(axis=0), levels=(0.0, 1.0))
            else:
                v[key].set_image(None)
                v[key].set_title("No masks in this model")
        for key, weight in zip(("weight_a", "weight_b"), analysis.total_weights):
            v[key].set_image(weight, levels=(0.0, 1.0))
        if analysis.truth is not None:
            v["truth"].set_image(analysis.truth)
            v["truth"].set_title(f"True middle frame (frame {analysis.truth_index})")
            v["error"].set_image(analysis.error_map, levels=(0.0, 64.0))
            v["error"].set_title(f"Error |output − truth| · PSNR {analysis.psnr:.2f} dB")
        else:
            v["truth"].set_image(None)
            v["truth"].set_title("True middle frame: choose 'k and k+2'")
            v["error"].set_image(None)
            v["error"].set_title("Error: needs the true middle frame")
        for name, key in (("frame average", "peer_average"), ("DIS flow", "peer_dis")):
            frame = analysis.peers.get(name)
            v[key].set_image(frame)
            score = analysis.peer_psnr.get(name)
            v[key].set_title(f"{name}" + (f" · PSNR {score:.2f} dB" if score is not None else ""))
            if frame is not None and analysis.truth is not None:
                v[key + "_error"].set_image(
                    np.abs(frame.astype(np.float32) - analysis.truth).mean(axis=2), (0.0, 64.0)
                )
            else:
                v[key + "_error"].set_image(None)
        self._show_offsets()
        size = result.frame.shape[1], result.frame.shape[0]
        if size != self._fitted_size:
            self._fitted_size = size
            self.linker.fit(*size)
        if self.inspector.pixel is not None:
            self.inspect(*self.inspector.pixel)
        self.analysis_ready.emit(analysis)

    def _show_offsets(self) -> None:
        if self.analysis is None:
            return
        tap = self.tap_combo.currentIndex() - 1
        fields = []
        for term, (mean_dy, mean_dx) in zip(
            self.analysis.result.terms, self.analysis.mean_displacements
        ):
            fields.append(
                (mean_dy, mean_dx) if tap < 0 else (term.offset_y[tap], term.offset_x[tap])
            )
        scale = max(max(float(np.hypot(dy, dx).max(initial=0.0)) for dy, dx in fields), 1e-3)
        what = "weighted mean displacement" if tap < 0 else self.tap_combo.currentText()
        for key, (dy, dx), label in zip(("offsets_a", "offsets_b"), fields, ("A", "B")):
            self.views[key].set_image(flow_to_color(dy, dx, scale))
            self.views[key].set_title(f"Offsets of {label}: {what} (full colour = {scale:.1f} px)")
            self._draw_arrows(key, dy, dx)
        self.views["legend"].set_title(
            f"Offset colours: direction; saturation up to {scale:.1f} px"
        )

    def _draw_arrows(self, key: str, dy: np.ndarray, dx: np.ndarray) -> None:
        item = self.arrows[key]
        if not self.arrows_check.isChecked():
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

    # ----- the sampling-point inspector ----------------------------------------------------
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
        self.overlay_a.show(taps_a, y, x)
        self.overlay_b.show(taps_b, y, x)
        self.inspector.show(y, x, taps_a, taps_b, term_a, term_b, result.frame[y, x])

    def _on_hover(self, x: float, y: float) -> None:
        if not self.pinned:
            self.inspect(int(np.floor(y)), int(np.floor(x)))

    def _on_click(self, x: float, y: float) -> None:
        self.pinned = (
            not self.pinned
            if self.inspector.pixel == (int(np.floor(y)), int(np.floor(x)))
            else True
        )
        self.inspect(int(np.floor(y)), int(np.floor(x)))
        self.statusBar().showMessage(
            "Inspector pinned (click the same pixel to follow the mouse)"
            if self.pinned
            else "Inspector follows the mouse",
            4000,
        )

    # ----- comparison -----------------------------------------------------------------------
    def _on_compare_toggled(self, checked: bool) -> None:
        self._set_comparison_visible(checked)
        self.request_analysis()

    def _set_comparison_visible(self, visible: bool) -> None:
        for key in ("peer_average", "peer_dis", "peer_average_error", "peer_dis_error"):
            self.views[key].setVisible(visible)
        if visible and self._fitted_size is not None:
            self.linker.fit(*self._fitted_size)

    # ----- slow motion ----------------------------------------------------------------------
    def start_slow_motion(self) -> None:
        if self.active is None or self.interpolator is None:
            self.banner.show_message("Open a clip first.")
            return
        clip, interpolator = self.active, self.interpolator
        first, last = self.timeline.in_out
        if last <= first:
            first, last = 0, len(clip) - 1
        factor, scale = self.slowmo.factor_value, self.slowmo.scale_value
        cache = self.slowmo_cache

        def job(context: JobContext):
            frames, labels = [], []
            total = last - first
            for done, k in enumerate(range(first, last)):
                context.progress(done, total, f"slow motion ×{factor}")
                a, b = resize(clip.read(k), scale), resize(clip.read(k + 1), scale)
                key = (id(clip), k, factor, scale, id(interpolator))
                if key not in cache:
                    if sum(len(v) for v in cache.values()) > SLOWMO_CACHE_FRAMES:
                        cache.clear()  # bounded memory: older ranges are recomputed if needed
                    between = []
                    for frame in intermediate_frames(
                        lambda p, q: interpolator.interpolate(p, q).frame, a, b, factor
                    ):
                        context.check()
                        between.append(frame)
                    cache[key] = between
                frames.append(a)
                labels.append(f"frame {k}")
                for step, frame in enumerate(cache[key], start=1):
                    frames.append(frame)
                    labels.append(f"frame {k} + {step}/{factor}")
            frames.append(resize(clip.read(last), scale))
            labels.append(f"frame {last}")
            h, w = frames[0].shape[:2]
            size_note = (
                "full resolution"
                if scale == 1.0
                else f"PREVIEW at {w}×{h} ({scale:g}× of {clip.info.width}×{clip.info.height})"
            )
            return (
                frames,
                labels,
                f"Frames {first}–{last} at ×{factor}: {len(frames)} frames, {size_note}",
            )

        self._start("slowmo", job)

    # ----- export -----------------------------------------------------------------------------
    def open_export_dialog(self) -> ExportDialog | None:
        """The export dialog for the active clip and the timeline's in/out range (one at a time)."""
        if self.active is None or self.interpolator is None:
            self.banner.show_message("Open a clip and load a model before exporting")
            return None
        dialog = getattr(self, "export_dialog", None)
        if dialog is not None and dialog.is_running():
            dialog.raise_()
            return dialog
        if dialog is not None:
            dialog.deleteLater()
        interpolator = self.interpolator
        self.export_dialog = ExportDialog(
            self.active,
            self.timeline.in_out,
            self.jobs,
            lambda a, b: interpolator.interpolate(a, b).frame,
            self,
        )
        self.export_dialog.finished_export.connect(
            lambda summary: self.statusBar().showMessage(f"Exported {summary.output}", 10000)
        )
        self.export_dialog.show()
        return self.export_dialog

    # ----- jobs -------------------------------------------------------------------------------
    def _start(self, channel: str, fn) -> None:
        self._job_started[channel] = time.monotonic()
        self.jobs.submit(channel, fn)

    def cancel_jobs(self) -> None:
        for channel in ("analysis", "slowmo", "open", "thumbnails"):
            self.jobs.cancel(channel)
        self.statusBar().showMessage("Cancelled", 3000)

    def _on_job_result(self, channel: str, value) -> None:
        if channel == "analysis":
            self._show_analysis(value)
        elif channel == "open":
            self._add_clips(value)
        elif channel == "thumbnails":
            clip, thumbs = value
            if clip is self.active:
                self.timeline.set_thumbnails(thumbs)
        elif channel == "slowmo":
            frames, labels, note = value
            self.slowmo_dock.raise_()
            self.slowmo.start(frames, labels, note)

    def _on_job_failed(self, channel: str, message: str) -> None:
        self.banner.show_message(f"{channel}: {message}")

    def _on_job_progress(self, channel: str, done: int, total: int, text: str) -> None:
        if channel not in ("slowmo", "open") or total <= 0:
            return
        elapsed = time.monotonic() - self._job_started.get(channel, time.monotonic())
        left = elapsed / done * (total - done) if done else 0.0
        self.progress.show()
        self.progress.setRange(0, total)
        self.progress.setValue(done)
        self.progress.setFormat(
            f"{text}: {done}/{total}" + (f", {left:.0f} s left" if done else "")
        )

    def _on_busy_changed(self, channel: str, busy: bool) -> None:
        active = any(self.jobs.is_busy(c) for c in ("analysis", "slowmo", "open"))
        self.cancel_action.setEnabled(active)
        if not self.jobs.is_busy("slowmo") and not self.jobs.is_busy("open"):
            self.progress.hide()
        if channel == "analysis":
            self.statusBar().showMessage("Interpolating…" if busy else "", 0 if busy else 1)

    # ----- drag and drop ----------------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt override
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt override
        paths = [Path(url.toLocalFile()) for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            self.open_paths(paths)


def thumbnail(frame: np.ndarray, width: int) -> np.ndarray:
    h, w = frame.shape[:2]
    height = max(1, round(h * width / max(w, 1)))
    return cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)


def resize(frame: np.ndarray, scale: float) -> np.ndarray:
    if scale == 1.0:
        return frame
    h, w = frame.shape[:2]
    return cv2.resize(
        frame, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA
    )


def to_uint8(image: np.ndarray) -> np.ndarray:
    return np.clip(image * 255.0 + 0.5, 0, 255).astype(np.uint8)
