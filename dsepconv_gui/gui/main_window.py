"""The main window: layout and wiring only. The state and the work are in session.py, the
views of a pair in pair_views.py, the jobs in jobs.py."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QAction, QIcon, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QDockWidget,
    QFileDialog,
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
from dsepconv_gui.gui.error_banner import ErrorBanner
from dsepconv_gui.gui.export_dialog import ExportDialog
from dsepconv_gui.gui.jobs import Job, JobRunner, LatestJob
from dsepconv_gui.gui.pair_options import PairOptions
from dsepconv_gui.gui.pair_views import PairViews
from dsepconv_gui.gui.session import OpenedClip, Session, SlowMotion, clip_paths, demo_opened
from dsepconv_gui.gui.settings import AppSettings
from dsepconv_gui.gui.slow_motion_panel import SlowMotionPanel
from dsepconv_gui.gui.timeline import Timeline, to_pixmap
from dsepconv_gui.interpolation.bisection import SUPPORTED_FACTORS, factor_label
from dsepconv_gui.video.clips import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS


class MainWindow(QMainWindow):
    analysis_ready = Signal(object)
    clips_opened = Signal(int)
    worker_message = Signal(str)
    job_failed = Signal(str, str)  # job name, message (also shown in the banner)

    def __init__(self, settings: AppSettings | None = None) -> None:
        super().__init__()
        self.setWindowTitle("DSepConv — frame interpolation inspector")
        self.settings = settings or AppSettings()
        # Called from worker threads (a memory fallback): the signal carries it to the UI thread.
        self.session = Session(log=self.worker_message.emit)
        self.jobs = JobRunner(self)  # the window's own work; an export runs on its dialog's
        self.slots = {
            name: LatestJob(self.jobs, name)
            for name in ("analysis", "thumbnails", "open", "slowmo")
        }
        self.pinned = False
        self.export_dialog: ExportDialog | None = None
        self.setAcceptDrops(True)
        self._build()
        self._connect()
        self._restore_settings()
        self.load_model(self.settings.get("model") or None, self.settings.get("device"))
        if self.settings.problem:
            self.banner.show_message(self.settings.problem)

    # ----- construction -------------------------------------------------------------------
    def _build(self) -> None:
        self.banner = ErrorBanner()
        self.options = PairOptions()
        self.pair_views = PairViews(self.options.inspector)
        self.timeline = Timeline()
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.pair_views)
        splitter.addWidget(self.timeline)
        splitter.setStretchFactor(0, 5)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.banner)
        layout.addWidget(splitter, stretch=1)
        self.setCentralWidget(central)

        self.clip_list = QListWidget()
        self.clip_list.setIconSize(QSize(96, 54))
        self.clip_list.setMinimumWidth(230)
        self.clip_list.setWordWrap(True)
        self.open_button = QPushButton("Open clip…")
        clips_widget = QWidget()
        clips_layout = QVBoxLayout(clips_widget)
        clips_layout.addWidget(self.open_button)
        clips_layout.addWidget(self.clip_list)
        left, right = Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea
        self.clips_dock = self._dock("Clips", clips_widget, left)
        self.inspector_dock = self._dock("Inspector", self.options, right)
        self.slowmo = SlowMotionPanel()
        self.slowmo_dock = self._dock("Slow motion", self.slowmo, right)
        self.tabifyDockWidget(self.inspector_dock, self.slowmo_dock)
        self.inspector_dock.raise_()

        toolbar = self.addToolBar("Main")
        toolbar.setObjectName("Main")
        self.open_action = QAction("Open clip…", self)
        self.open_action.setShortcut(QKeySequence.StandardKey.Open)
        self.export_action = QAction("Export…", self)
        self.export_action.setShortcut(QKeySequence("Ctrl+E"))
        self.export_action.setEnabled(False)
        self.cancel_action = QAction("Cancel", self)
        self.cancel_action.setEnabled(False)
        for action in (self.open_action, self.export_action, self.cancel_action):
            toolbar.addAction(action)
        toolbar.addSeparator()
        toolbar.addWidget(QLabel(" Device "))
        self.device_combo = QComboBox()
        self.device_combo.addItems(
            ["auto", "cpu"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]
        )
        toolbar.addWidget(self.device_combo)
        self.model_button = QPushButton("Model…")
        self.default_model_button = QPushButton("Default model")
        toolbar.addWidget(self.model_button)
        toolbar.addWidget(self.default_model_button)
        menu = self.menuBar().addMenu("&File")
        quit_action = QAction("Quit", self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        for action in (self.open_action, self.export_action, quit_action):
            menu.addAction(action)
        view_menu = self.menuBar().addMenu("&View")
        for dock in (self.clips_dock, self.inspector_dock, self.slowmo_dock):
            view_menu.addAction(dock.toggleViewAction())

        self.progress = QProgressBar()
        self.progress.setMaximumWidth(260)
        self.progress.hide()
        self.device_label, self.model_label = QLabel(), QLabel()
        for widget in (self.progress, self.device_label, self.model_label):
            self.statusBar().addPermanentWidget(widget)

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _connect(self) -> None:
        self.open_action.triggered.connect(self.open_dialog)
        self.open_button.clicked.connect(self.open_dialog)
        self.export_action.triggered.connect(self.open_export_dialog)
        self.timeline.export_requested.connect(self.open_export_dialog)
        self.cancel_action.triggered.connect(self.cancel_jobs)
        self.clip_list.currentRowChanged.connect(self._activate_clip)
        self.timeline.position_changed.connect(lambda _: self.request_analysis())
        self.options.pair_changed.connect(self._on_pair_options)
        self.options.views_changed.connect(self._on_view_options)
        self.device_combo.currentTextChanged.connect(
            lambda text: self.load_model(self.session.model_spec, text)
        )
        self.model_button.clicked.connect(self._choose_model)
        self.default_model_button.clicked.connect(
            lambda: self.load_model(None, self.device_combo.currentText())
        )
        self.pair_views.views["output"].hovered.connect(self._on_hover)
        self.pair_views.views["output"].clicked.connect(self._on_click)
        self.worker_message.connect(lambda text: self.statusBar().showMessage(text, 10000))
        self.slowmo.play_requested.connect(self.start_slow_motion)
        for slot in self.slots.values():
            slot.busy_changed.connect(self._on_busy_changed)
        self.slots["analysis"].busy_changed.connect(
            lambda busy: self.statusBar().showMessage(
                "Interpolating…" if busy else "", 0 if busy else 1
            )
        )
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
        geometry, state = self.settings.geometry("geometry"), self.settings.geometry("window_state")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1500, 950)
        if state is not None:
            self.restoreState(state)
        self.options.set_step(self.settings.get("step"))
        self.options.compare_check.setChecked(self.settings.get("compare"))
        self.options.arrows_check.setChecked(self.settings.get("arrows"))
        factor = self.settings.get("slowmo_factor")
        self.slowmo.factor.setCurrentText(
            factor_label(factor if factor in SUPPORTED_FACTORS else 4)
        )
        self.slowmo.fps.setValue(self.settings.get("slowmo_fps"))
        if self.device_combo.findText(self.settings.get("device")) >= 0:
            self.device_combo.blockSignals(True)
            self.device_combo.setCurrentText(self.settings.get("device"))
            self.device_combo.blockSignals(False)

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt override
        self.slowmo.timer.stop()
        self.jobs.shutdown()
        if self.export_dialog is not None:
            self.export_dialog.close()  # cancels a running export, which removes its partial file
            self.export_dialog.jobs.wait()
        for key, value in (
            ("geometry", self.saveGeometry()),
            ("window_state", self.saveState()),
            ("step", self.step),
            ("compare", self.options.compare_check.isChecked()),
            ("arrows", self.options.arrows_check.isChecked()),
            ("slowmo_factor", self.slowmo.factor_value),
            ("slowmo_fps", self.slowmo.fps.value()),
            ("device", self.device_combo.currentText()),
            ("model", self.session.model_spec or ""),
        ):
            self.settings.set(key, value)
        self.settings.sync()
        self.session.close()
        super().closeEvent(event)

    # ----- model and device ---------------------------------------------------------------
    @property
    def step(self) -> int:
        return self.options.step

    @property
    def interpolator(self):
        return self.session.interpolator

    def load_model(self, spec: str | None, device_spec: str = "auto") -> bool:
        """Switch model or device; on failure keep the previous one and say why. The window's
        own jobs restart with it; a running export keeps the model it started with."""
        try:
            warning = self.session.load_model(spec, device_spec)
        except DSepConvError as exc:
            self.banner.show_message(str(exc))
            return False
        for name in ("analysis", "slowmo"):
            self.slots[name].cancel()
        loaded = self.session.interpolator.loaded
        self.device_label.setText(f"Device: {self.session.interpolator.device}")
        self.model_label.setText(
            f"Model: {Path(loaded.source).name} (n={loaded.config.kernel_size})"
        )
        self.model_label.setToolTip(f"{loaded.source}\n{loaded.config.to_dict()}")
        if warning:
            self.statusBar().showMessage(warning, 10000)
        self.options.set_kernel_size(loaded.config.kernel_size)
        self.request_analysis()
        return True

    def _choose_model(self) -> None:
        start = str(Path.cwd() / "models")
        path, _ = QFileDialog.getOpenFileName(self, "Open model", start, "Models (*.safetensors)")
        if path:
            self.load_model(path, self.device_combo.currentText())

    # ----- clips --------------------------------------------------------------------------
    def open_dialog(self) -> None:
        patterns = " ".join(f"*{ext}" for ext in VIDEO_EXTENSIONS + IMAGE_EXTENSIONS)
        start = self.settings.get("last_folder") or str(Path.home())
        title = "Open clips (or pick one image of a numbered sequence)"
        paths, _ = QFileDialog.getOpenFileNames(self, title, start, f"Clips ({patterns})")
        if paths:
            self.settings.set("last_folder", str(Path(paths[0]).parent))
            self.open_paths(clip_paths([Path(p) for p in paths]))

    def open_paths(self, paths: list[Path]) -> None:
        """Open clips in a worker; each one that fails is reported by name."""
        job = self._start("open", self.session.open_job(paths))
        job.returned.connect(self._add_clips)

    def open_demo(self) -> None:
        self._add_clips([demo_opened()])

    def _add_clips(self, opened: list[OpenedClip]) -> None:
        first_new = len(self.session.clips)
        messages = self.session.add(opened)
        for clip, item in ((o.clip, o) for o in opened if o.clip is not None):
            entry = QListWidgetItem(
                QIcon(to_pixmap(item.icon)), f"{clip.info.path.name}\n{clip.info.describe()}"
            )
            entry.setToolTip("\n".join([str(clip.info.path), *clip.notes]))
            self.clip_list.addItem(entry)
        if messages:  # failures, and notes on what was converted or is damaged
            self.banner.show_message("\n".join(messages))
        count = len(self.session.clips) - first_new
        if count:
            self.clip_list.setCurrentRow(first_new)
        self.clips_opened.emit(count)

    def _activate_clip(self, row: int) -> None:
        clip = self.session.activate(row)
        if clip is None:
            return
        self.timeline.set_clip(len(clip), clip.timestamps)
        self.export_action.setEnabled(len(clip) > 1)
        job = self._start("thumbnails", self.session.thumbnails_job())
        job.returned.connect(lambda value: self._show_thumbnails(*value))
        self.request_analysis()

    def _show_thumbnails(self, clip, thumbs) -> None:
        if clip is self.session.active:
            self.timeline.set_thumbnails(thumbs)

    # ----- the pair at the playhead ---------------------------------------------------------
    def request_analysis(self) -> None:
        """Analyse the pair at the playhead; a newer request supersedes a running one."""
        fn = self.session.analysis_job(
            self.timeline.position, self.step, self.options.compare_check.isChecked()
        )
        if fn is not None:
            self._start("analysis", fn).returned.connect(self._show_analysis)

    def _show_analysis(self, analysis) -> None:
        self.session.analysis = analysis
        self.pair_views.show_analysis(analysis)
        self.analysis_ready.emit(analysis)

    def _on_pair_options(self) -> None:
        self.pair_views.set_comparison_visible(self.options.compare_check.isChecked())
        self.request_analysis()

    def _on_view_options(self) -> None:
        self.pair_views.tap, self.pair_views.tap_name = (
            self.options.tap,
            self.options.tap_combo.currentText(),
        )
        self.pair_views.arrows_shown = self.options.arrows_check.isChecked()
        self.pair_views.show_offsets()

    def _on_hover(self, x: float, y: float) -> None:
        if not self.pinned:
            self.pair_views.inspect(int(np.floor(y)), int(np.floor(x)))

    def _on_click(self, x: float, y: float) -> None:
        pixel = (int(np.floor(y)), int(np.floor(x)))
        self.pinned = not self.pinned if self.options.inspector.pixel == pixel else True
        self.pair_views.inspect(*pixel)
        follow = "Inspector pinned (click the same pixel to follow the mouse)"
        self.statusBar().showMessage(follow if self.pinned else "Inspector follows the mouse", 4000)

    # ----- slow motion and export -------------------------------------------------------------
    def start_slow_motion(self) -> None:
        fn = self.session.slow_motion_job(
            self.timeline.in_out, self.slowmo.factor_value, self.slowmo.scale_value
        )
        if fn is None:
            self.banner.show_message("Open a clip first.")
            return
        self._start("slowmo", fn).returned.connect(self._play_slow_motion)

    def _play_slow_motion(self, result: SlowMotion) -> None:
        self.slowmo_dock.raise_()
        self.slowmo.start(result.frames, result.labels, result.note)

    def open_export_dialog(self) -> ExportDialog | None:
        """The export dialog for the active clip and the timeline's in/out range (one at a time)."""
        if self.session.active is None or self.session.interpolator is None:
            self.banner.show_message("Open a clip and load a model before exporting")
            return None
        dialog = self.export_dialog
        if dialog is not None and dialog.is_running():
            dialog.raise_()
            return dialog
        if dialog is not None:
            dialog.deleteLater()
        self.export_dialog = ExportDialog(
            self.session.active, self.timeline.in_out, self.session.midpoint(), self
        )
        self.export_dialog.finished_export.connect(
            lambda summary: self.statusBar().showMessage(f"Exported {summary.output}", 10000)
        )
        self.export_dialog.show()
        return self.export_dialog

    # ----- jobs -------------------------------------------------------------------------------
    def _start(self, name: str, fn) -> Job:
        job = self.slots[name].start(fn)
        job.errored.connect(lambda message: self.banner.show_message(f"{name}: {message}"))
        job.errored.connect(lambda message: self.job_failed.emit(name, message))
        if name in ("slowmo", "open"):
            started = time.monotonic()
            job.progress.connect(
                lambda done, total, text: self._show_progress(started, done, total, text)
            )
        return job

    def cancel_jobs(self) -> None:
        for slot in self.slots.values():
            slot.cancel()
        self.statusBar().showMessage("Cancelled", 3000)

    def _show_progress(self, started: float, done: int, total: int, text: str) -> None:
        if total <= 0:
            return
        left = (time.monotonic() - started) / done * (total - done) if done else 0.0
        self.progress.show()
        self.progress.setRange(0, total)
        self.progress.setValue(done)
        self.progress.setFormat(
            f"{text}: {done}/{total}" + (f", {left:.0f} s left" if done else "")
        )

    def _on_busy_changed(self, _busy: bool) -> None:
        self.cancel_action.setEnabled(
            any(self.slots[n].busy for n in ("analysis", "slowmo", "open"))
        )
        if not self.slots["slowmo"].busy and not self.slots["open"].busy:
            self.progress.hide()

    # ----- drag and drop ----------------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt override
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt override
        paths = [Path(url.toLocalFile()) for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            self.open_paths(paths)
