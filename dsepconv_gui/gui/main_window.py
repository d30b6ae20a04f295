"""The main window: layout and wiring only. The state and the work are in session.py, the
views of a pair in pair_views.py, the jobs in jobs.py, the widgets in their own modules."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QDockWidget,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from dsepconv_gui.base.errors import DSepConvError
from dsepconv_gui.gui.clip_quality_actions import ClipQualityActions
from dsepconv_gui.gui.clips_panel import ClipsPanel
from dsepconv_gui.gui.error_banner import ErrorBanner
from dsepconv_gui.gui.export_dialog import ExportDialog, reuse_or_open
from dsepconv_gui.gui.file_choosers import (
    choose_clips,
    choose_folder,
    choose_model,
    choose_output_folder,
)
from dsepconv_gui.gui.help_menu import about_html, add_help_menu
from dsepconv_gui.gui.job_progress import JobProgress
from dsepconv_gui.gui.jobs import Job, JobRunner, LatestJob
from dsepconv_gui.gui.model_status import ModelStatus
from dsepconv_gui.gui.pair_options import PairOptions
from dsepconv_gui.gui.pair_views import PairViews
from dsepconv_gui.gui.playback_panel import FULL_SIZE, PlaybackPanel
from dsepconv_gui.gui.quality_strip import QualityStrip
from dsepconv_gui.gui.session import OpenedClip, Session, SlowMotion, demo_opened
from dsepconv_gui.gui.settings import AppSettings
from dsepconv_gui.gui.timeline import Timeline
from dsepconv_gui.gui.toolbar import MainToolbar
from dsepconv_gui.interpolation.intermediates import write_intermediates

JOBS = ("analysis", "thumbnails", "open", "slowmo", "quality")
CANCELLABLE = ("analysis", "slowmo", "open", "quality")  # what the Cancel action stops


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
        self.slots = {name: LatestJob(self.jobs, name) for name in JOBS}
        # Reading a pair's frames on a thread of its own: they show while the pool's threads
        # are still busy interpolating the pairs stepped past.
        self.input_jobs = JobRunner(self, max_threads=1)
        self.slots["inputs"] = LatestJob(self.input_jobs, "inputs")
        self.export_dialog: ExportDialog | None = None
        self.setAcceptDrops(True)
        self._build()
        self._connect()
        self.clip_quality = ClipQualityActions(self, self._start)
        self._restore_settings()
        self._load_saved_model()
        on_gpu = self.interpolator is not None and self.interpolator.device.device.type == "cuda"
        if on_gpu and not self.settings.has("slowmo_scale"):  # a GPU previews at full size
            self.slowmo.scale.setCurrentText(FULL_SIZE)
        if self.settings.problem:
            self.banner.show_message(self.settings.problem)

    # ----- construction -------------------------------------------------------------------
    def _build(self) -> None:
        self.banner, self.options, self.timeline = ErrorBanner(), PairOptions(), Timeline()
        self.pair_views, self.quality = PairViews(self.options), QualityStrip()
        splitter = QSplitter(Qt.Orientation.Vertical)
        for widget in (self.pair_views, self.timeline, self.quality):
            splitter.addWidget(widget)
        splitter.setStretchFactor(0, 5)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.banner)
        layout.addWidget(splitter, stretch=1)
        self.setCentralWidget(central)
        self.clips_panel, self.slowmo = ClipsPanel(), PlaybackPanel()
        self.clip_list = self.clips_panel.clip_list
        right = Qt.DockWidgetArea.RightDockWidgetArea
        self.clips_dock = self._dock(
            "Clips", self.clips_panel, Qt.DockWidgetArea.LeftDockWidgetArea
        )
        self.inspector_dock = self._dock("Inspector", self.options, right)
        self.slowmo_dock = self._dock("Playback", self.slowmo, right)
        self.tabifyDockWidget(self.inspector_dock, self.slowmo_dock)
        self.inspector_dock.raise_()
        self.toolbar = MainToolbar(self)
        self.addToolBar(self.toolbar)
        self.device_combo = self.toolbar.device_combo
        self.precision_combo = self.toolbar.precision_combo
        self.toolbar.add_menus(self, [self.clips_dock, self.inspector_dock, self.slowmo_dock])
        self.toolbar.set_recent(self.settings.recent(), lambda path: self.open_paths([Path(path)]))
        add_help_menu(self, lambda: about_html(self.session.interpolator))
        self.progress, self.model_status = JobProgress(), ModelStatus()
        self.statusBar().addPermanentWidget(self.progress)
        self.statusBar().addPermanentWidget(self.model_status)

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _connect(self) -> None:
        bar = self.toolbar
        for signal, handler in (
            (bar.open_action.triggered, self.open_dialog),
            (bar.open_folder_action.triggered, self.open_folder_dialog),
            (bar.save_internals_action.triggered, self.save_internals),
            (self.clips_panel.open_button.clicked, self.open_dialog),
            (bar.export_action.triggered, self.open_export_dialog),
            (self.timeline.export_requested, self.open_export_dialog),
            (bar.cancel_action.triggered, self.cancel_jobs),
            (self.clip_list.currentRowChanged, self._activate_clip),
            (self.timeline.position_changed, lambda _: self.request_analysis()),
            (self.options.pair_changed, self.request_analysis),
            (self.options.comparison_changed, self._on_comparison_changed),
            (bar.device_combo.currentTextChanged, self._on_device_chosen),
            (bar.precision_combo.currentTextChanged, self._on_precision_chosen),
            (bar.model_button.clicked, self._choose_model),
            (bar.default_model_button.clicked, self._load_default_model),
            (self.pair_views.message, lambda text: self.statusBar().showMessage(text, 4000)),
            (self.worker_message, lambda text: self.statusBar().showMessage(text, 10000)),
            (self.slowmo.play_requested, self.start_slow_motion),
            (self.slots["analysis"].busy_changed, self._on_analysis_busy),
        ):
            signal.connect(handler)
        for slot in self.slots.values():
            slot.busy_changed.connect(self._on_busy_changed)
        self.timeline.add_shortcuts(self)

    # ----- settings -------------------------------------------------------------------------
    def _restore_settings(self) -> None:
        geometry, state = self.settings.geometry("geometry"), self.settings.geometry("window_state")
        if state is None:  # the docks start narrow: the frames get the room (once shown)
            docks, widths = [self.clips_dock, self.inspector_dock], [170, 300]
            QTimer.singleShot(0, lambda: self.resizeDocks(docks, widths, Qt.Orientation.Horizontal))
        if geometry is None:
            screen = self.screen().availableGeometry()  # a laptop's 1366×768 included
            self.resize(min(1500, screen.width()), min(950, screen.height()))
        else:
            self.restoreGeometry(geometry)
        if state is not None:
            self.restoreState(state)
        self.options.restore(self.settings)
        self.slowmo.restore(self.settings)
        self.toolbar.set_device(self.settings.get("device"), self.settings.get("precision"))

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt override
        self.slowmo.timer.stop()
        self.jobs.shutdown()
        self.input_jobs.shutdown()
        if self.export_dialog is not None:
            self.export_dialog.close()  # cancels a running export, which removes its partial file
            self.export_dialog.jobs.wait()
        self.clip_quality.close()
        self.options.save(self.settings)
        self.slowmo.save(self.settings)
        for key, value in (
            ("geometry", self.saveGeometry()),
            ("window_state", self.saveState()),
            ("device", self.device_combo.currentText()),
            ("precision", self.precision_combo.currentText()),
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
        """Switch model or device (the network's precision: the toolbar's); on failure keep
        the previous one and say why. The window's own jobs restart with it; a running export
        keeps the model it started with."""
        problem = self._switch_model(spec, device_spec)
        if problem is not None:
            self.banner.show_message(problem)
        return problem is None

    def _switch_model(self, spec: str | None, device_spec: str) -> str | None:
        """load_model without the banner: why the model was refused, or None once loaded."""
        try:
            warning = self.session.load_model(spec, device_spec, self.precision_combo.currentText())
        except DSepConvError as exc:
            return str(exc)
        self._loaded_precision = self.precision_combo.currentText()
        for name in ("analysis", "slowmo"):
            self.slots[name].cancel()
        if self.export_dialog is not None and not self.export_dialog.is_running():
            self.export_dialog.midpoint = self.session.midpoint()  # its next export uses it
        self.model_status.show_model(self.session.interpolator)
        if warning:
            self.statusBar().showMessage(warning, 10000)
        config = self.session.interpolator.loaded.config
        self.options.set_kernel_size(config.kernel_size, has_prior=config.flow_prior != "none")
        self.options.set_takes_time(self.session.interpolator.takes_time)
        self.request_analysis()
        return None

    def _load_saved_model(self) -> None:
        """The model, device and precision saved last; a device or precision refused here
        (a GPU gone, bfloat16 saved for a GPU) falls back to auto, the banner saying why."""
        spec = self.settings.get("model") or None
        problem = self._switch_model(spec, self.settings.get("device"))
        if problem is None:
            return
        self.toolbar.set_device("auto", "auto")
        if self._switch_model(spec, "auto") is None:
            self.banner.show_message(f"{problem} (the device and precision are back on auto)")
        elif spec is not None and self._switch_model(None, "auto") is None:
            self.banner.show_message(f"{problem} (the default model is loaded instead)")
        else:
            self.banner.show_message(problem)

    def _on_device_chosen(self, device: str) -> None:
        self.load_model(self.session.model_spec, device)

    def _on_precision_chosen(self, _precision: str) -> None:
        if not self.load_model(self.session.model_spec, self.device_combo.currentText()):
            # refused (bfloat16 asked of a GPU): the list shows what runs
            self.toolbar.set_device(self.device_combo.currentText(), self._loaded_precision)

    def _load_default_model(self) -> None:
        self.load_model(None, self.device_combo.currentText())

    def _choose_model(self) -> None:
        path = choose_model(self)
        if path:
            self.load_model(path, self.device_combo.currentText())

    # ----- clips --------------------------------------------------------------------------
    def open_dialog(self) -> None:
        paths = choose_clips(self, self.settings)
        if paths:
            self.open_paths(paths)

    def open_folder_dialog(self) -> None:
        folder = choose_folder(self, self.settings)
        if folder is not None:
            self.open_paths([folder])

    def open_paths(self, paths: list[Path]) -> None:
        """Open clips in a worker; each one that fails is reported by name. A clip already
        open is selected instead of opened twice."""
        row = self.session.row_of(paths[-1]) if paths else None
        paths = [path for path in paths if self.session.row_of(path) is None]
        if row is not None and not paths:
            self.clip_list.setCurrentRow(row)
            return
        self._start("open", self.session.open_job(paths)).returned.connect(self._add_clips)

    def open_demo(self) -> None:
        self._add_clips([demo_opened()])

    def _add_clips(self, opened: list[OpenedClip]) -> None:
        first_new = len(self.session.clips)
        messages = self.session.add(opened)  # failures, and notes on conversions or damage
        for item in opened:
            if item.clip is not None:
                self.clips_panel.add(item)
            if item.clip is None or item.clip.info.path.exists():  # not the demo
                recent = self.settings.update_recent(str(item.path), keep=item.clip is not None)
                self.toolbar.set_recent(recent, lambda path: self.open_paths([Path(path)]))
        if messages:
            self.banner.show_message("\n".join(messages))
        count = len(self.session.clips) - first_new
        if count:
            self.clip_list.setCurrentRow(first_new)
        self.clips_opened.emit(count)

    def _activate_clip(self, row: int) -> None:
        clip = self.session.activate(row, self.timeline.position, self.timeline.in_out)
        if clip is None:
            return
        self.pair_views.analysis = None  # the previous clip's pair is not inspected any more
        self.timeline.set_clip(len(clip), clip.timestamps, *self.session.marks())
        self.slots["quality"].cancel()  # its scores are the clip left's
        self.quality.set_clip(len(clip), self.session.overrides())
        self.toolbar.export_action.setEnabled(len(clip) > 1)
        job = self._start("thumbnails", self.session.thumbnails_job())
        job.returned.connect(lambda value: self._show_thumbnails(*value))
        self.request_analysis()

    def _show_thumbnails(self, clip, thumbs) -> None:
        if clip is self.session.active:
            self.timeline.set_thumbnails(thumbs)

    # ----- the pair at the playhead ---------------------------------------------------------
    def request_analysis(self) -> None:
        """Analyse the pair at the playhead; a newer request supersedes a running one."""
        compare = self.options.compare_check.isChecked()
        time = self.options.time
        fn = self.session.analysis_job(self.timeline.position, self.step, compare, time)
        if fn is not None:
            self.pair_views.mark_stale()
            inputs = self.session.inputs_job(self.timeline.position, self.step, time)
            self._start("inputs", inputs).returned.connect(self.pair_views.show_inputs)
            job = self._start("analysis", fn)
            job.yielded.connect(self.pair_views.show_inputs)
            job.returned.connect(self._show_analysis)

    def _show_analysis(self, analysis) -> None:
        self.session.analysis = analysis
        self.pair_views.show_analysis(analysis)
        self.analysis_ready.emit(analysis)

    def _on_comparison_changed(self, shown: bool) -> None:
        self.pair_views.set_comparison_visible(shown)
        self.request_analysis()

    # ----- slow motion and export -------------------------------------------------------------
    def start_slow_motion(self) -> None:
        factor, scale = self.slowmo.factor_value, self.slowmo.scale_value
        try:
            fn = self.session.slow_motion_job(self.timeline.in_out, factor, scale)
        except DSepConvError as exc:
            self.banner.show_message(f"Playback: {exc}")
            return
        if fn is None:
            self.banner.show_message("Open a clip first.")
            return
        self._start("slowmo", fn).returned.connect(self._play_slow_motion)

    def _play_slow_motion(self, result: SlowMotion) -> None:
        self.slowmo_dock.raise_()
        self.slowmo.start(result)

    def open_export_dialog(self) -> ExportDialog | None:
        """The export dialog for the active clip and the timeline's in/out range (one at a time)."""
        if self.session.active is None or self.session.interpolator is None:
            self.banner.show_message("Open a clip and load a model before exporting")
            return None
        previous, clip, in_out = self.export_dialog, self.session.active, self.timeline.in_out
        folder = (
            Path(self.settings.get("export_folder")) if self.settings.get("export_folder") else None
        )
        midpoint = self.session.midpoint()
        overrides = lambda: self.session.overrides_of(clip)  # noqa: E731 - read at each export
        dialog = reuse_or_open(previous, clip, in_out, midpoint, self, folder, overrides)
        if dialog is not previous:
            dialog.finished_export.connect(self._on_exported)
        self.export_dialog = dialog
        return dialog

    def save_internals(self, folder: Path | None = None) -> Path | None:
        """Write the analysed pair's offsets, masks, weights, kernels and results to a folder
        (chosen in a dialog unless given); returns the manifest."""
        if self.session.analysis is None:
            self.banner.show_message("Nothing to save yet: wait for the pair's result")
            return None
        folder = folder or choose_output_folder(self, self.settings)
        if folder is None or not self._may_replace(folder / "intermediates.json"):
            return None
        analysis, clip = self.session.analysis, self.session.active
        source = {
            "clip": str(clip.info.path) if clip is not None else None,
            "frame_a": analysis.index_a,
            "frame_b": analysis.index_b,
            "model": str(self.interpolator.loaded.source),
        }
        try:
            manifest = write_intermediates(analysis.result, folder, source)
        except DSepConvError as exc:
            self.banner.show_message(str(exc))
            return None
        self.statusBar().showMessage(f"Saved the pair's internals in {folder}", 10000)
        return manifest

    def _may_replace(self, manifest: Path) -> bool:
        """Ask before writing over the internals saved earlier in the same folder."""
        if not manifest.exists():
            return True
        answer = QMessageBox.question(
            self, "Replace?", f"{manifest.parent} already holds a pair's internals. Replace them?"
        )
        return answer == QMessageBox.StandardButton.Yes

    def _on_exported(self, summary) -> None:
        self.settings.set("export_folder", str(Path(summary.output).parent))
        self.statusBar().showMessage(f"Exported {summary.output}", 10000)

    # ----- jobs -------------------------------------------------------------------------------
    def _start(self, name: str, fn) -> Job:
        job = self.slots[name].start(fn)
        job.errored.connect(lambda message: self.banner.show_message(f"{name}: {message}"))
        job.errored.connect(lambda message: self.job_failed.emit(name, message))
        if name == "open":
            self.progress.follow(job)
        if name == "slowmo":  # its progress in its own panel, where the user is looking
            self.slowmo_dock.raise_()
            job.progress.connect(self.slowmo.show_progress)
            job.finished.connect(self.slowmo.computing_ended)
        return job

    def cancel_jobs(self) -> None:
        for slot in self.slots.values():
            slot.cancel()
        self.statusBar().showMessage("Cancelled", 3000)

    def _on_analysis_busy(self, busy: bool) -> None:
        self.statusBar().showMessage("Interpolating…" if busy else "", 0 if busy else 1)

    def _on_busy_changed(self, _busy: bool) -> None:
        self.toolbar.cancel_action.setEnabled(any(self.slots[n].busy for n in CANCELLABLE))
        self.progress.refresh()

    # ----- drag and drop ----------------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt override
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt override
        paths = [Path(url.toLocalFile()) for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            self.open_paths(paths)
